/**
 * Attacker goal: bury the approvers — flood the approval channel so another
 * agent's review never reaches a human, make the queue message render markup
 * or ping people, or lose requests in the flood. Through public interfaces
 * only: PutEvents as the agent, and cancellations. Safe outcome: above the
 * backlog threshold one queue message stands in for the flood and shows
 * agent ids as inert code, the other agent's first card is still posted,
 * an unregistered hostile agent id never reaches the queue, and every
 * request ends with a card or an audited decision.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBacklogMessage } from '../../lambdas/shared/card-queue.js';
import { CANCEL_DETAIL_TYPE } from '../../lambdas/shared/intent.js';
import { makeIntent } from '../support/fixtures.js';
import { voiceOf } from '../support/inert.js';
import { eventually } from '../support/loop.js';
import { type Sandbox, startSandbox } from './support.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
}, 180_000);
afterAll(() => sandbox?.close());

const HOSTILE = '<!channel> <!here> <@U0ALICE01> *bold* _it_ ~s~ `code` <https://evil.example|click> &amp;';

describe('flood the channel', () => {
  it('a flood cannot starve another agent, render markup in the queue message, or lose a request', async () => {
    const { loop } = sandbox;
    const store = { ddb: loop.aws.ddb, table: loop.aws.table };
    const channel = loop.slack!.sent('chat.postMessage')[0]?.channel ?? 'C0APPROVAL';
    // Prepare: 24 hostile intents from deploy-bot, more than the backlog threshold (20).
    const flood = Array.from({ length: 24 }, (_, i) =>
      makeIntent({
        justification: `${HOSTILE} ${'x'.repeat(3000)} #${i}`,
        parameters: { policyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess', roleName: HOSTILE },
      }),
    );
    // An agent id nobody registered, full of markup: refused before any queue.
    const stranger = makeIntent();

    // Act
    // PutEvents takes ten entries a call.
    for (let i = 0; i < flood.length; i += 10) await sandbox.put(flood.slice(i, i + 10));
    await sandbox.put([stranger], { agentId: '<!channel>*x*' });
    const queueMessage = await eventually(async () => {
      const shown = await readBacklogMessage(store, channel);
      return shown?.open ? shown : undefined;
    }, 60_000);
    const other = makeIntent({
      action: 'data:Read',
      resource: 'arn:aws:s3:::dev-reports',
      environment: 'dev',
      justification: 'Weekly churn report.',
      parameters: { dataset: 'customers-eu', rowLimit: 10 },
      agent: { owner: 'frank@example.com', onBehalfOf: 'carol@example.com' },
    });
    await sandbox.put([other], { agentId: 'report-bot' });

    // Assess: the other agent's first card is posted despite the backlog.
    const otherView = await sandbox.reviewOpen(other.intentId);
    expect(otherView.request.card).toBeDefined();
    // The queue message: counts and inert agent ids, no live mention or link of anyone's making.
    const shown = loop.slack!.message(queueMessage.channel, queueMessage.ts)!;
    const texts = JSON.stringify(shown.blocks);
    expect(texts).toContain('`deploy-bot`');
    for (const block of shown.blocks as { text?: { text: string }; elements?: { text: string }[] }[]) {
      for (const text of [block.text?.text, ...(block.elements ?? []).map((e) => e.text)]) {
        if (!text) continue;
        const voice = voiceOf(text);
        expect(voice).not.toMatch(/<!(channel|here|everyone)|<@|evil\.example/);
      }
    }
    expect(texts).not.toContain('xxxxxxxxxx');
    // Far fewer cards than requests: the flood did not become a wall of cards.
    const floodCards = flood.filter((i) =>
      loop
        .slack!.sent('chat.postMessage')
        .some((m) => JSON.stringify(m.blocks ?? []).includes(`"value":"${i.intentId}`)),
    );
    expect(floodCards.length).toBeLessThan(flood.length);

    // The flooder gives up: every request ends with a card or an audited decision, nothing is lost.
    for (let i = 0; i < flood.length; i += 10)
      await sandbox.put(
        flood.slice(i, i + 10).map((f) => ({ intentId: f.intentId, reason: 'flood over' })),
        { agentId: 'deploy-bot', detailType: CANCEL_DETAIL_TYPE },
      );
    for (const intent of flood) {
      const view = await sandbox.final(intent.intentId, 60_000);
      expect(['CANCELLED', 'APPROVED', 'DENIED', 'EXPIRED']).toContain(view.status);
      expect(view.audit.filter((r) => r.data.final === true)).toHaveLength(1);
    }
    const refused = await sandbox.final(stranger.intentId, 30_000);
    expect(refused.status).toBe('DENIED');
    expect(refused.audit[0]).toMatchObject({ kind: 'rejected' });
    expect(refused.request.card).toBeUndefined();
    // The sweep's next run sees the queue below the threshold: the same message now says so.
    await loop.poster.kick('sweep');
    await eventually(async () =>
      (await readBacklogMessage(store, channel))?.open === false ? true : undefined,
    );
    expect(JSON.stringify(loop.slack!.message(queueMessage.channel, queueMessage.ts)?.blocks)).toMatch(
      /queue (is clear|is back to normal)/,
    );
  });
});
