/**
 * `npm run test:mutation`: runs Stryker on each mutation group
 * (`test/mutation/<group>.stryker.json`), one group at a time (the machine has
 * two cores), then reads each group's JSON report and prints the score per
 * source file and per group with the run time. Exits non-zero when Stryker
 * fails or any source file scores below the threshold, so a wrong line in the
 * code that guards approvals that no test notices fails the run.
 *
 *   npm run test:mutation                         every group
 *   npm run test:mutation -- auth intent          only these groups
 *   npm run test:mutation -- auth --mutate lambdas/interaction/signature.ts:40-60
 *                                                 a narrow run (passed to Stryker)
 *   npm run test:mutation -- --report-only        score the reports already written
 *   npm run test:mutation -- --threshold 85       another threshold (percent, default 90)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  belowThreshold,
  type FileScore,
  formatScore,
  formatUndetected,
  type MutationReport,
  scoreFiles,
  scoreGroup,
} from './score.js';

const root = resolve(import.meta.dirname, '../..');
const groupDir = join(root, 'test', 'mutation');
const SUFFIX = '.stryker.json';

interface Options {
  groups: string[];
  threshold: number;
  reportOnly: boolean;
  strykerArgs: string[];
}

function parseArgs(argv: string[]): Options {
  const options: Options = { groups: [], threshold: 90, reportOnly: false, strykerArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--threshold') {
      const value = Number(argv[++i]);
      if (!Number.isFinite(value) || value < 0 || value > 100)
        fail(`--threshold wants a percent, got ${argv[i]}`);
      options.threshold = value;
    } else if (arg === '--report-only') {
      options.reportOnly = true;
    } else if (arg === '--mutate' || arg === '--concurrency') {
      const value = argv[++i];
      if (value === undefined) fail(`${arg} wants a value`);
      options.strykerArgs.push(arg, value);
    } else if (arg.startsWith('-')) {
      fail(`unknown option ${arg}`);
    } else {
      options.groups.push(arg);
    }
  }
  return options;
}

function fail(message: string): never {
  process.stderr.write(`test:mutation: ${message}\n`);
  process.exit(2);
}

function allGroups(): string[] {
  return readdirSync(groupDir)
    .filter((f) => f.endsWith(SUFFIX))
    .map((f) => f.slice(0, -SUFFIX.length))
    .sort();
}

function reportPath(group: string): string {
  return join(root, 'reports', 'mutation', group, 'mutation.json');
}

function minutes(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

const options = parseArgs(process.argv.slice(2));
const known = allGroups();
const groups = options.groups.length > 0 ? options.groups : known;
for (const g of groups) if (!known.includes(g)) fail(`no group "${g}" (known: ${known.join(', ')})`);
if (options.strykerArgs.length > 0 && groups.length !== 1)
  fail('--mutate and --concurrency need exactly one group');

const stryker = join(root, 'node_modules', '.bin', 'stryker');
const started = Date.now();
const results: { group: string; ms: number; ok: boolean; group_score?: FileScore; files: FileScore[] }[] = [];

for (const group of groups) {
  const t0 = Date.now();
  let ok = true;
  if (!options.reportOnly) {
    rmSync(reportPath(group), { force: true });
    process.stdout.write(`\n== ${group}: stryker run test/mutation/${group}${SUFFIX}\n`);
    const run = spawnSync(
      stryker,
      ['run', join('test', 'mutation', `${group}${SUFFIX}`), ...options.strykerArgs],
      {
        cwd: root,
        stdio: 'inherit',
      },
    );
    ok = run.status === 0;
    if (!ok)
      process.stderr.write(`test:mutation: stryker failed for ${group} (exit ${run.status ?? run.signal})\n`);
  }
  const ms = Date.now() - t0;
  if (!existsSync(reportPath(group))) {
    results.push({ group, ms, ok: false, files: [] });
    process.stderr.write(`test:mutation: no report for ${group} at ${reportPath(group)}\n`);
    continue;
  }
  const report = JSON.parse(readFileSync(reportPath(group), 'utf8')) as MutationReport;
  results.push({ group, ms, ok, group_score: scoreGroup(group, report), files: scoreFiles(report) });
}

process.stdout.write(`\nMutation scores (threshold ${options.threshold} % per file)\n`);
let failing = 0;
for (const r of results) {
  const time = options.reportOnly ? '' : `, ${minutes(r.ms)}`;
  process.stdout.write(`\n${r.group}${time}${r.ok ? '' : ' (FAILED)'}\n`);
  if (!r.ok) failing++;
  for (const s of r.files) {
    process.stdout.write(`${formatScore(s)}\n`);
    for (const line of formatUndetected(s)) process.stdout.write(`${line}\n`);
  }
  if (r.group_score)
    process.stdout.write(`${formatScore({ ...r.group_score, file: `(group ${r.group})` })}\n`);
  const low = belowThreshold(r.files, options.threshold);
  for (const s of low) process.stdout.write(`  below ${options.threshold} %: ${s.file}\n`);
  failing += low.length;
}
if (!options.reportOnly) process.stdout.write(`\nTotal time: ${minutes(Date.now() - started)}\n`);
process.exit(failing > 0 ? 1 : 0);
