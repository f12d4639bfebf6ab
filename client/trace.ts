/**
 * Trace propagation for the client: the intent carries the caller's span as
 * W3C trace context (`context.traceparent`, `context.tracestate`), so
 * Countersign's review continues the agent's trace. Only `@opentelemetry/api`
 * is used: without a registered SDK nothing is added and nothing is recorded.
 */
import { isSpanContextValid, type SpanContext } from '@opentelemetry/api';
import { parseTracestate, TRACEPARENT_VERSION } from '../lambdas/shared/tracing-context.js';
import type { IntentInput } from './publish.js';

/**
 * The intent with the span's trace context in `context`, unless the caller
 * already set a `traceparent` (theirs stands) or the span is not a real one
 * (no SDK registered). A tracestate the intent schema would refuse is left
 * out rather than failing the request.
 */
export function withTraceContext<T extends IntentInput | Record<string, unknown>>(
  intent: T,
  span: SpanContext,
): T {
  if (!isSpanContextValid(span)) return intent;
  const current = (intent as { context?: unknown }).context;
  if (current !== undefined && (current === null || typeof current !== 'object' || Array.isArray(current)))
    return intent; // not an object: validation names the problem
  if ((current as { traceparent?: unknown } | undefined)?.traceparent !== undefined) return intent;
  // Version 00 defines only the sampled and random flags.
  const flags = (span.traceFlags & 0x03).toString(16).padStart(2, '0');
  const state = span.traceState?.serialize();
  return {
    ...intent,
    context: {
      ...(current as Record<string, unknown> | undefined),
      traceparent: `${TRACEPARENT_VERSION}-${span.traceId}-${span.spanId}-${flags}`,
      ...(state && parseTracestate(state).ok ? { tracestate: state } : {}),
    },
  };
}
