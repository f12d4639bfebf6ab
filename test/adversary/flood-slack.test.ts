/**
 * Attacker goal: get past Slack's rate limits or lose requests in the crush.
 * A compromised agent floods the bus with intents, all for the approval
 * channel, faster than Slack accepts cards there (about one a second per
 * channel, after a short burst). Safe outcome, against the rate-limited fake
 * Slack: Slack never accepts more cards in the channel than its limit allows,
 * every 429 is retried no sooner than its `Retry-After`, and no request is
 * lost or doubled: each ends with exactly one card, or with an audited
 * decision, and an approver can decide every carded one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlackRecordedCall } from '../../sandbox/fake-slack.js';
import { SLACK_RATE_LIMITS } from '../../sandbox/slack-rate-limits.js';
import { DEMO, makeIntent } from '../support/fixtures.js';
import { eventually, USER } from '../support/loop.js';
import { type Sandbox, startSandbox } from './support.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
}, 180_000);
afterAll(() => sandbox?.close());

const FLOOD = 15;
const posting = SLACK_RATE_LIMITS['chat.postMessage']!;

const mentions = (call: SlackRecordedCall, intentId: string) =>
  JSON.stringify(call.params).includes(intentId);

describe('flood the approval channel', () => {
  it('an agent floods intents: Slack’s channel limit holds, 429s are waited out, nothing is lost', {
    timeout: 180_000,
  }, async () => {
    // Prepare
    const intents = Array.from({ length: FLOOD }, (_, i) =>
      makeIntent({ justification: `Flood ${i}: rotate the payments credentials (INC-4211).` }),
    );
    const ids = intents.map((i) => i.intentId);
    const firstCall = sandbox.loop.slack!.calls.length;

    // Act: as fast as PutEvents allows (ten entries a call)
    const entries = [...(await sandbox.put(intents.slice(0, 10))), ...(await sandbox.put(intents.slice(10)))];
    expect(entries.every((e) => e.EventId)).toBe(true);
    // Every request reaches a card or a final decision.
    const settled = await eventually(async () => {
      const views = await Promise.all(ids.map((id) => sandbox.view(id)));
      return views.every((v) => v?.request.card || v?.request.finalizedAt) ? views : undefined;
    }, 60_000);

    // Assess: the cards Slack accepted in the channel never beat one a second plus the burst
    const posts = sandbox.loop
      .slack!.calls.slice(firstCall)
      .filter((c) => c.method === 'chat.postMessage' && c.params.channel === DEMO.channel);
    const accepted = posts.filter((c) => c.status === 200).map((c) => c.at);
    for (let i = 0; i < accepted.length; i++) {
      for (let j = i; j < accepted.length; j++) {
        const allowed = posting.burst + ((accepted[j]! - accepted[i]!) / 60_000) * posting.perMinute;
        expect(j - i + 1).toBeLessThanOrEqual(allowed);
      }
    }
    // ... the card poster paces the channel itself (a bucket inside Slack's), so a refusal is rare; any
    // refused card (another handler may post in the channel meanwhile) came back no sooner than Slack asked
    expect(accepted.length).toBeGreaterThan(0);
    const refused = posts.filter((c) => c.status === 429 && ids.some((id) => mentions(c, id)));
    for (const call of refused) {
      const id = ids.find((intentId) => mentions(call, intentId));
      const retry = posts.find((c) => c.at > call.at && mentions(c, id!));
      if (retry) expect(retry.at - call.at).toBeGreaterThanOrEqual(call.retryAfter! * 1000);
      else expect(settled.find((v) => v?.request.intentId === id)?.request.finalizedAt).toBeDefined();
    }
    // ... and no card was posted twice
    for (const id of ids) {
      const cards = sandbox.loop
        .slack!.sent('chat.postMessage')
        .filter(
          (m) => m.channel === DEMO.channel && JSON.stringify(m.blocks ?? []).includes(`"value":"${id}`),
        );
      expect(cards.length).toBeLessThanOrEqual(1);
    }

    // Act: an approver works through the channel
    for (const view of settled) {
      if (view?.request.card && !view.request.finalizedAt) {
        expect(await sandbox.click(USER.alice, 'approve', view.request.intentId)).toBe(200);
      }
    }

    // Assess: every request ends once, audited; carded ones approved, the rest denied closed
    for (const id of ids) {
      const final = await sandbox.final(id, 60_000);
      expect(final.audit.filter((r) => r.data.final === true)).toHaveLength(1);
      expect(await sandbox.decisions(id)).toHaveLength(1);
      expect(final.status).toBe(final.request.card ? 'APPROVED' : 'DENIED');
    }
  });

  it('after the flood the loop is healthy', async () => {
    await sandbox.assertHealthy();
  });
});
