/**
 * Break-glass, end to end through the workflow: only where policy allows it
 * (review-prod-key-rotation, urgent), only the responder the agent acts for,
 * only with a reason; broadcast, a post-hoc review item another approver must
 * acknowledge, and all of it audited.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { record } from '../../lambdas/record/core.js';
import { checkBreakGlass } from '../../lambdas/review-core/eligibility.js';
import { createSlackClient } from '../../lambdas/shared/slack.js';
import type { RequestItem } from '../../lambdas/shared/store.js';
import type { WorkflowState } from '../../lambdas/shared/workflow.js';
import { FAKE_SLACK_TOKEN } from '../../sandbox/fake-slack.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { makeIntent, makeReviewPlan } from '../support/fixtures.js';
import {
  click,
  currentCard,
  decisionFor,
  denyWithReason,
  eventually,
  newIntentId,
  openedView,
  publish,
  request,
  reviewOpen,
  sharedLoop,
  submitView,
  USER,
  verifiedChain,
} from '../support/loop.js';

let loop: CountersignLoop;
beforeAll(async () => {
  loop = await sharedLoop();
});

const rotation = (urgency: 'urgent' | 'normal') =>
  makeIntent({
    intentId: newIntentId(),
    action: 'secretsmanager:RotateSecret',
    resource: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:payments-db',
    parameters: { secretId: 'payments-db' },
    justification: 'INC-5120: the payments DB password leaked in a build log; rotate it now.',
    context: { urgency, impact: 'payments API reconnects within 30 s' },
  });
const lastEphemeral = (user: string) => loop.slack!.sent('chat.postEphemeral', user).at(-1)?.text ?? '';
const json = (body: unknown) => JSON.parse(String(body)) as { errors: Record<string, string> };

async function openBreakGlass(userId: string, intentId: string) {
  const before = loop.slack!.views.size;
  await click(loop, userId, 'breakglass', intentId);
  return loop.slack!.views.size > before ? openedView(loop, 'countersign.breakglass') : undefined;
}

describe('break-glass', () => {
  it('the responder approves their own urgent request only with a reason; broadcast, post-hoc review acknowledged by another approver; all audited', async () => {
    // Prepare
    const intent = rotation('urgent');
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    expect((await request(loop, intent.intentId))?.review?.breakGlass).toBe(true);
    expect(JSON.stringify(card.blocks)).toContain('"action_id":"breakglass"');

    // The responder's plain Approve is refused, with a pointer to break-glass.
    await click(loop, USER.carol, 'approve', intent.intentId);
    expect(lastEphemeral(USER.carol)).toMatch(/on your behalf.*Break glass/s);
    // Anyone else gets no break-glass form.
    expect(await openBreakGlass(USER.alice, intent.intentId)).toBeUndefined();
    expect(lastEphemeral(USER.alice)).toMatch(/only the responder/);
    expect(await openBreakGlass(USER.erin, intent.intentId)).toBeUndefined(); // the owner, never
    expect(lastEphemeral(USER.erin)).toMatch(/owners never approve/);

    // Without a reason: refused by the form, nothing changes.
    const view = (await openBreakGlass(USER.carol, intent.intentId))!;
    const empty = await submitView(loop, USER.carol, view, { reason: '' });
    expect(json(empty.body).errors.reason).toBe('A reason is required.');
    expect((await request(loop, intent.intentId))?.status).toBe('PENDING');

    // With a reason: approved on the break-glass path.
    const answer = await submitView(loop, USER.carol, view, {
      reason: 'Leaked password; on-call security unreachable.',
    });
    expect(answer.body).toBe('');
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail).toMatchObject({
      status: 'APPROVED',
      automatic: false,
      breakGlass: true,
      approvers: [expect.objectContaining({ slackUserId: USER.carol })],
      grant: expect.objectContaining({ singleUse: true }),
    });
    expect(String(decision.detail.reason)).toContain('Leaked password; on-call security unreachable.');
    const finalChain = await verifiedChain(loop, intent.intentId);
    expect(finalChain.find((r) => r.kind === 'vote')).toMatchObject({
      actor: { type: 'human', slackUserId: USER.carol },
      data: expect.objectContaining({ vote: 'approve', via: 'break-glass', deciding: true }),
    });
    // The final record carries the break-glass decision and the grant it issued.
    expect(finalChain.find((r) => r.kind === 'decided')).toMatchObject({
      actor: { type: 'human', slackUserId: USER.carol },
      data: expect.objectContaining({
        final: true,
        decision: expect.objectContaining({ breakGlass: true, grant: decision.detail.grant }),
      }),
    });
    // Broadcast to the approver channel, and the post-hoc review item.
    const broadcast = loop
      .slack!.sent('chat.postMessage')
      .find(
        (m) =>
          m.channel === card.channel &&
          m.text?.includes('Break-glass approval') &&
          m.text.includes(intent.resource),
      );
    expect(broadcast?.text).toContain('Leaked password');
    expect(broadcast?.threadTs).toBe(card.ts);
    const stored = await eventually(async () => {
      const r = await request(loop, intent.intentId);
      return r?.postHoc ? r : undefined;
    });
    const item = loop.slack!.message(stored.postHoc!.channel, stored.postHoc!.ts);
    expect(JSON.stringify(item?.blocks)).toContain('"action_id":"acknowledge"');
    // Posted by Record (the workflow's retried step), not by the click.
    expect(
      (await verifiedChain(loop, intent.intentId)).filter(
        (r) => r.kind === 'reviewers-notified' && r.data.breakGlass === true,
      ),
    ).toEqual([
      expect.objectContaining({
        actor: { type: 'system', component: 'record' },
        data: expect.objectContaining({
          postHocReview: { channel: stored.postHoc!.channel, ts: stored.postHoc!.ts },
        }),
      }),
    ]);
    expect(JSON.stringify(item?.blocks)).toContain('<!subteam^S0SECAPPR|@security-approvers>');
    const final = JSON.stringify(currentCard(loop, card)?.blocks);
    expect(final).toContain('break-glass');
    expect(final).not.toContain('"action_id":"breakglass"');

    // Acknowledgement: not by the responder, not by the owner; an approver does it, once.
    await click(loop, USER.carol, 'acknowledge', intent.intentId);
    await click(loop, USER.erin, 'acknowledge', intent.intentId);
    expect((await request(loop, intent.intentId))?.postHoc?.acknowledgedBy).toBeUndefined();
    const ack = await click(loop, USER.alice, 'acknowledge', intent.intentId);
    expect(ack.statusCode).toBe(200);
    await click(loop, USER.bob, 'acknowledge', intent.intentId);
    expect(lastEphemeral(USER.bob)).toMatch(/Already acknowledged by <@U0ALICE01>/);
    expect((await request(loop, intent.intentId))?.postHoc?.acknowledgedBy).toMatchObject({
      slackUserId: USER.alice,
    });
    expect(
      JSON.stringify(loop.slack!.message(stored.postHoc!.channel, stored.postHoc!.ts)?.blocks),
    ).toContain('Post-hoc review acknowledged');
    const chain = await verifiedChain(loop, intent.intentId);
    expect(chain.filter((r) => r.kind === 'refused').map((r) => r.actor)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ slackUserId: USER.carol }),
        expect.objectContaining({ slackUserId: USER.alice }),
        expect.objectContaining({ slackUserId: USER.erin }),
      ]),
    );
    expect(chain.find((r) => r.kind === 'acknowledged')).toMatchObject({
      actor: { type: 'human', slackUserId: USER.alice },
      data: expect.objectContaining({ breakGlass: true }),
    });
  });

  it('Slack failing during Record: Record is retried and posts the broadcast and the post-hoc item exactly once; a later retry posts nothing', async () => {
    // Prepare: an urgent rotation, its break-glass form open; Slack will refuse the next chat.postMessage.
    const intent = rotation('urgent');
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    const view = (await openBreakGlass(USER.carol, intent.intentId))!;
    const noticeCalls = () =>
      loop.slack!.calls.filter(
        (c) =>
          c.method === 'chat.postMessage' &&
          // A 429 from Slack's rate limits is waited out inside one attempt; only answers count here.
          c.status !== 429 &&
          (c.params.thread_ts === card.ts ||
            (String(c.params.text).startsWith('Post-hoc review needed') &&
              String(c.params.text).includes(intent.intentId))),
      );
    // Only the broadcast in this card's thread: the poster may post other requests' cards meanwhile.
    loop.slack!.setFailure('chat.postMessage', 'internal_error', 1, (p) => p.thread_ts === card.ts);

    // Act
    await submitView(loop, USER.carol, view, { reason: 'Leaked password; on-call security unreachable.' });
    const decision = await eventually(() => decisionFor(loop, intent.intentId));

    // Assess: the approval stands; the refused broadcast was retried and each message posted once.
    expect(decision.detail).toMatchObject({ status: 'APPROVED', breakGlass: true });
    const calls = noticeCalls();
    expect(calls.map((c) => [c.params.thread_ts ? 'broadcast' : 'item', c.error ?? 'ok'])).toEqual([
      ['broadcast', 'internal_error'],
      ['broadcast', 'ok'],
      ['item', 'ok'],
    ]);
    const stored = (await request(loop, intent.intentId))!;
    expect(stored.breakGlassBroadcast?.channel).toBe(card.channel);
    expect(
      JSON.stringify(loop.slack!.message(stored.postHoc!.channel, stored.postHoc!.ts)?.blocks),
    ).toContain('"action_id":"acknowledge"');
    const notified = (chain: Awaited<ReturnType<typeof verifiedChain>>) =>
      chain.filter((r) => r.kind === 'reviewers-notified' && r.data.breakGlass === true);
    expect(notified(await verifiedChain(loop, intent.intentId))).toHaveLength(1);

    // Act: Record runs again for the same execution (a retry after a successful post).
    const state = {
      executionId: stored.executionId,
      evaluation: { requestId: intent.intentId, outcome: 'review', policies: stored.review?.policies ?? [] },
      review: { status: 'APPROVED', intentId: intent.intentId },
    } as unknown as WorkflowState;
    const again = await record(
      {
        ...loop.aws,
        now: () => new Date(),
        grantTtlSeconds: 900,
        slack: async () => createSlackClient(FAKE_SLACK_TOKEN, loop.slack!.url),
      },
      state,
    );

    // Assess: the same decision, nothing posted again, nothing audited again.
    expect(again).toMatchObject({ status: 'APPROVED', grant: decision.detail.grant });
    expect(noticeCalls()).toHaveLength(3);
    expect((await request(loop, intent.intentId))?.postHoc).toEqual(stored.postHoc);
    expect(notified(await verifiedChain(loop, intent.intentId))).toHaveLength(1);
  });

  it('Slack refusing through every retry: the request is finalized DENIED, audited and announced so, and no grant exists', async () => {
    // Prepare
    const intent = rotation('urgent');
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    const view = (await openBreakGlass(USER.carol, intent.intentId))!;
    // This request's broadcast and post-hoc item only: other requests' cards keep being posted.
    loop.slack!.setFailure(
      'chat.postMessage',
      'internal_error',
      100,
      (p) => p.thread_ts === card.ts || JSON.stringify(p).includes(intent.intentId),
    );

    // Act
    try {
      await submitView(loop, USER.carol, view, { reason: 'Leaked password; on-call security unreachable.' });
      const decision = await eventually(() => decisionFor(loop, intent.intentId));

      // Assess: a break-glass approval nobody could be told of does not stand: the request, its
      // final audit record and the announced decision all say DENIED, and there is no grant.
      expect(decision.detail).toMatchObject({ status: 'DENIED', automatic: true });
      expect(decision.detail.reason).toMatch(/break-glass approval could not be announced/);
      expect(decision.detail.grant).toBeUndefined();
      const stored = (await request(loop, intent.intentId))!;
      expect(stored).toMatchObject({ status: 'DENIED', decision: { status: 'DENIED', automatic: true } });
      expect(stored.finalizedAt).toBeDefined();
      expect(stored.postHoc).toBeUndefined();
      expect(stored.decision?.grant).toBeUndefined();
      const finals = (await verifiedChain(loop, intent.intentId)).filter((r) => r.data.final === true);
      expect(finals.map((r) => (r.data.decision as { status: string }).status)).toEqual(['DENIED']);
    } finally {
      loop.slack!.setFailure('chat.postMessage', 'internal_error', 0);
    }
  });

  it('break-glass bypasses the self-approval invariant, never an approve policy: a contractor responder is refused on prod', async () => {
    // Prepare: heidi (a contractor) is the human the agent acts for, on an urgent prod rotation.
    const intent = {
      ...rotation('urgent'),
      agent: { ...rotation('urgent').agent, onBehalfOf: 'heidi@contractor.example.com' },
    };
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    expect((await request(loop, intent.intentId))?.review?.breakGlass).toBe(true);
    // Act
    const view = await openBreakGlass(USER.heidi, intent.intentId);
    // Assess: refused before any form opens, by the policy, audited; nothing changes.
    expect(view).toBeUndefined();
    expect(lastEphemeral(USER.heidi)).toMatch(/approve-no-contractors-in-prod/);
    expect((await request(loop, intent.intentId))?.status).toBe('PENDING');
    const refusal = (await verifiedChain(loop, intent.intentId)).at(-1);
    expect(refusal).toMatchObject({ kind: 'refused', actor: { slackUserId: USER.heidi } });
    await denyWithReason(loop, USER.bob, intent.intentId, 'cleanup');
    await eventually(() => decisionFor(loop, intent.intentId));
  });

  it('not urgent: no break-glass button, and a forged break-glass click is refused', async () => {
    const intent = rotation('normal');
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    expect(JSON.stringify(card.blocks)).not.toContain('"action_id":"breakglass"');
    expect(await openBreakGlass(USER.carol, intent.intentId)).toBeUndefined();
    // Not urgent, the catch-all review-prod-default matches too, and it does not allow break-glass.
    expect(lastEphemeral(USER.carol)).toMatch(/policy does not allow break-glass/);
    expect((await request(loop, intent.intentId))?.status).toBe('PENDING');
    await denyWithReason(loop, USER.bob, intent.intentId);
    await eventually(() => decisionFor(loop, intent.intentId));
  });

  it('where policy does not allow it (a prod IAM change), an urgent request has no break-glass path', async () => {
    const intent = makeIntent({ intentId: newIntentId(), context: { urgency: 'urgent' } });
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    expect(JSON.stringify(card.blocks)).not.toContain('"action_id":"breakglass"');
    expect(await openBreakGlass(USER.carol, intent.intentId)).toBeUndefined();
    expect(lastEphemeral(USER.carol)).toMatch(/policy does not allow break-glass/);
    await denyWithReason(loop, USER.bob, intent.intentId);
    await eventually(() => decisionFor(loop, intent.intentId));
  });
});

describe('break-glass eligibility (pure)', () => {
  const human = (email: string, groups: string[] = ['platform-oncall']) => ({
    kind: 'human' as const,
    slackUserId: 'U1',
    email,
    name: 'x',
    displayName: 'X',
    groups,
  });
  const requestWith = (urgency: 'urgent' | 'normal', breakGlass: boolean) =>
    ({
      intent: makeIntent({ context: { urgency } }),
      review: makeReviewPlan({ breakGlass, responderGroups: ['platform-oncall'] }),
    }) as unknown as RequestItem;

  it.each([
    ['the responder, urgent, policy allows', 'carol@example.com', 'urgent', true, true, 'break-glass'],
    ['the responder, not urgent', 'carol@example.com', 'normal', true, false, 'urgent'],
    [
      'the responder, policy does not allow',
      'carol@example.com',
      'urgent',
      false,
      false,
      'policy does not allow',
    ],
    ['the owner, always refused', 'erin@example.com', 'urgent', true, false, 'owners never approve'],
    ['an approver (not the responder)', 'alice@example.com', 'urgent', true, false, 'only the responder'],
  ] as const)('%s', (_name, email, urgency, allows, ok, text) => {
    const verdict = checkBreakGlass(requestWith(urgency, allows), human(email));
    expect(verdict.ok).toBe(ok);
    expect(verdict.ok ? verdict.via : verdict.reason).toContain(text);
  });

  it('the human the agent acts for, in no responder group, is refused: the agent cannot make a responder', () => {
    const verdict = checkBreakGlass(
      requestWith('urgent', true),
      human('carol@example.com', ['security-approvers']),
    );
    expect(verdict).toMatchObject({ ok: false, code: 'not-eligible' });
    expect(verdict.ok ? '' : verdict.reason).toMatch(
      /not name you a break-glass responder.*@platform-oncall/,
    );
  });

  it('a responder named by email, compared canonically, may break glass', () => {
    const r = {
      ...requestWith('urgent', true),
      review: makeReviewPlan({ breakGlass: true, responderEmails: ['Carol@Example.com'] }),
    } as RequestItem;
    expect(checkBreakGlass(r, human('carol@example.com', [])).ok).toBe(true);
  });

  it('agents and unresolved identities are refused', () => {
    const r = requestWith('urgent', true);
    expect(checkBreakGlass(r, { kind: 'bot', slackUserId: 'B1', name: 'bot' }).ok).toBe(false);
    expect(checkBreakGlass(r, { kind: 'unresolved', slackUserId: 'U9', reason: 'no email' }).ok).toBe(false);
  });
});
