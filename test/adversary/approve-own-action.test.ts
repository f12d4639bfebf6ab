/**
 * Attacker goal: approve your own action. The agent (or its owner) controls
 * every string of the intent, so it tries to make "self" look like someone
 * else: a sub-addressed owner, a case-changed on-behalf-of, a different
 * claimed owner, a lookalike email, and a break-glass responder of its own
 * choosing. Driven only through PutEvents and signed Slack payloads; each
 * case asserts the refusal, that nothing was approved, and the audit record.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { makeIntent } from '../support/fixtures.js';
import { cardValues, readBack } from '../support/inert.js';
import {
  cardFor,
  click,
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

const lastEphemeral = (user: string) => loop.slack!.sent('chat.postEphemeral', user).at(-1)?.text ?? '';

/** An intent as raw JSON, so the schema is not applied on the attacker's side. */
const rawIntent = (agent: Record<string, string>, extra: Record<string, unknown> = {}) => {
  const base = makeIntent({ intentId: newIntentId() });
  return { ...base, agent: { ...base.agent, ...agent }, ...extra };
};

/** Asserts the intent was refused at Evaluate: DENIED by no human, no card, and the refusal audited. */
async function refusedAtEvaluate(intentId: string, reason: RegExp) {
  const decision = await eventually(() => decisionFor(loop, intentId));
  expect(decision.detail).toMatchObject({ status: 'DENIED', automatic: true, approvers: [] });
  expect(decision.detail.grant).toBeUndefined();
  expect(String(decision.detail.reason)).toMatch(reason);
  expect(cardFor(loop, intentId)).toBeUndefined();
  const chain = await verifiedChain(loop, intentId);
  expect(chain[0]).toMatchObject({ kind: 'rejected', data: { reason: expect.stringMatching(reason) } });
  return decision;
}

/** Asserts `userId`'s approve click was refused with `code`, audited, and left the request pending. */
async function approveRefused(intentId: string, userId: string, code: string, says: RegExp) {
  await click(loop, userId, 'approve', intentId);
  expect(lastEphemeral(userId)).toMatch(says);
  const stored = await request(loop, intentId);
  expect(stored?.status).toBe('PENDING');
  expect(stored?.approvals).toEqual([]);
  const refusal = (await verifiedChain(loop, intentId)).filter((r) => r.kind === 'refused').at(-1);
  expect(refusal).toMatchObject({ actor: { slackUserId: userId }, data: expect.objectContaining({ code }) });
}

describe('adversary: approve own action', () => {
  it('a sub-addressed owner (erin+bot@) is still erin: she cannot approve, and the card shows the registered owner', async () => {
    // Prepare: erin owns deploy-bot and is in security-approvers.
    const intent = rawIntent({ owner: 'erin+bot@example.com' });
    // Act
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    // Assess
    expect((await request(loop, intent.intentId))?.verified?.owner).toBe('erin@example.com');
    const owner = cardValues(card.blocks ?? []).find((v) => v.label === 'Owner (registered)');
    expect(owner && readBack(owner)).toBe('erin@example.com');
    await approveRefused(intent.intentId, USER.erin, 'self-owner', /you own the agent/);
    await denyWithReason(loop, USER.bob, intent.intentId);
    expect((await eventually(() => decisionFor(loop, intent.intentId))).detail.status).toBe('DENIED');
  });

  it('a case-changed, sub-addressed on-behalf-of (Carol+x@) is still carol: she cannot approve', async () => {
    const intent = rawIntent({ onBehalfOf: 'Carol+x@EXAMPLE.com' });
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    expect((await request(loop, intent.intentId))?.verified?.onBehalfOf).toBe('carol@example.com');
    await approveRefused(intent.intentId, USER.carol, 'self-on-behalf-of', /acts on your behalf/);
    await denyWithReason(loop, USER.bob, intent.intentId);
    expect((await eventually(() => decisionFor(loop, intent.intentId))).detail.status).toBe('DENIED');
  });

  it('a claimed owner other than the registered one is refused at Evaluate, so the real owner cannot slip through', async () => {
    // The agent claims dave owns it, hoping erin (its real owner) can then approve.
    const intent = rawIntent({ owner: 'dave@example.com' });
    publish(loop, intent);
    await refusedAtEvaluate(
      intent.intentId,
      /agent\.owner "dave@example\.com" is not the owner registered for agent "deploy-bot" \(erin@example\.com\)/,
    );
  });

  it('an agent that was never registered is refused at Evaluate', async () => {
    const intent = rawIntent({});
    publish(loop, intent, 'ghost-bot');
    await refusedAtEvaluate(intent.intentId, /agent "ghost-bot" is not registered/);
  });

  it.each([
    ['a Cyrillic lookalike on-behalf-of', { onBehalfOf: 'c\u0430rol@example.com' }, /agent\.onBehalfOf/],
    ['a Cyrillic lookalike owner', { owner: '\u0435rin@example.com' }, /agent\.owner/],
    [
      'a punycode lookalike on-behalf-of',
      { onBehalfOf: 'carol@xn--exmple-cua.com' },
      /agent\.onBehalfOf has the punycode domain/,
    ],
  ])('%s is refused as an identity at Evaluate', async (_name, agent, reason) => {
    const intent = rawIntent(agent);
    publish(loop, intent);
    await refusedAtEvaluate(intent.intentId, reason);
  });

  it('break-glass: naming someone in no responder group as the urgent on-behalf-of makes them no responder', async () => {
    // Prepare: an urgent prod rotation (policy allows break-glass for @security-approvers and
    // @platform-oncall) "on behalf of" dave, who is in no group at all.
    const intent = rawIntent(
      { onBehalfOf: 'dave@example.com' },
      {
        action: 'secretsmanager:RotateSecret',
        resource: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:payments-db',
        parameters: { secretId: 'payments-db' },
        context: { urgency: 'urgent', impact: 'payments API reconnects' },
      },
    );
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    const plan = (await request(loop, intent.intentId))?.review;
    expect(plan).toMatchObject({
      breakGlass: true,
      responderGroups: ['platform-oncall', 'security-approvers'],
    });
    // Act: dave tries the break-glass path, then plain Approve.
    const views = loop.slack!.views.size;
    await click(loop, USER.dave, 'breakglass', intent.intentId);
    // Assess: no form, a clear refusal, nothing approved, audited.
    expect(loop.slack!.views.size).toBe(views);
    expect(lastEphemeral(USER.dave)).toMatch(/does not name you a break-glass responder.*@platform-oncall/);
    const stored = await request(loop, intent.intentId);
    expect(stored?.status).toBe('PENDING');
    expect(stored?.approvals).toEqual([]);
    const refusal = (await verifiedChain(loop, intent.intentId)).filter((r) => r.kind === 'refused').at(-1);
    expect(refusal).toMatchObject({ actor: { slackUserId: USER.dave } });
    await approveRefused(intent.intentId, USER.dave, 'self-on-behalf-of', /acts on your behalf/);
    await denyWithReason(loop, USER.bob, intent.intentId);
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail).toMatchObject({ status: 'DENIED' });
    expect(decision.detail.breakGlass).toBeUndefined();
  });
});
