/**
 * Invariant 10 at the seam: a second channel, written here in a few lines
 * with no Slack at all (its own user ids, its own directory, a notifier that
 * remembers what it was asked to repaint), drives the review core with
 * ReviewCommands and meets the same rules the Slack channel meets: no
 * self-approval, quorum, one decision under concurrent commands, stale
 * versions refused, every record naming the channel. Real DynamoDB (dynalite)
 * and the fake Step Functions task API underneath.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readChain } from '../../lambdas/shared/audit.js';
import { getRequest, type RequestItem } from '../../lambdas/shared/store.js';
import { type RunningFakeAws, startFakeAws } from '../../sandbox/fake-aws.js';
import { captureLogger } from '../interaction/harness.js';
import { type SeedOptions, seedPendingRequest } from '../support/fixtures.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type LocalAws, startLocalAws } from '../support/local-aws.js';
import { testChannel } from './test-channel.js';

let aws: LocalAws;
let fakeAws: RunningFakeAws;
let sfn: SFNClient;
let channel: ReturnType<typeof testChannel>;
const logger = captureLogger();

beforeAll(async () => {
  aws = await startLocalAws();
  fakeAws = await startFakeAws();
  sfn = new SFNClient({ endpoint: fakeAws.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  channel = testChannel({ ddb: aws.ddb, table: aws.table, sfn, logger, now: () => new Date() });
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

async function seed(options: SeedOptions = {}): Promise<RequestItem> {
  const request = await seedPendingRequest(
    { ddb: aws.ddb, table: aws.table, now: () => new Date() },
    options,
  );
  fakeAws.tasks.register(request.taskToken!);
  return request;
}

const stored = async (id: string) => (await getRequest({ ddb: aws.ddb, table: aws.table }, id))!;
const chainOf = (id: string) => readChain({ ddb: aws.ddb, table: aws.table }, id);

describe('the same rules from a second channel', () => {
  it('refuses the owner, the human the agent acts for, agents, strangers and outsiders, and audits each with the channel', async () => {
    // Prepare
    const request = await seed();
    const cases = [
      ['t-erin', 'self-owner'],
      ['t-carol', 'self-on-behalf-of'],
      ['t-agent', 'agent'],
      ['t-nobody', 'unresolved'],
      ['t-dave', 'not-eligible'],
    ] as const;

    // Act
    const outcomes = [];
    for (const [user] of cases)
      outcomes.push(await channel.send(user, 'approve', request.intentId, { seenHash: request.intentHash }));

    // Assess
    expect(outcomes.map((o) => [o.outcome, o.refusal?.code])).toEqual(
      cases.map(([, code]) => ['refused', code]),
    );
    expect(outcomes.every((o) => o.decided === undefined)).toBe(true);
    expect(fakeAws.tasks.calls).toEqual([]);
    expect((await stored(request.intentId)).approvals).toEqual([]);
    const refusals = (await chainOf(request.intentId)).filter((r) => r.kind === 'refused');
    expect(refusals.map((r) => [r.actor, r.data.code])).toEqual(
      cases.map(([user, code]) => [
        expect.objectContaining({ type: 'human', slackUserId: user, channel: 'test' }),
        code,
      ]),
    );
  });

  it('counts votes up to the quorum, then decides once and names the channel in every record', async () => {
    // Prepare
    const request = await seed({ review: { quorum: 2 } });

    // Act
    const first = await channel.send('t-alice', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });
    const again = await channel.send('t-alice', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });
    const second = await channel.send('t-bob', 'approve', request.intentId, { seenHash: request.intentHash });

    // Assess
    expect(first).toMatchObject({
      outcome: 'voted',
      notice: expect.stringContaining('1 more approval needed'),
    });
    expect(first.state?.request.approvals.map((a) => a.email)).toEqual(['alice@example.com']);
    expect(again.outcome).toBe('already-voted');
    expect(second).toMatchObject({ outcome: 'approved', decided: { status: 'APPROVED' } });
    expect(second.decided?.approvers.map((a) => a.email)).toEqual(['alice@example.com', 'bob@example.com']);
    expect(fakeAws.tasks.callsOf('SendTaskSuccess')).toHaveLength(1);
    expect(fakeAws.tasks.calls).toHaveLength(1);
    // The channel was asked to repaint after each change; the synchronous outcome already held the state.
    expect(channel.repainted.map((r) => r.status)).toEqual(['PENDING', 'APPROVED']);
    const votes = (await chainOf(request.intentId)).filter((r) => r.kind === 'vote');
    expect(votes.map((r) => r.actor)).toEqual([
      { type: 'human', slackUserId: 't-alice', email: 'alice@example.com', channel: 'test' },
      { type: 'human', slackUserId: 't-bob', email: 'bob@example.com', channel: 'test' },
    ]);
  });

  it('decides exactly once when approvals and denials arrive at the same moment', async () => {
    // Prepare
    const request = await seed();
    const approvers = Array.from({ length: 10 }, (_, i) => `t-approver-${i}`);
    const deniers = Array.from({ length: 6 }, (_, i) => `t-approver-${i + 10}`);

    // Act
    const outcomes = await Promise.all([
      ...approvers.map((u) => channel.send(u, 'approve', request.intentId, { seenHash: request.intentHash })),
      ...deniers.map((u) =>
        channel.send(u, 'deny', request.intentId, { seenHash: request.intentHash, reason: 'not now' }),
      ),
    ]);

    // Assess
    const winners = outcomes.filter((o) => o.outcome === 'approved' || o.outcome === 'denied');
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((o) => !winners.includes(o)).every((o) => o.outcome === 'late')).toBe(true);
    const final = await stored(request.intentId);
    expect(final.status).toBe(winners[0]!.decided!.status);
    expect(fakeAws.tasks.calls).toHaveLength(1);
    expect(fakeAws.tasks.calls[0]!.operation).toBe(
      final.status === 'APPROVED' ? 'SendTaskSuccess' : 'SendTaskFailure',
    );
    // Every loser is told who decided, in the channel's style (plain ids here, no Slack mentions).
    const late = outcomes.find((o) => o.outcome === 'late')!;
    expect(late.notice ?? late.refusal?.message).toContain(`by ${final.decision!.decidedBy!.slackUserId}`);
    expect(late.notice ?? late.refusal?.message).not.toContain('<@');
  });

  it('refuses an approval or a denial of a version the person did not see, and changes nothing', async () => {
    // Prepare
    const request = await seed();
    const stale = `sha256:${'0'.repeat(64)}`;

    // Act
    const approval = await channel.send('t-alice', 'approve', request.intentId, { seenHash: stale });
    const denial = await channel.send('t-bob', 'deny', request.intentId, { seenHash: stale, reason: 'no' });
    const unnamed = await channel.send('t-alice', 'modify', request.intentId, { parameters: {} });

    // Assess
    for (const outcome of [approval, denial, unnamed])
      expect(outcome).toMatchObject({ outcome: 'refused', refusal: { code: 'stale-form' } });
    const now = await stored(request.intentId);
    expect(now.status).toBe('PENDING');
    expect(now.approvals).toEqual([]);
    expect(fakeAws.tasks.calls).toEqual([]);
    const refusals = (await chainOf(request.intentId)).filter((r) => r.kind === 'refused');
    expect(refusals.map((r) => [r.data.code, r.actor])).toEqual([
      ['stale-form', expect.objectContaining({ channel: 'test' })],
      ['stale-form', expect.objectContaining({ channel: 'test' })],
      ['stale-form', expect.objectContaining({ channel: 'test' })],
    ]);
  });

  it('refuses a denial without a reason before anything else, and acts on a key only once', async () => {
    // Prepare
    const request = await seed({ review: { quorum: 2 } });

    // Act
    const bare = await channel.send('t-bob', 'deny', request.intentId, { seenHash: request.intentHash });
    const once = { seenHash: request.intentHash, idempotency: `key-${request.intentId}` };
    const first = await channel.send('t-alice', 'approve', request.intentId, once);
    const replayed = await channel.send('t-alice', 'approve', request.intentId, once);

    // Assess
    expect(bare).toMatchObject({ outcome: 'invalid', refusal: { code: 'invalid-input', field: 'reason' } });
    expect(first.outcome).toBe('voted');
    expect(replayed).toMatchObject({ outcome: 'replayed', refusal: { code: 'replayed' } });
    const now = await stored(request.intentId);
    expect(now.status).toBe('PENDING');
    expect(now.approvals).toHaveLength(1);
    expect((await chainOf(request.intentId)).map((r) => r.kind)).toEqual([
      'requested',
      'reviewers-notified',
      'vote',
    ]);
  });

  it('refuses parameters changed outside what policy marks editable', async () => {
    // Prepare
    const request = await seed({ review: { editable: ['parameters.roleName'] } });

    // Act
    const outcome = await channel.send('t-alice', 'modify', request.intentId, {
      seenHash: request.intentHash,
      parameters: { ...request.intent.parameters, policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
    });

    // Assess
    expect(outcome).toMatchObject({
      outcome: 'invalid',
      refusal: { code: 'invalid-input', field: 'parameters' },
    });
    const now = await stored(request.intentId);
    expect(now.modification).toBeUndefined();
    expect(now.approvals).toEqual([]);
  });

  it('answers an error as an outcome that approved nothing (fail closed)', async () => {
    // Prepare
    const request = await seed();
    const unreachable = new SFNClient({
      endpoint: 'http://127.0.0.1:9',
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    const broken = testChannel({
      ddb: aws.ddb,
      table: aws.table,
      sfn: unreachable,
      logger,
      now: () => new Date(),
    });

    // Act
    const outcome = await broken.send('t-alice', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });
    unreachable.destroy();

    // Assess
    expect(outcome).toMatchObject({ outcome: 'error', refusal: { code: 'error' } });
    expect(outcome.refusal?.message).toContain('approved nothing');
    expect((await stored(request.intentId)).finalizedAt).toBeUndefined();
    expect(logger.entries.some((e) => e.level === 'error')).toBe(true);
  });
});
