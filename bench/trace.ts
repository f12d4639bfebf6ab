/**
 * Overhead of trace export, export on versus off, in one run:
 * - cold start: module-init time of the interaction, Review and Record bundles (built
 *   as the stack builds them) in fresh processes, with and without
 *   `COUNTERSIGN_OTLP_ENDPOINT`;
 * - click -> decision: from a signed approve click to the decision event on
 *   the bus (Record, which exports, runs in between), p50 and p99, in two
 *   local loops (one per process, as handlers read their environment once):
 *   one exporting to the sandbox's OTLP receiver, one with export off.
 *
 *   npx tsx bench/trace.ts            both, printed with on/off ratios
 *   npx tsx bench/trace.ts loop on    one loop's figures as JSON (used by the above)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AGENT_SOURCE_PREFIX, INTENT_DETAIL_TYPE, type Intent } from '../lambdas/shared/intent.js';
import { CountersignLoop } from '../sandbox/loop.js';
import { signedClick } from '../sandbox/slack-click.js';
import { bundle, initTimes } from './cold-start.js';
import { median, quantile } from './stats.js';

const root = resolve(import.meta.dirname, '..');
const SAMPLES = Number(process.env.COUNTERSIGN_BENCH_TRACE_SAMPLES ?? 100);
const WARMUP = 10;
const COLD_RUNS = Number(process.env.COUNTERSIGN_BENCH_TRACE_COLD_RUNS ?? 15);
const round = (ms: number) => Math.round(ms * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function intent(n: number, run: string): Intent {
  return {
    intentId: `trace-bench-${run}-${String(n).padStart(5, '0')}`,
    action: 'iam:AttachRolePolicy',
    resource: 'arn:aws:iam::123456789012:role/payments-deployer',
    environment: 'prod',
    justification: 'Benchmark: trace export overhead.',
    parameters: { roleName: 'payments-deployer' },
    agent: {
      model: 'bench',
      sessionId: `bench-${run}`,
      onBehalfOf: 'carol@example.com',
      owner: 'erin@example.com',
    },
    context: { traceparent: `00-${'4bf92f3577b34da6a3ce929d0e0e4736'}-${'00f067aa0ba902b7'}-01` },
  };
}

/** Click -> decision event latencies of one loop. */
async function benchLoop(exporting: boolean): Promise<Record<string, number>> {
  const loop = await CountersignLoop.start({ defaultReviewTimeoutSeconds: 3600, traceExport: exporting });
  const decided = new Map<string, number>();
  loop.onEvent((event) => {
    if (event['detail-type'] === 'Privileged Action Decided')
      decided.set(String(event.detail.intentId), performance.now());
  });
  const waitFor = async (check: () => boolean, timeoutMs = 10_000) => {
    const deadline = performance.now() + timeoutMs;
    while (!check()) {
      if (performance.now() > deadline) throw new Error('timed out');
      await sleep(1);
    }
  };
  try {
    const latencies: number[] = [];
    for (let n = 0; n < WARMUP + SAMPLES; n++) {
      const i = intent(n, exporting ? 'on' : 'off');
      loop.putEvents([
        {
          EventBusName: loop.config.eventBusName,
          Source: `${AGENT_SOURCE_PREFIX}deploy-bot`,
          DetailType: INTENT_DETAIL_TYPE,
          Detail: JSON.stringify(i),
        },
      ]);
      let value: string | undefined;
      await waitFor(() => {
        const card = loop
          .slack!.sent('chat.postMessage')
          .findLast((m) => JSON.stringify(m.blocks ?? []).includes(`"value":"${i.intentId}@`));
        value = card ? /"value":"([^"]+@[^"]+)"/.exec(JSON.stringify(card.blocks))?.[1] : undefined;
        return value !== undefined;
      });
      const t0 = performance.now();
      const answer = await loop.interact(
        signedClick(loop.signingSecret, { userId: 'U0ALICE01', actionId: 'approve', requestId: value! }),
      );
      if (answer.statusCode !== 200) throw new Error(`click answered ${answer.statusCode}`);
      await waitFor(() => decided.has(i.intentId));
      if (n >= WARMUP) latencies.push(decided.get(i.intentId)! - t0);
    }
    const exported = loop.traces?.spans().filter((s) => s.name === 'countersign.review').length ?? 0;
    return {
      clickToDecisionEventP50Ms: round(quantile(latencies, 0.5)),
      clickToDecisionEventP99Ms: round(quantile(latencies, 0.99)),
      samples: latencies.length,
      requestSpansExported: exported,
    };
  } finally {
    await loop.idle();
    await loop.close();
  }
}

/** Cold start of a handler's bundle with export off and on. */
async function coldStart(handler: string): Promise<Record<string, number | string>> {
  const out = mkdtempSync(join(tmpdir(), 'countersign-trace-bench-'));
  const file = join(out, `${handler}.cjs`);
  await bundle(join(root, 'lambdas', handler, 'handler.ts'), file, false);
  const off = median(initTimes(file, COLD_RUNS));
  const on = median(
    initTimes(file, COLD_RUNS, { COUNTERSIGN_OTLP_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }),
  );
  return { handler, initOffMs: round(off), initOnMs: round(on), ratio: Math.round((on / off) * 100) / 100 };
}

if (process.argv[2] === 'loop') {
  const figures = await benchLoop(process.argv[3] === 'on');
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  process.exit(0);
} else if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`cold start, median of ${COLD_RUNS} fresh processes (${process.version})`);
  console.table([await coldStart('interaction'), await coldStart('review'), await coldStart('record')]);
  const tsx = join(root, 'node_modules', '.bin', 'tsx');
  const run = (mode: 'on' | 'off') => {
    const child = spawnSync(tsx, [join(root, 'bench', 'trace.ts'), 'loop', mode], {
      cwd: root,
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`loop ${mode} failed: ${child.stderr}`);
    return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
  };
  const off = run('off');
  const on = run('on');
  console.log(
    `click -> decision event, ${off.samples} approvals per loop (export to the local OTLP receiver)`,
  );
  console.table({ off, on });
  const ratio = (key: string) => Math.round((on[key]! / off[key]!) * 100) / 100;
  console.log(
    `export on/off: click -> decision p50 x${ratio('clickToDecisionEventP50Ms')}, p99 x${ratio('clickToDecisionEventP99Ms')}`,
  );
}
