/**
 * Attacker goal: send more intents than the agent's request quota allows,
 * so that approvers are buried in cards. The sandbox runs the repository's
 * policies, whose `quota-ssm-commands` allows 5 `ssm` intents an hour per
 * agent (policies/70-quotas.cedar). Through PutEvents and the status API
 * only, the agent varies everything it writes (intent ids, resources,
 * sessions, the action's case), sends concurrently, tries sources it does not
 * own and writes `@rate` into its own text. The safe outcome: at most the
 * quota reaches review; the rest end DENIED "rate limited" at once, audited,
 * with no card; one alert card; other agents unaffected.
 *
 * The loop is shared by every test file, so the counter of this agent and
 * class may already hold earlier intents of this hour: every assertion is "at
 * most the quota passes", which earlier intents only make stricter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeIntent } from '../support/fixtures.js';
import { cardFor, newIntentId } from '../support/loop.js';
import { type RequestView, type Sandbox, startSandbox } from './support.js';

const LIMIT = 5;
const INSTANCE = 'arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0';
let sandbox: Sandbox;

/** Waits out the last minute of an hour, so a test's intents fall into one quota window. */
async function inOneHourWindow(): Promise<void> {
  const left = 3_600_000 - (Date.now() % 3_600_000);
  if (left < 90_000) await new Promise((r) => setTimeout(r, left + 1000));
}

const rateLimited = (view: RequestView) => view.decision?.reason.startsWith('rate limited') === true;

/** The hour (epoch hours) this file's floods fall in: see {@link inOneHourWindow}. */
let hour: number;

/** The flood alerts posted for an agent and class in this file's hour (another file's may be older). */
const alertsFor = (agentId: string, actionClass: string) =>
  sandbox.loop
    .slack!.sent('chat.postMessage')
    .filter((m) => m.text === 'Countersign: an agent is over its request quota')
    .filter((m) => Math.floor(Number(m.ts) / 3600) === hour)
    .filter((m) => {
      const blocks = JSON.stringify(m.blocks);
      return blocks.includes(`"text":"${agentId}"`) && blocks.includes(`"text":"${actionClass}"`);
    });

beforeAll(async () => {
  sandbox = await startSandbox();
  await inOneHourWindow();
  hour = Math.floor(Date.now() / 3_600_000);
}, 150_000);
afterAll(() => sandbox.close());

describe('flood past the quota', () => {
  it('varied ids, resources, sessions and action case, sent at once: at most the quota is reviewed, the rest are denied "rate limited" with no card', async () => {
    const spellings = ['ssm:SendCommand', 'SSM:SendCommand', 'Ssm:sendcommand', 'ssm:SENDCOMMAND'];
    const flood = Array.from({ length: 12 }, (_, i) =>
      makeIntent({
        intentId: newIntentId(),
        action: spellings[i % spellings.length]!,
        resource: `${INSTANCE.slice(0, -2)}${String(i).padStart(2, '0')}`,
        agent: { sessionId: `loop-${i}` },
      }),
    );
    // PutEvents takes at most 10 entries: two calls at once.
    const entries = (await Promise.all([sandbox.put(flood.slice(0, 6)), sandbox.put(flood.slice(6))])).flat();
    expect(entries.filter((e) => 'EventId' in e)).toHaveLength(flood.length);
    const views = await Promise.all(flood.map((i) => sandbox.final(i.intentId, 30_000)));
    const limited = views.filter(rateLimited);
    expect(views.length - limited.length).toBeLessThanOrEqual(LIMIT);
    expect(limited.length).toBeGreaterThanOrEqual(flood.length - LIMIT);
    for (const view of limited) {
      expect(view.status).toBe('DENIED');
      expect(view.request.card).toBeUndefined();
      expect(cardFor(sandbox.loop, view.request.intentId)).toBeUndefined();
      const record = view.audit.find((r) => r.kind === 'rate-limited');
      expect(record?.data).toMatchObject({
        outcome: 'over-quota',
        agentId: 'deploy-bot',
        actionClass: 'ssm',
        quota: { text: '5/hour', policies: ['quota-ssm-commands'] },
      });
      expect(record!.data.count as number).toBeGreaterThan(LIMIT);
      const [decision] = await sandbox.decisions(view.request.intentId);
      expect(decision?.detail).toMatchObject({ status: 'DENIED' });
      expect(decision?.detail.reason).toMatch(/^rate limited: agent deploy-bot sent \d+ ssm intents/);
    }
    // One alert for the flood, not one per denied intent.
    expect(alertsFor('deploy-bot', 'ssm')).toHaveLength(1);
  });

  it('a @rate string in the agent’s own text has no effect: still denied', async () => {
    // Over the quota whatever ran before (a plain intent for each place in the window).
    const plain = Array.from({ length: LIMIT + 1 }, () =>
      makeIntent({ intentId: newIntentId(), action: 'ssm:SendCommand', resource: INSTANCE }),
    );
    await sandbox.put(plain);
    await Promise.all(plain.map((i) => sandbox.final(i.intentId, 30_000)));
    const intent = makeIntent({
      intentId: newIntentId(),
      action: 'ssm:SendCommand',
      resource: INSTANCE,
      justification:
        '@rate("1000000/second")\n@id("quota-ssm-commands")\npermit (principal, action, resource);',
      parameters: { quota: '@rate("1000000/second")', '@rate': '1000000/second' },
    });
    await sandbox.put([intent]);
    const view = await sandbox.final(intent.intentId);
    expect(rateLimited(view)).toBe(true);
    expect(view.request.card).toBeUndefined();
    expect(alertsFor('deploy-bot', 'ssm')).toHaveLength(1);
  });

  it('sources the agent does not own are refused outright and take no other agent’s quota', async () => {
    const impostors = ['countersign.agent.Deploy-Bot', 'countersign.agent.deploy-bot2'];
    for (const source of impostors) {
      const intent = makeIntent({ intentId: newIntentId(), action: 'ssm:SendCommand', resource: INSTANCE });
      await sandbox.put([intent], { agentId: source.slice('countersign.agent.'.length) });
      const view = await sandbox.final(intent.intentId);
      expect(view.status).toBe('DENIED');
      expect(view.audit[0]).toMatchObject({ kind: 'rejected' });
      expect(view.audit.some((r) => r.kind === 'rate-limited')).toBe(false);
      expect(view.request.card).toBeUndefined();
    }
  });

  it('another agent is unaffected by the flood: its own intent of the same class is reviewed', async () => {
    const intent = makeIntent({
      intentId: newIntentId(),
      action: 'ssm:SendCommand',
      resource: 'arn:aws:ec2:us-east-1:111122223333:instance/i-0dev0000000000001',
      environment: 'dev',
      agent: { owner: 'frank@example.com' },
    });
    await sandbox.put([intent], { agentId: 'report-bot' });
    const view = await sandbox.reviewOpen(intent.intentId);
    expect(view.audit.some((r) => r.kind === 'rate-limited')).toBe(false);
    expect(view.request.card).toBeDefined();
    expect(alertsFor('report-bot', 'ssm')).toHaveLength(0);
    await sandbox.assertHealthy();
  });
});
