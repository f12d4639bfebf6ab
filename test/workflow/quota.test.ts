/**
 * Request quotas in Evaluate and Record, against dynalite and the fake Slack:
 * exact counting under concurrency, the default quota, fail closed on a
 * counter failure, retries, and the one flood alert per window (also when
 * Slack refuses it first).
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EvaluateDeps, evaluate } from '../../lambdas/evaluate/core.js';
import { type RecordDeps, record } from '../../lambdas/record/core.js';
import { readChain } from '../../lambdas/shared/audit.js';
import { archivedRecordMetrics } from '../../lambdas/shared/metrics.js';
import { evaluateIntent, quotaClass, quotasFor } from '../../lambdas/shared/policy.js';
import { quotaKey } from '../../lambdas/shared/quota-store.js';
import { verifyIntent } from '../../lambdas/shared/registration.js';
import { createSlackClient } from '../../lambdas/shared/slack.js';
import { getRequest } from '../../lambdas/shared/store.js';
import type { WorkflowState } from '../../lambdas/shared/workflow.js';
import {
  FAKE_SLACK_TOKEN,
  loadDirectory,
  type RunningFakeSlack,
  startFakeSlack,
} from '../../sandbox/fake-slack.js';
import { makeIntent, sandboxVerification } from '../support/fixtures.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';
import { newIntentId } from '../support/loop.js';

let aws: LocalAws;
let slack: RunningFakeSlack;
const trusted = sandboxVerification();
const CHANNEL = 'C0APPROVAL';
// A fixed clock inside one window, so no test straddles a window boundary.
let clock = new Date('2026-12-02T10:00:10.000Z');
let executions = 0;

beforeAll(async () => {
  aws = await startLocalAws({ table: 'quota-test', bucket: 'quota-test' });
  slack = await startFakeSlack({ directory: loadDirectory() });
});
afterAll(async () => {
  await aws.close();
  await slack.close();
});

/** Evaluate's deps with a default quota of `fallback`; every agent is verified as deploy-bot's registration. */
function evaluateDeps(fallback = { limit: 3, windowSeconds: 60 }, ddb = aws.ddb): EvaluateDeps {
  return {
    ddb,
    table: aws.table,
    now: () => clock,
    policy: evaluateIntent,
    verify: (_agentId, intent) => verifyIntent(trusted, 'deploy-bot', intent),
    defaults: { approverGroup: 'security-approvers', timeoutSeconds: 3600 },
    quota: { quotasFor, classOf: quotaClass, fallback },
  };
}

const recordDeps = (): RecordDeps => ({
  ddb: aws.ddb,
  table: aws.table,
  now: () => clock,
  grantTtlSeconds: 900,
  slack: async () => createSlackClient(FAKE_SLACK_TOKEN, slack.url),
  alertChannel: CHANNEL,
});

function event(detail: unknown, agentId: string, executionId = `exec-${++executions}`): WorkflowState {
  return {
    id: `evt-${executionId}`,
    source: `countersign.agent.${agentId}`,
    'detail-type': 'Privileged Action Requested',
    detail,
    executionId,
  };
}

const alerts = () =>
  slack
    .sent('chat.postMessage')
    .filter((m) => m.channel === CHANNEL && m.text?.includes('over its request quota'));

describe('quota counting in Evaluate', () => {
  it('the default quota: the intent after the limit is denied "rate limited", audited, with no review', async () => {
    clock = new Date('2026-12-02T10:00:10.000Z');
    const deps = evaluateDeps();
    const outcomes = [];
    for (let i = 0; i < 4; i++)
      outcomes.push(await evaluate(deps, event(makeIntent({ intentId: newIntentId() }), 'default-bot')));
    expect(outcomes.slice(0, 3).map((o) => o.outcome)).toEqual(['review', 'review', 'review']);
    const denied = outcomes[3]!;
    expect(denied.outcome).toBe('deny');
    expect(denied.reason).toMatch(/^rate limited: agent default-bot sent 4 iam intents/);
    expect(denied.reason).toContain('3/minute (policy default-quota)');
    expect(denied.policies).toEqual(['default-quota']);
    const stored = await getRequest(aws, denied.requestId);
    expect(stored?.review).toBeUndefined();
    expect(stored?.expiresAt).toBeUndefined();
    const chain = await readChain(aws, denied.requestId);
    expect(chain.map((r) => r.kind)).toEqual(['requested', 'policy-evaluated', 'rate-limited']);
    expect(chain[2]!.data).toMatchObject({
      outcome: 'over-quota',
      agentId: 'default-bot',
      actionClass: 'iam',
      count: 4,
      quota: { text: '3/minute', limit: 3, windowSeconds: 60, policies: ['default-quota'] },
      window: { start: '2026-12-02T10:00:00.000Z', end: '2026-12-02T10:01:00.000Z' },
    });
    // The metric, by class.
    expect(archivedRecordMetrics(chain[2]!, clock)).toContainEqual({
      name: 'RateLimited',
      unit: 'Count',
      value: 1,
      dimension: { name: 'ActionClass', value: 'iam' },
    });
  });

  it('counts exactly under concurrency: of 20 concurrent intents with a quota of 5, exactly 5 pass', async () => {
    clock = new Date('2026-12-02T10:05:30.000Z');
    const deps = evaluateDeps({ limit: 5, windowSeconds: 60 });
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () =>
        evaluate(deps, event(makeIntent({ intentId: newIntentId() }), 'racing-bot')),
      ),
    );
    expect(outcomes.filter((o) => o.outcome === 'review')).toHaveLength(5);
    expect(outcomes.filter((o) => o.reason.startsWith('rate limited'))).toHaveLength(15);
    const counts = outcomes
      .flatMap((o) => (o.rateLimited?.count ? [o.rateLimited.count] : []))
      .sort((a, b) => a - b);
    expect(counts).toEqual(Array.from({ length: 15 }, (_, i) => i + 6));
    const counter = await aws.ddb.send(
      new GetCommand({
        TableName: aws.table,
        Key: quotaKey('racing-bot', 'iam', 60, Date.parse('2026-12-02T10:05:00Z') / 1000),
      }),
    );
    expect(counter.Item).toMatchObject({
      count: 20,
      ttl: Date.parse('2026-12-02T10:06:00Z') / 1000 + 86_400,
    });
  });

  it('each agent and class has its own count, and a new window starts afresh', async () => {
    clock = new Date('2026-12-02T10:10:01.000Z');
    const deps = evaluateDeps({ limit: 1, windowSeconds: 60 });
    const send = (agent: string, action = 'iam:AttachRolePolicy') =>
      evaluate(deps, event(makeIntent({ intentId: newIntentId(), action }), agent));
    expect((await send('one-bot')).outcome).toBe('review');
    expect((await send('one-bot')).outcome).toBe('deny');
    expect((await send('two-bot')).outcome).toBe('review');
    expect((await send('one-bot', 'kms:ScheduleKeyDeletion')).reason).not.toMatch(/rate limited/);
    clock = new Date('2026-12-02T10:11:00.000Z');
    expect((await send('one-bot')).outcome).toBe('review');
  });

  it('intents policy decides anyway are counted too', async () => {
    clock = new Date('2026-12-02T10:15:01.000Z');
    const deps = evaluateDeps({ limit: 1, windowSeconds: 60 });
    // A destructive action policy forbids: still counted.
    const forbidden = await evaluate(
      deps,
      event(
        makeIntent({ intentId: newIntentId(), action: 'iam:DeleteAccountPasswordPolicy' }),
        'counted-bot',
      ),
    );
    const next = await evaluate(deps, event(makeIntent({ intentId: newIntentId() }), 'counted-bot'));
    expect(next.reason).toMatch(/^rate limited: agent counted-bot sent 2 iam intents/);
    expect(forbidden.outcome).not.toBe('duplicate');
  });

  it('a retried Evaluate keeps its first attempt’s denial, and a duplicate event stays a duplicate', async () => {
    clock = new Date('2026-12-02T10:20:01.000Z');
    const deps = evaluateDeps({ limit: 1, windowSeconds: 60 });
    await evaluate(deps, event(makeIntent({ intentId: newIntentId() }), 'retry-bot'));
    const intent = makeIntent({ intentId: newIntentId() });
    const first = await evaluate(deps, event(intent, 'retry-bot', 'exec-retry'));
    const retry = await evaluate(deps, event(intent, 'retry-bot', 'exec-retry'));
    expect(first.outcome).toBe('deny');
    expect(retry).toEqual(first);
    expect((await readChain(aws, intent.intentId)).filter((r) => r.kind === 'rate-limited')).toHaveLength(1);
    expect((await evaluate(deps, event(intent, 'retry-bot', 'exec-other'))).outcome).toBe('duplicate');
  });

  it('fails closed: when the counter cannot be updated the intent is denied and audited, never reviewed', async () => {
    clock = new Date('2026-12-02T10:25:01.000Z');
    // DynamoDB throttling the counter item is what no local server can do: refuse only its writes.
    const refusing = {
      send: (command: { input?: { Key?: { pk?: string } } }) =>
        command.input?.Key?.pk?.startsWith('QUOTA#')
          ? Promise.reject(
              Object.assign(new Error('Rate of requests exceeds the allowed throughput'), {
                name: 'ThrottlingException',
              }),
            )
          : aws.ddb.send(command as never),
    } as unknown as typeof aws.ddb;
    const outcome = await evaluate(
      evaluateDeps(undefined, refusing),
      event(makeIntent({ intentId: newIntentId() }), 'broken-bot'),
    );
    expect(outcome.outcome).toBe('deny');
    expect(outcome.reason).toMatch(
      /quota of agent broken-bot could not be checked \(Rate of requests exceeds/,
    );
    const stored = await getRequest(aws, outcome.requestId);
    expect(stored?.review).toBeUndefined();
    const limited = (await readChain(aws, outcome.requestId)).find((r) => r.kind === 'rate-limited');
    expect(limited?.data).toMatchObject({
      outcome: 'check-failed',
      agentId: 'broken-bot',
      actionClass: 'iam',
    });
  });
});

describe('the flood alert in Record', () => {
  it('one alert card per agent, class and window; a Slack failure is audited, the denial stands, the next intent alerts', async () => {
    clock = new Date('2026-12-02T10:30:01.000Z');
    slack.reset();
    const deps = evaluateDeps({ limit: 1, windowSeconds: 60 });
    const run = async () => {
      const state = event(makeIntent({ intentId: newIntentId() }), 'flood-bot');
      const evaluation = await evaluate(deps, state);
      return record(recordDeps(), { ...state, evaluation });
    };
    // Within the quota: a review (Record runs only after it).
    expect((await evaluate(deps, event(makeIntent({ intentId: newIntentId() }), 'flood-bot'))).outcome).toBe(
      'review',
    );
    // Slack refuses the first over-quota intent's alert: its denial stands, the failure is audited.
    slack.setFailure('chat.postMessage', 'internal_error', 1);
    const refused = await run();
    expect(refused.status).toBe('DENIED');
    expect(refused.reason).toMatch(/^rate limited/);
    const refusedChain = await readChain(aws, refused.intentId);
    expect(refusedChain.find((r) => r.kind === 'flood-alerted')?.data).toMatchObject({ posted: false });
    expect(refusedChain.at(-1)?.data.final).toBe(true);
    expect(alerts()).toHaveLength(0);
    // The next over-quota intent of the flood posts the one alert; later ones post nothing.
    const alerted = await run();
    const later = [await run(), await run()];
    expect([alerted, ...later].map((d) => d.status)).toEqual(['DENIED', 'DENIED', 'DENIED']);
    expect(alerts()).toHaveLength(1);
    const card = JSON.stringify(alerts()[0]!.blocks);
    expect(card).toContain('flood-bot');
    expect(card).toContain('1/minute (default-quota)');
    expect(card).toContain('3 intents in this window');
    expect(
      (await readChain(aws, alerted.intentId)).find((r) => r.kind === 'flood-alerted')?.data,
    ).toMatchObject({
      posted: true,
      channel: CHANNEL,
    });
    for (const d of later)
      expect((await readChain(aws, d.intentId)).some((r) => r.kind === 'flood-alerted')).toBe(false);
    // A new window is a new flood: one more alert.
    clock = new Date('2026-12-02T10:31:01.000Z');
    await run();
    await run();
    expect(alerts()).toHaveLength(2);
  });
});
