/**
 * The flood bench: many agents publish intents at once through the sandbox's
 * public interfaces (PutEvents with the AWS SDK to the sandbox server, signed
 * Slack clicks), one of them flooding, against the fake Slack and its limits.
 * Prints, never asserts: lost and duplicated requests, how many were denied
 * "rate limited", cards posted per second per channel against the channel's
 * allowed rate, first-card latency of the other agents' intents while the
 * flood runs, Slack calls per request, 429s, lookup cache hit rates when the
 * fake reports them, and the time to drain once everything pending is
 * approved.
 *
 *   COUNTERSIGN_BENCH_FLOOD_INTENTS        intents in all (default 1000)
 *   COUNTERSIGN_BENCH_FLOOD_SECONDS        publishing window (default 20)
 *   COUNTERSIGN_BENCH_FLOOD_AGENTS         agents, the flooder included (default 20)
 *   COUNTERSIGN_BENCH_FLOOD_NORMAL_EACH    intents of each non-flooding agent (default 1)
 *
 * The default is a normal pace: 19 agents with one intent each, staggered over
 * the window, ask for about one card a second, which is what one Slack channel
 * takes. More than that cannot be carded within seconds by any design (the
 * channel is the bottleneck); the queue then shows them in its one backlog
 * message.
 *   COUNTERSIGN_BENCH_FLOOD_WAIT_SECONDS   longest wait for cards, and again for the drain (default 90)
 *   COUNTERSIGN_BENCH_FLOOD_SHARE          task invocations of one agent the sandbox runs at once
 *                                          (default the sandbox's own, AGENT_SHARE_LIMIT; 0 lifts the
 *                                          limit, to see the one process shared by all)
 *
 * Starts its own loop and server (one loop per process): run it alone with
 * `npx tsx bench/flood.ts` or through `npm run bench -- flood`.
 */
import { performance } from 'node:perf_hooks';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { readChain } from '../lambdas/shared/audit.js';
import { approveButtonValue } from '../lambdas/shared/card.js';
import {
  AGENT_SOURCE_PREFIX,
  DECISION_SOURCE,
  FINAL_STATUSES,
  INTENT_DETAIL_TYPE,
  type Intent,
} from '../lambdas/shared/intent.js';
import { lookupCacheCounters, resetLookupCacheCounters } from '../lambdas/shared/lookup-cache.js';
import { getRequest } from '../lambdas/shared/store.js';
import { loadDirectory } from '../sandbox/fake-slack.js';
import { AGENT_SHARE_LIMIT, CountersignLoop } from '../sandbox/loop.js';
import { createSandboxServer } from '../sandbox/server.js';
import { signedClick } from '../sandbox/slack-click.js';
import { SLACK_RATE_LIMITS } from '../sandbox/slack-rate-limits.js';
import { sandboxBus } from './bus.js';
import { CardIndex } from './cards.js';
import { busyRate, spans, type Timeline, timelineOf } from './flood-timeline.js';
import { waitFor as pollUntil } from './poll.js';
import { quantile } from './stats.js';

const env = (name: string, fallback: number) =>
  Number(process.env[`COUNTERSIGN_BENCH_FLOOD_${name}`] ?? fallback);

/** Sizes and goals of the run. */
export const FLOOD = {
  intents: env('INTENTS', 1000),
  seconds: env('SECONDS', 20),
  agents: env('AGENTS', 20),
  normalEach: env('NORMAL_EACH', 1),
  waitSeconds: env('WAIT_SECONDS', 90),
  share: env('SHARE', AGENT_SHARE_LIMIT),
  clickConcurrency: 20,
  /** The posting rate per channel the fake Slack allows (Slack: about one message a second, short bursts tolerated). */
  allowedPerChannelPerSecond: (SLACK_RATE_LIMITS['chat.postMessage']?.perMinute ?? 60) / 60,
  goals: { channelRateShare: 0.9, firstCardP99Ms: 2000 },
};

const APPROVER = 'U0ALICE01';
const FLOODER = 'flood-bot';
const FINAL = new Set<string>(FINAL_STATUSES);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const began = performance.now();
/** Progress on stderr, so a long phase shows where it is. */
const progress = (what: string) =>
  process.stderr.write(`[flood ${((performance.now() - began) / 1000).toFixed(1)} s] ${what}\n`);

function intent(agent: string, n: number, run: string): Intent {
  return {
    intentId: `flood-${run}-${agent}-${String(n).padStart(4, '0')}`,
    action: 'iam:AttachRolePolicy',
    resource: 'arn:aws:iam::123456789012:role/payments-deployer',
    environment: 'prod',
    justification: 'Flood bench: deploy pipeline needs read access to the payments artifacts bucket.',
    parameters: {
      policyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
      roleName: 'payments-deployer',
    },
    agent: {
      model: 'bench',
      sessionId: `flood-${run}`,
      onBehalfOf: 'carol@example.com',
      owner: 'erin@example.com',
    },
  };
}

/** One planned publication: who, what, and when (ms after the start). */
interface Planned {
  agent: string;
  intent: Intent;
  dueMs: number;
}

/** The plan: the flooder spreads its share evenly over the window, every other agent publishes a few, staggered. */
export function floodPlan(run: string): Planned[] {
  const normalAgents = Array.from(
    { length: FLOOD.agents - 1 },
    (_, i) => `agent-${String(i + 1).padStart(2, '0')}`,
  );
  const normalTotal = normalAgents.length * FLOOD.normalEach;
  const floodTotal = Math.max(0, FLOOD.intents - normalTotal);
  const windowMs = FLOOD.seconds * 1000;
  const plan: Planned[] = [];
  for (let n = 0; n < floodTotal; n++)
    plan.push({ agent: FLOODER, intent: intent(FLOODER, n, run), dueMs: (n * windowMs) / floodTotal });
  normalAgents.forEach((agent, a) => {
    for (let n = 0; n < FLOOD.normalEach; n++) {
      const dueMs = ((n + (a + 1) / (normalAgents.length + 1)) * windowMs) / FLOOD.normalEach;
      plan.push({ agent, intent: intent(agent, n, run), dueMs });
    }
  });
  return plan.sort((x, y) => x.dueMs - y.dueMs);
}

/** Runs the flood and returns its figures. */
export async function benchFlood(): Promise<Record<string, unknown>> {
  const base = loadDirectory();
  const owner = 'erin@example.com';
  const extraAgents = [
    FLOODER,
    ...Array.from({ length: FLOOD.agents - 1 }, (_, i) => `agent-${String(i + 1).padStart(2, '0')}`),
  ];
  const directory = {
    ...base,
    agents: [...(base.agents ?? []), ...extraAgents.map((id) => ({ id, owner }))],
  };
  const loop = await CountersignLoop.start({
    directory,
    defaultReviewTimeoutSeconds: 3600,
    traceExport: false,
    agentShare: FLOOD.share,
  });
  const server = await createSandboxServer(loop, { port: 0 });
  const slack = loop.slack!;
  const deps = { ddb: loop.aws.ddb, table: loop.aws.table };
  const client = sandboxBus(server.url);
  const cards = new CardIndex(slack);
  resetLookupCacheCounters();
  const decisions = new Map<string, { count: number; status: string; reason: string; at: number }>();
  loop.onEvent((event) => {
    if (event.source !== DECISION_SOURCE) return;
    const id = String(event.detail.intentId);
    const seen = decisions.get(id);
    decisions.set(id, {
      count: (seen?.count ?? 0) + 1,
      status: String(event.detail.status),
      reason: String(event.detail.reason ?? ''),
      at: seen?.at ?? performance.now(),
    });
  });
  // Cards are read as they come (10 ms resolution) for latency and per-second rates.
  let polling = true;
  const poller = (async () => {
    while (polling) {
      cards.update();
      await sleep(10);
    }
  })();
  const waitFor = (check: () => boolean | Promise<boolean>, timeoutMs: number) =>
    pollUntil(check, timeoutMs, 25);

  try {
    const run = Date.now().toString(36);
    const plan = floodPlan(run);
    const ids = plan.map((p) => p.intent.intentId);
    const agentOf = new Map(plan.map((p) => [p.intent.intentId, p.agent]));
    const publishedAt = new Map<string, number>();
    const publishedWall = new Map<string, number>();
    const publishErrors: string[] = [];
    /** Publishes a plan at its pace through the sandbox's PutEvents; resolves once every send answered. */
    const publishAll = async (planned: Planned[], began: number) => {
      const sends: Promise<unknown>[] = [];
      for (const p of planned) {
        const wait = began + p.dueMs - performance.now();
        if (wait > 0) await sleep(wait);
        publishedAt.set(p.intent.intentId, performance.now());
        publishedWall.set(p.intent.intentId, Date.now());
        sends.push(
          client
            .send(
              new PutEventsCommand({
                Entries: [
                  {
                    EventBusName: loop.config.eventBusName,
                    Source: `${AGENT_SOURCE_PREFIX}${p.agent}`,
                    DetailType: INTENT_DETAIL_TYPE,
                    Detail: JSON.stringify(p.intent),
                  },
                ],
              }),
            )
            .then(
              (out) => {
                if (out.FailedEntryCount)
                  publishErrors.push(`${p.intent.intentId}: ${out.Entries?.[0]?.ErrorCode}`);
              },
              (error: unknown) => publishErrors.push(`${p.intent.intentId}: ${(error as Error).message}`),
            ),
        );
      }
      await Promise.all(sends);
    };
    const clickStatuses = new Map<number, number>();
    /** Approves every listed request still pending, with its card's Approve value (or its stored intent's). */
    const approveAll = async (pending: string[], deadline: number) => {
      const queue = [...pending];
      await Promise.all(
        Array.from({ length: FLOOD.clickConcurrency }, async () => {
          for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
            if (performance.now() > deadline) break;
            const request = await getRequest(deps, id);
            if (!request || FINAL.has(request.status)) continue;
            const signed = signedClick(loop.signingSecret, {
              userId: APPROVER,
              actionId: 'approve',
              requestId: cards.approveValues.get(id) ?? approveButtonValue(request),
            });
            const status = await fetch(`${server.url}/slack/interactions`, {
              method: 'POST',
              headers: signed.headers,
              body: signed.body,
            }).then(
              async (res) => {
                await res.text();
                return res.status;
              },
              () => 0,
            );
            clickStatuses.set(status, (clickStatuses.get(status) ?? 0) + 1);
          }
        }),
      );
    };

    // Calm: the other agents alone, at the same pace, before any flood: what a first card takes in
    // this sandbox on this machine when nobody floods. Approved and decided before the flood starts.
    const calmPlan = floodPlan(`${run}c`).filter((p) => p.agent !== FLOODER);
    const calmIds = calmPlan.map((p) => p.intent.intentId);
    await publishAll(calmPlan, performance.now());
    await waitFor(() => calmIds.every((id) => cards.has(id) || decisions.has(id)), FLOOD.waitSeconds * 1000);
    const calmLatencies = calmIds
      .filter((id) => cards.firstSeen.has(id))
      .map((id) => cards.firstSeen.get(id)! - publishedAt.get(id)!);
    await approveAll(calmIds, performance.now() + FLOOD.waitSeconds * 1000);
    await waitFor(() => calmIds.every((id) => decisions.has(id)), FLOOD.waitSeconds * 1000);
    await loop.idle();
    progress(`calm: ${calmLatencies.length} of ${calmIds.length} carded; the flood starts`);
    clickStatuses.clear();

    const start = performance.now();
    const cpuAtStart = process.cpuUsage();
    const slackCallsBefore = slack.calls.length;
    resetLookupCacheCounters();
    await publishAll(plan, start);
    const publishSeconds = (performance.now() - start) / 1000;
    progress(`published ${ids.length} intents in ${publishSeconds.toFixed(1)} s`);

    // Every intent ends with a card or a decision (a denial needs no card); the queue may hold the rest back.
    const settled = () => ids.every((id) => cards.has(id) || decisions.has(id));
    await waitFor(settled, FLOOD.waitSeconds * 1000);
    // Let a paced queue keep posting while it still makes progress (no new card for 5 s: stop waiting).
    let lastCount = -1;
    while (
      sum(cards.counts.values()) !== lastCount &&
      performance.now() - start < (FLOOD.seconds + FLOOD.waitSeconds) * 1000
    ) {
      lastCount = sum(cards.counts.values());
      await sleep(5000);
    }
    const cardsPhaseSeconds = (performance.now() - start) / 1000;
    // CPU of this one process (every handler, the local AWS servers, the fake Slack and the bench itself).
    const cpu = process.cpuUsage(cpuAtStart);
    const cpuMsPerIntent = (cpu.user + cpu.system) / 1000 / ids.length;
    progress(`${cards.counts.size} carded, ${decisions.size} decided; approving the rest`);
    const pendingBeforeApproval = ids.filter((id) => !decisions.has(id)).length;
    const floodIds = new Set(ids);
    const cardsBeforeApproval = new Map([...cards.firstSeen].filter(([id]) => floodIds.has(id)));

    // Approve everything pending, with the Approve value of its card (or of its stored intent when it got none).
    const approveStart = performance.now();
    const approveStartWall = Date.now();
    const drainDeadline = approveStart + FLOOD.waitSeconds * 1000;
    await approveAll(
      ids.filter((id) => !decisions.has(id)),
      drainDeadline,
    );
    progress(`clicked ${JSON.stringify(Object.fromEntries(clickStatuses))}; waiting for the drain`);
    const drained = await waitFor(
      () => ids.every((id) => decisions.has(id)),
      Math.max(0, drainDeadline - performance.now()),
    );
    const drainSeconds = (performance.now() - approveStart) / 1000;
    // Only a drained loop settles: requests still waiting for a human would hold idle() until their
    // review timeout. Those are reported as still pending instead.
    if (drained) await loop.idle();
    cards.update();

    // ------------------------------------------------------------------ figures
    const statuses = await Promise.all(ids.map((id) => getRequest(deps, id).then((r) => r?.status)));
    // Lost: no decision and no request stored (nothing holds it); still pending: stored, waiting for a human.
    const lost = ids.filter((id, k) => !decisions.has(id) && statuses[k] === undefined);
    const stillPending = ids.filter((id, k) => !decisions.has(id) && statuses[k] !== undefined);
    const finalWithoutDecision = ids.filter((id, k) => decisions.has(id) && !FINAL.has(statuses[k] ?? ''));
    const duplicated = ids.filter(
      (id) => (cards.counts.get(id) ?? 0) > 1 || (decisions.get(id)?.count ?? 0) > 1,
    );
    const rateLimited = ids.filter((id) => /rate.?limit/i.test(decisions.get(id)?.reason ?? ''));
    const byStatus = countBy(ids.map((id) => decisions.get(id)?.status ?? 'none'));
    // Why requests ended as they did: the reasons, cut before their request-specific part.
    const reasons = countBy(
      ids.map((id) => {
        const d = decisions.get(id);
        return d ? `${d.status}: ${d.reason.split(/[:;(]/, 1)[0]!.slice(0, 60)}` : 'none';
      }),
    );

    // First card of the non-flooding agents' intents published while the flood ran.
    const normalLatencies = ids
      .filter((id) => agentOf.get(id) !== FLOODER && cardsBeforeApproval.has(id))
      .map((id) => cardsBeforeApproval.get(id)! - publishedAt.get(id)!);
    const normalWithoutCard = ids.filter(
      (id) => agentOf.get(id) !== FLOODER && !cardsBeforeApproval.has(id),
    ).length;

    // Where the others' time went, from each request's audit chain (requests carded before approvals).
    const timelines = new Map<string, Timeline>();
    const toRead = [...ids];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let id = toRead.shift(); id !== undefined; id = toRead.shift())
          timelines.set(id, timelineOf(publishedWall.get(id)!, await readChain(deps, id)));
      }),
    );
    const beforeApproval = (t: Timeline): Timeline =>
      t.postedAt !== undefined && t.postedAt > approveStartWall
        ? {
            publishedAt: t.publishedAt,
            ...(t.evaluatedAt !== undefined ? { evaluatedAt: t.evaluatedAt } : {}),
          }
        : t;
    const others = ids
      .filter((id) => agentOf.get(id) !== FLOODER)
      .map((id) => beforeApproval(timelines.get(id)!));
    const flooder = ids
      .filter((id) => agentOf.get(id) === FLOODER)
      .map((id) => beforeApproval(timelines.get(id)!));
    const p = (values: number[], q: number) => (values.length ? round(quantile(values, q)) : undefined);
    const othersLag = spans(others, 'publishedAt', 'evaluatedAt');
    const othersToQueue = spans(others, 'evaluatedAt', 'queuedAt');
    const othersQueueWait = spans(others, 'queuedAt', 'postedAt');
    const flooderLag = spans(flooder, 'publishedAt', 'evaluatedAt');
    const busy: Record<string, { cards: number; busySeconds: number; perSecond: number; share: number }> = {};
    const byChannel = new Map<string, Timeline[]>();
    for (const t of timelines.values()) {
      const b = beforeApproval(t);
      if (b.channel) byChannel.set(b.channel, [...(byChannel.get(b.channel) ?? []), b]);
    }
    for (const [channel, list] of byChannel) {
      const rate = busyRate(list);
      busy[channel] = {
        cards: rate.cards,
        busySeconds: round(rate.busySeconds),
        perSecond: round(rate.perSecond, 2),
        share: round(rate.perSecond / FLOOD.allowedPerChannelPerSecond, 2),
      };
    }

    // Cards per second per channel, while that channel had cards to post (first to last card before approvals).
    const perChannel: Record<string, { cards: number; seconds: number; perSecond: number; share: number }> =
      {};
    const channelTimes = new Map<string, number[]>();
    for (const [id, at] of cardsBeforeApproval) {
      const channel = cards.channels.get(id) ?? '?';
      channelTimes.set(channel, [...(channelTimes.get(channel) ?? []), at]);
    }
    for (const [channel, times] of channelTimes) {
      times.sort((a, b) => a - b);
      const seconds = (times.at(-1)! - times[0]!) / 1000;
      const perSecond = seconds > 0 ? (times.length - 1) / seconds : times.length;
      perChannel[channel] = {
        cards: times.length,
        seconds: round(seconds),
        perSecond: round(perSecond, 2),
        share: round(perSecond / FLOOD.allowedPerChannelPerSecond, 2),
      };
    }
    // The flood's calls only (the calm phase came first).
    const calls = slack.calls.slice(slackCallsBefore);
    const callsByMethod = countBy(calls.map((c) => c.method));
    const limited = countBy(calls.filter((c) => c.status === 429).map((c) => c.method));
    const acceptedPosts = countBy(
      calls
        .filter((c) => c.method === 'chat.postMessage' && c.status === 200)
        .map((c) => String(c.params.channel)),
    );
    const lookups = Object.fromEntries(
      Object.entries(lookupCacheCounters()).map(([name, c]) => [
        name,
        { ...c, hitRate: c.hits + c.misses ? round(c.hits / (c.hits + c.misses), 3) : undefined },
      ]),
    );

    return {
      intents: ids.length,
      agents: FLOOD.agents,
      flooderIntents: ids.filter((id) => agentOf.get(id) === FLOODER).length,
      publishSeconds: round(publishSeconds),
      publishErrors: publishErrors.length,
      cardsPhaseSeconds: round(cardsPhaseSeconds),
      pendingBeforeApproval,
      lost: lost.length,
      lostExamples: lost.slice(0, 5),
      stillPending: stillPending.length,
      decidedButNotFinalInStore: finalWithoutDecision.length,
      duplicated: duplicated.length,
      duplicatedExamples: duplicated.slice(0, 5),
      rateLimited: rateLimited.length,
      rateLimitedFlooder: rateLimited.filter((id) => agentOf.get(id) === FLOODER).length,
      decisions: byStatus,
      reasons,
      perChannel,
      normalFirstCardP50Ms: normalLatencies.length ? round(quantile(normalLatencies, 0.5)) : undefined,
      normalFirstCardP99Ms: normalLatencies.length ? round(quantile(normalLatencies, 0.99)) : undefined,
      normalFirstCardSamples: normalLatencies.length,
      calmFirstCardP50Ms: p(calmLatencies, 0.5),
      calmFirstCardP99Ms: p(calmLatencies, 0.99),
      calmCarded: `${calmLatencies.length} of ${calmIds.length}`,
      othersEvaluatedP50Ms: p(othersLag, 0.5),
      othersEvaluatedP99Ms: p(othersLag, 0.99),
      flooderEvaluatedP50Ms: p(flooderLag, 0.5),
      flooderEvaluatedP99Ms: p(flooderLag, 0.99),
      flooderLongestShareWaitMs: round(
        loop.share?.longestWaitMs.get(`${AGENT_SOURCE_PREFIX}${FLOODER}`) ?? 0,
        0,
      ),
      othersLongestShareWaitMs: round(
        Math.max(
          0,
          ...[...(loop.share?.longestWaitMs ?? new Map<string, number>())]
            .filter(([agent]) => agent !== `${AGENT_SOURCE_PREFIX}${FLOODER}`)
            .map(([, ms]) => ms),
        ),
        0,
      ),
      othersToQueueP99Ms: p(othersToQueue, 0.99),
      othersQueueWaitP50Ms: p(othersQueueWait, 0.5),
      othersQueueWaitP99Ms: p(othersQueueWait, 0.99),
      othersQueueWaitSamples: othersQueueWait.length,
      busyRate: busy,
      cpuMsPerIntent: round(cpuMsPerIntent),
      sustainableIntentsPerSecond: round(1000 / cpuMsPerIntent),
      normalWithoutCardBeforeApproval: normalWithoutCard,
      slackCalls: calls.length,
      slackCallsPerRequest: round(calls.length / ids.length, 2),
      slackCallsByMethod: callsByMethod,
      slack429s: calls.filter((c) => c.status === 429).length,
      slack429sBeforeApproval: calls.filter((c) => c.status === 429 && c.at < approveStartWall).length,
      slackLimited: limited,
      slackAcceptedByChannel: { 'chat.postMessage': acceptedPosts },
      lookupCaches: lookups,
      clickStatuses: Object.fromEntries(clickStatuses),
      drained,
      drainSeconds: round(drainSeconds),
    };
  } finally {
    polling = false;
    await poller;
    client.destroy();
    await server.close();
    await loop.close();
  }
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

/** Prints the figures against the goals. */
export function printFlood(r: Record<string, unknown>): void {
  const g = FLOOD.goals;
  console.log(
    `\nFlood: ${r.intents} intents from ${r.agents} agents in ${FLOOD.seconds} s (${r.flooderIntents} from ${FLOODER}, ${FLOOD.normalEach} from each other agent); agent share ${FLOOD.share > 0 ? `${FLOOD.share} task invocations at once` : 'off'}\n`,
  );
  const rows: [string, unknown, string, boolean | undefined][] = [
    ['published in (s)', r.publishSeconds, '', undefined],
    ['publish errors', r.publishErrors, '0', r.publishErrors === 0],
    ['lost', r.lost, '0', r.lost === 0],
    ['still pending at the end', r.stillPending, '0', r.stillPending === 0],
    [
      'announced, not final in the store',
      r.decidedButNotFinalInStore,
      '0',
      r.decidedButNotFinalInStore === 0,
    ],
    ['duplicated', r.duplicated, '0', r.duplicated === 0],
    ['denied "rate limited"', r.rateLimited, '', undefined],
    [`  of them ${FLOODER}'s`, r.rateLimitedFlooder, '', undefined],
    ['pending before approval', r.pendingBeforeApproval, '', undefined],
    ['others: first card p50 (ms)', r.normalFirstCardP50Ms, '', undefined],
    [
      'others: first card p99 (ms)',
      r.normalFirstCardP99Ms,
      `<= ${g.firstCardP99Ms}`,
      typeof r.normalFirstCardP99Ms === 'number' ? r.normalFirstCardP99Ms <= g.firstCardP99Ms : undefined,
    ],
    ['others: no card before approval', r.normalWithoutCardBeforeApproval, '', undefined],
    ['  the same, no flood: first card p50 (ms)', r.calmFirstCardP50Ms, '', undefined],
    ['  the same, no flood: first card p99 (ms)', r.calmFirstCardP99Ms, '', undefined],
    ['  the same, no flood: carded', r.calmCarded, '', undefined],
    ['  of which publish → evaluated p50 (ms)', r.othersEvaluatedP50Ms, '', undefined],
    ['  publish → evaluated p99 (ms)', r.othersEvaluatedP99Ms, '', undefined],
    ['  evaluated → queued p99 (ms)', r.othersToQueueP99Ms, '', undefined],
    ['  queued → posted p50 (ms)', r.othersQueueWaitP50Ms, '', undefined],
    [
      '  queued → posted p99 (ms)',
      r.othersQueueWaitP99Ms,
      `<= ${g.firstCardP99Ms}`,
      typeof r.othersQueueWaitP99Ms === 'number' ? r.othersQueueWaitP99Ms <= g.firstCardP99Ms : undefined,
    ],
    [`${FLOODER}: publish → evaluated p50 (ms)`, r.flooderEvaluatedP50Ms, '', undefined],
    [`${FLOODER}: publish → evaluated p99 (ms)`, r.flooderEvaluatedP99Ms, '', undefined],
    [`${FLOODER}: longest wait for its share (ms)`, r.flooderLongestShareWaitMs, '', undefined],
    ['others: longest wait for their share (ms)', r.othersLongestShareWaitMs, '', undefined],
    ['sandbox CPU per intent (ms)', r.cpuMsPerIntent, '', undefined],
    ['  intents/s one process sustains', r.sustainableIntentsPerSecond, '', undefined],
    ['Slack calls per request', r.slackCallsPerRequest, '', undefined],
    ['Slack 429s seen', r.slack429s, '', undefined],
    ['  of them before the approvals', r.slack429sBeforeApproval, '', undefined],
    ['approve all: drained', r.drained, 'true', r.drained === true],
    ['approve all: time to drain (s)', r.drainSeconds, '', undefined],
  ];
  console.log(`${'metric'.padEnd(36)}${'value'.padStart(10)}  ${'goal'.padEnd(10)}`);
  for (const [name, value, goal, ok] of rows) {
    const mark = ok === undefined ? '' : ok ? 'ok' : 'MISS';
    console.log(`${name.padEnd(36)}${String(value).padStart(10)}  ${goal.padEnd(10)}${mark}`);
  }
  console.log(
    `\ncards per second per channel (allowed ${FLOOD.allowedPerChannelPerSecond}/s; goal >= ${g.channelRateShare * 100} %):`,
  );
  for (const [channel, c] of Object.entries(
    r.perChannel as Record<string, { cards: number; seconds: number; perSecond: number; share: number }>,
  ))
    console.log(
      `  ${channel}: ${c.cards} cards in ${c.seconds} s = ${c.perSecond}/s, ${Math.round(c.share * 100)} % of allowed ${c.share >= g.channelRateShare ? 'ok' : '(over or under: see the note)'}`,
    );
  console.log(`while cards waited (busy time: union of each card's queued → posted):`);
  for (const [channel, c] of Object.entries(
    r.busyRate as Record<string, { cards: number; busySeconds: number; perSecond: number; share: number }>,
  ))
    console.log(
      `  ${channel}: ${c.cards} cards in ${c.busySeconds} s busy = ${c.perSecond}/s, ${Math.round(c.share * 100)} % of allowed ${c.share >= g.channelRateShare ? 'ok' : 'MISS'}`,
    );
  console.log(`\ndecisions: ${JSON.stringify(r.decisions)}`);
  console.log('reasons:');
  for (const [reason, n] of Object.entries(r.reasons as Record<string, number>).sort((a, b) => b[1] - a[1]))
    console.log(`  ${String(n).padStart(5)}  ${reason}`);
  console.log(`Slack calls by method: ${JSON.stringify(r.slackCallsByMethod)}`);
  console.log(`429s by method: ${JSON.stringify(r.slackLimited)}`);
  console.log(`posts accepted by channel: ${JSON.stringify(r.slackAcceptedByChannel)}`);
  console.log('lookup caches (hits, misses, hit rate):');
  for (const [name, c] of Object.entries(
    r.lookupCaches as Record<string, { hits: number; misses: number; hitRate?: number }>,
  ))
    console.log(`  ${name}: ${c.hits} hits, ${c.misses} misses, hit rate ${c.hitRate ?? '-'}`);
  console.log(`click answers: ${JSON.stringify(r.clickStatuses)}`);
  if ((r.lostExamples as string[]).length)
    console.log(`lost, e.g.: ${(r.lostExamples as string[]).join(', ')}`);
  if ((r.duplicatedExamples as string[]).length)
    console.log(`duplicated, e.g.: ${(r.duplicatedExamples as string[]).join(', ')}`);
  console.log(
    [
      '\nThe first channel rate runs from its first to its last card before approvals began (idle stretches included);',
      'the second counts only the time some card was waiting. Over 100 % is a burst Slack tolerates.',
      'A first card splits into publish → evaluated (this one process runs every handler and local AWS server;',
      'each agent gets its share of it, so an agent publishing faster than it sustains waits behind its own',
      'intents, as on AWS, where each invocation runs apart, it would wait for none) and queued → posted (what',
      "the card queue's order and pace decide). With the share off, everyone waits behind the flood.",
    ].join('\n'),
  );
}

if (process.argv[1]?.endsWith('bench/flood.ts')) {
  benchFlood().then(
    (result) => {
      printFlood(result);
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
