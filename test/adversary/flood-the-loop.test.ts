/**
 * Attacker goal: slow every other agent's reviews by keeping the loop busy.
 * A compromised agent publishes hundreds of intents at once that policy will
 * deny anyway (no card, nothing for the quota's alert to show a human), so
 * that the loop is still working through them when another agent's intent
 * arrives. The safe outcome: every flooded intent ends DENIED and audited,
 * and the other agent's intent, published after the whole flood, is reviewed
 * (its card posted) before a quarter of the flood is through.
 *
 * It also spreads the flood over sources it invents, each of which would
 * get a share of its own if the share followed any source: unregistered
 * sources share one turn between them.
 *
 * The same agent also picks intent ids that would all land in one partition
 * of the audit index if its shard followed the id: the records still spread
 * over the hour's shards (the shard is drawn per record).
 *
 * On AWS each invocation runs in an environment of its own, so a flood
 * delays nobody's Evaluate. The sandbox runs them all in one process and
 * gives each agent its own share of it (sandbox/agent-share.ts); this is the
 * proof that the share holds against a flood sent through PutEvents.
 */
import { createHash } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_HOUR_INDEX, auditHour, auditHourKeys } from '../../lambdas/shared/audit.js';
import type { Intent } from '../../lambdas/shared/intent.js';
import { makeIntent } from '../support/fixtures.js';
import { eventually, newIntentId, USER } from '../support/loop.js';
import { type Sandbox, startSandbox } from './support.js';

const FLOOD = 200;
let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox?.close());

/**
 * Publishes the whole flood at once (PutEvents takes 10 entries a call, each
 * batch from `sourceOf(batch)`), then one intent of deploy-bot, and waits for
 * that intent's card. Returns how much of the flood was decided by then, once
 * the whole flood is decided.
 */
async function floodThenAnother(
  flood: Intent[],
  sourceOf: (batch: number) => string,
): Promise<{ decidedWhenCarded: number; other: Intent }> {
  const floodIds = new Set(flood.map((i) => i.intentId));
  const floodDecided = () =>
    sandbox.loop.decisions.filter((e) => floodIds.has((e.detail as { intentId: string }).intentId)).length;
  const other = makeIntent({ intentId: newIntentId() });
  const batches = Array.from({ length: flood.length / 10 }, (_, b) => flood.slice(b * 10, b * 10 + 10));
  const entries = (
    await Promise.all(batches.map((batch, b) => sandbox.put(batch, { agentId: sourceOf(b) })))
  ).flat();
  expect(entries.filter((e) => 'EventId' in e)).toHaveLength(flood.length);
  const [sent] = await sandbox.put([other], { agentId: 'deploy-bot' });
  expect(sent).toHaveProperty('EventId');
  await eventually(
    async () => ((await sandbox.view(other.intentId))?.request.card ? true : undefined),
    60_000,
  );
  const decidedWhenCarded = floodDecided();
  await eventually(() => (floodDecided() === flood.length ? true : undefined), 120_000);
  return { decidedWhenCarded, other };
}

describe('flood the loop', () => {
  it('another agent’s intent sent after a flood of 200 is carded before a quarter of the flood is through; every flooded intent is denied and audited', async () => {
    // Prepare: what report-bot may send (dev only), and policy denies in any environment.
    const flood = Array.from({ length: FLOOD }, () =>
      makeIntent({
        intentId: newIntentId(),
        action: 'organizations:LeaveOrganization',
        resource: 'o-abc123',
        environment: 'dev',
        agent: { owner: 'frank@example.com' },
      }),
    );
    // Act
    const { decidedWhenCarded, other } = await floodThenAnother(flood, () => 'report-bot');
    // Assess: the card came before a quarter of the flood was through (with no share: about 90 of 200).
    expect(decidedWhenCarded).toBeLessThan(FLOOD / 4);
    for (const intent of flood.filter((_, i) => i % 20 === 0)) {
      const view = await sandbox.final(intent.intentId);
      expect(view.status).toBe('DENIED');
      expect(view.decision?.reason).toMatch(/deny-account-destruction|denied by policy/i);
      expect(view.audit.some((r) => r.kind === 'policy-evaluated')).toBe(true);
      expect(view.request.card).toBeUndefined();
    }
    await sandbox.reviewOpen(other.intentId);
    await sandbox.click(USER.alice, 'approve', other.intentId);
    expect((await sandbox.final(other.intentId)).status).toBe('APPROVED');
    await sandbox.assertHealthy();
  }, 240_000);

  it('a flood spread over 20 invented sources takes one share between them: another agent is still carded first', async () => {
    // Prepare: no registered agent behind these sources (the sandbox's bus takes any; AWS's IAM would not).
    const flood = Array.from({ length: FLOOD }, () => makeIntent({ intentId: newIntentId() }));
    // Act: each batch of 10 from a source of its own.
    const { decidedWhenCarded, other } = await floodThenAnother(flood, (b) => `flood-bot-${b}`);
    // Assess (with a share per source: about 94 of 200).
    expect(decidedWhenCarded).toBeLessThan(FLOOD / 4);
    for (const intent of flood.filter((_, i) => i % 20 === 0)) {
      const view = await sandbox.final(intent.intentId);
      expect(view.status).toBe('DENIED');
      expect(view.audit[0]).toMatchObject({ kind: 'rejected' });
    }
    await sandbox.click(USER.alice, 'approve', other.intentId);
    expect((await sandbox.final(other.intentId)).status).toBe('APPROVED');
  }, 240_000);

  it('intent ids chosen to crowd one audit index partition: the records still spread over the hour\u2019s shards', async () => {
    // Prepare: ids whose SHA-256 starts with a multiple of 8, which would all share a shard if the
    // shard followed the id (it does not: it is drawn per record).
    const ids: string[] = [];
    for (let n = 0; ids.length < 24; n++) {
      const id = `crowd-${n}-${newIntentId()}`;
      if (createHash('sha256').update(id).digest()[0]! % 8 === 0) ids.push(id);
    }
    const intents = ids.map((intentId) =>
      makeIntent({
        intentId,
        action: 'organizations:LeaveOrganization',
        resource: 'o-abc123',
        environment: 'dev',
        agent: { owner: 'frank@example.com' },
      }),
    );
    // Act
    const began = new Date().toISOString();
    await Promise.all(
      [0, 10, 20].map((at) => sandbox.put(intents.slice(at, at + 10), { agentId: 'report-bot' })),
    );
    const views = await Promise.all(ids.map((id) => sandbox.final(id, 60_000)));
    // Assess: every audit row of these requests, by the index key it was written under.
    const hours = new Set([auditHour(began), auditHour(new Date().toISOString())]);
    const byKey = new Map<string, number>();
    for (const key of [...hours].flatMap((hour) => auditHourKeys(hour))) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const out = await sandbox.loop.aws.ddb.send(
          new QueryCommand({
            TableName: sandbox.loop.aws.table,
            IndexName: AUDIT_HOUR_INDEX,
            KeyConditionExpression: 'auditHour = :key',
            ExpressionAttributeValues: { ':key': key },
            ExclusiveStartKey: startKey,
          }),
        );
        const ours = (out.Items ?? []).filter((item) =>
          ids.includes(String(item.pk).slice('REQUEST#'.length)),
        );
        if (ours.length > 0) byKey.set(key, (byKey.get(key) ?? 0) + ours.length);
        startKey = out.LastEvaluatedKey;
      } while (startKey);
    }
    const rows = views.reduce((sum, view) => sum + view.audit.length, 0);
    expect([...byKey.values()].reduce((a, b) => a + b, 0)).toBe(rows);
    expect([...byKey.keys()].every((key) => key.includes('#'))).toBe(true);
    expect(byKey.size).toBeGreaterThanOrEqual(4);
    expect(Math.max(...byKey.values())).toBeLessThanOrEqual(rows / 2);
  }, 120_000);
});
