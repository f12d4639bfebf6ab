/**
 * Attacker goal: slow every other agent's reviews by keeping the loop busy.
 * A compromised agent publishes hundreds of intents at once that policy will
 * deny anyway (no card, nothing for the quota's alert to show a human), so
 * that the loop is still working through them when another agent's intent
 * arrives. The safe outcome: every flooded intent ends DENIED and audited,
 * and the other agent's intent, published after the whole flood, is reviewed
 * (its card posted) before a quarter of the flood is through.
 *
 * On AWS each invocation runs in an environment of its own, so a flood
 * delays nobody's Evaluate. The sandbox runs them all in one process and
 * gives each agent its own share of it (sandbox/agent-share.ts); this is the
 * proof that the share holds against a flood sent through PutEvents.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeIntent } from '../support/fixtures.js';
import { eventually, newIntentId, USER } from '../support/loop.js';
import { type Sandbox, startSandbox } from './support.js';

const FLOOD = 200;
let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox?.close());

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
    const floodIds = new Set(flood.map((i) => i.intentId));
    const floodDecided = () =>
      sandbox.loop.decisions.filter((e) => floodIds.has((e.detail as { intentId: string }).intentId)).length;
    const victim = makeIntent({ intentId: newIntentId() });

    // Act: the whole flood at once (PutEvents takes 10 entries a call), then the other agent.
    const batches = Array.from({ length: FLOOD / 10 }, (_, b) => flood.slice(b * 10, b * 10 + 10));
    const entries = (
      await Promise.all(batches.map((batch) => sandbox.put(batch, { agentId: 'report-bot' })))
    ).flat();
    expect(entries.filter((e) => 'EventId' in e)).toHaveLength(FLOOD);
    const [sent] = await sandbox.put([victim], { agentId: 'deploy-bot' });
    expect(sent).toHaveProperty('EventId');
    await eventually(
      async () => ((await sandbox.view(victim.intentId))?.request.card ? true : undefined),
      60_000,
    );
    const decidedWhenCarded = floodDecided();

    // Assess: the card came before a quarter of the flood was through (with no share: about 90 of 200).
    expect(decidedWhenCarded).toBeLessThan(FLOOD / 4);
    await eventually(() => (floodDecided() === FLOOD ? true : undefined), 120_000);
    for (const intent of flood.filter((_, i) => i % 20 === 0)) {
      const view = await sandbox.final(intent.intentId);
      expect(view.status).toBe('DENIED');
      expect(view.decision?.reason).toMatch(/deny-account-destruction|denied by policy/i);
      expect(view.audit.some((r) => r.kind === 'policy-evaluated')).toBe(true);
      expect(view.request.card).toBeUndefined();
    }
    await sandbox.reviewOpen(victim.intentId);
    await sandbox.click(USER.alice, 'approve', victim.intentId);
    expect((await sandbox.final(victim.intentId)).status).toBe('APPROVED');
    await sandbox.assertHealthy();
  }, 240_000);
});
