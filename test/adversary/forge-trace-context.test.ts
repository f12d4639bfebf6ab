/**
 * Attacker goal: use the trace context to reach the observability stack. A
 * compromised agent controls `context.traceparent` and `context.tracestate`:
 * it tries header and text injection, malformed and reserved ids, clearing
 * the sampled flag to keep its review out of the team's traces, and naming
 * another request's trace to blend into it. Through PutEvents, signed Slack
 * clicks and the sandbox's read endpoints only, each case asserts the safe
 * outcome: a malformed context is an audited denial naming the field, whose
 * trace Countersign starts itself; nothing the agent sent beyond the W3C
 * shapes reaches an exported span; and every review is exported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReceivedSpan } from '../../sandbox/otlp-receiver.js';
import type { Timeline } from '../../sandbox/trace-timeline.js';
import { makeIntent } from '../support/fixtures.js';
import { eventually, USER } from '../support/loop.js';
import { expectAuditedDenial, type Sandbox, startSandbox } from './support.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox?.close());

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';

/** The exported spans of a trace once its request span for `intentId` arrived. */
function exportedRequest(traceId: string, intentId: string): Promise<ReceivedSpan[]> {
  return eventually(() => {
    const spans = sandbox.loop.traces!.trace(traceId);
    return spans.some(
      (s) => s.name === 'countersign.review' && s.attributes['countersign.request_id'] === intentId,
    )
      ? spans
      : undefined;
  });
}

async function decisionTraceId(intentId: string): Promise<string> {
  const [event] = await sandbox.decisions(intentId);
  return (event!.detail as unknown as { traceId: string }).traceId;
}

describe('forge the trace context', () => {
  it.each([
    [
      'a header injection in traceparent',
      { traceparent: `00-${TRACE}-${SPAN}-01\r\nx-evil: 1` },
      /context\.traceparent/,
    ],
    ['upper-case hex', { traceparent: `00-${TRACE.toUpperCase()}-${SPAN}-01` }, /context\.traceparent/],
    [
      'an all-zero trace id',
      { traceparent: `00-${'0'.repeat(32)}-${SPAN}-01` },
      /trace id must not be all zeros/,
    ],
    ['the reserved version ff', { traceparent: `ff-${TRACE}-${SPAN}-01` }, /version must be 00/],
    ['undefined flag bits', { traceparent: `00-${TRACE}-${SPAN}-09` }, /flags may set only/],
    [
      'text smuggled in tracestate',
      { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'x=ok,injected=x\nx-evil: 1' },
      /context\.tracestate/,
    ],
    [
      'an oversized tracestate',
      {
        traceparent: `00-${TRACE}-${SPAN}-01`,
        tracestate: Array.from({ length: 40 }, (_, i) => `k${i}=v`).join(','),
      },
      /more than 32 members/,
    ],
    ['a tracestate without traceparent', { tracestate: 'x=1' }, /tracestate needs a traceparent/],
  ])(
    '%s: audited DENIED naming the field, traced under a trace Countersign starts',
    async (_name, context, reason) => {
      // Prepare
      const intent = { ...makeIntent(), context };
      // Act
      const [entry] = await sandbox.put([intent]);
      expect(entry).toHaveProperty('EventId');
      const view = await sandbox.final(intent.intentId);
      // Assess
      expectAuditedDenial(view, reason);
      // No message names it (other requests' queued cards may be posted meanwhile).
      expect(
        sandbox.loop
          .slack!.sent('chat.postMessage')
          .filter((m) => JSON.stringify(m).includes(intent.intentId)),
      ).toEqual([]);
      const traceId = await decisionTraceId(intent.intentId);
      expect(traceId).not.toBe(TRACE);
      const spans = await exportedRequest(traceId, intent.intentId);
      const root = spans.find((s) => s.name === 'countersign.review')!;
      expect(root.parentSpanId).toBeUndefined();
      expect(root.traceState).toBeUndefined();
      expect(root.status).toBe(2);
      expect(sandbox.loop.traces!.bodies().join('\n')).not.toContain('x-evil');
    },
  );

  it('clearing the sampled flag does not keep the review out of the exported traces', async () => {
    // Prepare
    const intent = makeIntent({ context: { traceparent: `00-${TRACE}-${SPAN}-00` } });
    // Act
    await sandbox.put([intent]);
    await sandbox.reviewOpen(intent.intentId);
    await sandbox.click(USER.alice, 'approve', intent.intentId);
    await sandbox.final(intent.intentId);
    // Assess
    const spans = await exportedRequest(TRACE, intent.intentId);
    const root = spans.find(
      (s) => s.name === 'countersign.review' && s.attributes['countersign.request_id'] === intent.intentId,
    )!;
    expect(root.parentSpanId).toBe(SPAN);
    expect(root.attributes['countersign.outcome']).toBe('APPROVED');
  });

  it('naming another request’s trace blends nothing: each request keeps its own spans and timeline', async () => {
    // Prepare: a victim request under a trace, and the attacker's under the same traceparent
    const traceparent = `00-${'1'.repeat(31)}2-${SPAN}-01`;
    const victim = makeIntent({ context: { traceparent } });
    const attacker = makeIntent({ context: { traceparent } });
    // Act
    await sandbox.put([victim]);
    await sandbox.reviewOpen(victim.intentId);
    await sandbox.click(USER.alice, 'approve', victim.intentId);
    await sandbox.final(victim.intentId);
    await sandbox.put([attacker]);
    await sandbox.reviewOpen(attacker.intentId);
    await sandbox.click(USER.carol, 'approve', attacker.intentId); // refused: carol is who it acts for
    await sandbox.click(USER.bob, 'approve', attacker.intentId);
    await sandbox.final(attacker.intentId);
    await exportedRequest(`${'1'.repeat(31)}2`, attacker.intentId);
    // Assess
    const timelineOf = async (id: string) =>
      (await (await fetch(`${sandbox.server.url}/api/traces/${encodeURIComponent(id)}`)).json()) as Timeline;
    const [mine, theirs] = [await timelineOf(victim.intentId), await timelineOf(attacker.intentId)];
    expect(mine.exported && theirs.exported).toBe(true);
    const roots = (t: Timeline) => t.spans.filter((s) => s.name === 'countersign.review');
    expect(roots(mine)).toHaveLength(1);
    expect(roots(mine)[0]!.attributes['countersign.request_id']).toBe(victim.intentId);
    expect(roots(theirs)[0]!.attributes['countersign.request_id']).toBe(attacker.intentId);
    expect(mine.spans.some((s) => s.name === 'countersign.refusal')).toBe(false);
    expect(roots(mine)[0]!.attributes['countersign.approvers']).toEqual(['alice@example.com']);
  });
});
