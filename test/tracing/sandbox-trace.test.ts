/**
 * One stream, end to end through public interfaces: an agent publishes an
 * intent with a known `traceparent` (PutEvents to the sandbox), a reviewer who
 * may not approve is refused, an approver approves (signed Slack clicks), and
 * the local OTLP/HTTP receiver gets Countersign's spans: the agent's trace id,
 * the request span's parent is the agent's span, the expected child spans and
 * attributes, and no agent text or secret anywhere in what was exported. The
 * decision event and the status API carry the trace id; an intent without
 * trace context starts a trace of its own. Export failures never touch the
 * decision.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReceivedSpan, RunningOtlpReceiver } from '../../sandbox/otlp-receiver.js';
import type { Timeline } from '../../sandbox/trace-timeline.js';
import { type Sandbox, startSandbox } from '../adversary/support.js';
import { makeIntent } from '../support/fixtures.js';
import { denyWithReason, eventually, USER } from '../support/loop.js';

// Its own trace id: other tests share this sandbox's receiver and continue traces of their own.
const AGENT_TRACE = `4bf92f35${randomBytes(12).toString('hex')}`;
const AGENT_SPAN = '00f067aa0ba902b7';
const SECRETS = {
  password: 'hunter2-Z9x8c7v6',
  awsKey: 'AKIAIOSFODNN7EXAMPLE',
  url: 'postgres://app:S3cr3tPw0rd@db.internal:5432/payments',
};
const AGENT_TEXT = 'justification-canary-QWXZ';

let sandbox: Sandbox;
let receiver: RunningOtlpReceiver;

beforeAll(async () => {
  sandbox = await startSandbox();
  receiver = sandbox.loop.traces!;
});
afterAll(() => sandbox?.close());

async function statusOf(intentId: string): Promise<{ traceId?: string; decision?: { traceId?: string } }> {
  const res = await fetch(`${sandbox.server.url}/requests/${encodeURIComponent(intentId)}`);
  return (await res.json()) as { traceId?: string };
}

const byName = (spans: ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);

describe('an agent trace continues through the review and back', () => {
  it('approved review: spans join the agent trace with the expected children, attributes and nothing secret', async () => {
    // Prepare
    const intent = makeIntent({
      justification: `Rotate payments access ${AGENT_TEXT}`,
      parameters: {
        roleName: 'payments-deployer',
        password: SECRETS.password,
        note: `key ${SECRETS.awsKey}`,
        connectionString: SECRETS.url,
      },
      context: {
        traceparent: `00-${AGENT_TRACE}-${AGENT_SPAN}-01`,
        tracestate: 'agentvendor=opaque-1,other@tenant=x',
      },
    });
    // Act
    await sandbox.put([intent]);
    await sandbox.reviewOpen(intent.intentId);
    await sandbox.click(USER.carol, 'approve', intent.intentId); // acts for carol: refused
    await sandbox.click(USER.alice, 'approve', intent.intentId);
    const view = await sandbox.final(intent.intentId);
    const spans = await eventually(() => {
      const received = receiver.trace(AGENT_TRACE);
      return received.some((s) => s.name === 'countersign.review') ? received : undefined;
    });

    // Assess: the decision and its trace id, on the bus and in the status API
    expect(view.decision).toMatchObject({ status: 'APPROVED' });
    const [event] = await sandbox.decisions(intent.intentId);
    expect((event!.detail as { traceId?: string }).traceId).toBe(AGENT_TRACE);
    const status = await statusOf(intent.intentId);
    expect(status.traceId).toBe(AGENT_TRACE);
    expect(status.decision?.traceId).toBe(AGENT_TRACE);

    // Assess: one tree under the agent's span
    expect(spans.every((s) => s.traceId === AGENT_TRACE)).toBe(true);
    const [root] = byName(spans, 'countersign.review');
    expect(root).toBeDefined();
    expect(root!.parentSpanId).toBe(AGENT_SPAN);
    expect(root!.traceState).toBe('agentvendor=opaque-1,other@tenant=x');
    for (const child of spans.filter((s) => s !== root)) expect(child.parentSpanId).toBe(root!.spanId);
    expect(byName(spans, 'countersign.evaluate')).toHaveLength(1);
    expect(byName(spans, 'countersign.notify')).toHaveLength(1);
    expect(byName(spans, 'countersign.refusal')).toHaveLength(1);
    expect(byName(spans, 'countersign.vote')).toHaveLength(1);
    expect(byName(spans, 'countersign.decision')).toHaveLength(1);

    // Assess: attributes someone reads in their backend
    expect(root!.attributes).toMatchObject({
      'countersign.request_id': intent.intentId,
      'countersign.agent_id': 'deploy-bot',
      'countersign.action': 'iam:AttachRolePolicy',
      'countersign.outcome': 'APPROVED',
      'countersign.automatic': false,
      'countersign.approvers': ['alice@example.com'],
      'countersign.intent_hash': view.request.intentHash,
    });
    expect(typeof root!.attributes['countersign.environment']).toBe('string');
    expect(root!.attributes['countersign.policies']).toEqual(expect.arrayContaining([expect.any(String)]));
    expect(root!.attributes['countersign.time_to_decision_ms']).toBeGreaterThanOrEqual(0);
    expect(root!.status).toBe(1);
    for (const child of spans) {
      expect(child.start).toBeGreaterThanOrEqual(root!.start);
      expect(child.end).toBeLessThanOrEqual(root!.end);
    }
    expect(byName(spans, 'countersign.vote')[0]!.attributes).toMatchObject({
      'countersign.vote': 'approve',
      'countersign.approver': 'alice@example.com',
      'countersign.channel': 'slack',
    });
    expect(byName(spans, 'countersign.refusal')[0]!.attributes).toMatchObject({
      'countersign.approver': 'carol@example.com',
      'countersign.refusal_code': expect.any(String),
    });
    expect(byName(spans, 'countersign.decision')[0]!.attributes).toMatchObject({
      'countersign.outcome': 'APPROVED',
    });

    // Assess: nothing the agent wrote, and no secret, in anything exported
    const exported = receiver.bodies().join('\n');
    for (const value of [
      SECRETS.password,
      SECRETS.awsKey,
      'S3cr3tPw0rd',
      AGENT_TEXT,
      intent.resource,
      intent.agent.sessionId,
      intent.agent.model,
    ]) {
      expect(exported).not.toContain(value);
    }

    // Assess: the console's timeline shows the exported spans
    const res = await fetch(`${sandbox.server.url}/api/traces/${encodeURIComponent(intent.intentId)}`);
    const timeline = (await res.json()) as Timeline;
    expect(timeline).toMatchObject({ traceId: AGENT_TRACE, parentSpanId: AGENT_SPAN, exported: true });
    expect(timeline.spans.map((s) => s.name)).toEqual(
      expect.arrayContaining(['countersign.review', 'countersign.vote']),
    );
  });

  it('no trace context: Countersign starts a trace and returns its id in the decision and status API', async () => {
    // Prepare
    const intent = makeIntent();
    // Act
    await sandbox.put([intent]);
    await sandbox.reviewOpen(intent.intentId);
    const pending = await statusOf(intent.intentId);
    await denyWithReason(sandbox.loop, USER.alice, intent.intentId);
    await sandbox.final(intent.intentId);
    // Assess
    expect(pending.traceId).toMatch(/^[0-9a-f]{32}$/);
    const [event] = await sandbox.decisions(intent.intentId);
    expect((event!.detail as { traceId?: string }).traceId).toBe(pending.traceId);
    const spans = await eventually(() => {
      const received = receiver.trace(pending.traceId!);
      return received.some((s) => s.name === 'countersign.review') ? received : undefined;
    });
    const [root] = byName(spans, 'countersign.review');
    expect(root!.parentSpanId).toBeUndefined();
    expect(root!.attributes['countersign.outcome']).toBe('DENIED');
    expect(byName(spans, 'countersign.vote')[0]!.attributes['countersign.vote']).toBe('deny');
  });

  it('a pending request: what it waits for is exported already; the console shows the trail so far', async () => {
    // Prepare
    const intent = makeIntent();
    // Act
    await sandbox.put([intent]);
    await sandbox.reviewOpen(intent.intentId);
    const res = await fetch(`${sandbox.server.url}/api/traces/${encodeURIComponent(intent.intentId)}`);
    const timeline = (await res.json()) as Timeline;
    await denyWithReason(sandbox.loop, USER.alice, intent.intentId);
    await sandbox.final(intent.intentId);
    // Assess
    expect(timeline.exported).toBe(false);
    expect(timeline.spans.map((s) => s.name)).toEqual([
      'countersign.review',
      'countersign.evaluate',
      'countersign.notify',
      'countersign.card',
    ]);
    expect(timeline.spans[0]!.attributes['countersign.pending']).toBe(true);
    // Review already exported what the agent waits for, before any decision.
    const waiting = receiver.trace(timeline.traceId).find((s) => s.name === 'countersign.notify');
    expect(waiting).toMatchObject({
      parentSpanId: timeline.spans[0]!.spanId,
      attributes: expect.objectContaining({
        'countersign.action': 'iam:AttachRolePolicy',
        'countersign.approver_groups': expect.any(Array),
        'countersign.quorum': expect.any(Number),
      }),
    });
  });

  it('an export endpoint that refuses or stalls changes no decision', async () => {
    for (const [breakIt, refused] of [
      [() => receiver.failNext(5, 400), true],
      [() => receiver.stall(2500), false],
    ] as const) {
      // Prepare
      const intent = makeIntent();
      const before = receiver.spans().length;
      breakIt();
      try {
        // Act
        await sandbox.put([intent]);
        await sandbox.reviewOpen(intent.intentId);
        await sandbox.click(USER.alice, 'approve', intent.intentId);
        const view = await sandbox.final(intent.intentId);
        // Assess
        expect(view.decision).toMatchObject({ status: 'APPROVED' });
        expect(await sandbox.decisions(intent.intentId)).toHaveLength(1);
        // A refused export keeps nothing; a stalled one is abandoned at the deadline.
        if (refused) expect(receiver.spans().length).toBe(before);
      } finally {
        receiver.failNext(0);
        receiver.stall(0);
      }
    }
  });
});
