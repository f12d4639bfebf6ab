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
import type { Attributes } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { readChain } from './audit.js';
import { lambdaClientConfig, observed } from './client-config.js';
import { getRequest, type StoreDeps } from './store.js';
import { xrayTraceContext } from './tracing-context.js';
import { type RequestSpans, requestSpans, type SpanPart } from './tracing-spans.js';

/** Deadline of one export, retries included, when `COUNTERSIGN_OTLP_TIMEOUT_MS` is unset. */
export const DEFAULT_EXPORT_TIMEOUT_MS = 2000;

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
  extras?: { xrayHeader?: string; part?: SpanPart },
) => Promise<ExportOutcome>;

/**
 * A request trace exporter: reads the request and its audit chain, builds the
 * spans and exports them. Every failure (reading, building, the headers,
 * the endpoint) ends as `{ exported: 0, dropped, error }`, reported to
 * `onDropped`; nothing is thrown.
 */
export function requestTraceExporter(
  settings: TraceExportSettings,
  onDropped: (count: number, reason: string) => void,
  given?: SpanExporter,
): RequestTraceExporter {
  // The SDK loads with the first export, not at cold start (./tracing-otlp.ts).
  let sdk: Promise<typeof import('./tracing-otlp.js')> | undefined;
  let exporter = given;
  return async (deps, requestId, extras = {}) => {
    let spans: RequestSpans | undefined;
    try {
      const [request, chain] = await Promise.all([getRequest(deps, requestId), readChain(deps, requestId)]);
      if (!request) return { exported: 0, dropped: 0 };
      const xray = xrayTraceContext(extras.xrayHeader);
      spans = requestSpans(request, chain, {
        ...(xray ? { xray } : {}),
        ...(extras.part ? { part: extras.part } : {}),
      });
      if (spans.spans.length === 0) return { exported: 0, dropped: 0 };
      if (spans.dropped > 0) onDropped(spans.dropped, 'span limit');
      sdk ??= import('./tracing-otlp.js');
      const { exportSpans, otlpExporter, toReadableSpans } = await sdk;
      exporter ??= otlpExporter(settings);
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
 * What a handler calls once a request's piece is durable: exports that
 * part of the request's trace (see SpanPart) when export is configured, counts dropped spans in the
 * {@link DROPPED_SPANS_METRIC} metric and logs why; a no-op when export is off.
 * Never throws. The X-Ray header of the invocation (`_X_AMZN_TRACE_ID`) links
 * the request span to the workflow execution's X-Ray trace.
 */
export function handlerTraceExport(
  serviceName: string,
  warn: (message: string, extra: Record<string, unknown>) => void,
  env: Record<string, string | undefined> = process.env,
): (deps: StoreDeps, requestId: string, part?: SpanPart) => Promise<void> {
  const metrics = new Metrics({ namespace: 'Countersign', serviceName });
  let dropped = false;
  const exporter = traceExportFromEnv((count, reason) => {
    dropped = true;
    metrics.addMetric(DROPPED_SPANS_METRIC, MetricUnit.Count, count);
    warn('trace export dropped spans', { count, reason });
  }, env);
  if (!exporter) return async () => {};
  return async (deps, requestId, part) => {
    dropped = false;
    await exporter(deps, requestId, { xrayHeader: env._X_AMZN_TRACE_ID, ...(part ? { part } : {}) });
    if (dropped) metrics.publishStoredMetrics();
  };
}
