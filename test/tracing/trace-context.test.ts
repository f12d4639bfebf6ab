/**
 * W3C Trace Context as an intent carries it: what is accepted, what is
 * refused with which reason, and the ids Countersign derives.
 */
import { describe, expect, it } from 'vitest';
import { parseIntent } from '../../lambdas/shared/intent.js';
import {
  parseTraceparent,
  parseTracestate,
  requestTrace,
  spanIdFor,
  traceparentOf,
  xrayTraceContext,
} from '../../lambdas/shared/tracing-context.js';
import { makeIntent } from '../support/fixtures.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('traceparent', () => {
  it.each(['00', '01', '02', '03'])('accepts version 00 with flags %s', (flags) => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-${flags}`)).toEqual({
      ok: true,
      value: { traceId: TRACE, spanId: SPAN, flags: Number.parseInt(flags, 16) },
    });
  });

  it.each([
    ['upper-case hex', `00-${TRACE.toUpperCase()}-${SPAN}-01`, /lower-case hex/],
    ['version 01', `01-${TRACE}-${SPAN}-01`, /version must be 00/],
    ['version ff', `ff-${TRACE}-${SPAN}-01`, /version must be 00/],
    ['a zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`, /trace id must not be all zeros/],
    ['a zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`, /parent id must not be all zeros/],
    ['unknown flag bits', `00-${TRACE}-${SPAN}-ff`, /flags may set only/],
    ['a short trace id', `00-${TRACE.slice(1)}-${SPAN}-01`, /W3C Trace Context/],
    ['extra fields', `00-${TRACE}-${SPAN}-01-extra`, /W3C Trace Context/],
    ['surrounding space', ` 00-${TRACE}-${SPAN}-01`, /W3C Trace Context/],
    ['a header injection', `00-${TRACE}-${SPAN}-01\r\nx-evil: 1`, /W3C Trace Context/],
  ])('refuses %s', (_name, text, reason) => {
    const result = parseTraceparent(text);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(reason);
  });
});

describe('tracestate', () => {
  it('accepts vendor and tenant@vendor keys, spaces around members, 32 members and 512 characters', () => {
    expect(parseTracestate('rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,acme@tenant-1=a b')).toEqual({
      ok: true,
      value: [
        ['rojo', '00f067aa0ba902b7'],
        ['congo', 't61rcWkgMzE'],
        ['acme@tenant-1', 'a b'],
      ],
    });
    const members = Array.from({ length: 32 }, (_, i) => `k${i}=v`).join(',');
    expect(parseTracestate(members).ok).toBe(true);
    expect(parseTracestate(`k=${'v'.repeat(256)}`).ok).toBe(true);
    expect(parseTracestate(`a=${'v'.repeat(200)},b=${'v'.repeat(200)},c=${'v'.repeat(100)}`).ok).toBe(true);
  });

  it.each([
    ['33 members', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(','), /more than 32 members/],
    ['515 characters', `a=${'v'.repeat(255)},b=${'v'.repeat(255)}`, /longer than 512/],
    ['a 257-character value', `a=${'v'.repeat(257)}`, /value that is not/],
    ['a repeated key', 'a=1,a=2', /repeats a key/],
    ['an upper-case key', 'Rojo=1', /key that is not/],
    ['a key starting with a digit (no tenant)', '1abc=1', /key that is not/],
    ['a value with "="', 'a=b=c', /value that is not/],
    ['an empty value', 'a=', /value that is not/],
    ['a control character', 'a=b\u0007', /value that is not/],
    ['non-ASCII', 'a=é', /value that is not/],
    ['an empty member', 'a=1,,b=2', /member 2 is not key=value/],
    ['a member without "="', 'a', /member 1 is not key=value/],
  ])('refuses %s', (_name, text, reason) => {
    const result = parseTracestate(text);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(reason);
  });
});

describe('trace context in an intent', () => {
  const withContext = (context: Record<string, unknown>) => ({ ...makeIntent(), context });

  it('an intent with a valid traceparent and tracestate is accepted', () => {
    const result = parseIntent(withContext({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'rojo=1' }));
    expect(result.ok).toBe(true);
  });

  it.each([
    [{ traceparent: `00-${TRACE}-${SPAN}-ff` }, /context\.traceparent: traceparent flags/],
    [{ traceparent: 42 }, /context\.traceparent: /],
    [
      { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'a=1,a=2' },
      /context\.tracestate: .*repeats a key/,
    ],
    [{ tracestate: 'rojo=1' }, /context\.tracestate: tracestate needs a traceparent/],
  ])('%j is refused naming the field', (context, reason) => {
    const result = parseIntent(withContext(context));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(reason);
  });
});

describe('ids Countersign derives', () => {
  it('continues the agent trace under its span, whatever its sampled flag', () => {
    const trace = requestTrace('intent-00000001', {
      traceparent: `00-${TRACE}-${SPAN}-00`,
      tracestate: 'r=1',
    });
    expect(trace).toEqual({
      traceId: TRACE,
      rootSpanId: spanIdFor(TRACE, 'intent-00000001', 'review'),
      parentSpanId: SPAN,
      tracestate: 'r=1',
    });
  });

  it('without trace context: the same new trace id in every Lambda, different per request', () => {
    const a = requestTrace('intent-00000001');
    expect(a.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.traceId).not.toMatch(/^0+$/);
    expect(requestTrace('intent-00000001')).toEqual(a);
    expect(requestTrace('intent-00000002').traceId).not.toBe(a.traceId);
    expect(a.parentSpanId).toBeUndefined();
    expect(traceparentOf(a.traceId, a.rootSpanId)).toBe(`00-${a.traceId}-${a.rootSpanId}-01`);
  });

  it('reads the X-Ray trace of the invocation as a W3C trace id', () => {
    expect(
      xrayTraceContext('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1'),
    ).toEqual({ traceId: '5759e988bd862e3fe1be46a994272793', spanId: '53995c3f42cd8ad8' });
    expect(xrayTraceContext(undefined)).toBeUndefined();
    expect(xrayTraceContext('Root=1-zz;Parent=1')).toBeUndefined();
  });
});
