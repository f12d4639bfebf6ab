/**
 * Cancellation end to end: an agent publishes `Privileged Action Cancelled`
 * on the bus; the synthesized rule routes it to the real cancel handler, which
 * ends the agent's own review CANCELLED; another agent's cancellation is
 * refused, audited, and changes nothing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { AGENT_SOURCE_PREFIX, CANCEL_DETAIL_TYPE } from '../../lambdas/shared/intent.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { makeIntent } from '../support/fixtures.js';
import {
  currentCard,
  decisionFor,
  denyWithReason,
  eventually,
  newIntentId,
  publish,
  request,
  reviewOpen,
  sharedLoop,
  USER,
  verifiedChain,
} from '../support/loop.js';

let loop: CountersignLoop;
beforeAll(async () => {
  loop = await sharedLoop();
});

function publishCancel(intentId: string, agentId: string, reason?: string) {
  const [result] = loop.putEvents([
    {
      EventBusName: loop.config.eventBusName,
      Source: `${AGENT_SOURCE_PREFIX}${agentId}`,
      DetailType: CANCEL_DETAIL_TYPE,
      Detail: JSON.stringify({ intentId, ...(reason ? { reason } : {}) }),
    },
  ]);
  expect(result).toHaveProperty('EventId');
}

const cancelAnswer = (intentId: string) =>
  eventually(() =>
    loop.targetInvocations.find(
      (i) =>
        i.entry.endsWith('cancel/handler.ts') &&
        (i.event.detail as { intentId?: string }).intentId === intentId &&
        (i.result || i.error),
    ),
  );

describe('cancellation', () => {
  it('the owning agent cancels: the review ends CANCELLED, the card says so, the task fails with Countersign.Cancelled', async () => {
    // Prepare
    const intent = makeIntent({ intentId: newIntentId() });
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);

    // Act
    publishCancel(intent.intentId, 'deploy-bot', 'the incident resolved itself');
    const decision = await eventually(() => decisionFor(loop, intent.intentId));

    // Assess
    expect((await cancelAnswer(intent.intentId)).result).toMatchObject({ outcome: 'cancelled' });
    expect(decision.detail).toMatchObject({ status: 'CANCELLED', automatic: false });
    expect(String(decision.detail.reason)).toBe(
      'Cancelled by agent deploy-bot: the incident resolved itself',
    );
    expect(decision.detail.grant).toBeUndefined();
    expect((await request(loop, intent.intentId))?.status).toBe('CANCELLED');
    // This request's own review task was failed as cancelled (matched by the cancellation's exact cause).
    const failures = loop.fakeAws.tasks
      .callsOf('SendTaskFailure')
      .filter((c) => c.cause === 'Cancelled by agent deploy-bot: the incident resolved itself');
    expect(failures).toEqual([expect.objectContaining({ error: 'Countersign.Cancelled', result: 'ok' })]);
    const text = JSON.stringify(currentCard(loop, card)?.blocks);
    expect(text).toContain('Cancelled');
    expect(text).toContain('the incident resolved itself');
    expect(text).not.toContain('"action_id":"approve"');
    const chain = await verifiedChain(loop, intent.intentId);
    const cancelled = chain.filter((r) => r.kind === 'cancelled');
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0]!.actor).toEqual({
      type: 'agent',
      source: 'countersign.agent.deploy-bot',
      agentId: 'deploy-bot',
    });
    // A click after the cancellation changes nothing.
    await denyWithReason(loop, USER.bob, intent.intentId);
    expect((await request(loop, intent.intentId))?.status).toBe('CANCELLED');
  });

  it("another agent's cancellation is refused, audited as refused, and changes nothing", async () => {
    // Prepare
    const intent = makeIntent({ intentId: newIntentId() });
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);

    // Act
    publishCancel(intent.intentId, 'rogue-bot', 'let me stop that');

    // Assess
    expect((await cancelAnswer(intent.intentId)).result).toMatchObject({ outcome: 'refused' });
    expect((await request(loop, intent.intentId))?.status).toBe('PENDING');
    expect(decisionFor(loop, intent.intentId)).toBeUndefined();
    expect((await verifiedChain(loop, intent.intentId)).at(-1)).toMatchObject({
      kind: 'refused',
      actor: { type: 'agent', agentId: 'rogue-bot' },
      data: expect.objectContaining({ cancel: true, code: 'not-owner' }),
    });
    await denyWithReason(loop, USER.bob, intent.intentId);
    expect((await eventually(() => decisionFor(loop, intent.intentId))).detail.status).toBe('DENIED');
  });

  it('a retried cancellation finishes the one that won but could not fail the task: CANCELLED, audited once', async () => {
    // Prepare: Step Functions throttles every attempt of the first delivery.
    const intent = makeIntent({ intentId: newIntentId() });
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    loop.fakeAws.tasks.throttle('SendTaskFailure', 3);

    // Act: the first delivery fails after its decision won; EventBridge delivers it again.
    publishCancel(intent.intentId, 'deploy-bot', 'rolled back');
    expect((await cancelAnswer(intent.intentId)).error).toMatch(/rate exceeded/i);
    publishCancel(intent.intentId, 'deploy-bot', 'rolled back');
    const retried = await eventually(
      () =>
        loop.targetInvocations.filter(
          (i) =>
            (i.event.detail as { intentId?: string }).intentId === intent.intentId && (i.result || i.error),
        )[1],
    );
    const decision = await eventually(() => decisionFor(loop, intent.intentId));

    // Assess
    expect(retried.result).toMatchObject({ outcome: 'cancelled' });
    expect(decision.detail).toMatchObject({
      status: 'CANCELLED',
      reason: 'Cancelled by agent deploy-bot: rolled back',
    });
    await loop.executionsFor(intent.intentId)[0]!.result;
    expect((await request(loop, intent.intentId))?.status).toBe('CANCELLED');
    const chain = await verifiedChain(loop, intent.intentId);
    expect(chain.filter((r) => r.kind === 'cancelled')).toHaveLength(1);
    expect(chain.map((r) => r.kind)).not.toContain('expired');
  });

  it('a cancellation delivered again after it finished is answered cancelled and audited once', async () => {
    const intent = makeIntent({ intentId: newIntentId() });
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    publishCancel(intent.intentId, 'deploy-bot', 'rolled back');
    await eventually(() => decisionFor(loop, intent.intentId));
    await loop.executionsFor(intent.intentId)[0]!.result;

    publishCancel(intent.intentId, 'deploy-bot', 'rolled back');
    const again = await eventually(
      () =>
        loop.targetInvocations.filter(
          (i) =>
            (i.event.detail as { intentId?: string }).intentId === intent.intentId && (i.result || i.error),
        )[1],
    );

    expect(again.result).toMatchObject({ outcome: 'cancelled' });
    expect((await request(loop, intent.intentId))?.status).toBe('CANCELLED');
    const chain = await verifiedChain(loop, intent.intentId);
    expect(chain.filter((r) => r.kind === 'cancelled')).toHaveLength(1);
  });

  it('a cancellation of a decided request is late and changes nothing', async () => {
    const intent = makeIntent({ intentId: newIntentId() });
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    await denyWithReason(loop, USER.bob, intent.intentId);
    await eventually(() => decisionFor(loop, intent.intentId));
    publishCancel(intent.intentId, 'deploy-bot');
    expect((await cancelAnswer(intent.intentId)).result).toMatchObject({ outcome: 'late' });
    expect((await request(loop, intent.intentId))?.status).toBe('DENIED');
  });
});
