/**
 * End-to-end benchmark of the offline loop, through the sandbox server's
 * public interfaces: PutEvents with the AWS SDK client, signed clicks POSTed to
 * /slack/interactions.
 *
 * - intent -> card: PutEvents call until the card is in the fake Slack (p50, p99),
 *   one intent at a time;
 * - click -> decision: POST /slack/interactions until the request's status is
 *   final in DynamoDB (p50, p99);
 * - throughput: 1,000 intents at 50/s, all held pending, then all approved;
 *   lost (no card, or no decision) and duplicated (more than one card or
 *   decision) requests are counted.
 *
 * Starts its own loop and server (one loop per process): run it alone with
 * `npx tsx bench/e2e.ts`, or call {@link benchE2E} from a process that starts
 * no other loop.
 */
import { performance } from 'node:perf_hooks';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { parseButtonValue } from '../lambdas/shared/card.js';
import {
  AGENT_SOURCE_PREFIX,
  FINAL_STATUSES,
  INTENT_DETAIL_TYPE,
  type Intent,
} from '../lambdas/shared/intent.js';
import { getRequest } from '../lambdas/shared/store.js';
import { CountersignLoop } from '../sandbox/loop.js';
import { createSandboxServer } from '../sandbox/server.js';
import { signedClick } from '../sandbox/slack-click.js';
import { sandboxBus } from './bus.js';
import { waitFor } from './poll.js';
import { quantile } from './stats.js';

/** Sizes and targets of the run. */
export const E2E = {
  latencySamples: Number(process.env.COUNTERSIGN_BENCH_E2E_SAMPLES ?? 200),
  warmup: 10,
  throughputIntents: Number(process.env.COUNTERSIGN_BENCH_E2E_INTENTS ?? 1000),
  ratePerSecond: 50,
  clickConcurrency: 20,
  targets: { cardP50Ms: 100, cardP99Ms: 300, decisionP99Ms: 100 },
};

const APPROVER = 'U0ALICE01';
const FINAL = new Set<string>(FINAL_STATUSES);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function intent(n: number, run: string): Intent {
  return {
    intentId: `bench-${run}-${String(n).padStart(5, '0')}`,
    action: 'iam:AttachRolePolicy',
    resource: 'arn:aws:iam::123456789012:role/payments-deployer',
    environment: 'prod',
    justification: 'Benchmark: deploy pipeline needs read access to the payments artifacts bucket.',
    parameters: {
      policyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
      roleName: 'payments-deployer',
    },
    agent: {
      model: 'bench',
      sessionId: `bench-${run}`,
      onBehalfOf: 'carol@example.com',
      owner: 'erin@example.com',
    },
  };
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** Runs the end-to-end benchmark and returns its figures. */
export async function benchE2E(): Promise<Record<string, unknown>> {
  const loop = await CountersignLoop.start({ defaultReviewTimeoutSeconds: 3600 });
  const server = await createSandboxServer(loop, { port: 0 });
  const slack = loop.slack!;
  const deps = { ddb: loop.aws.ddb, table: loop.aws.table };
  const client = sandboxBus(server.url);

  /** Card messages seen so far, by request id (button value); indexed incrementally. */
  const cards = new Map<string, number>();
  let scanned = 0;
  /** The Approve button's value per request: an Approve counts only with the version its card shows. */
  const approveValues = new Map<string, string>();
  const indexCards = () => {
    const messages = slack.messages;
    for (; scanned < messages.length; scanned++) {
      const m = messages[scanned]!;
      if (m.method !== 'chat.postMessage') continue;
      // Buttons carry the request id (Approve adds the version it shows: parseButtonValue reads both).
      const value = /"value":"([^"]+)"/.exec(JSON.stringify(m.blocks ?? []))?.[1];
      const id = value === undefined ? undefined : parseButtonValue(value).requestId;
      if (id) cards.set(id, (cards.get(id) ?? 0) + 1);
      if (id && value?.includes('@')) approveValues.set(id, value);
    }
  };

  const publish = (i: Intent) =>
    client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: loop.config.eventBusName,
            Source: `${AGENT_SOURCE_PREFIX}deploy-bot`,
            DetailType: INTENT_DETAIL_TYPE,
            Detail: JSON.stringify(i),
          },
        ],
      }),
    );
  const click = async (requestId: string) => {
    const signed = signedClick(loop.signingSecret, {
      userId: APPROVER,
      actionId: 'approve',
      requestId: approveValues.get(requestId) ?? requestId,
    });
    const res = await fetch(`${server.url}/slack/interactions`, {
      method: 'POST',
      headers: signed.headers,
      body: signed.body,
    });
    await res.text();
    return res.status;
  };

  try {
    // ------------------------------------------------------------ latency
    const cardMs: number[] = [];
    const decisionMs: number[] = [];
    const latencyIds: string[] = [];
    for (let n = 0; n < E2E.warmup + E2E.latencySamples; n++) {
      const i = intent(n, 'latency');
      const t0 = performance.now();
      await publish(i);
      const seen = await waitFor(() => {
        indexCards();
        return cards.has(i.intentId);
      }, 10_000);
      if (!seen) throw new Error(`no card for ${i.intentId} within 10 s`);
      if (n >= E2E.warmup) cardMs.push(performance.now() - t0);
      latencyIds.push(i.intentId);
    }
    for (const [n, id] of latencyIds.entries()) {
      const t0 = performance.now();
      const status = await click(id);
      if (status !== 200) throw new Error(`click on ${id} answered ${status}`);
      const final = await waitFor(async () => FINAL.has((await getRequest(deps, id))?.status ?? ''), 10_000);
      if (!final) throw new Error(`no decision for ${id} within 10 s`);
      if (n >= E2E.warmup) decisionMs.push(performance.now() - t0);
    }
    await loop.idle();

    // ------------------------------------------------------------ throughput
    const ids: string[] = [];
    const publishErrors: string[] = [];
    const interval = 1000 / E2E.ratePerSecond;
    const start = performance.now();
    const sends: Promise<unknown>[] = [];
    for (let n = 0; n < E2E.throughputIntents; n++) {
      const due = start + n * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const i = intent(n, 'throughput');
      ids.push(i.intentId);
      sends.push(
        publish(i).then(
          (out) => {
            if (out.FailedEntryCount) publishErrors.push(`${i.intentId}: ${out.Entries?.[0]?.ErrorCode}`);
          },
          (error: unknown) => publishErrors.push(`${i.intentId}: ${(error as Error).message}`),
        ),
      );
    }
    await Promise.all(sends);
    const publishSeconds = (performance.now() - start) / 1000;
    await waitFor(() => {
      indexCards();
      return ids.every((id) => cards.has(id));
    }, 60_000);
    const cardsDoneSeconds = (performance.now() - start) / 1000;
    const pendingBefore = (
      await Promise.all(ids.map((id) => getRequest(deps, id).then((r) => r?.status)))
    ).filter((s) => s === 'PENDING').length;

    const approveStart = performance.now();
    const queue = [...ids];
    const clickStatuses = new Map<number, number>();
    await Promise.all(
      Array.from({ length: E2E.clickConcurrency }, async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          const status = await click(id).catch(() => 0);
          clickStatuses.set(status, (clickStatuses.get(status) ?? 0) + 1);
        }
      }),
    );
    const decisionsOf = () => {
      const counts = new Map<string, number>();
      for (const e of loop.decisions) {
        const id = String(e.detail.intentId);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return counts;
    };
    await waitFor(() => {
      const counts = decisionsOf();
      return ids.every((id) => counts.has(id));
    }, 60_000);
    await loop.idle();
    const approveSeconds = (performance.now() - approveStart) / 1000;
    indexCards();
    const decisions = decisionsOf();
    const statuses = await Promise.all(ids.map((id) => getRequest(deps, id).then((r) => r?.status)));
    const lost = ids.filter((id, k) => !cards.has(id) || !decisions.has(id) || statuses[k] !== 'APPROVED');
    const duplicated = ids.filter((id) => (cards.get(id) ?? 0) > 1 || (decisions.get(id) ?? 0) > 1);

    return {
      intentToCardP50Ms: round(quantile(cardMs, 0.5)),
      intentToCardP99Ms: round(quantile(cardMs, 0.99)),
      clickToDecisionP50Ms: round(quantile(decisionMs, 0.5)),
      clickToDecisionP99Ms: round(quantile(decisionMs, 0.99)),
      latencySamples: cardMs.length,
      throughputIntents: ids.length,
      throughputPublishSeconds: round(publishSeconds),
      throughputAchievedPerSecond: round(ids.length / publishSeconds),
      allCardsAfterSeconds: round(cardsDoneSeconds),
      pendingBeforeApproval: pendingBefore,
      approveAllSeconds: round(approveSeconds),
      clickStatuses: Object.fromEntries(clickStatuses),
      publishErrors: publishErrors.length,
      lost: lost.length,
      duplicated: duplicated.length,
      lostExamples: lost.slice(0, 5),
      duplicatedExamples: duplicated.slice(0, 5),
    };
  } finally {
    client.destroy();
    await server.close();
    await loop.close();
  }
}

/** Prints the figures against the targets. */
export function printE2E(result: Record<string, unknown>): void {
  const t = E2E.targets;
  const rows: [string, unknown, string, boolean | undefined][] = [
    [
      'intent -> card p50 (ms)',
      result.intentToCardP50Ms,
      `<= ${t.cardP50Ms}`,
      (result.intentToCardP50Ms as number) <= t.cardP50Ms,
    ],
    [
      'intent -> card p99 (ms)',
      result.intentToCardP99Ms,
      `<= ${t.cardP99Ms}`,
      (result.intentToCardP99Ms as number) <= t.cardP99Ms,
    ],
    ['click -> decision p50 (ms)', result.clickToDecisionP50Ms, '', undefined],
    [
      'click -> decision p99 (ms)',
      result.clickToDecisionP99Ms,
      `<= ${t.decisionP99Ms}`,
      (result.clickToDecisionP99Ms as number) <= t.decisionP99Ms,
    ],
    [`throughput: intents at ${E2E.ratePerSecond}/s`, result.throughputIntents, '', undefined],
    ['  achieved publish rate (/s)', result.throughputAchievedPerSecond, `${E2E.ratePerSecond}`, undefined],
    ['  all cards posted after (s)', result.allCardsAfterSeconds, '', undefined],
    [
      '  held pending before approval',
      result.pendingBeforeApproval,
      `${E2E.throughputIntents}`,
      result.pendingBeforeApproval === E2E.throughputIntents,
    ],
    ['  approve all (s)', result.approveAllSeconds, '', undefined],
    ['  lost', result.lost, '0', result.lost === 0],
    ['  duplicated', result.duplicated, '0', result.duplicated === 0],
  ];
  console.log('\nEnd to end (sandbox server, SDK PutEvents, signed Slack clicks)\n');
  console.log(`${'metric'.padEnd(34)}${'value'.padStart(10)}  ${'target'.padEnd(10)}`);
  for (const [name, value, target, ok] of rows) {
    const mark = ok === undefined ? '' : ok ? 'ok' : 'MISS';
    console.log(`${name.padEnd(34)}${String(value).padStart(10)}  ${target.padEnd(10)}${mark}`);
  }
  console.log(
    `\nclick answers: ${JSON.stringify(result.clickStatuses)}; publish errors: ${result.publishErrors}`,
  );
}

if (process.argv[1]?.endsWith('bench/e2e.ts')) {
  benchE2E().then(
    (result) => {
      printE2E(result);
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
