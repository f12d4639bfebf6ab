/**
 * A request's timeline for the console's waterfall: the spans the local OTLP
 * receiver got for the request's trace (what any OTLP backend would show),
 * or, before the decision exports them, the same spans built from the audit
 * trail so far (marked not exported). Either way one shape, flattened for
 * the browser.
 */
import { readChain } from '../lambdas/shared/audit.js';
import { getRequest, type StoreDeps } from '../lambdas/shared/store.js';
import { requestTrace } from '../lambdas/shared/tracing-context.js';
import { requestSpans } from '../lambdas/shared/tracing-spans.js';
import type { ReceivedValue, RunningOtlpReceiver } from './otlp-receiver.js';

/** One bar of the waterfall. */
export interface TimelineSpan {
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** Epoch milliseconds. */
  start: number;
  end: number;
  attributes: Record<string, ReceivedValue>;
  events: { name: string; at: number }[];
  status: 'unset' | 'ok' | 'error';
}

/** What `GET /api/traces/<intentId>` answers. */
export interface Timeline {
  traceId: string;
  /** The agent's span Countersign's request span continues, when the intent named one. */
  parentSpanId?: string;
  /** True when the spans are the ones the receiver got; false for the trail-so-far view. */
  exported: boolean;
  spans: TimelineSpan[];
}

const STATUS = ['unset', 'ok', 'error'] as const;

/** The timeline of a request, or undefined when there is no such request. */
export async function requestTimeline(
  deps: StoreDeps,
  receiver: RunningOtlpReceiver | undefined,
  intentId: string,
): Promise<Timeline | undefined> {
  const request = await getRequest(deps, intentId);
  if (!request) return undefined;
  const trace = requestTrace(request.intentId, request.intent?.context);
  const parent = trace.parentSpanId ? { parentSpanId: trace.parentSpanId } : {};
  // Other requests may share an agent's trace: keep this request's spans only.
  const received = receiver
    ?.trace(trace.traceId)
    .filter((s) => s.spanId === trace.rootSpanId || s.parentSpanId === trace.rootSpanId);
  const exported = received?.some((s) => s.spanId === trace.rootSpanId) === true;
  const spans: TimelineSpan[] = exported
    ? received!.map((s) => ({ ...s, status: STATUS[s.status] ?? 'unset' }))
    : requestSpans(request, await readChain(deps, intentId)).spans;
  return {
    traceId: trace.traceId,
    ...parent,
    exported,
    spans: spans.map((s) => ({
      spanId: s.spanId,
      ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
      name: s.name,
      start: s.start,
      end: s.end,
      attributes: s.attributes,
      events: s.events.map((e) => ({ name: e.name, at: e.at })),
      status: s.status,
    })),
  };
}
