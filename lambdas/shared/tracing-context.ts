/**
 * W3C Trace Context as an intent carries it (`context.traceparent`, optional
 * `context.tracestate`), checked strictly: an agent's text reaches trace
 * backends only in the exact shape the W3C recommendation defines, so a
 * hostile value can never smuggle text, ids or headers through. Pure: no SDK
 * here, so the intent schema and the client load nothing more.
 *
 * Also the deterministic ids Countersign gives its own spans: every Lambda that
 * exports a piece of a request's trace derives the same trace id and span ids
 * from the request id, so spans written by different invocations, minutes
 * apart, join into one tree without any shared state.
 */
import { createHash } from 'node:crypto';

/** The only traceparent version accepted. */
export const TRACEPARENT_VERSION = '00';
/** Flag bits version 00 defines: sampled (0x01) and random trace id (0x02). */
export const KNOWN_TRACE_FLAGS = 0x03;
/** Most list members a tracestate may hold. */
export const MAX_TRACESTATE_MEMBERS = 32;
/** Longest tracestate accepted, in characters. */
export const MAX_TRACESTATE_LENGTH = 512;

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const SIMPLE_KEY = /^[a-z][a-z0-9_\-*/]{0,255}$/;
const MULTI_TENANT_KEY = /^[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}$/;
// chr = %x20 / nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E; a value never ends in a space.
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** A parsed `traceparent`. */
export interface TraceParent {
  traceId: string;
  /** The agent's span: the parent of Countersign's request span. */
  spanId: string;
  /** Trace flags (bit 0: sampled). */
  flags: number;
}

/** Result of {@link parseTraceparent} and {@link parseTracestate}. */
export type TraceParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Parses a W3C `traceparent`: version `00`, lower-case hex, a trace id and a
 * parent id that are not all zeros, and only the flag bits version 00 defines.
 */
export function parseTraceparent(text: string): TraceParseResult<TraceParent> {
  const m = TRACEPARENT.exec(text);
  if (!m)
    return {
      ok: false,
      reason:
        'traceparent must be "00-<32 lower-case hex trace id>-<16 lower-case hex parent id>-<2 hex flags>" (W3C Trace Context)',
    };
  const [, version, traceId, spanId, flags] = m as unknown as [string, string, string, string, string];
  if (version !== TRACEPARENT_VERSION)
    return { ok: false, reason: `traceparent version must be ${TRACEPARENT_VERSION}` };
  if (/^0+$/.test(traceId)) return { ok: false, reason: 'traceparent trace id must not be all zeros' };
  if (/^0+$/.test(spanId)) return { ok: false, reason: 'traceparent parent id must not be all zeros' };
  const value = Number.parseInt(flags, 16);
  if ((value & ~KNOWN_TRACE_FLAGS) !== 0)
    return { ok: false, reason: 'traceparent flags may set only sampled (01) and random (02)' };
  return { ok: true, value: { traceId, spanId, flags: value } };
}

/**
 * Parses a W3C `tracestate`: at most {@link MAX_TRACESTATE_MEMBERS}
 * comma-separated `key=value` members, {@link MAX_TRACESTATE_LENGTH}
 * characters in all, keys as the recommendation spells them (`vendor` or
 * `tenant@vendor`), each key once, values of printable ASCII without `,` and
 * `=`. Empty members are refused: they carry nothing and senders should not
 * send them. Returns the members in order.
 */
export function parseTracestate(text: string): TraceParseResult<[string, string][]> {
  if (text.length > MAX_TRACESTATE_LENGTH)
    return { ok: false, reason: `tracestate is longer than ${MAX_TRACESTATE_LENGTH} characters` };
  const members = text.split(',');
  if (members.length > MAX_TRACESTATE_MEMBERS)
    return { ok: false, reason: `tracestate has more than ${MAX_TRACESTATE_MEMBERS} members` };
  const out: [string, string][] = [];
  const seen = new Set<string>();
  for (const [i, raw] of members.entries()) {
    const member = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    const eq = member.indexOf('=');
    if (member === '' || eq < 0) return { ok: false, reason: `tracestate member ${i + 1} is not key=value` };
    const key = member.slice(0, eq);
    const value = member.slice(eq + 1);
    if (!SIMPLE_KEY.test(key) && !MULTI_TENANT_KEY.test(key))
      return {
        ok: false,
        reason: `tracestate member ${i + 1} has a key that is not lower-case "vendor" or "tenant@vendor"`,
      };
    if (!VALUE.test(value))
      return {
        ok: false,
        reason: `tracestate member ${i + 1} has a value that is not 1-256 printable ASCII characters without "," and "="`,
      };
    if (seen.has(key)) return { ok: false, reason: `tracestate member ${i + 1} repeats a key` };
    seen.add(key);
    out.push([key, value]);
  }
  return { ok: true, value: out };
}

/** The trace a request belongs to: the agent's, or one Countersign starts. */
export interface RequestTrace {
  traceId: string;
  /** Countersign's `countersign.review` span of the request. */
  rootSpanId: string;
  /** The agent's span that published the intent; absent when Countersign started the trace. */
  parentSpanId?: string;
  /** The agent's validated tracestate, passed on unchanged. */
  tracestate?: string;
}

const hex = (text: string, chars: number) => createHash('sha256').update(text).digest('hex').slice(0, chars);
/** Hex that is never all zeros (the recommendation's invalid id): the last digit is forced odd when it would be. */
const nonZero = (id: string) => (/^0+$/.test(id) ? `${id.slice(0, -1)}1` : id);

/**
 * The trace of a request, from its intent's context when it carries a valid
 * `traceparent`, else a trace id derived from the request id (so every piece
 * of Countersign names the same new trace). The request span's id is derived
 * from the trace and request ids. The agent's sampled flag is not honoured:
 * Countersign's spans are always exported (sampled), so an agent cannot keep
 * its reviews out of the team's traces by clearing the flag.
 */
export function requestTrace(
  requestId: string,
  context?: { traceparent?: string; tracestate?: string },
): RequestTrace {
  const parsed = context?.traceparent ? parseTraceparent(context.traceparent) : undefined;
  if (parsed?.ok) {
    const state =
      context?.tracestate && parseTracestate(context.tracestate).ok ? context.tracestate : undefined;
    return {
      traceId: parsed.value.traceId,
      rootSpanId: spanIdFor(parsed.value.traceId, requestId, 'review'),
      parentSpanId: parsed.value.spanId,
      ...(state ? { tracestate: state } : {}),
    };
  }
  const traceId = nonZero(hex(`countersign/trace/${requestId}`, 32));
  return { traceId, rootSpanId: spanIdFor(traceId, requestId, 'review') };
}

/** The span id of one piece of a request's trace (`review`, `audit/<seq>`): the same in every Lambda. */
export function spanIdFor(traceId: string, requestId: string, piece: string): string {
  return nonZero(hex(`countersign/span/${traceId}/${requestId}/${piece}`, 16));
}

/** The `traceparent` naming a span of a request's trace (always sampled, see {@link requestTrace}). */
export function traceparentOf(traceId: string, spanId: string): string {
  return `${TRACEPARENT_VERSION}-${traceId}-${spanId}-01`;
}

/**
 * The W3C trace id of an X-Ray trace header (`Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;…`,
 * Lambda's `_X_AMZN_TRACE_ID`), with its parent segment id, or undefined.
 * X-Ray ids are W3C ids with the epoch split off, so the request span can
 * link to the workflow execution's X-Ray trace.
 */
export function xrayTraceContext(
  header: string | undefined,
): { traceId: string; spanId: string } | undefined {
  if (!header) return undefined;
  const root = /(?:^|;)Root=1-([0-9a-f]{8})-([0-9a-f]{24})(?:;|$)/.exec(header);
  const parent = /(?:^|;)Parent=([0-9a-f]{16})(?:;|$)/.exec(header);
  if (!root || !parent) return undefined;
  return { traceId: `${root[1]}${root[2]}`, spanId: parent[1]! };
}
