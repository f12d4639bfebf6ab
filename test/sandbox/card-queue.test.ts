/**
 * The card queue in the whole loop: one agent floods the channel with
 * reviews, another agent sends one; the second agent's card is posted while
 * the flooder's backlog still waits (cards are interleaved by each agent's
 * rank), at the channel's pace, and every flooded request still gets its card.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { listQueue } from '../../lambdas/shared/card-queue.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { makeIntent } from '../support/fixtures.js';
import { cardFor, click, decisionFor, eventually, publish, sharedLoop, USER } from '../support/loop.js';

let loop: CountersignLoop;
// Starting the loop synthesizes the stack: on a loaded machine, first in a run, that can take a minute.
beforeAll(async () => {
  loop = await sharedLoop();
}, 180_000);

/** A customer-data read in dev by report-bot: reviewed (policy review-customer-data). */
const reportIntent = () =>
  makeIntent({
    action: 'data:Read',
    resource: 'arn:aws:s3:::dev-reports',
    environment: 'dev',
    justification: 'Weekly churn report.',
    parameters: { dataset: 'customers-eu', rowLimit: 10 },
    agent: { owner: 'frank@example.com', onBehalfOf: 'carol@example.com' },
  });

describe('card queue in the loop', () => {
  it('a flooding agent cannot hold back another agent’s first card', async () => {
    // Prepare: deploy-bot floods twelve production IAM reviews.
    const flood = Array.from({ length: 12 }, () => makeIntent());
    for (const intent of flood) publish(loop, intent);
    const queueDeps = { ddb: loop.aws.ddb, table: loop.aws.table };
    const channel = loop.slack!.sent('chat.postMessage')[0]?.channel ?? 'C0APPROVAL';
    await eventually(
      async () => ((await listQueue(queueDeps, channel)).length >= 6 ? true : undefined),
      20_000,
    );

    // Act: report-bot's single review arrives behind the backlog.
    const other = reportIntent();
    publish(loop, other, 'report-bot');
    const otherCard = await eventually(() => cardFor(loop, other.intentId), 20_000);

    // Assess: it was posted while most of the flood still waited for its cards.
    const postedFlood = flood.filter((i) => cardFor(loop, i.intentId)).length;
    expect(postedFlood).toBeLessThanOrEqual(flood.length - 5);

    // Nothing is lost: every flooded request gets its card, at the channel's pace, and can be decided.
    for (const intent of flood) await eventually(() => cardFor(loop, intent.intentId), 30_000);
    const order = loop.slack!.sent('chat.postMessage');
    const otherAt = order.indexOf(otherCard);
    const floodAfter = flood.filter((i) => order.indexOf(cardFor(loop, i.intentId)!) > otherAt);
    expect(floodAfter.length).toBeGreaterThanOrEqual(5);
    const ts = flood.map((i) => Number(cardFor(loop, i.intentId)!.ts));
    expect(new Set(ts).size).toBe(flood.length);
    for (const intent of flood) await click(loop, USER.alice, 'approve', intent.intentId);
    for (const intent of flood) {
      const decided = await eventually(() => decisionFor(loop, intent.intentId), 20_000);
      expect(decided.detail.status).toBe('APPROVED');
    }
    // report-bot's review had the test default timeout (2 s): it ended, audited, either way.
    expect(await eventually(() => decisionFor(loop, other.intentId), 20_000)).toBeDefined();
  });
});
