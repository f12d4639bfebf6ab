/**
 * The review core's decisions, driven through its seam by the test channel
 * over dynalite and the fake Step Functions task API: what a decision says
 * and records (reason, approvers, who decided), what the workflow is told,
 * how an ended workflow ends the request EXPIRED, which request is open for
 * votes at all, stale versions, and break-glass by the responder. The Cedar
 * policies of the repository answer the break-glass forbids.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ReviewCoreDeps } from '../../lambdas/review-core/contract.js';
import { readChain } from '../../lambdas/shared/audit.js';
import { policyEngine } from '../../lambdas/shared/policy.js';
import { finalize, getRequest, type RequestItem } from '../../lambdas/shared/store.js';
import { REVIEW_ERROR } from '../../lambdas/shared/workflow.js';
import { type RunningFakeAws, startFakeAws } from '../../sandbox/fake-aws.js';
import { captureLogger } from '../interaction/harness.js';
import { type SeedOptions, seedPendingRequest } from '../support/fixtures.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type LocalAws, startLocalAws } from '../support/local-aws.js';
import { testChannel } from './test-channel.js';

let aws: LocalAws;
let fakeAws: RunningFakeAws;
let sfn: SFNClient;
let channel: ReturnType<typeof testChannel>;
let base: Omit<ReviewCoreDeps, 'resolveActor' | 'notifier'>;
const logger = captureLogger();

beforeAll(async () => {
  aws = await startLocalAws();
  fakeAws = await startFakeAws();
  sfn = new SFNClient({ endpoint: fakeAws.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  base = {
    ddb: aws.ddb,
    table: aws.table,
    sfn,
    logger,
    now: () => new Date(),
    breakGlassForbids: async (input) => policyEngine().approvePoliciesForbid(input),
  };
  channel = testChannel(base);
});
afterAll(async () => {
  sfn.destroy();
  await fakeAws.close();
  await aws.close();
});
beforeEach(() => {
  fakeAws.tasks.reset();
  channel.repainted.length = 0;
  logger.entries.length = 0;
});

/** A pending request; its task is registered unless the workflow is to be gone already. */
async function seed(options: SeedOptions = {}, register = true): Promise<RequestItem> {
  const request = await seedPendingRequest(
    { ddb: aws.ddb, table: aws.table, now: () => new Date() },
    options,
  );
  if (register) fakeAws.tasks.register(request.taskToken!);
  return request;
}

const stored = async (id: string) => (await getRequest({ ddb: aws.ddb, table: aws.table }, id))!;
const chainOf = (id: string) => readChain({ ddb: aws.ddb, table: aws.table }, id);
/** An urgent request whose policy allows break-glass by carol, the human the agent acts for. */
const urgent: SeedOptions = {
  intent: { context: { urgency: 'urgent' } },
  review: { breakGlass: true, responderEmails: ['carol@example.com'] },
};

describe('an approval', () => {
  it('decides with one approver named by the channel, tells the workflow which request, and records no second vote', async () => {
    // Prepare
    const request = await seed();

    // Act
    const outcome = await channel.send('t-alice', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });

    // Assess
    expect(outcome.outcome).toBe('approved');
    expect(outcome.decided).toMatchObject({
      status: 'APPROVED',
      automatic: false,
      reason: 'Approved by t-alice',
      policies: ['default-review'],
      decidedBy: { slackUserId: 't-alice', email: 'alice@example.com', channel: 'test' },
      intentHash: request.intentHash,
    });
    expect(outcome.decided?.parameters).toBeUndefined();
    const [call] = fakeAws.tasks.callsOf('SendTaskSuccess', request.taskToken);
    expect(JSON.parse(String(call?.output))).toEqual({ status: 'APPROVED', intentId: request.intentId });
    expect((await stored(request.intentId)).status).toBe('APPROVED');
    // The approval's vote is the only human record; the final record is Record's.
    const votes = (await chainOf(request.intentId)).filter((r) => r.kind === 'vote');
    expect(votes.map((r) => r.data)).toEqual([
      { vote: 'approve', via: expect.any(String), approvals: 1, quorum: 1 },
    ]);
    expect(channel.repainted).toEqual([{ requestId: request.intentId, status: 'APPROVED' }]);
  });

  it('counts down a quorum of three in words and names every approver when it decides', async () => {
    // Prepare
    const request = await seed({ review: { quorum: 3 } });
    const vote = (user: string) =>
      channel.send(user, 'approve', request.intentId, { seenHash: request.intentHash });

    // Act
    const first = await vote('t-alice');
    const again = await vote('t-alice');
    const second = await vote('t-bob');
    const againAtTwo = await vote('t-bob');
    const third = await vote('t-approver-0');

    // Assess
    expect(first.notice).toBe('Your approval is recorded. 2 more approvals needed.');
    expect(again.notice).toBe(
      'You already approved this request; it needs 2 more approvals from someone else.',
    );
    expect(second.notice).toBe('Your approval is recorded. 1 more approval needed.');
    expect(againAtTwo.notice).toBe(
      'You already approved this request; it needs 1 more approval from someone else.',
    );
    expect(again.state?.request.approvals).toHaveLength(1);
    expect(third.decided?.reason).toBe(
      'Approved by alice@example.com, bob@example.com, approver0@example.com (quorum 3)',
    );
    expect(fakeAws.tasks.callsOf('SendTaskSuccess')).toHaveLength(1);
  });

  it('answers an approval after the decision with who decided and when, without the reason of an approval', async () => {
    // Prepare
    const request = await seed();
    await channel.send('t-alice', 'approve', request.intentId, { seenHash: request.intentHash });

    // Act
    const late = await channel.send('t-bob', 'approve', request.intentId, { seenHash: request.intentHash });

    // Assess
    expect(late).toMatchObject({ outcome: 'late', refusal: { code: 'late' } });
    expect(late.refusal?.message).toMatch(/^This request was already approved by t-alice at /);
    expect(late.refusal?.message).not.toContain('Reason');
    expect(late.state?.request.status).toBe('APPROVED');
    expect(fakeAws.tasks.calls).toHaveLength(1);
  });
});

describe('a denial', () => {
  it('decides with the reason, keeps the earlier approvals, fails the task as denied and audits the deciding vote', async () => {
    // Prepare
    const request = await seed({ review: { quorum: 2 } });
    await channel.send('t-alice', 'approve', request.intentId, { seenHash: request.intentHash });

    // Act
    const outcome = await channel.send('t-bob', 'deny', request.intentId, {
      seenHash: request.intentHash,
      reason: 'not during the freeze',
    });

    // Assess
    expect(outcome.outcome).toBe('denied');
    expect(outcome.decided).toMatchObject({
      status: 'DENIED',
      automatic: false,
      reason: 'Denied by t-bob: not during the freeze',
      policies: ['default-review'],
      decidedBy: { slackUserId: 't-bob', email: 'bob@example.com', channel: 'test' },
      intentHash: request.intentHash,
    });
    expect(outcome.decided?.approvers.map((a) => a.email)).toEqual(['alice@example.com']);
    expect(fakeAws.tasks.callsOf('SendTaskFailure', request.taskToken)).toEqual([
      expect.objectContaining({
        error: REVIEW_ERROR.denied,
        cause: 'Denied by t-bob: not during the freeze',
      }),
    ]);
    const votes = (await chainOf(request.intentId)).filter((r) => r.kind === 'vote');
    expect(votes.at(-1)?.data).toEqual({
      vote: 'deny',
      reason: 'Denied by t-bob: not during the freeze',
      via: expect.any(String),
      deciding: true,
      denyReason: 'not during the freeze',
    });
    expect(votes.at(-1)?.actor).toMatchObject({ slackUserId: 't-bob', channel: 'test' });
    const later = await channel.send('t-approver-1', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });
    expect(later.refusal?.message).toContain('Reason: "Denied by t-bob: not during the freeze"');
  });
});

describe('a decision the workflow no longer waits for', () => {
  it('ends a timed-out review EXPIRED when an approval arrives, audits why, and says the action was not approved', async () => {
    // Prepare
    const request = await seed();
    fakeAws.tasks.timeOut(request.taskToken!);

    // Act
    const outcome = await channel.send('t-alice', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });

    // Assess
    expect(outcome.outcome).toBe('expired');
    expect(outcome.notice).toBe(
      'Too late: this review had already expired, so your approval did not approve the action.',
    );
    const now = await stored(request.intentId);
    expect(now.status).toBe('EXPIRED');
    expect(now.decision).toMatchObject({
      status: 'EXPIRED',
      automatic: true,
      reason: expect.stringContaining('(TaskTimedOut)'),
      policies: ['default-review'],
      intentHash: request.intentHash,
    });
    expect(now.decision?.approvers.map((a) => a.email)).toEqual(['alice@example.com']);
    expect(outcome.decided?.status).toBe('EXPIRED');
    expect(outcome.state?.request.status).toBe('EXPIRED');
    const expired = (await chainOf(request.intentId)).filter((r) => r.kind === 'expired');
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({
      actor: { type: 'system', component: 'interaction' },
      intentHash: request.intentHash,
      data: { final: true, lateDecision: 'APPROVED', error: 'TaskTimedOut', decision: { status: 'EXPIRED' } },
    });
    expect(channel.repainted).toEqual([
      {
        requestId: request.intentId,
        status: 'EXPIRED',
        note: ':warning: The review had already expired when this approval arrived; the action was not approved.',
      },
    ]);
    expect(logger.entries).toContainEqual({
      level: 'warn',
      message: 'workflow had already ended when the decision arrived',
      extra: [{ requestId: request.intentId, error: 'TaskTimedOut' }],
    });
  });

  it('ends a request whose execution is gone EXPIRED when a denial arrives', async () => {
    // Prepare: the task token is unknown to Step Functions (TaskDoesNotExist).
    const request = await seed({}, false);

    // Act
    const outcome = await channel.send('t-bob', 'deny', request.intentId, {
      seenHash: request.intentHash,
      reason: 'no',
    });

    // Assess
    expect(outcome).toMatchObject({
      outcome: 'expired',
      notice: 'This review had already ended; the action was not approved.',
      decided: { status: 'EXPIRED', reason: expect.stringContaining('(TaskDoesNotExist)') },
    });
    expect((await stored(request.intentId)).status).toBe('EXPIRED');
    const chain = await chainOf(request.intentId);
    expect(chain.filter((r) => r.kind === 'expired').map((r) => r.data.lateDecision)).toEqual(['DENIED']);
    expect(channel.repainted.map((r) => r.note)).toEqual([
      ':warning: The review had already ended when this denial arrived.',
    ]);
  });

  it('leaves the ending to Record when Record ended the review first, and shows what Record stored', async () => {
    // Prepare: Record ends the timed-out review just as the approval's task call goes out.
    const request = await seed();
    fakeAws.tasks.timeOut(request.taskToken!);
    const racing = new SFNClient({
      endpoint: fakeAws.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    racing.middlewareStack.add(
      (next) => async (args) => {
        await finalize({ ddb: aws.ddb, table: aws.table }, request.intentId, {
          status: 'EXPIRED',
          automatic: true,
          reason: 'review timed out',
          decidedAt: new Date().toISOString(),
          approvers: [],
          policies: [],
          intentHash: request.intentHash,
        });
        return next(args);
      },
      { step: 'initialize' },
    );
    const raced = testChannel({ ...base, sfn: racing });

    // Act
    const outcome = await raced.send('t-alice', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });
    racing.destroy();

    // Assess
    expect(outcome).toMatchObject({ outcome: 'expired', decided: { reason: 'review timed out' } });
    expect((await chainOf(request.intentId)).filter((r) => r.kind === 'expired')).toEqual([]);
    expect(raced.repainted[0]?.status).toBe('EXPIRED');
  });
});

describe('which request is open for a vote', () => {
  it('answers an unknown request by its id, as inert text', async () => {
    // Act
    const outcome = await channel.send('t-alice', 'approve', 'intent-"nope"', { seenHash: 'sha256:00' });

    // Assess
    expect(outcome).toMatchObject({
      outcome: 'unknown-request',
      refusal: { code: 'unknown-request', message: 'Countersign has no request "intent-\\"nope\\"".' },
    });
    expect(outcome.state).toBeUndefined();
  });

  it('refuses a vote from the moment the review expires, changing nothing', async () => {
    // Prepare: created an hour and a bit ago, so the hour-long review has expired.
    const created = new Date(Date.now() - 3_600_000);
    const request = await seed({ createdAt: created });
    const exactly = testChannel({ ...base, now: () => new Date(created.getTime() + 3_600_000) });

    // Act
    const outcome = await exactly.send('t-alice', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });

    // Assess
    expect(outcome).toMatchObject({
      outcome: 'expired',
      refusal: {
        code: 'expired',
        message: `This review expired at ${request.expiresAt}; it can no longer be decided.`,
      },
      state: { request: { intentId: request.intentId } },
    });
    expect((await stored(request.intentId)).approvals).toEqual([]);
    expect(fakeAws.tasks.calls).toEqual([]);
  });

  it('counts a vote up to the last moment before the review expires', async () => {
    // Prepare
    const created = new Date(Date.now() - 3_600_000);
    const request = await seed({ createdAt: created });
    const justBefore = testChannel({ ...base, now: () => new Date(created.getTime() + 3_599_999) });

    // Act
    const outcome = await justBefore.send('t-alice', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });

    // Assess
    expect(outcome.outcome).toBe('approved');
  });

  it('refuses and audits a vote on a request the workflow does not wait on', async () => {
    // Prepare: no task token stored (the review step never handed one over).
    const request = await seed({ taskToken: '' });

    // Act
    const outcome = await channel.send('t-alice', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });

    // Assess
    expect(outcome).toMatchObject({
      outcome: 'refused',
      refusal: { code: 'refused', message: expect.stringContaining('not open for review') },
    });
    const refusals = (await chainOf(request.intentId)).filter((r) => r.kind === 'refused');
    expect(refusals.map((r) => r.data.code)).toEqual(['not-open']);
    expect((await stored(request.intentId)).status).toBe('PENDING');
  });

  it('says who decided a decided request even after its review time is over', async () => {
    // Prepare
    const created = new Date(Date.now() - 7_200_000);
    const request = await seed({ createdAt: created });
    const inTime = testChannel({ ...base, now: () => new Date(created.getTime() + 60_000) });
    await inTime.send('t-alice', 'approve', request.intentId, { seenHash: request.intentHash });

    // Act
    const outcome = await channel.send('t-bob', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });

    // Assess
    expect(outcome).toMatchObject({ outcome: 'late', refusal: { code: 'late' } });
    expect(outcome.refusal?.message).toMatch(/^This request was already approved by t-alice/);
  });
});

describe('a stale or unnamed version', () => {
  it('says why an approval naming no version cannot count, audits both hashes and repaints the card', async () => {
    // Prepare
    const request = await seed();

    // Act
    const outcome = await channel.send('t-alice', 'approve', request.intentId);

    // Assess
    expect(outcome.refusal).toMatchObject({
      code: 'stale-form',
      message: expect.stringContaining('names no version'),
    });
    const [refusal] = (await chainOf(request.intentId)).filter((r) => r.kind === 'refused');
    expect(refusal?.data).toMatchObject({ seenHash: null, currentHash: request.intentHash });
    expect(channel.repainted).toEqual([{ requestId: request.intentId, status: 'PENDING' }]);
  });

  it('counts an approval naming the card prefix of the current version', async () => {
    // Prepare
    const request = await seed();
    const prefix = request.intentHash.replace('sha256:', '').slice(0, 16);

    // Act
    const outcome = await channel.send('t-alice', 'approve', request.intentId, { seenHash: prefix });

    // Assess
    expect(outcome.outcome).toBe('approved');
  });

  it('tells the voter the request changed when the version they name is another', async () => {
    // Prepare
    const request = await seed();

    // Act
    const outcome = await channel.send('t-alice', 'approve', request.intentId, {
      seenHash: `sha256:${'1'.repeat(64)}`,
    });

    // Assess
    expect(outcome.refusal?.message).toContain('changed after your card was drawn');
    const [refusal] = (await chainOf(request.intentId)).filter((r) => r.kind === 'refused');
    expect(refusal?.data).toMatchObject({ seenHash: `sha256:${'1'.repeat(64)}` });
  });
});

describe('break-glass', () => {
  it('points the responder of an urgent break-glass request from Approve to Break glass, and nobody else', async () => {
    // Prepare
    const breakable = await seed(urgent);
    const normal = await seed({ intent: { context: { urgency: 'normal' } }, review: urgent.review });
    const plain = await seed({ intent: urgent.intent, review: { responderEmails: ['carol@example.com'] } });
    const unstated = await seed({ review: urgent.review });

    // Act
    const approveAs = (r: RequestItem, user = 't-carol') =>
      channel.send(user, 'approve', r.intentId, { seenHash: r.intentHash });
    const hinted = await approveAs(breakable);
    const notUrgent = await approveAs(normal);
    const notAllowed = await approveAs(plain);
    const noUrgencyStated = await approveAs(unstated);
    const owner = await approveAs(breakable, 't-erin');
    const outsider = await approveAs(breakable, 't-dave');

    // Assess
    expect(unstated.intent.context).toBeUndefined();
    expect(hinted.refusal?.code).toBe('self-on-behalf-of');
    expect(hinted.refusal?.message).toContain('use *Break glass* and give a reason');
    for (const refused of [notUrgent, notAllowed, noUrgencyStated]) {
      expect(refused.refusal?.code).toBe('self-on-behalf-of');
      expect(refused.refusal?.message).not.toContain('Break glass');
      expect(refused.refusal?.message).toMatch(/nobody approves their own action\.$/);
    }
    // Others refused on the urgent request are not pointed at a path that is not theirs.
    expect(owner.refusal?.code).toBe('self-owner');
    expect(outsider.refusal?.code).toBe('not-eligible');
    for (const refused of [owner, outsider]) expect(refused.refusal?.message).not.toContain('Break glass');
  });

  it('approves for the responder alone, with their reason, and audits the deciding vote as break-glass', async () => {
    // Prepare
    const request = await seed({ ...urgent, review: { ...urgent.review, quorum: 2 } });

    // Act
    const outcome = await channel.send('t-carol', 'break-glass', request.intentId, {
      seenHash: request.intentHash,
      reason: 'payments are down',
    });

    // Assess
    expect(outcome.outcome).toBe('approved');
    expect(outcome.decided).toMatchObject({
      status: 'APPROVED',
      automatic: false,
      reason: 'Break-glass approval by t-carol (the responder): payments are down',
      policies: ['default-review'],
      decidedBy: { slackUserId: 't-carol', channel: 'test' },
      intentHash: request.intentHash,
      breakGlass: true,
      breakGlassReason: 'payments are down',
    });
    expect(outcome.decided?.approvers).toEqual([
      expect.objectContaining({
        slackUserId: 't-carol',
        email: 'carol@example.com',
        at: outcome.decided?.decidedAt,
      }),
    ]);
    expect(outcome.decided?.parameters).toBeUndefined();
    expect(fakeAws.tasks.callsOf('SendTaskSuccess', request.taskToken)).toHaveLength(1);
    const votes = (await chainOf(request.intentId)).filter((r) => r.kind === 'vote');
    expect(votes.map((r) => r.data)).toEqual([
      {
        vote: 'approve',
        reason: 'Break-glass approval by t-carol (the responder): payments are down',
        via: expect.any(String),
        deciding: true,
        breakGlass: true,
        breakGlassReason: 'payments are down',
      },
    ]);
  });

  it('approves the parameters as modified when the responder breaks glass on a modified request', async () => {
    // Prepare
    const request = await seed({
      intent: urgent.intent,
      review: {
        ...urgent.review,
        quorum: 2,
        policies: ['review-prod-default', 'review-prod-iam-change'],
        editable: ['parameters.roleName'],
      },
    });
    const parameters = { ...request.intent.parameters, roleName: 'payments-deployer-ro' };
    const evaluating = testChannel({
      ...base,
      evaluateIntent: async (q, d) => policyEngine().evaluateIntent(q, d),
    });
    const modified = await evaluating.send('t-alice', 'modify', request.intentId, {
      seenHash: request.intentHash,
      parameters,
    });

    // Act
    const outcome = await channel.send('t-carol', 'break-glass', request.intentId, {
      seenHash: modified.state?.intentHash,
      reason: 'payments are down',
    });

    // Assess
    expect(modified.outcome).toBe('modified');
    expect(outcome.outcome).toBe('approved');
    expect(outcome.decided?.parameters).toEqual(parameters);
  });

  it('refuses break-glass without the approve policies to ask (fail closed)', async () => {
    // Prepare
    const request = await seed(urgent);
    const { breakGlassForbids: _, ...withoutPolicies } = base;
    const unchecked = testChannel(withoutPolicies);

    // Act
    const outcome = await unchecked.send('t-carol', 'break-glass', request.intentId, {
      seenHash: request.intentHash,
      reason: 'payments are down',
    });

    // Assess
    expect(outcome.refusal).toMatchObject({
      code: 'not-eligible',
      message: expect.stringContaining('could not be consulted'),
    });
    expect((await stored(request.intentId)).status).toBe('PENDING');
    expect(fakeAws.tasks.calls).toEqual([]);
  });
});

describe('a modification', () => {
  /** A request whose plan is what the repository's policies give it, with the role name editable. */
  const editable: SeedOptions = {
    review: {
      policies: ['review-prod-default', 'review-prod-iam-change'],
      editable: ['parameters.roleName'],
    },
  };
  const evaluating = () =>
    testChannel({ ...base, evaluateIntent: async (q, d) => policyEngine().evaluateIntent(q, d) });
  const renamed = (request: RequestItem) => ({
    seenHash: request.intentHash,
    parameters: { ...request.intent.parameters, roleName: 'payments-deployer-ro' },
  });

  it('counts as the modifier approval and decides the modified parameters, naming what changed', async () => {
    // Prepare
    const request = await seed(editable);

    // Act
    const outcome = await evaluating().send('t-alice', 'modify', request.intentId, renamed(request));

    // Assess
    expect(outcome.outcome).toBe('approved');
    expect(outcome.decided?.reason).toBe(
      'Approved by t-alice, with modified parameters (parameters.roleName)',
    );
    expect(outcome.decided?.parameters).toEqual(renamed(request).parameters);
    expect(outcome.decided?.intentHash).not.toBe(request.intentHash);
    const [modified] = (await chainOf(request.intentId)).filter((r) => r.kind === 'modified');
    expect(modified?.data).toMatchObject({
      oldHash: request.intentHash,
      newHash: outcome.decided?.intentHash,
      countsAsApproval: true,
      approvals: 1,
      quorum: 1,
      diff: [expect.objectContaining({ path: 'parameters.roleName' })],
    });
  });

  it('names every changed parameter in the decision, in the order policy lists them', async () => {
    // Prepare
    const request = await seed({
      review: { ...editable.review, editable: ['parameters.roleName', 'parameters.policyArn'] },
    });
    const parameters = {
      policyArn: 'arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess',
      roleName: 'payments-deployer-ro',
    };

    // Act
    const outcome = await evaluating().send('t-alice', 'modify', request.intentId, {
      seenHash: request.intentHash,
      parameters,
    });

    // Assess
    expect(outcome.decided?.reason).toBe(
      'Approved by t-alice, with modified parameters (parameters.roleName, parameters.policyArn)',
    );
    expect(outcome.decided?.parameters).toEqual(parameters);
  });

  it('refuses a change outside the editable parameters on the parameters as a whole, changing nothing', async () => {
    // Prepare
    const request = await seed(editable);

    // Act
    const outcome = await evaluating().send('t-alice', 'modify', request.intentId, {
      seenHash: request.intentHash,
      parameters: { ...request.intent.parameters, policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
    });

    // Assess
    expect(outcome.refusal).toEqual({
      code: 'invalid-input',
      message: 'Only the parameters policy marks editable may change.',
      field: 'parameters',
    });
    expect((await stored(request.intentId)).modification).toBeUndefined();
  });

  it('reads a Modify without parameters as no change, shown on the parameters when nothing is editable', async () => {
    // Prepare: policy made nothing editable (a channel checks first and offers no form; this command skipped it).
    const request = await seed();

    // Act
    const outcome = await evaluating().send('t-alice', 'modify', request.intentId, {
      seenHash: request.intentHash,
    });

    // Assess
    expect(outcome.refusal).toEqual({
      code: 'invalid-input',
      message: 'Nothing was changed: use Approve instead.',
      field: 'parameters',
    });
    expect((await stored(request.intentId)).approvals).toEqual([]);
  });

  it('answers a modification short of the quorum as modified, with what is still needed', async () => {
    // Prepare
    const request = await seed({ review: { ...editable.review, quorum: 2 } });

    // Act
    const outcome = await evaluating().send('t-alice', 'modify', request.intentId, renamed(request));

    // Assess
    expect(outcome).toMatchObject({
      outcome: 'modified',
      notice: 'Your approval is recorded. 1 more approval needed.',
    });
    const now = await stored(request.intentId);
    expect(now.status).toBe('PENDING');
    expect(now.modification?.by).toMatchObject({ slackUserId: 't-alice', channel: 'test' });
    expect(fakeAws.tasks.calls).toEqual([]);
  });

  it('refuses an unchanged form on the first editable input, and any modification where policy cannot be asked', async () => {
    // Prepare
    const request = await seed(editable);

    // Act
    const unchanged = await evaluating().send('t-alice', 'modify', request.intentId, {
      seenHash: request.intentHash,
      parameters: request.intent.parameters,
    });
    const unevaluated = await channel.send('t-alice', 'modify', request.intentId, renamed(request));

    // Assess
    expect(unchanged.refusal).toEqual({
      code: 'invalid-input',
      message: 'Nothing was changed: use Approve instead.',
      field: 'parameters.roleName',
    });
    expect(unevaluated.refusal).toMatchObject({
      code: 'modification-refused',
      field: 'parameters.roleName',
      message: expect.stringContaining('policy cannot be evaluated here'),
    });
    const now = await stored(request.intentId);
    expect(now.modification).toBeUndefined();
    expect(now.approvals).toEqual([]);
    const [refusal] = (await chainOf(request.intentId)).filter((r) => r.kind === 'refused');
    expect(refusal?.data).toMatchObject({ code: 'modification-refused', diff: [expect.anything()] });
  });
});
