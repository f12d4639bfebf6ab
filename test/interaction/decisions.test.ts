/**
 * Approve, deny, quorum and late clicks through the interaction core, against
 * dynalite + s3rver, the fake Slack and the fake Step Functions.
 */

import { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handleInteraction } from '../../lambdas/interaction/core.js';
import { createRequest } from '../../lambdas/shared/store.js';
import { REVIEW_ERROR } from '../../lambdas/shared/workflow.js';
import { makeIntent } from '../support/fixtures.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../support/local-aws.js';
import { type Harness, startHarness, USERS } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  h.reset();
});

const ephemeralsTo = (user: string) => h.slack.sent('chat.postEphemeral', user).map((m) => m.text ?? '');
const updatesOf = (ts: string) => h.slack.sent('chat.update').filter((m) => m.ts === ts);

describe('approve', () => {
  it('decides APPROVED, calls SendTaskSuccess once with the stored token, updates the card and audits a valid chain', async () => {
    // Prepare
    const request = await h.seed();

    // Act
    const result = await h.send(h.click(USERS.alice, 'approve', request.intentId));

    // Assess
    expect(result).toEqual({ statusCode: 200, body: '', outcome: 'approved' });
    const stored = await h.request(request.intentId);
    expect(stored?.status).toBe('APPROVED');
    expect(stored?.decision).toMatchObject({
      status: 'APPROVED',
      automatic: false,
      reason: 'Approved by Alice Adams',
      decidedBy: { slackUserId: USERS.alice, email: 'alice@example.com' },
      approvers: [{ slackUserId: USERS.alice, email: 'alice@example.com' }],
      intentHash: request.intentHash,
    });
    const calls = h.fakeAws.tasks.calls;
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ operation: 'SendTaskSuccess', token: request.taskToken, result: 'ok' });
    expect(JSON.parse(calls[0]!.output!)).toEqual({ status: 'APPROVED', intentId: request.intentId });
    const updates = updatesOf(request.card!.ts);
    expect(updates).toHaveLength(1);
    expect(JSON.stringify(updates[0]!.blocks)).toContain('Approved');
    expect(JSON.stringify(updates[0]!.blocks)).not.toContain('"action_id":"approve"');
    const chain = await h.verifiedChain(request.intentId);
    // The handler audits the vote; the final `decided` record (with the grant) is Record's.
    expect(chain.map((r) => r.kind)).toEqual(['requested', 'reviewers-notified', 'vote']);
    expect(chain[2]!.actor).toEqual({
      type: 'human',
      slackUserId: USERS.alice,
      email: 'alice@example.com',
      channel: 'slack',
    });
    expect(chain[2]!.data).toMatchObject({ vote: 'approve', via: 'group:security-approvers', quorum: 1 });
    // The token never reaches Slack.
    expect(JSON.stringify(h.slack.calls)).not.toContain(request.taskToken!);
  });

  it('accepts an approver listed by email in the plan even outside every group', async () => {
    // Prepare
    const request = await h.seed({ review: { approverEmails: ['Dave@Example.com'] } });

    // Act
    const result = await h.send(h.click(USERS.dave, 'approve', request.intentId));

    // Assess
    expect(result.outcome).toBe('approved');
    expect((await h.verifiedChain(request.intentId)).at(-1)!.data).toMatchObject({
      via: 'email:dave@example.com',
    });
  });

  it('tells a later clicker who approved and when, and changes nothing', async () => {
    // Prepare
    const request = await h.seed();
    await h.send(h.click(USERS.alice, 'approve', request.intentId));
    const chainBefore = await h.verifiedChain(request.intentId);

    // Act
    const result = await h.send(h.click(USERS.bob, 'approve', request.intentId));

    // Assess
    expect(result.outcome).toBe('late');
    expect(ephemeralsTo(USERS.bob)).toEqual([
      expect.stringContaining(`already approved by <@${USERS.alice}> at <!date^`),
    ]);
    expect(h.fakeAws.tasks.calls).toHaveLength(1);
    expect(await h.verifiedChain(request.intentId)).toHaveLength(chainBefore.length);
  });
});

describe('deny', () => {
  it('decides DENIED and fails the task with Countersign.Denied and the reason', async () => {
    // Prepare
    const request = await h.seed();

    // Act
    const result = await h.denyWithReason(USERS.bob, request.intentId, 'No change ticket.');

    // Assess
    expect(result).toEqual({ statusCode: 200, body: '', outcome: 'denied' });
    const stored = await h.request(request.intentId);
    expect(stored?.status).toBe('DENIED');
    expect(stored?.decision).toMatchObject({
      status: 'DENIED',
      reason: 'Denied by Bob Brown: No change ticket.',
    });
    expect(h.fakeAws.tasks.calls).toEqual([
      expect.objectContaining({
        operation: 'SendTaskFailure',
        token: request.taskToken,
        error: REVIEW_ERROR.denied,
        cause: 'Denied by Bob Brown: No change ticket.',
        result: 'ok',
      }),
    ]);
    expect(JSON.stringify(updatesOf(request.card!.ts)[0]!.blocks)).toContain('Denied');
    expect(JSON.stringify(updatesOf(request.card!.ts)[0]!.blocks)).toContain('No change ticket.');
    const chain = await h.verifiedChain(request.intentId);
    expect(chain.at(-1)).toMatchObject({
      kind: 'vote',
      actor: { type: 'human', slackUserId: USERS.bob },
      data: {
        vote: 'deny',
        deciding: true,
        reason: 'Denied by Bob Brown: No change ticket.',
        denyReason: 'No change ticket.',
      },
    });
  });

  it('lets the on-behalf-of human withdraw (deny) their own request', async () => {
    // Prepare
    const request = await h.seed();

    // Act
    const result = await h.denyWithReason(USERS.carol, request.intentId);

    // Assess
    expect(result.outcome).toBe('denied');
    expect((await h.verifiedChain(request.intentId)).at(-1)!.data).toMatchObject({
      via: 'principal-withdrawal',
    });
  });

  it('refuses a deny from someone outside the approvers', async () => {
    // Prepare
    const request = await h.seed();

    // Act
    const result = await h.send(h.click(USERS.dave, 'deny', request.intentId));

    // Assess
    expect(result.outcome).toBe('refused');
    expect((await h.request(request.intentId))?.status).toBe('PENDING');
    expect(h.fakeAws.tasks.calls).toHaveLength(0);
  });

  it('tells an approver clicking after a deny who denied and why', async () => {
    // Prepare
    const request = await h.seed();
    await h.denyWithReason(USERS.bob, request.intentId, 'No change ticket.');

    // Act
    const result = await h.send(h.click(USERS.alice, 'approve', request.intentId));

    // Assess
    expect(result.outcome).toBe('late');
    expect(ephemeralsTo(USERS.alice)[0]).toMatch(
      /already denied by <@U0BOB0002> at .*Reason: `Denied by Bob Brown: No change ticket\.`/,
    );
    expect((await h.request(request.intentId))?.status).toBe('DENIED');
  });
});

describe('quorum 2', () => {
  it('keeps the first vote PENDING with a card update, ignores a repeat, and decides on the second distinct voter', async () => {
    // Prepare
    const request = await h.seed({ review: { quorum: 2 } });

    // Act
    const first = await h.send(h.click(USERS.alice, 'approve', request.intentId));
    const afterFirst = await h.request(request.intentId);
    const repeat = await h.send(h.click(USERS.alice, 'approve', request.intentId));
    const afterRepeat = await h.request(request.intentId);
    const second = await h.send(h.click(USERS.bob, 'approve', request.intentId));

    // Assess
    expect(first.outcome).toBe('voted');
    expect(afterFirst?.status).toBe('PENDING');
    expect(afterFirst?.approvals.map((a) => a.slackUserId)).toEqual([USERS.alice]);
    expect(JSON.stringify(updatesOf(request.card!.ts)[0]!.blocks)).toContain('1 of 2 approvals');
    expect(repeat.outcome).toBe('already-voted');
    expect(afterRepeat?.approvals).toHaveLength(1);
    expect(ephemeralsTo(USERS.alice)[1]).toContain('You already approved');
    expect(second.outcome).toBe('approved');
    const stored = await h.request(request.intentId);
    expect(stored?.status).toBe('APPROVED');
    expect(stored?.decision?.approvers.map((a) => a.slackUserId)).toEqual([USERS.alice, USERS.bob]);
    expect(h.fakeAws.tasks.callsOf('SendTaskSuccess')).toHaveLength(1);
    const chain = await h.verifiedChain(request.intentId);
    expect(chain.map((r) => r.kind)).toEqual(['requested', 'reviewers-notified', 'vote', 'vote']);
    expect(chain.slice(-2).map((r) => r.actor)).toMatchObject([
      { slackUserId: USERS.alice },
      { slackUserId: USERS.bob },
    ]);
  });
});

describe('late and unknown', () => {
  it('reports an expired review when Step Functions answers TaskTimedOut', async () => {
    // Prepare
    const request = await h.seed();
    h.fakeAws.tasks.timeOut(request.taskToken!);

    // Act
    const result = await h.send(h.click(USERS.alice, 'approve', request.intentId));

    // Assess
    expect(result.outcome).toBe('expired');
    expect(h.fakeAws.tasks.calls).toEqual([
      expect.objectContaining({ operation: 'SendTaskSuccess', result: 'TaskTimedOut' }),
    ]);
    expect(ephemeralsTo(USERS.alice)).toEqual([expect.stringContaining('already expired')]);
    expect(JSON.stringify(updatesOf(request.card!.ts)[0]!.blocks)).toContain('not approved');
    // Fail closed: the late approval does not stand; the request ends EXPIRED and says so in the trail.
    const stored = await h.request(request.intentId);
    expect(stored).toMatchObject({ status: 'EXPIRED', decision: { status: 'EXPIRED', automatic: true } });
    expect(stored?.finalizedAt).toBeTruthy();
    expect((await h.verifiedChain(request.intentId)).at(-1)).toMatchObject({
      kind: 'expired',
      data: { final: true, lateDecision: 'APPROVED', error: 'TaskTimedOut' },
    });
  });

  it('reports an ended review when Step Functions no longer knows the token', async () => {
    // Prepare
    const request = await h.seed();
    h.fakeAws.tasks.reset(); // the token is unknown: TaskDoesNotExist

    // Act
    const result = await h.denyWithReason(USERS.bob, request.intentId);

    // Assess
    expect(result.outcome).toBe('expired');
    expect(h.fakeAws.tasks.calls[0]?.result).toBe('TaskDoesNotExist');
    // The workflow is gone, so nothing else would end the request: it ends here as EXPIRED.
    expect(await h.request(request.intentId)).toMatchObject({
      status: 'EXPIRED',
      decision: { status: 'EXPIRED' },
    });
    expect((await h.verifiedChain(request.intentId)).at(-1)).toMatchObject({ kind: 'expired' });
  });

  it('refuses to decide a review past its expiry without writing anything', async () => {
    // Prepare
    const request = await h.seed({ review: { timeoutSeconds: 60 } });
    h.setNow(new Date(Date.parse(request.expiresAt!) + 1000));

    // Act
    const result = await h.send(h.click(USERS.alice, 'approve', request.intentId));

    // Assess
    expect(result.outcome).toBe('expired');
    expect((await h.request(request.intentId))?.approvals).toEqual([]);
    expect(h.fakeAws.tasks.calls).toHaveLength(0);
  });

  it('refuses a click on a request whose review has not started (no plan, no token)', async () => {
    // Prepare
    const intent = makeIntent();
    await createRequest(h.deps, {
      intentId: intent.intentId,
      agentId: 'deploy-bot',
      source: 'countersign.agent.deploy-bot',
      status: 'PENDING',
      intent,
      intentHash: 'sha256:x',
      createdAt: new Date().toISOString(),
    });

    // Act
    const result = await h.send(h.click(USERS.alice, 'approve', intent.intentId));

    // Assess
    expect(result.outcome).toBe('refused');
    expect((await h.verifiedChain(intent.intentId)).map((r) => [r.kind, r.data.code])).toEqual([
      ['refused', 'not-open'],
    ]);
    expect(h.fakeAws.tasks.calls).toEqual([]);
  });

  it('answers an unknown request id with an ephemeral message and 200', async () => {
    // Act
    const result = await h.send(h.click(USERS.alice, 'approve', 'intent-does-not-exist'));

    // Assess
    expect(result).toEqual({ statusCode: 200, body: '', outcome: 'unknown-request' });
    expect(ephemeralsTo(USERS.alice)).toEqual([
      expect.stringContaining('no request `intent-does-not-exist`'),
    ]);
  });
});

describe('Slack rate limiting', () => {
  it('does not wait out a 429 on chat.update inside the answer window: the decision stands', async () => {
    // Prepare
    const request = await h.seed();
    h.slack.setRateLimit('chat.update', 1, 30);

    // Act
    const result = await h.send(h.click(USERS.alice, 'approve', request.intentId));

    // Assess: one attempt, no retry after Retry-After; the card is stale (cosmetic), the vote is recorded
    expect(result.outcome).toBe('approved');
    const updates = h.slack.calls.filter((c) => c.method === 'chat.update');
    expect(updates.map((c) => c.status)).toEqual([429]);
    expect(updatesOf(request.card!.ts)).toHaveLength(0);
    expect((await h.request(request.intentId))?.status).toBe('APPROVED');
    expect(h.logger.entries.some((e) => e.message === 'card update failed')).toBe(true);
  });
});

describe('fail closed', () => {
  it('never approves when the audit write fails: 500, no SendTaskSuccess, the clicker is told', async () => {
    // Prepare
    const request = await h.seed();
    // DynamoDB refuses the audit append (a throttle, an outage): every other call goes through.
    const ddb = new Proxy(h.deps.ddb, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return (command: { input?: { Item?: { sk?: string } } }) =>
          String(command.input?.Item?.sk ?? '').startsWith('AUDIT#')
            ? Promise.reject(
                Object.assign(new Error('Throughput exceeds the current capacity'), {
                  name: 'ProvisionedThroughputExceededException',
                }),
              )
            : target.send(command as never);
      },
    });
    const broken = { ...h.deps, ddb };

    // Act
    const result = await handleInteraction(broken, h.click(USERS.alice, 'approve', request.intentId));

    // Assess
    expect(result).toMatchObject({ statusCode: 500, outcome: 'error' });
    expect(h.fakeAws.tasks.calls).toEqual([]);
    expect(h.fakeAws.tasks.state(request.taskToken!)).toBe('pending');
    expect(ephemeralsTo(USERS.alice)).toEqual([expect.stringContaining('approved nothing')]);
    expect(h.logger.entries.some((e) => e.level === 'error')).toBe(true);
  });

  it('never approves when Step Functions cannot be reached: the error surfaces as 500', async () => {
    // Prepare
    const request = await h.seed();
    const unreachable = new SFNClient({
      endpoint: 'http://127.0.0.1:9',
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });

    // Act
    const result = await handleInteraction(
      { ...h.deps, sfn: unreachable },
      h.click(USERS.alice, 'approve', request.intentId),
    );
    unreachable.destroy();

    // Assess: the workflow never heard an approval, so nothing is final and no grant exists (the
    // waiting review ends EXPIRED at its timeout); the clicker is told nothing was approved.
    expect(result).toMatchObject({ statusCode: 500, outcome: 'error' });
    const stored = await h.request(request.intentId);
    expect(stored?.finalizedAt).toBeUndefined();
    expect(stored?.decision?.grant).toBeUndefined();
    expect(ephemeralsTo(USERS.alice)).toEqual([expect.stringContaining('approved nothing')]);
    expect(h.logger.entries.some((e) => e.level === 'error')).toBe(true);
  });
});
