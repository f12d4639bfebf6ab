/**
 * Cost per approval, measured: runs the offline loop (the synthesized ASL,
 * the real handler modules, dynalite, s3rver, the fake Slack) with a
 * {@link UsageMeter} counting what AWS would bill, multiplies the units by the
 * dated prices in `bench/prices.ts`, and prints dollars per 1,000 reviewed
 * approvals, automatic allows and automatic denials, item by item, plus the
 * fixed monthly cost of an idle stack counted from the synthesized template.
 *
 *   COUNTERSIGN_BENCH_COST_REQUESTS   requests of each kind measured (default 40)
 *
 * Measured, not estimated: SDK calls (DynamoDB units from ConsumedCapacity,
 * S3, KMS, Secrets Manager), Lambda invocations and their durations, state
 * transitions, bus entries, schedules, log bytes and EMF metrics. Estimated
 * (and said so in the output): DynamoDB index writes (from the items' keys),
 * the workflow's execution log bytes (events counted, bytes per event
 * assumed), X-Ray traces (every request sampled: an upper bound). Lambda
 * durations measured on a loaded sandbox machine overstate the deployed ones.
 * Warm handlers only: cold starts (a Secrets Manager read each, init time)
 * are amortized over many requests on AWS and are left out after a warm-up.
 */
import { performance } from 'node:perf_hooks';
import {
  AGENT_SOURCE_PREFIX,
  DECISION_SOURCE,
  INTENT_DETAIL_TYPE,
  type Intent,
} from '../lambdas/shared/intent.js';
import {
  digestMetrics,
  METRICS_NAMESPACE,
  type MetricPoint,
  pendingMetrics,
} from '../lambdas/shared/metrics.js';
import { readPendingReviews } from '../lambdas/shared/metrics-pending.js';
import { CountersignLoop } from '../sandbox/loop.js';
import { signedClick } from '../sandbox/slack-click.js';
import type { SynthesizedLoop } from '../sandbox/synth.js';
import { type MeteredIndex, UsageMeter, type UsageSnapshot } from '../sandbox/usage-meter.js';
import { CardIndex } from './cards.js';
import { waitFor as pollUntil } from './poll.js';
import { cost, PRICE_REGION, PRICES, type PriceKey } from './prices.js';

/** Sizes and goals of the run. */
export const COST = {
  requests: Number(process.env.COUNTERSIGN_BENCH_COST_REQUESTS ?? 40),
  /** One request at a time: steady traffic, within Slack's posting rate (a flood is the flood bench's). */
  concurrency: 1,
  goals: { reviewedPer1000Usd: 0.4, idleMonthlyUsd: 10 },
  /** Bytes of one execution history event in the workflow's log group (level ALL, no execution data). Assumed. */
  executionEventLogBytes: 350,
};

const APPROVER = 'U0ALICE01';
const HOURS_PER_MONTH = 730;

type Kind = 'reviewed' | 'allowed' | 'denied';

/** An intent of each kind, with the sandbox's policies: IAM in prod is reviewed, dev reads allowed, closing an account denied. */
function intentOf(kind: Kind, n: number): { source: string; intent: Intent } {
  const id = `cost-${kind}-${String(n).padStart(4, '0')}-${Date.now().toString(36)}`;
  const agent = { model: 'bench', sessionId: 'cost', onBehalfOf: 'carol@example.com' };
  if (kind === 'allowed')
    return {
      source: `${AGENT_SOURCE_PREFIX}report-bot`,
      intent: {
        intentId: id,
        action: 's3:GetObject',
        resource: 'arn:aws:s3:::dev-reports/weekly.csv',
        environment: 'dev',
        justification: 'Cost bench: read the weekly report.',
        parameters: { key: 'weekly.csv' },
        agent: { ...agent, owner: 'frank@example.com' },
      },
    };
  return {
    source: `${AGENT_SOURCE_PREFIX}deploy-bot`,
    intent: {
      intentId: id,
      action: kind === 'reviewed' ? 'iam:AttachRolePolicy' : 'account:CloseAccount',
      resource:
        kind === 'reviewed'
          ? 'arn:aws:iam::123456789012:role/payments-deployer'
          : 'arn:aws:organizations::123456789012:account/o-example/123456789012',
      environment: 'prod',
      justification: 'Cost bench: deploy pipeline needs read access to the payments artifacts bucket.',
      parameters: {
        policyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
        roleName: 'payments-deployer',
      },
      agent: { ...agent, owner: 'erin@example.com' },
    },
  };
}

/** The table's global secondary indexes, from the synthesized template. */
export function indexesOf(resources: SynthesizedLoop['resources']): MeteredIndex[] {
  const table = Object.values(resources).find(
    (r) => r.Type === 'AWS::DynamoDB::GlobalTable' || r.Type === 'AWS::DynamoDB::Table',
  );
  const indexes = (table?.Properties.GlobalSecondaryIndexes ?? []) as {
    IndexName: string;
    KeySchema: { AttributeName: string }[];
    Projection?: { ProjectionType?: MeteredIndex['projection'] };
  }[];
  return indexes.map((i) => ({
    name: i.IndexName,
    keys: i.KeySchema.map((k) => k.AttributeName),
    projection: i.Projection?.ProjectionType ?? 'ALL',
  }));
}

/** One line of a bill. */
export interface BillItem {
  item: string;
  units: number;
  unit: string;
  usd: number;
  note?: string;
}

const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);
const callsMatching = (usage: UsageSnapshot, pattern: RegExp) =>
  sum(
    Object.entries(usage.calls)
      .filter(([k]) => pattern.test(k))
      .map(([, n]) => n),
  );

/** Prices what a run measured, item by item (dollars for the whole run). */
export function bill(usage: UsageSnapshot, memoryMb: Record<string, number>): BillItem[] {
  const items: BillItem[] = [];
  const line = (item: string, key: PriceKey, units: number, note?: string) =>
    items.push({ item, units, unit: PRICES[key].unit, usd: cost(key, units), ...(note ? { note } : {}) });
  line('Step Functions state transitions', 'stateTransition', usage.stateTransitions);
  const functions = Object.entries(usage.lambda).sort(([a], [b]) => a.localeCompare(b));
  line('Lambda requests', 'lambdaRequest', sum(functions.map(([, f]) => f.invocations)));
  for (const [name, f] of functions) {
    const mb = memoryMb[name] ?? 128;
    const gbSeconds = (f.billedMs / 1000) * (mb / 1024);
    line(`Lambda duration: ${name} (${mb} MB, ${f.invocations} calls)`, 'lambdaArmGbSecond', gbSeconds);
  }
  line('DynamoDB writes (table)', 'dynamoWrite', usage.dynamodb.writeUnits);
  line(
    'DynamoDB writes (indexes)',
    'dynamoWrite',
    usage.dynamodb.indexWriteUnits,
    'estimated from the keys written',
  );
  line('DynamoDB reads', 'dynamoRead', usage.dynamodb.readUnits);
  line('S3 PUT/COPY/LIST', 's3Put', callsMatching(usage, /^S3\.(Put|Copy|List|CreateMultipart)/));
  line('S3 GET/HEAD', 's3Get', callsMatching(usage, /^S3\.(Get|Head)/));
  const customEvents = sum(
    Object.entries(usage.busEntries)
      .filter(([source]) => !source.startsWith('aws.'))
      .map(([, n]) => n),
  );
  line('EventBridge custom events', 'customEvent', customEvents);
  line('EventBridge Scheduler invocations', 'schedulerInvocation', usage.schedulesFired);
  line('KMS requests (symmetric)', 'kmsRequest', callsMatching(usage, /^KMS\.(?!Sign)/));
  line('KMS requests (asymmetric Sign)', 'kmsAsymmetricRequest', callsMatching(usage, /^KMS\.Sign$/));
  line('Secrets Manager API calls', 'secretsApiCall', callsMatching(usage, /^SecretsManager\./));
  const gb = (bytes: number) => bytes / 1024 ** 3;
  line('CloudWatch Logs: handler lines', 'logsIngestionGb', gb(usage.logBytes), `${usage.logLines} lines`);
  line(
    'CloudWatch Logs: workflow events',
    'logsIngestionGb',
    gb(usage.executionEvents * COST.executionEventLogBytes),
    `${usage.executionEvents} events x ${COST.executionEventLogBytes} B assumed`,
  );
  // Active tracing on every function and the workflow: one trace per execution and per request
  // that enters outside one (a click, a reminder, a stream batch); all sampled is an upper bound.
  const outside = sum(
    functions
      .filter(([name]) => !['evaluate', 'review', 'record'].includes(name))
      .map(([, f]) => f.invocations),
  );
  line(
    'X-Ray traces recorded',
    'traceRecorded',
    usage.executions + outside,
    'upper bound: every request sampled',
  );
  return items;
}

/** The fixed monthly cost of the stack with no traffic, from its template. */
export function idleBill(
  resources: SynthesizedLoop['resources'],
  digestRun?: UsageSnapshot,
  memoryMb?: Record<string, number>,
): BillItem[] {
  const all = Object.values(resources);
  const count = (type: string) => all.filter((r) => r.Type === type).length;
  const items: BillItem[] = [];
  const line = (item: string, key: PriceKey, units: number, note?: string) =>
    items.push({ item, units, unit: PRICES[key].unit, usd: cost(key, units), ...(note ? { note } : {}) });
  const keys = all.filter((r) => r.Type === 'AWS::KMS::Key');
  const rotating = keys.filter((k) => k.Properties.EnableKeyRotation === true).length;
  line(
    'KMS keys',
    'kmsKeyMonth',
    keys.length,
    `${rotating} rotate yearly: +$1 a key-month after each of the first two rotations`,
  );
  line('Secrets Manager secrets', 'secretMonth', count('AWS::SecretsManager::Secret'));
  const alarmMetrics = sum(
    all
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .map((r) => {
        const metrics = r.Properties.Metrics as { MetricStat?: unknown }[] | undefined;
        return metrics ? metrics.filter((m) => m.MetricStat).length : 1;
      }),
  );
  line(
    `CloudWatch alarms (${count('AWS::CloudWatch::Alarm')})`,
    'alarmMetricMonth',
    alarmMetrics,
    'billed per metric an alarm reads',
  );
  line('CloudWatch dashboards', 'dashboardMonth', count('AWS::CloudWatch::Dashboard'));
  // The hourly digest publishes its heartbeat and the pending-review gauges whatever the traffic.
  const idleMetrics = new Set(
    [...digestMetrics([{ status: 'written' }]), ...pendingMetrics([], new Date())].map(metricIdentity),
  );
  line(
    'CloudWatch custom metrics (hourly digest)',
    'customMetricMonth',
    idleMetrics.size,
    [...idleMetrics].join(', '),
  );
  if (digestRun && memoryMb) {
    const hourly = bill(digestRun, memoryMb).map((i) => ({
      ...i,
      units: i.units * HOURS_PER_MONTH,
      usd: i.usd * HOURS_PER_MONTH,
    }));
    const usd = sum(hourly.map((i) => i.usd));
    items.push({
      item: 'Hourly digest runs (measured run x 730)',
      units: HOURS_PER_MONTH,
      unit: 'runs',
      usd,
    });
  }
  return items;
}

function metricIdentity(point: MetricPoint): string {
  return `${METRICS_NAMESPACE}/${point.name}${point.dimension ? `{${point.dimension.name}=${point.dimension.value}}` : ''}`;
}

/** What one kind of request cost in a run. */
interface KindResult {
  kind: Kind;
  requests: number;
  usage: UsageSnapshot;
  items: BillItem[];
  per1000Usd: number;
  seconds: number;
}

/** Runs the measurement and returns every figure. */
export async function benchCost(): Promise<{
  kinds: KindResult[];
  idle: BillItem[];
  idleUsd: number;
  activeMetrics: string[];
}> {
  // What a deployed handler logs (INFO) and publishes (EMF metrics): counted, then held back.
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  const meter = new UsageMeter();
  meter.install();
  const loop = await CountersignLoop.start({
    defaultReviewTimeoutSeconds: 3600,
    traceExport: false,
    teams: false,
    meter,
    // One agent sends every request of the run within a minute or two: the quota is still counted
    // (its DynamoDB write is part of each request's cost) but must not deny the run's own requests.
    config: { defaultRateLimit: '100000/minute' },
  });
  const indexes = indexesOf(loop.synthesized.resources);
  meter.indexes = indexes;
  const memoryMb = Object.fromEntries(loop.synthesized.functions.map((f) => [f.name, f.memorySize]));
  const cards = new CardIndex(loop.slack!);
  const decided = new Map<string, string>();
  loop.onEvent((event) => {
    if (event.source === DECISION_SOURCE)
      decided.set(String(event.detail.intentId), String(event.detail.status));
  });
  const waitFor = (check: () => boolean | Promise<boolean>, timeoutMs: number) =>
    pollUntil(check, timeoutMs, 2);

  const one = async (kind: Kind, n: number) => {
    const { source, intent } = intentOf(kind, n);
    const [result] = loop.putEvents([
      {
        EventBusName: loop.config.eventBusName,
        Source: source,
        DetailType: INTENT_DETAIL_TYPE,
        Detail: JSON.stringify(intent),
      },
    ]);
    if (!result || 'ErrorCode' in result) throw new Error(`PutEvents refused ${intent.intentId}`);
    if (kind === 'reviewed') {
      const carded = () => {
        cards.update();
        return cards.has(intent.intentId);
      };
      if (!(await waitFor(carded, 20_000))) throw new Error(`no card for ${intent.intentId}`);
      const click = signedClick(loop.signingSecret, {
        userId: APPROVER,
        actionId: 'approve',
        requestId: cards.approveValues.get(intent.intentId) ?? intent.intentId,
      });
      const answer = await loop.interact(click);
      if (answer.statusCode !== 200)
        throw new Error(`click on ${intent.intentId} answered ${answer.statusCode}`);
    }
    if (!(await waitFor(() => decided.has(intent.intentId), 20_000)))
      throw new Error(`no decision for ${intent.intentId}`);
    const expected = { reviewed: 'APPROVED', allowed: 'APPROVED', denied: 'DENIED' }[kind];
    if (decided.get(intent.intentId) !== expected)
      throw new Error(`${intent.intentId} ended ${decided.get(intent.intentId)}, expected ${expected}`);
  };
  const run = async (kind: Kind, count: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: COST.concurrency }, async () => {
        for (let n = next++; n < count; n = next++) await one(kind, n);
      }),
    );
    await loop.idle();
    // Reminder schedules outlive the decision (they delete themselves after running): each fires once.
    for (const schedule of loop.scheduler.schedules.filter((s) => !s.fired))
      await loop.scheduler.fire(schedule);
    await loop.idle();
  };

  meter.captureOutput();
  try {
    // Warm every handler once (cold starts: a secret read, module init), then count.
    for (const kind of ['reviewed', 'allowed', 'denied'] as const) await run(kind, 1);
    const kinds: KindResult[] = [];
    for (const kind of ['reviewed', 'allowed', 'denied'] as const) {
      meter.reset();
      const t0 = performance.now();
      await run(kind, COST.requests);
      const usage = meter.read();
      const items = bill(usage, memoryMb);
      kinds.push({
        kind,
        requests: COST.requests,
        usage,
        items,
        per1000Usd: (sum(items.map((i) => i.usd)) / COST.requests) * 1000,
        seconds: (performance.now() - t0) / 1000,
      });
    }
    // One digest run, measured the same way, stands for each hour of an idle month.
    // The local digest runs the digest core with a local key: the deployed handler's one KMS Sign,
    // its invocation and its schedule's are added to what the run measured. The handler also reads
    // the pending-review window (every shard of every hour of it) for its gauges: read here too.
    meter.reset();
    const t0 = performance.now();
    await loop.digests.writeDue();
    await readPendingReviews({ ddb: loop.aws.ddb, table: loop.aws.table }, new Date());
    const digestRun = meter.read();
    digestRun.calls['KMS.Sign'] = (digestRun.calls['KMS.Sign'] ?? 0) + 1;
    digestRun.lambda.digest = { invocations: 1, errors: 0, billedMs: Math.ceil(performance.now() - t0) };
    digestRun.schedulesFired += 1;
    const idle = idleBill(loop.synthesized.resources, digestRun, memoryMb);
    const activeMetrics = [...new Set(kinds.flatMap((k) => k.usage.metrics))].sort();
    return { kinds, idle, idleUsd: sum(idle.map((i) => i.usd)), activeMetrics };
  } finally {
    meter.stopCapturingOutput();
    meter.uninstall();
    await loop.close();
  }
}

const usd = (n: number, digits = 4) => `$${n.toFixed(digits)}`;

/** Prints the figures. */
export function printCost(result: Awaited<ReturnType<typeof benchCost>>): void {
  console.log(
    `\nCost per request, measured in the sandbox, priced for ${PRICE_REGION} (prices read ${PRICES.stateTransition.read}; bench/prices.ts)`,
  );
  console.log('Lambda durations come from a loaded sandbox machine and overstate deployed ones.\n');
  for (const k of result.kinds) {
    const goal =
      k.kind === 'reviewed'
        ? `  goal <= ${usd(COST.goals.reviewedPer1000Usd, 2)}: ${k.per1000Usd <= COST.goals.reviewedPer1000Usd ? 'ok' : 'MISS'}`
        : '';
    console.log(
      `--- per 1,000 ${k.kind} requests: ${usd(k.per1000Usd)}${goal}  (${k.requests} measured in ${k.seconds.toFixed(1)} s)`,
    );
    const rows = [...k.items].filter((i) => i.usd > 0 || i.units > 0).sort((a, b) => b.usd - a.usd);
    const total = sum(k.items.map((i) => i.usd));
    for (const i of rows) {
      const per1000 = (i.usd / k.requests) * 1000;
      const share = total > 0 ? (100 * i.usd) / total : 0;
      const perRequest = i.units / k.requests;
      console.log(
        `  ${i.item.padEnd(52)}${perRequest.toFixed(3).padStart(10)} /req  ${usd(per1000, 5).padStart(10)}  ${share.toFixed(1).padStart(5)}%${i.note ? `  (${i.note})` : ''}`,
      );
    }
    console.log(
      `  SDK calls per request: ${Object.entries(k.usage.calls)
        .map(([c, n]) => `${c} ${(n / k.requests).toFixed(2)}`)
        .join(', ')}`,
    );
  }
  console.log(
    `\n--- idle stack, per month: ${usd(result.idleUsd, 2)}  goal <= ${usd(COST.goals.idleMonthlyUsd, 2)}: ${result.idleUsd <= COST.goals.idleMonthlyUsd ? 'ok' : 'MISS'}`,
  );
  for (const i of [...result.idle].sort((a, b) => b.usd - a.usd))
    console.log(
      `  ${i.item.padEnd(52)}${String(Number(i.units.toFixed(2))).padStart(8)}  ${usd(i.usd, 2).padStart(8)}${i.note ? `  (${i.note})` : ''}`,
    );
  console.log(
    `\nWhile active, each distinct metric is another ${usd(PRICES.customMetricMonth.usd, 2)} a month; this run published ${result.activeMetrics.length}:`,
  );
  console.log(`  ${result.activeMetrics.join('\n  ')}`);
  console.log('\nPrices and their sources:');
  for (const [key, p] of Object.entries(PRICES) as [string, (typeof PRICES)[PriceKey]][])
    console.log(
      `  ${key.padEnd(22)} $${p.usd} per ${p.per.toLocaleString('en-US')} ${p.unit}${'assumed' in p && p.assumed ? ' [assumed]' : ''} — ${p.page}`,
    );
}

if (process.argv[1]?.endsWith('bench/cost.ts')) {
  benchCost().then(
    (result) => {
      printCost(result);
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
