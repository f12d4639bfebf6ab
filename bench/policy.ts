/**
 * Policy benchmark: p50/p99 of one `evaluateIntent` decision with 100 policies
 * loaded (the default set plus synthetic ones), and of `canApprove`.
 * Target: p99 <= 1 ms. Run alone with `npx tsx bench/policy.ts`.
 */
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Intent } from '../lambdas/shared/intent.js';
import { createPolicyEngine } from '../lambdas/shared/policy.js';
import { buildPolicyBundle } from '../lib/policy-bundle.js';

const POLICY_DIR = fileURLToPath(new URL('../policies', import.meta.url));
const TARGET_POLICIES = 100;
const DECISIONS = 20_000;
const WARMUP = 1_000;

const services = ['s3', 'ec2', 'rds', 'lambda', 'dynamodb', 'sqs', 'sns', 'ecs', 'eks', 'cloudfront'];
const envs = ['dev', 'staging', 'prod'];

/** Synthetic policies shaped like real ones: forbids, reviews with plans, allows with parameter guards. */
export function syntheticPolicies(count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const service = services[i % services.length];
    const env = envs[i % envs.length];
    const head = 'permit (principal, action == Countersign::Action::"request", resource)';
    if (i % 10 === 0) {
      out.push(
        `@id("synthetic-deny-${i}")\nforbid (principal, action == Countersign::Action::"request", resource)\nwhen { resource.environment == "${env}" && resource.action == "${service}:Delete${i}" };`,
      );
    } else if (i % 3 === 0) {
      out.push(
        `@id("synthetic-allow-${i}")\n@outcome("allow")\n${head}\nwhen { resource.environment == "${env}" && resource.service == "${service}" && resource.operation like "Describe${i}*" && (resource.parameters has rowLimit && resource.parameters.rowLimit < ${i * 10}) };`,
      );
    } else {
      out.push(
        `@id("synthetic-review-${i}")\n@outcome("review")\n@quorum("${(i % 3) + 1}")\n@timeout("${1800 + i * 10}")\n@approvers("group:team-${i % 7}, email:owner${i}@example.com")\n@mask("parameters.password")\n${head}\nwhen { resource.environment == "${env}" && resource.service == "${service}" && (resource.operation like "Update${i}*" || context.datasets.contains("dataset-${i}") || resource.resource like "*:table/t${i}*") };`,
      );
    }
  }
  return `${out.join('\n\n')}\n`;
}

function intents(): Intent[] {
  const agent = {
    model: 'claude',
    sessionId: 's',
    onBehalfOf: 'carol@example.com',
    owner: 'erin@example.com',
  };
  const base = { resource: 'arn:aws:iam::123456789012:role/app', justification: 'bench', agent };
  return [
    {
      ...base,
      intentId: 'bench-0001',
      action: 'iam:AttachRolePolicy',
      environment: 'prod',
      parameters: { policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
    },
    {
      ...base,
      intentId: 'bench-0002',
      action: 's3:GetObject',
      environment: 'dev',
      parameters: { bucket: 'b' },
    },
    {
      ...base,
      intentId: 'bench-0003',
      action: 'data:Export',
      environment: 'prod',
      parameters: { dataset: 'customers', rowLimit: 100, connectionString: 'postgres://a:b@h/d' },
      context: { datasets: ['customers'] },
    },
    {
      ...base,
      intentId: 'bench-0004',
      action: 'organizations:LeaveOrganization',
      environment: 'prod',
      parameters: {},
    },
    {
      ...base,
      intentId: 'bench-0005',
      action: 'ec2:RunInstances',
      environment: 'staging',
      parameters: { instanceType: 'm7g.large', count: 3 },
    },
    {
      ...base,
      intentId: 'bench-0006',
      action: 'rds:Update12Cluster',
      environment: 'prod',
      parameters: { rowLimit: 5 },
    },
  ];
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Runs the benchmark and returns its figures (milliseconds). */
export async function benchPolicy(): Promise<Record<string, unknown>> {
  // Prepare: the default policies plus synthetic ones up to 100.
  const dir = mkdtempSync(join(tmpdir(), 'countersign-bench-policies-'));
  for (const name of readdirSync(POLICY_DIR)) {
    if (name.endsWith('.cedar') || name.endsWith('.cedarschema'))
      copyFileSync(join(POLICY_DIR, name), join(dir, name));
  }
  const defaults = Object.keys(buildPolicyBundle(POLICY_DIR).policies).length;
  writeFileSync(join(dir, 'zz-synthetic.cedar'), syntheticPolicies(TARGET_POLICIES - defaults));
  let t = performance.now();
  const bundle = buildPolicyBundle(dir);
  const buildMs = performance.now() - t;
  t = performance.now();
  const engine = createPolicyEngine(bundle);
  const loadMs = performance.now() - t;
  const policyCount = Object.keys(bundle.policies).length;
  const cases = intents();
  const policyDefaults = { approverGroup: 'security-approvers', timeoutSeconds: 3600 };

  // Act
  const outcomes: Record<string, number> = {};
  for (let i = 0; i < WARMUP; i++)
    engine.evaluateIntent({ intent: cases[i % cases.length]!, agentId: 'bench-agent' }, policyDefaults);
  const evaluate: number[] = [];
  for (let i = 0; i < DECISIONS; i++) {
    const intent = cases[i % cases.length]!;
    const start = performance.now();
    const verdict = engine.evaluateIntent({ intent, agentId: 'bench-agent' }, policyDefaults);
    evaluate.push(performance.now() - start);
    outcomes[verdict.outcome] = (outcomes[verdict.outcome] ?? 0) + 1;
  }
  const reviewIntent = cases[0]!;
  const plan = engine.evaluateIntent({ intent: reviewIntent, agentId: 'bench-agent' }, policyDefaults)
    .review!;
  const approve: number[] = [];
  for (let i = 0; i < DECISIONS / 4; i++) {
    const start = performance.now();
    engine.canApprove({
      intent: reviewIntent,
      agentId: 'bench-agent',
      plan,
      approver: { slackUserId: 'U1', email: 'alice@example.com', groups: ['security-approvers'] },
    });
    approve.push(performance.now() - start);
  }

  // Assess
  evaluate.sort((a, b) => a - b);
  approve.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 1000) / 1000;
  const result = {
    policies: policyCount,
    decisions: DECISIONS,
    outcomes,
    bundleBuildMs: round(buildMs),
    engineLoadMs: round(loadMs),
    evaluateP50Ms: round(percentile(evaluate, 50)),
    evaluateP99Ms: round(percentile(evaluate, 99)),
    evaluateMaxMs: round(evaluate.at(-1)!),
    canApproveP50Ms: round(percentile(approve, 50)),
    canApproveP99Ms: round(percentile(approve, 99)),
    targetP99Ms: 1,
    meetsTarget: percentile(evaluate, 99) <= 1,
  };
  console.log(`policy evaluation, ${policyCount} policies, ${DECISIONS} decisions (${process.version})`);
  console.table({
    evaluateIntent: {
      p50_ms: result.evaluateP50Ms,
      p99_ms: result.evaluateP99Ms,
      max_ms: result.evaluateMaxMs,
    },
    canApprove: {
      p50_ms: result.canApproveP50Ms,
      p99_ms: result.canApproveP99Ms,
      max_ms: round(approve.at(-1)!),
    },
  });
  console.log(
    `bundle build ${result.bundleBuildMs} ms, engine load ${result.engineLoadMs} ms; p99 target 1 ms: ${result.meetsTarget ? 'met' : 'MISSED'}`,
  );
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchPolicy();
}
