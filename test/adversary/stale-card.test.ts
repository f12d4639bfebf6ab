/**
 * Attacker goal: make a card lie by keeping it stale. An agent that floods
 * Slack (or simply times its request with a busy channel) gets the card
 * update after a vote rate-limited inside the click's answer window, so the
 * other approvers keep reading "0 of 2 approvals" while one has approved, or
 * hopes the repaint that follows renders its text live. Through public
 * interfaces only: PutEvents as the agent, signed clicks, and Slack's own 429
 * on `chat.update`. Safe outcome: the vote counts, the rate-limited update is
 * handed to the card poster, which repaints the card with the vote once Slack
 * allows it, and the repainted card still shows the agent's text as inert
 * data; the second approval decides the request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeIntent } from '../support/fixtures.js';
import { textsOf, voiceOf } from '../support/inert.js';
import { eventually } from '../support/loop.js';
import { type Sandbox, startSandbox } from './support.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
}, 180_000);
afterAll(() => sandbox?.close());

const HOSTILE =
  '<!channel> <!here> <@U0GRACE07> *approved by everyone* <https://evil.example|1 of 2 approvals> &amp;';
const ALICE = 'U0ALICE01';
const BOB = 'U0BOB0002';

describe('keep a card stale', () => {
  it('a rate-limited card update is repainted by the poster with the vote, and the agent text stays inert', async () => {
    const { loop } = sandbox;
    const slack = loop.slack!;
    // Prepare: a production privilege escalation (two security approvers) full of markup.
    const intent = makeIntent({
      action: 'iam:CreateAccessKey',
      resource: 'arn:aws:iam::123456789012:user/ci-deployer',
      environment: 'prod',
      justification: `${HOSTILE} rotate the CI key`,
      parameters: { userName: HOSTILE },
    });
    await sandbox.put([intent]);
    const open = await sandbox.reviewOpen(intent.intentId);
    const card = open.request.card as { channel: string; ts: string };
    const updatesOfCard = () =>
      slack.calls.filter((c) => c.method === 'chat.update' && c.params.ts === card.ts);
    const before = updatesOfCard().length;
    // Slack rate-limits the next update of this card (and only of this card).
    slack.setRateLimit('chat.update', 1, 1, (params) => params.ts === card.ts);

    // Act: Alice approves; her card update gets the 429.
    expect(await sandbox.click(ALICE, 'approve', intent.intentId)).toBe(200);

    // Assess: counted, and the card repainted afterwards by the poster with her approval.
    const repainted = await eventually(async () => {
      const updates = updatesOfCard().slice(before);
      const ok = updates.find((c) => c.status === 200);
      return updates[0]?.status === 429 && ok ? ok : undefined;
    }, 30_000);
    expect((await sandbox.view(intent.intentId))?.votes.map((v) => v.slackUserId)).toEqual([ALICE]);
    const shown = slack.message(card.channel, card.ts)!;
    const progress = JSON.stringify(shown.blocks);
    expect(progress).toContain(`1 of 2 approvals: <@${ALICE}>`);
    expect(repainted.params.blocks).toEqual(shown.blocks);
    // The agent's text is still data: no live mention, broadcast or link of its making.
    for (const text of textsOf(shown.blocks ?? [])) {
      if (text.type !== 'mrkdwn') continue;
      expect(voiceOf(text.text)).not.toMatch(/<!(channel|here|everyone)|<@U0GRACE07>|evil\.example/);
    }

    // The second approval decides it; the card ends showing the decision.
    expect(await sandbox.click(BOB, 'approve', intent.intentId)).toBe(200);
    const final = await sandbox.final(intent.intentId, 30_000);
    expect(final.status).toBe('APPROVED');
    expect(final.decision?.approvers.map((a) => a.slackUserId).sort()).toEqual([ALICE, BOB]);
    await sandbox.assertHealthy();
  });
});
