/**
 * One card updated in place, and a DM to the human the agent acted for, end to
 * end through the workflow: the outcome with who, when and why; a failed DM
 * never fails the decision.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { dmChannelOf } from '../../sandbox/fake-slack.js';
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
} from '../support/loop.js';

let loop: CountersignLoop;
beforeAll(async () => {
  loop = await sharedLoop();
});

const dmsTo = (userId: string, intentId: string) =>
  loop.slack!.sent('chat.postMessage', userId).filter((m) => m.text?.includes(intentId));

describe('outcome on one card, and a DM to the on-behalf-of human', () => {
  it('a denial updates the same card (who, when, reason) and DMs carol, found by email', async () => {
    const intent = makeIntent({ intentId: newIntentId() });
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    await denyWithReason(loop, USER.bob, intent.intentId, 'Use the read-only role instead.');
    await eventually(() => decisionFor(loop, intent.intentId));
    const dm = await eventually(() => dmsTo(USER.carol, intent.intentId)[0]);
    expect(dm.channel).toBe(dmChannelOf(USER.carol));
    expect(dm.text).toMatch(/denied.*by <@U0BOB0002>/);
    expect(dm.text).toContain('Use the read-only role instead.');
    // One card: posted once, every change an update of it.
    const posts = loop
      .slack!.sent('chat.postMessage')
      .filter((m) => JSON.stringify(m.blocks ?? []).includes(`"value":"${intent.intentId}"`));
    expect(posts).toHaveLength(1);
    const final = JSON.stringify(currentCard(loop, card)?.blocks);
    expect(final).toMatch(/Denied\* by <@U0BOB0002> · <!date\^\d+/);
    expect(final).toContain('Use the read-only role instead.');
    // Found by email: looked up in Slack, by this outcome or an earlier one of the same warm
    // container (the Record handler caches an email's user id, inside the method's tier).
    expect(
      loop.slack!.calls.some(
        (c) => c.method === 'users.lookupByEmail' && c.params.email === 'carol@example.com' && !c.error,
      ),
    ).toBe(true);
  });

  it('expiry: the card says EXPIRED, the request ends EXPIRED, and the DM says so', async () => {
    const intent = makeIntent({
      intentId: newIntentId(),
      environment: 'staging',
      action: 'ec2:RebootInstances',
      resource: 'arn:aws:ec2:us-east-1:210987654321:instance/i-0staging',
    });
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    const decision = await eventually(() => decisionFor(loop, intent.intentId), 15_000);
    expect(decision.detail.status).toBe('EXPIRED');
    expect((await request(loop, intent.intentId))?.status).toBe('EXPIRED');
    expect(JSON.stringify(currentCard(loop, card)?.blocks)).toContain('Expired');
    expect((await eventually(() => dmsTo(USER.carol, intent.intentId)[0])).text).toMatch(/expired/);
  });

  it('a failed DM is logged and never fails the decision', async () => {
    // An on-behalf-of email Slack has no user for: the lookup fails for real (a
    // forced failure would never be reached once the Record handler cached carol's id).
    const nobody = `nobody-${randomUUID()}@example.com`;
    const intent = makeIntent({ intentId: newIntentId(), agent: { onBehalfOf: nobody } });
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    await denyWithReason(loop, USER.bob, intent.intentId);
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail.status).toBe('DENIED');
    const lookup = await eventually(() =>
      loop.slack!.calls.find((c) => c.method === 'users.lookupByEmail' && c.params.email === nobody),
    );
    expect(lookup.error).toBe('users_not_found');
    expect(
      loop.slack!.messages.filter((m) => m.user !== undefined && m.text?.includes(intent.intentId)),
    ).toEqual([]);
  });
});
