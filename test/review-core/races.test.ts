/**
 * Commands that pass every check and then lose their conditional write to a
 * concurrent one: a vote whose request was modified, already counted from the
 * voter's other click, decided or removed in between; a deciding vote whose
 * decision another command wrote first; a modification beaten by another
 * modification, a decision or a removal. The concurrent command really
 * runs, on the same dynalite, between the checks and the write
 * (`writingBetween`); what the loser is told, and that it changed nothing, is
 * what these tests assert.
 */
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { policyEngine } from '../../lambdas/shared/policy.js';
import { type RequestItem, recordApproval, requestKey } from '../../lambdas/shared/store.js';
import type { SeedOptions } from '../support/fixtures.js';
import { type HarnessCore, startCore } from './core-harness.js';
import { testChannel } from './test-channel.js';

let core: HarnessCore;
/** Commands that run to the end first: the concurrent ones. */
let first: ReturnType<typeof testChannel>;

beforeAll(async () => {
  core = await startCore();
  first = testChannel({ ...core.base, evaluateIntent: async (q, d) => policyEngine().evaluateIntent(q, d) });
});
afterAll(async () => {
  await core.close();
});
beforeEach(() => {
  core.fakeAws.tasks.reset();
  first.repainted.length = 0;
});

/** The vote's conditional write (`recordApproval`). */
const VOTE = 'SET approvals = list_append';
/** The decision's conditional write (`decide`). */
const DECISION = 'SET #status = :status, decision = :decision';
/** The modification's conditional write (`recordModification`). */
const MODIFICATION = 'SET modification = :modification';

/** A channel whose next write of `kind` waits until `between` has run to the end. */
const racing = (kind: string, between: () => Promise<unknown>) =>
  testChannel({
    ...core.base,
    ddb: core.writingBetween(kind, between),
    evaluateIntent: async (q, d) => policyEngine().evaluateIntent(q, d),
  });

/** A request of two approvers whose role name may be changed (the repository's policies allow it). */
const editable: SeedOptions = {
  review: {
    quorum: 2,
    policies: ['review-prod-default', 'review-prod-iam-change'],
    editable: ['parameters.roleName'],
  },
};
const withRole = (request: RequestItem, roleName: string) => ({
  seenHash: request.intentHash,
  parameters: { ...request.intent.parameters, roleName },
});
const removed = (request: RequestItem) =>
  core.aws.ddb.send(new DeleteCommand({ TableName: core.aws.table, Key: requestKey(request.intentId) }));

describe('a vote that loses its write', () => {
  it('is refused as stale when the request was modified after its checks, and the voter is shown the modified version', async () => {
    // Prepare: bob's modification lands between alice's checks and her vote.
    const request = await core.seed(editable);
    let modified: Awaited<ReturnType<typeof first.send>> | undefined;
    const alice = racing(VOTE, async () => {
      modified = await first.send('t-bob', 'modify', request.intentId, withRole(request, 'payments-ro'));
    });

    // Act
    const outcome = await alice.send('t-alice', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });

    // Assess
    expect(modified?.outcome).toBe('modified');
    const newHash = modified?.state?.intentHash;
    expect(newHash).not.toBe(request.intentHash);
    expect(outcome).toEqual({
      outcome: 'refused',
      refusal: {
        code: 'stale-form',
        message:
          'This request changed while your approval was being checked (it was modified). Review the updated card before approving.',
      },
      state: expect.objectContaining({ intentHash: newHash }),
    });
    expect(outcome.state?.request.approvals.map((a) => a.slackUserId)).toEqual(['t-bob']);
    expect(outcome.state?.intent.parameters).toMatchObject({ roleName: 'payments-ro' });
    expect(alice.repainted).toEqual([{ requestId: request.intentId, status: 'PENDING' }]);
    const now = await core.stored(request.intentId);
    expect(now?.status).toBe('PENDING');
    expect(now?.approvals.map((a) => a.slackUserId)).toEqual(['t-bob']);
    const refusals = (await core.chainOf(request.intentId)).filter((r) => r.kind === 'refused');
    expect(refusals).toEqual([
      expect.objectContaining({
        actor: expect.objectContaining({ slackUserId: 't-alice', channel: 'test' }),
        intentHash: newHash,
        data: expect.objectContaining({ vote: 'approve', code: 'stale-form' }),
      }),
    ]);
    expect(core.fakeAws.tasks.calls).toEqual([]);
  });

  it('tells a voter whose other click was counted meanwhile that the request has its approvals and is being decided', async () => {
    // Prepare: alice's other click (from another channel) is counted between this click's checks and
    // its vote; that click decides, this one must not count her twice.
    const request = await core.seed();
    const alice = racing(VOTE, () =>
      recordApproval(
        core.aws,
        request.intentId,
        {
          slackUserId: 'U0ALICE',
          email: 'alice@example.com',
          channel: 'slack',
          at: new Date().toISOString(),
        },
        request.intentHash,
      ),
    );

    // Act
    const outcome = await alice.send('t-alice', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });

    // Assess
    expect(outcome).toEqual({
      outcome: 'already-voted',
      notice: 'You already approved this request; it has the approvals it needs and is being decided.',
      state: expect.objectContaining({ intentHash: request.intentHash }),
    });
    const now = await core.stored(request.intentId);
    expect(outcome.state?.request.approvals).toEqual(now?.approvals);
    expect(now?.approvals.map((a) => a.channel)).toEqual(['slack']);
    expect(now?.status).toBe('PENDING');
    expect(core.fakeAws.tasks.calls).toEqual([]);
    expect((await core.chainOf(request.intentId)).filter((r) => r.kind === 'vote')).toEqual([]);
  });

  it('is answered with who decided when the request was decided after its checks', async () => {
    // Prepare: bob denies between alice's checks and her vote.
    const request = await core.seed();
    const alice = racing(VOTE, () =>
      first.send('t-bob', 'deny', request.intentId, { seenHash: request.intentHash, reason: 'not today' }),
    );

    // Act
    const outcome = await alice.send('t-alice', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });

    // Assess
    const now = await core.stored(request.intentId);
    expect(now?.status).toBe('DENIED');
    expect(outcome).toEqual({
      outcome: 'late',
      refusal: {
        code: 'late',
        message: `This request was already denied by t-bob at ${now?.decision?.decidedAt}. Reason: "Denied by t-bob: not today"`,
      },
      state: expect.objectContaining({ request: now }),
      decided: now?.decision,
    });
    expect(now?.approvals).toEqual([]);
    expect(core.fakeAws.tasks.callsOf('SendTaskSuccess')).toEqual([]);
  });

  it('is answered that the request no longer exists when it was removed after its checks, and writes nothing', async () => {
    // Prepare
    const request = await core.seed();
    const alice = racing(VOTE, () => removed(request));

    // Act
    const outcome = await alice.send('t-alice', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });

    // Assess
    expect(outcome).toEqual({
      outcome: 'late',
      refusal: { code: 'late', message: 'This request no longer exists.' },
    });
    expect(await core.stored(request.intentId)).toBeUndefined();
    expect(core.fakeAws.tasks.calls).toEqual([]);
  });
});

describe('a deciding vote that loses the decision', () => {
  it('is counted, then answered with who decided when a denial decided between its count and its decision', async () => {
    // Prepare: alice's vote meets the quorum; bob's denial is decided before her decision is written.
    const request = await core.seed();
    const alice = racing(DECISION, () =>
      first.send('t-bob', 'deny', request.intentId, { seenHash: request.intentHash, reason: 'not today' }),
    );

    // Act
    const outcome = await alice.send('t-alice', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });

    // Assess
    const now = await core.stored(request.intentId);
    expect(now?.decision).toMatchObject({ status: 'DENIED', reason: 'Denied by t-bob: not today' });
    expect(outcome).toEqual({
      outcome: 'late',
      notice: `This request was already denied by t-bob at ${now?.decision?.decidedAt}. Reason: "Denied by t-bob: not today"`,
      state: expect.objectContaining({ request: now }),
      decided: now?.decision,
    });
    expect(now?.approvals.map((a) => a.slackUserId)).toEqual(['t-alice']);
    expect(core.fakeAws.tasks.callsOf('SendTaskSuccess')).toEqual([]);
    expect(core.fakeAws.tasks.callsOf('SendTaskFailure')).toHaveLength(1);
  });
});

describe('a modification that loses its write', () => {
  it('is refused when another modification of the same version landed first, and shows that one', async () => {
    // Prepare: bob modifies between alice's re-evaluation and her write.
    const request = await core.seed(editable);
    let bobs: Awaited<ReturnType<typeof first.send>> | undefined;
    const alice = racing(MODIFICATION, async () => {
      bobs = await first.send('t-bob', 'modify', request.intentId, withRole(request, 'payments-ro'));
    });

    // Act
    const outcome = await alice.send(
      't-alice',
      'modify',
      request.intentId,
      withRole(request, 'payments-deployer-ro'),
    );

    // Assess
    expect(bobs?.outcome).toBe('modified');
    expect(outcome).toEqual({
      outcome: 'late',
      refusal: {
        code: 'late',
        message:
          'Someone modified this request at the same moment; close this form and look at the card again.',
      },
      state: expect.objectContaining({ intentHash: bobs?.state?.intentHash }),
    });
    const now = await core.stored(request.intentId);
    expect(now?.modification?.by.slackUserId).toBe('t-bob');
    expect(now?.modification?.parameters).toMatchObject({ roleName: 'payments-ro' });
    expect(now?.approvals.map((a) => a.slackUserId)).toEqual(['t-bob']);
    const modifications = (await core.chainOf(request.intentId)).filter((r) => r.kind === 'modified');
    expect(modifications.map((r) => r.actor)).toEqual([expect.objectContaining({ slackUserId: 't-bob' })]);
  });

  it('is answered with who decided when the request was decided before its write', async () => {
    // Prepare
    const request = await core.seed(editable);
    const alice = racing(MODIFICATION, () =>
      first.send('t-bob', 'deny', request.intentId, { seenHash: request.intentHash, reason: 'not today' }),
    );

    // Act
    const outcome = await alice.send(
      't-alice',
      'modify',
      request.intentId,
      withRole(request, 'payments-deployer-ro'),
    );

    // Assess
    const now = await core.stored(request.intentId);
    expect(outcome).toEqual({
      outcome: 'late',
      refusal: {
        code: 'late',
        message: `This request was already denied by t-bob at ${now?.decision?.decidedAt}. Reason: "Denied by t-bob: not today"`,
      },
      state: expect.objectContaining({ request: now }),
    });
    expect(now?.modification).toBeUndefined();
  });

  it('is answered that the request no longer exists when it was removed before its write', async () => {
    // Prepare
    const request = await core.seed(editable);
    const alice = racing(MODIFICATION, () => removed(request));

    // Act
    const outcome = await alice.send(
      't-alice',
      'modify',
      request.intentId,
      withRole(request, 'payments-deployer-ro'),
    );

    // Assess
    expect(outcome).toEqual({
      outcome: 'late',
      refusal: { code: 'late', message: 'This request no longer exists.' },
    });
    expect(await core.stored(request.intentId)).toBeUndefined();
  });
});
