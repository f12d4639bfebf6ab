/**
 * The OpenTelemetry SDK side of trace export: a request's spans as the SDK's
 * finished spans, and the SDK's OTLP/HTTP exporter (JSON bodies). Loaded by
 * ./tracing.ts only when an export is configured and due, so a handler with
 * export off never loads the SDK at cold start.
 */
import { type Attributes, type HrTime, SpanKind, SpanStatusCode, type TraceState } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { TraceExportSettings } from './tracing.js';
import type { RequestSpans, TraceSpan } from './tracing-spans.js';

/** Instrumentation scope of Countersign's spans. */
export const TRACER_NAME = 'countersign';

const hr = (epochMs: number): HrTime => [Math.floor(epochMs / 1000), Math.round((epochMs % 1000) * 1e6)];

function traceState(text: string | undefined): TraceState | undefined {
  if (!text) return undefined;
  // Validated at intent parsing (./tracing-context.ts); passed on as the agent sent it.
  const state: TraceState = {
    set: () => state,
    unset: () => state,
    get: () => undefined,
    serialize: () => text,
  };
  return state;
}

/** The request's spans as the SDK's finished spans. */
export function toReadableSpans(
  { trace, spans }: Pick<RequestSpans, 'trace' | 'spans'>,
  resource: Attributes = {},
): ReadableSpan[] {
  const res = resourceFromAttributes({ 'service.name': 'countersign', ...resource });
  // Always sampled: see requestTrace.
  const flags = 1;
  const state = traceState(trace.tracestate);
  return spans.map((span: TraceSpan) => {
    const context = { traceId: trace.traceId, spanId: span.spanId, traceFlags: flags, traceState: state };
    const isRoot = span.spanId === trace.rootSpanId;
    const duration = Math.max(0, span.end - span.start);
    return {
      name: span.name,
      kind: isRoot ? SpanKind.CONSUMER : SpanKind.INTERNAL,
      spanContext: () => context,
      ...(span.parentSpanId
        ? {
            parentSpanContext: {
              traceId: trace.traceId,
              spanId: span.parentSpanId,
              traceFlags: flags,
              isRemote: isRoot,
              ...(state ? { traceState: state } : {}),
            },
          }
        : {}),
      startTime: hr(span.start),
      endTime: hr(span.start + duration),
      duration: hr(duration),
      status: {
        code:
          span.status === 'ok'
            ? SpanStatusCode.OK
            : span.status === 'error'
              ? SpanStatusCode.ERROR
              : SpanStatusCode.UNSET,
      },
      attributes: span.attributes,
      links: span.links.map((link) => ({
        context: { traceId: link.traceId, spanId: link.spanId, traceFlags: 1 },
        attributes: link.attributes,
      })),
      events: span.events.map((event) => ({
        name: event.name,
        time: hr(event.at),
        attributes: event.attributes,
      })),
      ended: true,
      resource: res,
      instrumentationScope: { name: TRACER_NAME },
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    } satisfies ReadableSpan;
  });
}

/** Hands spans to an exporter and waits for its result; never throws. */
export function exportSpans(exporter: SpanExporter, spans: ReadableSpan[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    try {
      exporter.export(spans, (result: { code: number; error?: Error }) =>
        // ExportResultCode.SUCCESS is 0.
        resolve(result.code === 0 ? undefined : (result.error?.message ?? 'export failed')),
      );
    } catch (error) {
      resolve((error as Error).message ?? String(error));
    }
  });
}

/** The SDK's OTLP/HTTP exporter (JSON bodies) for these settings. */
export function otlpExporter(settings: TraceExportSettings): SpanExporter {
  return new OTLPTraceExporter({
    url: settings.endpoint,
    timeoutMillis: settings.timeoutMs,
    concurrencyLimit: 1,
    ...(settings.headers ? { headers: settings.headers } : {}),
  });
}
