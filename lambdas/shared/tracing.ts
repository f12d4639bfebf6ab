/**
 * Export of a request's trace over OTLP/HTTP (JSON) to the endpoint set in
 * config (`COUNTERSIGN_OTLP_ENDPOINT`; off when unset). The spans are built
 * from the audit trail (./tracing-spans.ts) and handed to the OpenTelemetry
 * SDK's own exporter as finished spans: their ids and times are the request's,
 * not the exporting invocation's.
 *
 * Never part of a decision: the export runs after the decision is durable, is
 * bounded (at most {@link MAX_SPANS_PER_REQUEST} spans, one export, a
 * deadline), and every failure — endpoint down, slow, refusing, a headers
 * secret that cannot be read — is swallowed, counted by the caller's
 * `onDropped` (a metric) and logged.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type Attributes, type HrTime, SpanKind, SpanStatusCode, type TraceState } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { readChain } from './audit.js';
import { lambdaClientConfig, observed } from './client-config.js';
import { getRequest, type StoreDeps } from './store.js';
import { xrayTraceContext } from './tracing-context.js';
import { type RequestSpans, requestSpans, type TraceSpan } from './tracing-spans.js';

/** Deadline of one export, retries included, when `COUNTERSIGN_OTLP_TIMEOUT_MS` is unset. */
export const DEFAULT_EXPORT_TIMEOUT_MS = 2000;
/** Instrumentation scope of Countersign's spans. */
export const TRACER_NAME = 'countersign';

/** Where and how spans are exported. */
export interface TraceExportSettings {
  /** OTLP/HTTP traces URL (e.g. `https://collector:4318/v1/traces`). */
  endpoint: string;
  /** Headers every export sends (an API key); loaded once, when first needed. */
  headers?: () => Promise<Record<string, string>>;
  /** Deadline of one export, retries included. */
  timeoutMs: number;
  /** `service.name` and other resource attributes. */
  resource?: Attributes;
}

/** What one export did. */
export type ExportOutcome =
  | { exported: number; dropped: number }
  | { exported: 0; dropped: number; error: string };

/** Exports a request's spans; never throws. */
export type RequestTraceExporter = (
  deps: StoreDeps,
  requestId: string,
  extras?: { xrayHeader?: string },
) => Promise<ExportOutcome>;

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

/**
 * A request trace exporter: reads the request and its audit chain, builds the
 * spans and exports them. Every failure (reading, building, the headers,
 * the endpoint) ends as `{ exported: 0, dropped, error }`, reported to
 * `onDropped`; nothing is thrown.
 */
export function requestTraceExporter(
  settings: TraceExportSettings,
  onDropped: (count: number, reason: string) => void,
  exporter: SpanExporter = otlpExporter(settings),
): RequestTraceExporter {
  return async (deps, requestId, extras = {}) => {
    let spans: RequestSpans | undefined;
    try {
      const [request, chain] = await Promise.all([getRequest(deps, requestId), readChain(deps, requestId)]);
      if (!request) return { exported: 0, dropped: 0 };
      const xray = xrayTraceContext(extras.xrayHeader);
      spans = requestSpans(request, chain, xray ? { xray } : {});
      if (spans.spans.length === 0) return { exported: 0, dropped: 0 };
      if (spans.dropped > 0) onDropped(spans.dropped, 'span limit');
      const error = await exportSpans(exporter, toReadableSpans(spans, settings.resource));
      if (!error) return { exported: spans.spans.length, dropped: spans.dropped };
      onDropped(spans.spans.length, error);
      return { exported: 0, dropped: spans.spans.length + spans.dropped, error };
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      const count = spans?.spans.length ?? 1;
      onDropped(count, message);
      return { exported: 0, dropped: count, error: message };
    }
  };
}

/**
 * Headers from a Secrets Manager secret holding a JSON object of header names
 * to values (`{"x-honeycomb-team": "…"}`), read once and cached.
 */
export function secretHeaders(
  client: SecretsManagerClient,
  secretId: string,
): () => Promise<Record<string, string>> {
  let cached: Promise<Record<string, string>> | undefined;
  return () => {
    cached ??= client.send(new GetSecretValueCommand({ SecretId: secretId })).then((out) => {
      const value = JSON.parse(out.SecretString ?? 'null') as unknown;
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new Error('the OTLP headers secret must be a JSON object of header names to string values');
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.some(([, v]) => typeof v !== 'string'))
        throw new Error('the OTLP headers secret must hold only string values');
      return Object.fromEntries(entries) as Record<string, string>;
    });
    // A failed read is retried by the next export, not cached.
    cached.catch(() => {
      cached = undefined;
    });
    return cached;
  };
}

/**
 * The trace exporter configured by the environment, or undefined when export
 * is off: `COUNTERSIGN_OTLP_ENDPOINT` (an http(s) URL), optional
 * `COUNTERSIGN_OTLP_HEADERS_SECRET_ARN` and `COUNTERSIGN_OTLP_TIMEOUT_MS`.
 * Read at module load, so a malformed value fails the cold start.
 */
export function traceExportFromEnv(
  onDropped: (count: number, reason: string) => void,
  env: Record<string, string | undefined> = process.env,
): RequestTraceExporter | undefined {
  const endpoint = env.COUNTERSIGN_OTLP_ENDPOINT?.trim();
  if (!endpoint) return undefined;
  const url = new URL(endpoint);
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new Error(`COUNTERSIGN_OTLP_ENDPOINT must be an http(s) URL, got ${url.protocol}`);
  const rawTimeout = env.COUNTERSIGN_OTLP_TIMEOUT_MS;
  const timeoutMs = rawTimeout ? Number(rawTimeout) : DEFAULT_EXPORT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > 30_000)
    throw new Error(`COUNTERSIGN_OTLP_TIMEOUT_MS must be an integer from 1 to 30000, got "${rawTimeout}"`);
  const secretArn = env.COUNTERSIGN_OTLP_HEADERS_SECRET_ARN;
  return requestTraceExporter(
    {
      endpoint: url.toString(),
      timeoutMs,
      ...(secretArn
        ? { headers: secretHeaders(observed(new SecretsManagerClient(lambdaClientConfig)), secretArn) }
        : {}),
    },
    onDropped,
  );
}

/** Name of the metric counting spans that were not exported. */
export const DROPPED_SPANS_METRIC = 'TraceSpansDropped';

/**
 * What a handler calls once a request's piece is durable: exports the
 * request's trace when export is configured, counts dropped spans in the
 * {@link DROPPED_SPANS_METRIC} metric and logs why; a no-op when export is off.
 * Never throws. The X-Ray header of the invocation (`_X_AMZN_TRACE_ID`) links
 * the request span to the workflow execution's X-Ray trace.
 */
export function handlerTraceExport(
  serviceName: string,
  warn: (message: string, extra: Record<string, unknown>) => void,
  env: Record<string, string | undefined> = process.env,
): (deps: StoreDeps, requestId: string) => Promise<void> {
  const metrics = new Metrics({ namespace: 'Countersign', serviceName });
  const exporter = traceExportFromEnv((count, reason) => {
    metrics.addMetric(DROPPED_SPANS_METRIC, MetricUnit.Count, count);
    warn('trace export dropped spans', { count, reason });
  }, env);
  if (!exporter) return async () => {};
  return async (deps, requestId) => {
    await exporter(deps, requestId, { xrayHeader: env._X_AMZN_TRACE_ID });
    metrics.publishStoredMetrics();
  };
}
