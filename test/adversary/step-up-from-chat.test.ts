/**
 * Attacker goal: approve a step-up request from chat. Policy
 * (policies/25-account-access.cedar) asks for a fresh multi-factor IdP
 * sign-in before an approval of a production account assignment counts; a
 * Slack click carries no sign-in. Through PutEvents and signed Slack payloads
 * only: the card offers no Approve that votes, a forged Approve payload is
 * refused and audited, the link button's own click changes nothing, and Deny
 * still works from Slack.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { approveButtonValue } from '../../lambdas/shared/card.js';
import { SANDBOX_WEB_INBOX_URL } from '../../sandbox/idp-constants.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { signedClick } from '../../sandbox/slack-click.js';
import { makeIntent } from '../support/fixtures.js';
import {
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

/** An intent the step-up policy matches: a production account assignment. */
const accountAssignment = () =>
  makeIntent({
    intentId: newIntentId(),
    action: 'sso:CreateAccountAssignment',
    resource: 'arn:aws:sso:::instance/ssoins-7223a1b2c3d4e5f6',
    environment: 'prod',
    parameters: {
      targetId: '123456789012',
      principalType: 'USER',
      permissionSetArn: 'arn:aws:sso:::permissionSet/ssoins-7223a1b2c3d4e5f6/ps-admin',
    },
  });

const buttonsOf = (blocks: unknown[] | undefined) =>
  ((blocks ?? []) as { type: string; elements?: Record<string, unknown>[] }[])
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? []);

describe('a step-up request in Slack', () => {
  it('the card offers Approve only as a link to the web inbox, and says why', async () => {
    const intent = accountAssignment();
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    const stored = await request(loop, intent.intentId);
    expect(stored?.review?.stepUp).toEqual({ amr: ['mfa'], maxAgeSeconds: 600 });

    const buttons = buttonsOf(card.blocks);
    expect(buttons.map((b) => b.action_id)).toEqual(['web_approve', 'deny']);
    expect(buttons[0]).toMatchObject({
      url: `${SANDBOX_WEB_INBOX_URL}/requests/${intent.intentId}`,
      text: { text: 'Approve in Countersign…' },
    });
    expect(buttons[0]).not.toHaveProperty('value');
    expect(JSON.stringify(card.blocks)).toContain('a Slack click cannot approve this request');
  });

  it('a forged Approve payload (the value an ordinary card would carry) is refused and audited; nothing is approved', async () => {
    const intent = accountAssignment();
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    const stored = (await request(loop, intent.intentId))!;

    const answer = await loop.interact(
      signedClick(loop.signingSecret, {
        userId: USER.alice,
        actionId: 'approve',
        requestId: approveButtonValue(stored),
      }),
    );

    expect(answer.statusCode).toBe(200);
    const told = loop.slack!.sent('chat.postEphemeral', USER.alice).at(-1)?.text ?? '';
    expect(told).toContain(`${SANDBOX_WEB_INBOX_URL}/requests/${intent.intentId}`);
    const after = await request(loop, intent.intentId);
    expect(after).toMatchObject({ status: 'PENDING', approvals: [] });
    const refusal = (await verifiedChain(loop, intent.intentId)).filter((r) => r.kind === 'refused').at(-1);
    expect(refusal).toMatchObject({
      actor: { type: 'human', slackUserId: USER.alice, channel: 'slack' },
      data: {
        vote: 'approve',
        code: 'step-up-required',
        stepUp: { amr: ['mfa'], maxAgeSeconds: 600 },
        url: `${SANDBOX_WEB_INBOX_URL}/requests/${intent.intentId}`,
      },
    });
    expect(loop.fakeAws.tasks.calls.filter((c) => c.token === stored.taskToken)).toEqual([]);
  });

  it("the link button's own click and a forged Modify or Break glass change nothing", async () => {
    const intent = accountAssignment();
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    const before = (await verifiedChain(loop, intent.intentId)).length;

    await loop.interact(
      signedClick(loop.signingSecret, {
        userId: USER.alice,
        actionId: 'web_approve',
        requestId: intent.intentId,
      }),
    );
    expect((await verifiedChain(loop, intent.intentId)).length).toBe(before);

    await click(loop, USER.bob, 'breakglass', intent.intentId);
    expect(await request(loop, intent.intentId)).toMatchObject({ status: 'PENDING', approvals: [] });
    const refusal = (await verifiedChain(loop, intent.intentId)).filter((r) => r.kind === 'refused').at(-1);
    expect(refusal?.data.code).toMatch(/step-up-required|not-eligible/);
  });

  it('Deny never needs step-up: an approver denies from Slack', async () => {
    const intent = accountAssignment();
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    await denyWithReason(loop, USER.alice, intent.intentId, 'No ticket for this assignment.');
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail).toMatchObject({ status: 'DENIED', automatic: false });
    expect(decision.detail.reason).toContain('No ticket for this assignment.');
  });
});
