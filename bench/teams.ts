/**
 * The Teams channel end to end, through the sandbox server's public
 * interfaces: PutEvents with the AWS SDK client, then a signed
 * `adaptiveCard/action` invoke POSTed to the bot's messaging endpoint
 * (`/teams/messages`), as the Bot Connector sends it.
 *
 * - activity -> answer: the invoke until its HTTP answer (the new card for the
 *   person who clicked) arrives (p50, p99);
 * - activity -> card update: the invoke until the card the fake Bot Connector
 *   holds for everyone has been replaced (p50, p99).
 *
 * Each approve decides its request (quorum 1). Starts its own loop (one per
 * process): `npx tsx bench/teams.ts`, or `npm run bench -- teams`.
 */
import { performance } from 'node:perf_hooks';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { AGENT_SOURCE_PREFIX, INTENT_DETAIL_TYPE } from '../lambdas/shared/intent.js';
import { getRequest } from '../lambdas/shared/store.js';
import { seenHashOf } from '../lambdas/teams/adaptive-card.js';
import { invokeActivity } from '../sandbox/fake-teams.js';
import { CountersignLoop } from '../sandbox/loop.js';
import { createSandboxServer } from '../sandbox/server.js';
import { sandboxBus } from './bus.js';
import { quantile } from './stats.js';

const SAMPLES = Number(process.env.COUNTERSIGN_BENCH_TEAMS_SAMPLES ?? 100);
const WARMUP = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error('timed out');
    await sleep(1);
  }
}

/** Runs the samples and returns the figures. */
export async function benchTeams(): Promise<Record<string, number>> {
  const loop = await CountersignLoop.start({ defaultReviewTimeoutSeconds: 3600, reviewChannels: ['teams'] });
  const server = await createSandboxServer(loop, { port: 0 });
  const fake = loop.teams!.fake;
  const deps = { ddb: loop.aws.ddb, table: loop.aws.table };
  const client = sandboxBus(server.url);
  const answerMs: number[] = [];
  const updateMs: number[] = [];
  try {
    for (let n = 0; n < WARMUP + SAMPLES; n++) {
      const intentId = `bench-teams-${Date.now()}-${n}`;
      await client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: loop.config.eventBusName,
              Source: `${AGENT_SOURCE_PREFIX}deploy-bot`,
              DetailType: INTENT_DETAIL_TYPE,
              Detail: JSON.stringify({
                intentId,
                action: 'iam:AttachRolePolicy',
                resource: 'arn:aws:iam::123456789012:role/payments-deployer',
                environment: 'prod',
                justification: 'Benchmark: a Teams review.',
                parameters: { roleName: 'payments-deployer' },
                agent: {
                  model: 'bench',
                  sessionId: 'bench',
                  onBehalfOf: 'carol@example.com',
                  owner: 'erin@example.com',
                },
              }),
            },
          ],
        }),
      );
      const request = await waitFor(async () => {
        const r = await getRequest(deps, intentId);
        return r?.messages?.length && r.taskToken ? r : undefined;
      });
      const card = fake.activities.get(request.messages![0]!.messageId)!;
      const before = card.updates;
      const activity = invokeActivity(fake, fake.userOf('U0ALICE01'), 'approve', {
        requestId: intentId,
        seenHash: seenHashOf(request),
      });
      const authorization = await fake.authorization();
      const started = performance.now();
      const res = await fetch(`${server.url}/teams/messages`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify(activity),
      });
      await res.text();
      const answered = performance.now();
      await waitFor(() => (card.updates > before ? true : undefined));
      const updated = performance.now();
      if (res.status !== 200) throw new Error(`the bot answered ${res.status}`);
      if (n >= WARMUP) {
        answerMs.push(answered - started);
        updateMs.push(updated - started);
      }
    }
  } finally {
    client.destroy();
    await server.close();
    await loop.close();
  }
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    samples: answerMs.length,
    activityToAnswerP50Ms: round(quantile(answerMs, 0.5)),
    activityToAnswerP99Ms: round(quantile(answerMs, 0.99)),
    activityToCardUpdateP50Ms: round(quantile(updateMs, 0.5)),
    activityToCardUpdateP99Ms: round(quantile(updateMs, 0.99)),
  };
}

if (process.argv[1]?.endsWith('bench/teams.ts')) {
  benchTeams().then(
    (result) => {
      console.log('\nTeams (sandbox server, SDK PutEvents, signed invoke activities)\n');
      for (const [name, value] of Object.entries(result))
        console.log(`${name.padEnd(30)}${String(value).padStart(10)}`);
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
