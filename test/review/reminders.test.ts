/**
 * Reminders and escalation without polling: the Review step schedules one-off
 * wake-ups (the local scheduler stands in for EventBridge Scheduler and runs
 * the real reminder handler), reminders go to the card's thread, escalation to
 * the escalation group; a wake-up after the decision or expiry does nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remind } from '../../lambdas/reminder/core.js';
import { atExpression } from '../../lambdas/review/scheduler.js';
import { readChain } from '../../lambdas/shared/audit.js';
import { wakeUps } from '../../lambdas/shared/reminders.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { type Harness, startHarness } from '../interaction/harness.js';
import { makeIntent } from '../support/fixtures.js';
import {
  decisionFor,
  denyWithReason,
  eventually,
  newIntentId,
  publish,
  request,
  reviewOpen,
  sharedLoop,
  USER,
  verifiedChain,
} from '../support/loop.js';

let loop: CountersignLoop;
let h: Harness;
beforeAll(async () => {
  loop = await sharedLoop();
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe('wake-up times (pure)', () => {
  it('one per reminder, and an escalation halfway between the last reminder and expiry; past times dropped', () => {
    const expiresAt = new Date('2026-01-01T12:00:00Z');
    const plan = {
      remindBeforeSeconds: [300, 900],
      escalateTo: ['group:security-leads'],
      timeoutSeconds: 1800,
    };
    expect(wakeUps(plan, expiresAt, new Date('2026-01-01T11:30:00Z'))).toEqual([
      { at: new Date('2026-01-01T11:45:00Z'), payload: { kind: 'reminder', beforeSeconds: 900 } },
      { at: new Date('2026-01-01T11:55:00Z'), payload: { kind: 'reminder', beforeSeconds: 300 } },
      { at: new Date('2026-01-01T11:57:30Z'), payload: { kind: 'escalation', beforeSeconds: 150 } },
    ]);
    expect(wakeUps(plan, expiresAt, new Date('2026-01-01T11:56:00Z')).map((w) => w.payload.kind)).toEqual([
      'escalation',
    ]);
    expect(wakeUps({ ...plan, remindBeforeSeconds: [] }, expiresAt, new Date(0))[0]?.payload).toEqual({
      kind: 'escalation',
      beforeSeconds: 180,
    });
    expect(atExpression(new Date('2026-01-01T11:57:30.250Z'))).toBe('at(2026-01-01T11:57:31)');
  });
});

describe('reminders and escalation through the workflow', () => {
  it('key rotation in prod: the Review step schedules a reminder and an escalation; both post; after the decision they skip', async () => {
    // Prepare: review-prod-key-rotation: timeout 1800 s, remind 600 s before, escalate to security-leads.
    const intent = makeIntent({
      intentId: newIntentId(),
      action: 'kms:RotateKeyOnDemand',
      resource: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      parameters: { keyId: '1234abcd-12ab-34cd-56ef-1234567890ab' },
    });
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    const stored = (await request(loop, intent.intentId))!;
    const expiresAt = Date.parse(stored.expiresAt!);

    // Act + Assess: what was scheduled
    const schedules = await eventually(() => {
      const s = loop.scheduler.for(intent.intentId);
      return s.length === 2 ? s : undefined;
    });
    expect(schedules.map((s) => [s.payload.kind, expiresAt - s.at.getTime()])).toEqual([
      ['reminder', 600_000],
      ['escalation', 300_000],
    ]);
    expect(schedules.every((s) => s.fired === undefined)).toBe(true);

    // The reminder: a reply in the card's thread mentioning the approver group.
    expect(await loop.scheduler.fire(schedules[0]!)).toEqual({ outcome: 'reminded' });
    const reminder = loop
      .slack!.sent('chat.postMessage')
      .filter((m) => m.threadTs === card.ts)
      .at(-1);
    expect(reminder?.text).toMatch(/Reminder <!subteam\^S0SECAPPR\|@security-approvers>.*0 of 1 approval/);

    // The escalation: a channel message mentioning the escalation group, and an audit record.
    expect(await loop.scheduler.fire(schedules[1]!)).toEqual({ outcome: 'escalated' });
    const escalation = loop
      .slack!.sent('chat.postMessage')
      .filter((m) => m.channel === card.channel && !m.threadTs && m.text?.includes('Escalation'))
      .at(-1);
    expect(escalation?.text).toContain('<!subteam^S0SECLEAD|@security-leads>');
    expect(escalation?.text).toContain(intent.resource);
    expect((await verifiedChain(loop, intent.intentId)).at(-1)).toMatchObject({
      kind: 'escalated',
      data: expect.objectContaining({ escalateTo: ['group:security-leads'] }),
    });

    // Decided: a late wake-up does nothing.
    await denyWithReason(loop, USER.bob, intent.intentId);
    await eventually(() => decisionFor(loop, intent.intentId));
    const before = loop.slack!.sent('chat.postMessage').length;
    expect(await loop.scheduler.fire(schedules[0]!)).toEqual({ outcome: 'skipped' });
    expect(loop.slack!.sent('chat.postMessage').length).toBe(before);
  });
});

describe('reminder, escalation, then expiry (reminder core with injected times)', () => {
  it('posts a reminder, then escalates, then skips once the review has expired', async () => {
    // Prepare
    h.reset();
    const created = new Date('2030-01-01T10:00:00Z');
    h.setNow(created);
    const seeded = await h.seed({
      review: {
        timeoutSeconds: 600,
        remindBeforeSeconds: [300],
        escalateTo: ['group:security-leads', 'email:grace@example.com'],
      },
      createdAt: created,
    });
    const deps = { ...h.deps, slack: async () => h.deps.slack };
    const planned = wakeUps(seeded.review!, new Date(seeded.expiresAt!), created);

    // Act
    const outcomes = [];
    for (const { at, payload } of planned) {
      h.setNow(at);
      outcomes.push(await remind(deps, { ...payload, requestId: seeded.intentId }));
    }
    h.setNow(new Date(Date.parse(seeded.expiresAt!) + 1000));
    outcomes.push(await remind(deps, { kind: 'reminder', requestId: seeded.intentId, beforeSeconds: 300 }));

    // Assess
    expect(outcomes).toEqual(['reminded', 'escalated', 'skipped']);
    const thread = h.slack.sent('chat.postMessage').filter((m) => m.threadTs === seeded.card!.ts);
    expect(thread.map((m) => m.text)).toEqual([
      expect.stringMatching(/Reminder .*about 5 min/),
      expect.stringMatching(/Escalated to <!subteam\^S0SECLEAD\|@security-leads> grace@example.com/),
    ]);
    expect(h.slack.sent('chat.postMessage', 'U0GRACE07')[0]?.text).toMatch(/Escalation/);
    const kinds = (await readChain(h.deps, seeded.intentId)).map((r) => r.kind);
    expect(kinds.filter((k) => k === 'escalated')).toHaveLength(1);
  });
});
