/**
 * The card poster against dynalite and the fake Slack: queued cards are
 * posted in queue order at the channel's pace, stored and audited once; a
 * re-run or a retried Review never posts twice; a decided request leaves the
 * queue without a card; one drainer holds a channel at a time; a 429 is
 * waited out or left for the next run; a refused card fails its review; and
 * above the backlog threshold one queue message stands in for the wall of
 * cards, then says the queue is clear.
 */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { drain } from '../../lambdas/poster/core.js';
import { recordDecision } from '../../lambdas/record/core.js';
import { review } from '../../lambdas/review/core.js';
import { readChain } from '../../lambdas/shared/audit.js';
import {
  enqueueCard,
  listQueue,
  listRepaints,
  queuePartition,
  queueRepaint,
  readBacklogMessage,
} from '../../lambdas/shared/card-queue.js';
import { createPosterSlackClient } from '../../lambdas/shared/slack.js';
import { decide, getRequest, type RequestItem, updatePending } from '../../lambdas/shared/store.js';
import {
  FAKE_SLACK_TOKEN,
  loadDirectory,
  type RunningFakeSlack,
  startFakeSlack,
} from '../../sandbox/fake-slack.js';
import { DEMO, seedPendingRequest } from '../support/fixtures.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';
import { posterDeps } from '../support/poster.js';

let aws: LocalAws;
let slack: RunningFakeSlack;
let client: ReturnType<typeof createPosterSlackClient>;
/** The fake workspace's approval channel; its queue partition is emptied before each test. */
const channel = DEMO.channel;
beforeAll(async () => {
  aws = await startLocalAws();
  slack = await startFakeSlack({ directory: loadDirectory() });
  client = createPosterSlackClient(FAKE_SLACK_TOKEN, slack.url);
});
afterAll(async () => {
  await Promise.all([aws?.close(), slack?.close()]);
});
beforeEach(async () => {
  slack.reset();
  const items = await aws.ddb.send(
    new QueryCommand({
      TableName: aws.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': queuePartition(channel) },
    }),
  );
  for (const item of items.Items ?? [])
    await aws.ddb.send(new DeleteCommand({ TableName: aws.table, Key: { pk: item.pk, sk: item.sk } }));
});

/** A controllable clock: `sleep` advances it instead of waiting. */
function fakeTime(start = Date.parse('2026-12-02T12:00:00.000Z')) {
  let now = start;
  const slept: number[] = [];
  return {
    now: () => new Date(now),
    advance: (ms: number) => {
      now += ms;
    },
    sleep: async (ms: number) => {
      slept.push(ms);
      now += ms;
    },
    slept,
  };
}

const store = () => ({ ddb: aws.ddb, table: aws.table, now: () => new Date() });

/** A pending request whose card is queued in this test's channel, as Review leaves it. */
async function queued(agentId: string = DEMO.agentId, now = () => new Date()): Promise<RequestItem> {
  const seeded = await seedPendingRequest({ ...store(), now }, { agentId });
  const where = await enqueueCard({ ...store(), now }, channel, seeded);
  expect(await updatePending(store(), seeded.intentId, { queued: where })).toBe(true);
  return (await getRequest(store(), seeded.intentId))!;
}

const cardsFor = (requestId: string) =>
  slack
    .sent('chat.postMessage')
    .filter((m) => JSON.stringify(m.blocks ?? []).includes(`"value":"${requestId}`));
const postedOrder = () =>
  slack
    .sent('chat.postMessage')
    .map((m) => /"value":"([^"@]+)/.exec(JSON.stringify(m.blocks ?? []))?.[1])
    .filter(Boolean);
const counter = async (agentId: string) => {
  const { sha256Hex } = await import('../../lambdas/shared/canonical.js');
  const out = await aws.ddb.send(
    new GetCommand({
      TableName: aws.table,
      Key: { pk: queuePartition(channel), sk: `AGENT#${sha256Hex(agentId).slice(0, 32)}` },
    }),
  );
  return out.Item?.queued;
};

describe('draining a channel', () => {
  it('posts every queued card in queue order, stores where it is, audits it, and empties the queue', async () => {
    // Prepare: a flooder's three requests, then another agent's first.
    const f1 = await queued('flood-bot');
    const f2 = await queued('flood-bot');
    const f3 = await queued('flood-bot');
    const other = await queued('quiet-bot');
    // Act
    const result = await drain(posterDeps(store(), client), channel);
    // Assess
    expect(result).toMatchObject({ outcome: 'drained', left: 0, skipped: [], failed: [] });
    expect(postedOrder()).toEqual([f1.intentId, other.intentId, f2.intentId, f3.intentId]);
    const stored = await getRequest(store(), other.intentId);
    const card = cardsFor(other.intentId)[0]!;
    expect(stored?.card).toEqual({ channel: card.channel, ts: card.ts });
    const chain = await readChain(store(), other.intentId);
    expect(chain.map((r) => r.kind)).toEqual(['requested', 'reviewers-notified', 'card-posted']);
    expect(chain.at(-1)).toMatchObject({
      actor: { type: 'system', component: 'poster' },
      data: expect.objectContaining({ channel: card.channel, ts: card.ts }),
    });
    expect(await listQueue(store(), channel)).toEqual([]);
    expect(await counter('flood-bot')).toBe(0);
    expect(await counter('quiet-bot')).toBe(0);
  });

  it('the queue head is the first entries in posting order, every agent’s first request before any second', async () => {
    const a1 = await queued('flood-bot');
    const a2 = await queued('flood-bot');
    const b1 = await queued('quiet-bot');
    const whole = (await listQueue(store(), channel)).map((e) => e.requestId);
    expect(whole).toEqual([a1.intentId, b1.intentId, a2.intentId]);
    expect((await listQueue(store(), channel, 2)).map((e) => e.requestId)).toEqual(whole.slice(0, 2));
  });

  it('is idempotent: a re-run posts nothing, and an entry whose card is up leaves without a second post', async () => {
    const request = await queued();
    await drain(posterDeps(store(), client), channel);
    // A poster that crashed after storing the card but before removing the entry.
    const where = await enqueueCard(store(), channel, request);
    const again = await drain(posterDeps(store(), client), channel);
    expect(again).toMatchObject({ posted: [], skipped: [request.intentId], left: 0 });
    expect(where.sk).toContain(request.intentId);
    expect(cardsFor(request.intentId)).toHaveLength(1);
    expect((await readChain(store(), request.intentId)).filter((r) => r.kind === 'card-posted')).toHaveLength(
      1,
    );
  });

  it('a retried Review queues the card once and kicks again; the card is posted once', async () => {
    const seeded = await seedPendingRequest(store(), {});
    const kicks: string[] = [];
    const deps = {
      ...store(),
      slack: async () => client,
      channel,
      kickPoster: async (c: string) => {
        kicks.push(c);
      },
    };
    const first = await review(deps, { taskToken: 'token-1', requestId: seeded.intentId });
    const second = await review(deps, { taskToken: 'token-2', requestId: seeded.intentId });
    expect(first).toMatchObject({ channel, queued: true });
    expect(second).toMatchObject({ channel, queued: true });
    expect(kicks).toEqual([channel, channel]);
    expect(await listQueue(store(), channel)).toHaveLength(1);
    await drain(posterDeps(store(), client), channel);
    // A third attempt after the card is up repaints it (the existing property).
    const third = await review(deps, { taskToken: 'token-3', requestId: seeded.intentId });
    expect(third.ts).toBe((await getRequest(store(), seeded.intentId))?.card?.ts);
    expect(cardsFor(seeded.intentId)).toHaveLength(1);
    expect(slack.sent('chat.update')).toHaveLength(1);
    expect((await getRequest(store(), seeded.intentId))?.taskToken).toBe('token-3');
  });

  it('a request decided while queued leaves the queue without a card', async () => {
    const decided = await queued();
    const pending = await queued();
    await decide(store(), decided.intentId, {
      status: 'CANCELLED',
      automatic: true,
      reason: 'cancelled by the agent',
      decidedAt: new Date().toISOString(),
      approvers: [],
      policies: [],
      intentHash: decided.intentHash,
    });
    const result = await drain(posterDeps(store(), client), channel);
    expect(result).toMatchObject({ posted: [pending.intentId], skipped: [decided.intentId], left: 0 });
    expect(cardsFor(decided.intentId)).toHaveLength(0);
    expect((await getRequest(store(), decided.intentId))?.card).toBeUndefined();
  });

  it('Record removes a card whose review expired while it waited, and kicks the poster to catch up', async () => {
    // Prepare: two requests queued; the first one's review times out before its card went up.
    const expired = await queued('flood-bot');
    const next = await queued('flood-bot');
    const kicks: string[] = [];
    const warnings: string[] = [];
    const recordDeps = {
      ...store(),
      grantTtlSeconds: 900,
      kickPoster: async (c: string) => {
        kicks.push(c);
      },
      warn: (message: string) => warnings.push(message),
    };
    const state = {
      executionId: expired.executionId,
      evaluation: {
        requestId: expired.intentId,
        outcome: 'review' as const,
        agentId: expired.agentId,
        intentHash: expired.intentHash,
        reason: 'needs review',
        policies: [],
        review: expired.review!,
      },
      failure: { Error: 'States.Timeout', Cause: 'timed out' },
    };
    // Act
    const { detail } = await recordDecision(recordDeps, state);
    // Assess: expired, out of the queue, the poster kicked for the channel; the next card still waits
    expect(detail.status).toBe('EXPIRED');
    expect((await listQueue(store(), channel)).map((e) => e.requestId)).toEqual([next.intentId]);
    expect(await counter('flood-bot')).toBe(1);
    expect(kicks).toEqual([channel]);
    // A kick that fails is logged; the decision stands (the sweep runs the poster anyway).
    const again = await queued('quiet-bot');
    const failing = {
      ...recordDeps,
      kickPoster: async () => {
        throw new Error('Lambda throttled the invoke');
      },
    };
    const out = await recordDecision(failing, {
      ...state,
      executionId: again.executionId,
      evaluation: {
        ...state.evaluation,
        requestId: again.intentId,
        agentId: again.agentId,
        intentHash: again.intentHash,
      },
    });
    expect(out.detail.status).toBe('EXPIRED');
    expect(warnings).toContain('could not kick the card poster');
    expect((await getRequest(store(), again.intentId))?.status).toBe('EXPIRED');
  });

  it('one drainer per channel: a held lease turns a kick away; an expired one is taken over', async () => {
    const request = await queued();
    const time = fakeTime(Date.now());
    await aws.ddb.send(
      new PutCommand({
        TableName: aws.table,
        Item: {
          pk: queuePartition(channel),
          sk: 'LEASE',
          holder: 'crashed-poster',
          until: time.now().getTime() + 30_000,
        },
      }),
    );
    const busy = await drain(posterDeps({ ...store(), now: time.now }, client), channel);
    expect(busy).toMatchObject({ outcome: 'busy', posted: [] });
    expect(cardsFor(request.intentId)).toHaveLength(0);
    // The crashed poster's lease runs out: the next run (the sweep) posts the card.
    time.advance(30_001);
    const swept = await drain(posterDeps({ ...store(), now: time.now }, client), channel);
    expect(swept).toMatchObject({ outcome: 'drained', posted: [request.intentId] });
  });

  it('paces the channel: a burst, then one card per 1/rate seconds', async () => {
    const time = fakeTime(Date.now());
    for (let i = 0; i < 5; i++) await queued(`agent-${i}`);
    const result = await drain(
      posterDeps({ ...store(), now: time.now }, client, {
        pace: { ratePerSecond: 1, burst: 2 },
        sleep: time.sleep,
      }),
      channel,
    );
    expect(result.posted).toHaveLength(5);
    // Two at once, then three more a second apart.
    expect(time.slept.reduce((a, b) => a + b, 0)).toBe(3000);
  });

  it('a 429 is waited out when Retry-After fits the budget, then the card is posted once', async () => {
    const time = fakeTime(Date.now());
    const request = await queued();
    slack.setRateLimit('chat.postMessage', 1, 2);
    const result = await drain(
      posterDeps({ ...store(), now: time.now }, client, { sleep: time.sleep }),
      channel,
    );
    expect(result).toMatchObject({ posted: [request.intentId], left: 0 });
    expect(time.slept).toContain(2000);
    expect(cardsFor(request.intentId)).toHaveLength(1);
  });

  it('a 429 longer than the time left leaves the card queued and the wait on the lease for the next run', async () => {
    const time = fakeTime(Date.now());
    const request = await queued();
    slack.setRateLimit('chat.postMessage', 1, 30);
    const result = await drain(
      posterDeps({ ...store(), now: time.now }, client, { sleep: time.sleep, remainingMs: () => 20_000 }),
      channel,
    );
    expect(result).toMatchObject({ outcome: 'rate-limited', posted: [], left: 1 });
    expect(cardsFor(request.intentId)).toHaveLength(0);
    const lease = await aws.ddb.send(
      new GetCommand({ TableName: aws.table, Key: { pk: queuePartition(channel), sk: 'LEASE' } }),
    );
    expect(lease.Item?.notBefore).toBe(time.now().getTime() + 30_000);
    expect(lease.Item?.holder).toBeUndefined();
  });

  it('a card Slack refuses fails its review (the workflow denies it) and leaves the queue', async () => {
    const request = await queued();
    slack.setFailure('chat.postMessage', 'invalid_blocks', 1);
    const deps = posterDeps(store(), client);
    const result = await drain(deps, channel);
    expect(result).toMatchObject({ failed: [request.intentId], posted: [], left: 0 });
    expect(deps.failures).toEqual([
      { requestId: request.intentId, reason: 'Slack did not accept the card: invalid_blocks' },
    ]);
  });

  it('out of time with cards left, it runs itself again', async () => {
    await queued();
    await queued('other-bot');
    let left = 60_000;
    const deps = posterDeps(store(), client, {
      // Each look at the clock spends 30 s: time for one card only.
      remainingMs: () => (left -= 30_000),
    });
    const result = await drain(deps, channel);
    expect(result.outcome).toBe('budget');
    expect(result.left).toBeGreaterThan(0);
    expect(deps.reruns).toEqual([channel]);
  });
});

describe('repainting cards whose update was rate limited', () => {
  /** A request with its card up, as the poster leaves it. */
  async function carded(
    agentId: string = DEMO.agentId,
  ): Promise<RequestItem & { card: { channel: string; ts: string } }> {
    const request = await queued(agentId);
    await drain(posterDeps(store(), client), channel);
    const stored = (await getRequest(store(), request.intentId))!;
    expect(stored.card).toBeDefined();
    slack.reset();
    return stored as RequestItem & { card: { channel: string; ts: string } };
  }
  const updatesOf = (requestId: string) =>
    slack
      .sent('chat.update')
      .filter(
        (m) => JSON.stringify(m.blocks ?? []).includes(requestId) || String(m.text).includes(requestId),
      );

  it('repaints the card from the request as it stands when the poster runs, then forgets the repaint', async () => {
    // Prepare: the card is up; a vote's update was rate limited, and the request was decided since.
    const request = await carded();
    await queueRepaint(store(), request, 'a note written for the pending card');
    await decide(store(), request.intentId, {
      status: 'DENIED',
      automatic: true,
      reason: 'denied while the repaint waited',
      decidedAt: new Date().toISOString(),
      approvers: [],
      policies: [],
      intentHash: request.intentHash,
    });
    // Act
    const result = await drain(posterDeps(store(), client), channel);
    // Assess: one chat.update of that card, showing the decision and not the stale note; nothing posted.
    expect(result).toMatchObject({ repainted: [request.intentId], posted: [] });
    const updates = slack.sent('chat.update');
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ channel: request.card.channel, ts: request.card.ts });
    const shown = JSON.stringify(updates[0]!.blocks);
    expect(shown).toContain('denied while the repaint waited');
    expect(shown).not.toContain('a note written for the pending card');
    expect(await listRepaints(store(), channel, 10)).toEqual([]);
  });

  it('shows the queued note while the request is as it was when the update failed', async () => {
    const request = await carded();
    await queueRepaint(store(), request, 'the late answer changed nothing');
    await drain(posterDeps(store(), client), channel);
    expect(JSON.stringify(updatesOf(request.intentId)[0]?.blocks)).toContain(
      'the late answer changed nothing',
    );
  });

  it('waits out chat.update’s Retry-After, then repaints once; a card Slack no longer has is dropped', async () => {
    const time = fakeTime(Date.now());
    const limited = await carded();
    const gone = await carded('other-bot');
    await queueRepaint(store(), limited);
    await queueRepaint(store(), gone);
    slack.setRateLimit('chat.update', 1, 3);
    slack.setFailure('chat.update', 'message_not_found', 1, (params) => params.ts === gone.card.ts);
    const warnings: string[] = [];
    const result = await drain(
      posterDeps({ ...store(), now: time.now }, client, {
        sleep: time.sleep,
        warn: (message) => warnings.push(message),
      }),
      channel,
    );
    expect(time.slept).toContain(3000);
    expect(result.repainted).toContain(limited.intentId);
    expect(result.repainted).not.toContain(gone.intentId);
    expect(warnings).toContain('could not repaint a card');
    expect(await listRepaints(store(), channel, 10)).toEqual([]);
  });

  it('a Retry-After longer than the time left keeps the repaint for the next run', async () => {
    const time = fakeTime(Date.now());
    const request = await carded();
    await queueRepaint(store(), request);
    slack.setRateLimit('chat.update', 1, 60);
    const result = await drain(
      posterDeps({ ...store(), now: time.now }, client, { sleep: time.sleep, remainingMs: () => 20_000 }),
      channel,
    );
    expect(result).toMatchObject({ outcome: 'rate-limited', repainted: [] });
    expect((await listRepaints(store(), channel, 10)).map((r) => r.requestId)).toEqual([request.intentId]);
  });

  it('a newer ask for the same card replaces the older; a repaint done meanwhile does not remove the newer', async () => {
    const request = await carded();
    const t0 = new Date('2026-12-02T12:00:00.000Z');
    await queueRepaint({ ...store(), now: () => t0 }, request, 'first');
    const [older] = await listRepaints(store(), channel, 10);
    await queueRepaint({ ...store(), now: () => new Date(t0.getTime() + 1000) }, request, 'second');
    const listed = await listRepaints(store(), channel, 10);
    expect(listed).toHaveLength(1);
    expect(listed[0]?.note).toBe('second');
    const { dequeueRepaint } = await import('../../lambdas/shared/card-queue.js');
    expect(await dequeueRepaint(store(), channel, older!)).toBe(false);
    expect(await listRepaints(store(), channel, 10)).toHaveLength(1);
  });
});

describe('backlog message', () => {
  it('above the threshold: one queue message, updated in place, only first requests carded; then clear', async () => {
    // Prepare: a flooder's five requests and two other agents' first ones, threshold 3.
    const time = fakeTime(Date.now());
    const flood: RequestItem[] = [];
    for (let i = 0; i < 5; i++) {
      flood.push(await queued('flood-bot', time.now));
      time.advance(1000);
    }
    const other = await queued('quiet-bot', time.now);
    time.advance(1000); // else the two tie on time and their random ids decide the order
    const third = await queued('third-bot', time.now);
    const deps = () =>
      posterDeps({ ...store(), now: time.now }, client, { backlogThreshold: 3, sleep: time.sleep });

    // Act 1
    const first = await drain(deps(), channel);

    // Assess 1: the first request of each agent is carded, the rest wait behind one queue message.
    expect(first.posted).toEqual([flood[0]!.intentId, other.intentId, third.intentId]);
    const shown = (await readBacklogMessage(store(), channel))!;
    expect(shown.open).toBe(true);
    const queueMessages = slack.sent('chat.postMessage').filter((m) => m.text?.includes('review queue'));
    expect(queueMessages).toHaveLength(1);
    const text = JSON.stringify(slack.message(shown.channel, shown.ts)?.blocks);
    expect(text).toContain('*7* reviews are waiting');
    expect(text).toContain('`flood-bot`: 5 waiting');
    for (const r of flood.slice(1)) expect(cardsFor(r.intentId)).toHaveLength(0);

    // Act 2: three of the flood are decided elsewhere (the web inbox); Record takes them out of the queue.
    const { dequeueCard } = await import('../../lambdas/shared/card-queue.js');
    for (const r of flood.slice(1, 4)) {
      await decide(store(), r.intentId, {
        status: 'DENIED',
        automatic: false,
        reason: 'no',
        decidedAt: time.now().toISOString(),
        approvers: [],
        policies: [],
        intentHash: r.intentHash,
      });
      await dequeueCard(store(), (await getRequest(store(), r.intentId))!.queued!);
    }
    time.advance(10_000);
    const second = await drain(deps(), channel);

    // Assess 2: below the threshold the last waiting card is posted and the same message says the queue is clear.
    expect(second.posted).toEqual([flood[4]!.intentId]);
    expect(slack.sent('chat.postMessage').filter((m) => m.text?.includes('review queue'))).toHaveLength(1);
    const after = JSON.stringify(slack.message(shown.channel, shown.ts)?.blocks);
    expect(after).toMatch(/queue (is clear|is back to normal)/);
    expect((await readBacklogMessage(store(), channel))?.open).toBe(false);
  });
});
