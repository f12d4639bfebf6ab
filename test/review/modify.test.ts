/**
 * Modify before approve, end to end through the synthesized workflow: the
 * modified intent is evaluated again by policy; a modification policy would
 * deny or review more strictly is refused; an accepted one counts as the
 * modifier's approval and the agent receives APPROVED with the parameters.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { modifyModal, readModification } from '../../lambdas/interaction/modals.js';
import { approvedIntentHash } from '../../lambdas/shared/grants.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { signedClick } from '../../sandbox/slack-click.js';
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

const ROW_LIMIT = 'param:rowLimit';
/** A production export of a non-customer dataset: review-prod-data-export, rowLimit editable. */
const exportIntent = (rowLimit: number) =>
  makeIntent({
    intentId: newIntentId(),
    action: 'data:Export',
    resource: 'warehouse/orders',
    parameters: {
      dataset: 'orders',
      rowLimit,
      destination: 's3://exports/orders',
      connectionString: 'postgres://app:hunter2@db.internal:5432/orders',
    },
  });
const cardText = (loopCard: { blocks?: unknown[] } | undefined) => JSON.stringify(loopCard?.blocks ?? []);

async function openModify(userId: string, intentId: string) {
  const before = loop.slack!.views.size;
  const answer = await click(loop, userId, 'modify', intentId);
  expect(answer.statusCode).toBe(200);
  return loop.slack!.views.size > before ? openedView(loop, 'countersign.modify') : undefined;
}

describe('modify before approve', () => {
  it('an Approve click approves only the version its card showed: after a modification the old card is refused', async () => {
    // Prepare: a large export (quorum 2); alice lowers the row limit, which counts as her approval.
    const intent = exportIntent(200_000);
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    const approveValue = (blocks: unknown) =>
      ((blocks ?? []) as { elements?: { action_id?: string; value?: string }[] }[])
        .flatMap((b) => b.elements ?? [])
        .find((e) => e.action_id === 'approve')?.value;
    const before = approveValue(card.blocks)!;
    expect(before).toMatch(new RegExp(`^${intent.intentId}@[0-9a-f]{16}$`));
    const view = (await openModify(USER.alice, intent.intentId))!;
    await submitView(loop, USER.alice, view, { [ROW_LIMIT]: '150000' });
    expect((await request(loop, intent.intentId))?.status).toBe('PENDING');
    const after = approveValue(currentCard(loop, card)?.blocks)!;
    expect(after).not.toBe(before);
    const clickWith = (value: string) =>
      loop.interact(
        signedClick(loop.signingSecret, { userId: USER.bob, actionId: 'approve', requestId: value }),
      );

    // Act: bob approves from the card as it was before the modification.
    await clickWith(before);

    // Assess: refused, audited, nothing approved; from the current card it goes through.
    expect((await request(loop, intent.intentId))?.status).toBe('PENDING');
    expect((await verifiedChain(loop, intent.intentId)).at(-1)).toMatchObject({
      kind: 'refused',
      actor: { slackUserId: USER.bob },
      data: expect.objectContaining({ code: 'stale-form' }),
    });
    expect(loop.slack!.sent('chat.postEphemeral', USER.bob).at(-1)?.text).toMatch(
      /changed after your card was drawn/,
    );
    await clickWith(after);
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail).toMatchObject({
      status: 'APPROVED',
      parameters: { ...intent.parameters, rowLimit: 150_000 },
    });
  });

  it('an accepted modification is re-evaluated, audited with old/new hash and diff, and approves with the parameters', async () => {
    // Prepare
    const intent = exportIntent(50_000);
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    expect(cardText(card)).toContain('"action_id":"modify"');

    // Act
    const view = (await openModify(USER.alice, intent.intentId))!;
    const answer = await submitView(loop, USER.alice, view, { [ROW_LIMIT]: '10000' });
    const decision = await eventually(() => decisionFor(loop, intent.intentId));

    // Assess
    const inputs = view.view.blocks as { block_id?: string; element?: { initial_value?: string } }[];
    expect(inputs.find((b) => b.block_id === ROW_LIMIT)?.element?.initial_value).toBe('50000');
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toBe('');
    const parameters = { ...intent.parameters, rowLimit: 10_000 };
    const newHash = approvedIntentHash(intent, parameters);
    expect(decision.detail).toMatchObject({
      status: 'APPROVED',
      automatic: false,
      parameters,
      intentHash: newHash,
      approvers: [expect.objectContaining({ slackUserId: USER.alice })],
      grant: expect.objectContaining({ singleUse: true }),
    });
    expect(String(decision.detail.reason)).toMatch(/modified parameters \(rowLimit\)/);
    const stored = await request(loop, intent.intentId);
    expect(stored?.modification).toMatchObject({
      parameters,
      intentHash: newHash,
      fromHash: stored!.intentHash,
    });
    const chain = await verifiedChain(loop, intent.intentId);
    const modified = chain.find((r) => r.kind === 'modified');
    expect(modified).toMatchObject({
      actor: { type: 'human', slackUserId: USER.alice },
      intentHash: newHash,
      data: expect.objectContaining({
        oldHash: stored!.intentHash,
        newHash,
        diff: [{ path: 'rowLimit', from: 50_000, to: 10_000 }],
        countsAsApproval: true,
      }),
    });
    expect(chain.map((r) => r.kind).slice(-2)).toEqual(['modified', 'decided']);
    const final = cardText(currentCard(loop, card));
    expect(final).toContain('Modified');
    expect(final).toContain('10000');
  });

  it('a modification policy would deny (rowLimit past deny-prod-bulk-export) is refused with the reason and changes nothing', async () => {
    // Prepare
    const intent = exportIntent(50_000);
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    const view = (await openModify(USER.alice, intent.intentId))!;

    // Act
    const denied = await submitView(loop, USER.alice, view, { [ROW_LIMIT]: '5000000' });
    const stricter = await submitView(loop, USER.alice, view, { [ROW_LIMIT]: '250000' });
    const notANumber = await submitView(loop, USER.alice, view, { [ROW_LIMIT]: 'lots' });

    // Assess
    expect(denied.headers).toMatchObject({ 'content-type': 'application/json' });
    expect(JSON.parse(String(denied.body))).toEqual({
      response_action: 'errors',
      errors: {
        [ROW_LIMIT]: expect.stringMatching(/Policy would deny the modified request: .*deny-prod-bulk-export/),
      },
    });
    expect(JSON.parse(String(stricter.body)).errors[ROW_LIMIT]).toMatch(/needs 2 approvals/);
    expect(JSON.parse(String(notANumber.body)).errors[ROW_LIMIT]).toBe('Enter a number.');
    const stored = await request(loop, intent.intentId);
    expect(stored).toMatchObject({ status: 'PENDING', approvals: [] });
    expect(stored?.modification).toBeUndefined();
    const refusals = (await verifiedChain(loop, intent.intentId)).filter((r) => r.kind === 'refused');
    expect(refusals.map((r) => r.data.code)).toEqual(['modification-refused', 'modification-refused']);
    expect(refusals[0]!.data).toMatchObject({ outcome: 'deny', policies: ['deny-prod-bulk-export'] });
    await denyWithReason(loop, USER.bob, intent.intentId);
    expect((await eventually(() => decisionFor(loop, intent.intentId))).detail.status).toBe('DENIED');
  });

  it('nobody modifies their own request: the on-behalf-of human gets no form', async () => {
    const intent = exportIntent(50_000);
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    expect(await openModify(USER.carol, intent.intentId)).toBeUndefined();
    expect((await verifiedChain(loop, intent.intentId)).at(-1)).toMatchObject({
      kind: 'refused',
      data: expect.objectContaining({ vote: 'modify', code: 'self-on-behalf-of' }),
    });
    await denyWithReason(loop, USER.bob, intent.intentId);
    await eventually(() => decisionFor(loop, intent.intentId));
  });

  it('quorum 2: every vote updates the card; a modification resets earlier approvals and counts as one', async () => {
    // Prepare: 250,000 rows -> review-prod-large-export, two approvals.
    const intent = exportIntent(250_000);
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);

    // Act + Assess, vote by vote
    await click(loop, USER.alice, 'approve', intent.intentId);
    expect(cardText(currentCard(loop, card))).toMatch(/1 of 2 approvals: <@U0ALICE01>/);
    const view = (await openModify(USER.bob, intent.intentId))!;
    await submitView(loop, USER.bob, view, { [ROW_LIMIT]: '200000' });
    const afterModify = await request(loop, intent.intentId);
    expect(afterModify?.approvals.map((a) => a.slackUserId)).toEqual([USER.bob]);
    const text = cardText(currentCard(loop, card));
    expect(text).toMatch(/1 of 2 approvals: <@U0BOB0002>/);
    expect(text).toContain('Modified');
    await click(loop, USER.alice, 'approve', intent.intentId);
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail).toMatchObject({
      status: 'APPROVED',
      parameters: { ...intent.parameters, rowLimit: 200_000 },
      intentHash: approvedIntentHash(intent, { ...intent.parameters, rowLimit: 200_000 }),
    });
    const final = cardText(currentCard(loop, card));
    expect(final).toContain('Approved');
    expect(final).toMatch(/2 of 2 approvals: <@U0BOB0002> .*<@U0ALICE01>/);
  });
});

describe('the modify form (pure)', () => {
  it('never prefills a masked value, and an empty input keeps it', () => {
    const intent = makeIntent({ parameters: { password: 'hunter2', rowLimit: 5 } });
    const plan = makeReviewPlan({
      editable: ['parameters.password', 'parameters.rowLimit'],
      masked: ['parameters.password'],
    });
    const view = modifyModal(
      { intentId: intent.intentId, agentId: 'deploy-bot', intent, review: plan } as never,
      intent,
      'metadata',
    );
    const blocks = view.blocks as { block_id?: string; element?: { initial_value?: string } }[];
    expect(
      blocks.find((b) => b.block_id === 'param:parameters.password')?.element?.initial_value,
    ).toBeUndefined();
    expect(blocks.find((b) => b.block_id === 'param:parameters.rowLimit')?.element?.initial_value).toBe('5');
    expect(JSON.stringify(view)).not.toContain('hunter2');
    const read = readModification(intent, plan, {
      'param:parameters.password': { value: undefined },
      'param:parameters.rowLimit': { value: '3' },
    });
    expect(read).toEqual({
      ok: true,
      parameters: { password: 'hunter2', rowLimit: 3 },
      diff: [{ path: 'parameters.rowLimit', from: 5, to: 3 }],
    });
  });
});
