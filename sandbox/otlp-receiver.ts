/**
 * A small OTLP/HTTP trace receiver on 127.0.0.1: what a collector, Datadog,
 * Honeycomb or Grafana would be for the sandbox. It accepts
 * `POST /v1/traces` with the JSON encoding of `ExportTraceServiceRequest`
 * (what the SDK's `exporter-trace-otlp-http` sends), keeps the spans in
 * memory (bounded; the oldest go first), and answers as the OTLP
 * specification says: 200 with an empty `ExportTraceServiceResponse`, 400
 * for a body that is not one, 413 for a body past the limit, 415 for the
 * protobuf encoding (not implemented here). A test can make it fail
 * (`failNext`) or stall (`stall`) to prove export failures never touch a
 * decision.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Largest request body accepted, in bytes. */
export const MAX_OTLP_BODY_BYTES = 4 * 1024 * 1024;
/** Most spans kept; past it the oldest are forgotten. */
export const MAX_KEPT_SPANS = 20_000;

/** An attribute as OTLP JSON encodes it, flattened to a JS value. */
export type ReceivedValue = string | number | boolean | ReceivedValue[] | null;

/** One received span, flattened from OTLP JSON. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  /** Epoch milliseconds. */
  start: number;
  end: number;
  attributes: Record<string, ReceivedValue>;
  events: { name: string; at: number; attributes: Record<string, ReceivedValue> }[];
  links: { traceId: string; spanId: string; attributes: Record<string, ReceivedValue> }[];
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status: number;
  /** `service.name` of the resource that sent it. */
  service?: string;
  scope?: string;
}

/** A running receiver. */
export interface RunningOtlpReceiver {
  /** Traces URL to give an exporter (`http://127.0.0.1:<port>/v1/traces`). */
  url: string;
  /** Every kept span, in arrival order. */
  spans(): ReceivedSpan[];
  /** Spans of one trace, each span id once, ordered by start time. */
  trace(traceId: string): ReceivedSpan[];
  /** Raw request bodies received (for checks over everything that was sent). */
  bodies(): string[];
  /** Headers of the accepted export requests, in order (e.g. an API key the exporter sends). */
  headers(): Record<string, string | string[] | undefined>[];
  /** Answer the next `times` exports with `status` (e.g. 503) and keep nothing. */
  failNext(times: number, status?: number): void;
  /** Hold every answer `ms` milliseconds (a slow backend). */
  stall(ms: number): void;
  /** Calls `listener` after spans arrive; returns an unsubscribe function. */
  onSpans(listener: (spans: ReceivedSpan[]) => void): () => void;
  close(): Promise<void>;
}

interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}

function flatten(value: AnyValue | undefined): ReceivedValue {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(flatten);
  return null;
}

function attributes(list: unknown): Record<string, ReceivedValue> {
  const out: Record<string, ReceivedValue> = {};
  for (const kv of Array.isArray(list) ? (list as { key?: unknown; value?: AnyValue }[]) : []) {
    if (typeof kv.key === 'string') out[kv.key] = flatten(kv.value);
  }
  return out;
}

const nanosToMs = (value: unknown) => Number(BigInt(String(value ?? 0)) / 1_000_000n);
const HEX = /^[0-9a-f]+$/;

/**
 * The spans of an `ExportTraceServiceRequest` in OTLP JSON, or an error.
 * Ids must be hex (the OTLP JSON encoding), as the specification requires.
 */
export function parseOtlpJson(
  body: unknown,
): { ok: true; spans: ReceivedSpan[] } | { ok: false; reason: string } {
  const resourceSpans = (body as { resourceSpans?: unknown } | null)?.resourceSpans;
  if (!Array.isArray(resourceSpans)) return { ok: false, reason: 'body has no resourceSpans array' };
  const spans: ReceivedSpan[] = [];
  for (const rs of resourceSpans as { resource?: { attributes?: unknown }; scopeSpans?: unknown }[]) {
    const service = attributes(rs.resource?.attributes)['service.name'];
    for (const ss of Array.isArray(rs.scopeSpans)
      ? (rs.scopeSpans as { scope?: { name?: string }; spans?: unknown }[])
      : []) {
      for (const s of Array.isArray(ss.spans) ? (ss.spans as Record<string, unknown>[]) : []) {
        const traceId = String(s.traceId ?? '');
        const spanId = String(s.spanId ?? '');
        if (traceId.length !== 32 || !HEX.test(traceId) || spanId.length !== 16 || !HEX.test(spanId))
          return { ok: false, reason: 'span ids must be lower-case hex (OTLP JSON encoding)' };
        const parent =
          typeof s.parentSpanId === 'string' && s.parentSpanId !== '' ? s.parentSpanId : undefined;
        spans.push({
          traceId,
          spanId,
          ...(parent ? { parentSpanId: parent } : {}),
          ...(typeof s.traceState === 'string' && s.traceState ? { traceState: s.traceState } : {}),
          name: String(s.name ?? ''),
          kind: Number(s.kind ?? 0),
          start: nanosToMs(s.startTimeUnixNano),
          end: nanosToMs(s.endTimeUnixNano),
          attributes: attributes(s.attributes),
          events: (Array.isArray(s.events) ? (s.events as Record<string, unknown>[]) : []).map((e) => ({
            name: String(e.name ?? ''),
            at: nanosToMs(e.timeUnixNano),
            attributes: attributes(e.attributes),
          })),
          links: (Array.isArray(s.links) ? (s.links as Record<string, unknown>[]) : []).map((l) => ({
            traceId: String(l.traceId ?? ''),
            spanId: String(l.spanId ?? ''),
            attributes: attributes(l.attributes),
          })),
          status: Number((s.status as { code?: unknown } | undefined)?.code ?? 0),
          ...(typeof service === 'string' ? { service } : {}),
          ...(ss.scope?.name ? { scope: ss.scope.name } : {}),
        });
      }
    }
  }
  return { ok: true, spans };
}

/** Starts the receiver on 127.0.0.1 (a random port unless one is given). */
export async function startOtlpReceiver(options: { port?: number } = {}): Promise<RunningOtlpReceiver> {
  const kept: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const headers: Record<string, string | string[] | undefined>[] = [];
  const listeners = new Set<(spans: ReceivedSpan[]) => void>();
  let failures: { times: number; status: number } = { times: 0, status: 503 };
  let stallMs = 0;

  const answer = (res: ServerResponse, status: number, body: Record<string, unknown>) => {
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (stallMs > 0) setTimeout(send, stallMs).unref();
    else send();
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/traces') {
      answer(res, 404, { code: 5, message: 'only POST /v1/traces is served' });
      req.resume();
      return;
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      answer(res, 415, {
        code: 3,
        message: 'this receiver accepts the OTLP JSON encoding only (application/json)',
      });
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OTLP_BODY_BYTES) {
        answer(res, 413, { code: 8, message: `body over ${MAX_OTLP_BODY_BYTES} bytes` });
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_OTLP_BODY_BYTES) return;
      if (failures.times > 0) {
        failures = { ...failures, times: failures.times - 1 };
        answer(res, failures.status, { code: 14, message: 'failing on request (test)' });
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      let parsed: ReturnType<typeof parseOtlpJson>;
      try {
        parsed = parseOtlpJson(JSON.parse(text));
      } catch (error) {
        parsed = { ok: false, reason: `not JSON: ${(error as Error).message}` };
      }
      if (!parsed.ok) {
        answer(res, 400, { code: 3, message: parsed.reason });
        return;
      }
      bodies.push(text);
      headers.push({ ...req.headers });
      if (bodies.length > 1000) {
        bodies.shift();
        headers.shift();
      }
      kept.push(...parsed.spans);
      if (kept.length > MAX_KEPT_SPANS) kept.splice(0, kept.length - MAX_KEPT_SPANS);
      for (const listener of listeners) listener(parsed.spans);
      answer(res, 200, {});
    });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    spans: () => [...kept],
    // A retried export sends the same span ids again: the last copy stands, as in most backends.
    trace: (traceId) =>
      [...new Map(kept.filter((s) => s.traceId === traceId).map((s) => [s.spanId, s])).values()].sort(
        (a, b) => a.start - b.start,
      ),
    bodies: () => [...bodies],
    headers: () => [...headers],
    failNext(times, status = 503) {
      failures = { times, status };
    },
    stall(ms) {
      stallMs = ms;
    },
    onSpans(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
