/**
 * Cold-start figures for every handler: minified bundle size (built the way the
 * stack builds it) and module-init time in a fresh Node process, next to the
 * same handler with its node_modules left unbundled.
 *
 *   npx tsx bench/cold-start.ts [runs] [handler ...]
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';
import {
  CEDAR_WASM,
  LAMBDA_ALIASES,
  LAMBDA_MODULE_URL,
  POLICY_BUNDLE_CONSTANT,
} from '../lib/handler-function.js';
import { buildPolicyBundle } from '../lib/policy-bundle.js';
import { median } from './stats.js';

const root = resolve(import.meta.dirname, '..');

/** Env a handler needs at load (values are placeholders: init must not call AWS). */
const HANDLER_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  COUNTERSIGN_TABLE_NAME: 'bench',
  COUNTERSIGN_AUDIT_BUCKET: 'bench',
  COUNTERSIGN_AUDIT_RETENTION_DAYS: '365',
  COUNTERSIGN_SLACK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench',
  COUNTERSIGN_SLACK_CHANNEL: 'C0BENCH',
  COUNTERSIGN_APPROVER_GROUP: 'security-approvers',
  COUNTERSIGN_DEFAULT_REVIEW_TIMEOUT_SECONDS: '3600',
  COUNTERSIGN_DIGEST_KEY_ID: 'arn:aws:kms:us-east-1:000000000000:key/bench',
  POWERTOOLS_SERVICE_NAME: 'countersign',
  COUNTERSIGN_AGENTS: '{}',
  COUNTERSIGN_ENVIRONMENTS: '{}',
  COUNTERSIGN_TEAMS_APP_ID: '00000000-0000-4000-8000-00000000c0de',
  COUNTERSIGN_TEAMS_TENANT_ID: '00000000-0000-4000-8000-0000000000aa',
  COUNTERSIGN_TEAMS_CHANNEL_ID: '19:bench@thread.tacv2',
  COUNTERSIGN_TEAMS_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-teams',
};

/** One handler's figures. */
export interface ColdStartRow {
  handler: string;
  bundleKb: number;
  initMs: number;
  unbundledInitMs: number;
  speedup: number;
  heaviest: string;
}

/** The policy bundle embedded the way the stack embeds it. */
const policyDefine = {
  'import.meta.url': JSON.stringify(LAMBDA_MODULE_URL),
  [POLICY_BUNDLE_CONSTANT]: JSON.stringify(JSON.stringify(buildPolicyBundle(join(root, 'policies')))),
};

/** Bundles a handler as the stack does (minified CJS, ES module builds preferred, policies embedded). */
export async function bundle(entry: string, outfile: string, external: boolean): Promise<Metafile> {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: !external,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    mainFields: ['module', 'main'],
    packages: external ? 'external' : undefined,
    define: policyDefine,
    alias: external ? {} : LAMBDA_ALIASES,
    metafile: true,
    logLevel: 'error',
    absWorkingDir: root,
  });
  return result.metafile;
}

/** The heaviest packages in a bundle, by bytes of output. */
export function heaviestPackages(metafile: Metafile, top = 5): string {
  const sizes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const name = match ? match[1]! : '(countersign)';
      sizes.set(name, (sizes.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...sizes.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, bytes]) => `${name} ${Math.round(bytes / 1024)}K`)
    .join(', ');
}

/** Module-init times of a bundle in `runs` fresh Node processes, with extra environment. */
export function initTimes(file: string, runs: number, env: Record<string, string> = {}): number[] {
  const script = `const t=performance.now();require(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t));`;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, ['-e', script], {
      env: { ...process.env, ...HANDLER_ENV, ...env },
      cwd: root,
      encoding: 'utf8',
    });
    times.push(Number(out));
  }
  return times;
}

/** Builds and times every handler. */
export async function benchColdStart(runs = 15, only: readonly string[] = []): Promise<ColdStartRow[]> {
  const out = mkdtempSync(join(tmpdir(), 'countersign-bench-'));
  const rows: ColdStartRow[] = [];
  const handlers = readdirSync(join(root, 'lambdas')).filter((d) => {
    if (only.length > 0 && !only.includes(d)) return false;
    try {
      return statSync(join(root, 'lambdas', d, 'handler.ts')).isFile();
    } catch {
      return false;
    }
  });
  for (const name of handlers) {
    const entry = join(root, 'lambdas', name, 'handler.ts');
    const bundled = join(out, `${name}.cjs`);
    // Unbundled output sits in the repo so that `require` resolves node_modules the way an unbundled deploy would.
    const unbundled = join(root, 'node_modules', '.cache', 'countersign-bench', `${name}.cjs`);
    const metafile = await bundle(entry, bundled, false);
    await bundle(entry, unbundled, true);
    // Cedar's WebAssembly module ships beside the bundle, as the stack ships it.
    copyFileSync(join(root, CEDAR_WASM), join(out, 'cedar_wasm_bg.wasm'));
    const init = median(initTimes(bundled, runs));
    const unbundledInit = median(initTimes(unbundled, runs));
    rows.push({
      handler: name,
      bundleKb: Math.round(statSync(bundled).size / 102.4) / 10,
      initMs: Math.round(init * 10) / 10,
      unbundledInitMs: Math.round(unbundledInit * 10) / 10,
      speedup: Math.round((unbundledInit / init) * 10) / 10,
      heaviest: heaviestPackages(metafile),
    });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const runs = Number(process.argv[2] ?? 15);
  // Further arguments name the handlers to measure (`teams interaction`); all when none.
  const rows = await benchColdStart(runs, process.argv.slice(3));
  console.log(`cold start, median of ${runs} fresh processes each (${process.version})`);
  console.table(rows);
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  for (const row of rows) {
    console.log(
      `${row.handler}: bundle <= 400 KB ${verdict(row.bundleKb <= 400)}, init <= 50 ms ${verdict(row.initMs <= 50)}, >= 3x unbundled ${verdict(row.speedup >= 3)}`,
    );
  }
}
