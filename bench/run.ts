/**
 * `npm run bench`: every benchmark, each in its own Node process (the cold-start
 * bench spawns fresh processes itself; the end-to-end bench runs a whole local
 * loop, one per process). Figures are printed, never asserted: these machines
 * are shared and noisy, so compare ratios measured in one run.
 *
 *   npm run bench                   all of them
 *   npm run bench -- policy audit   only these
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const BENCHES: [name: string, file: string, what: string][] = [
  ['cold-start', 'cold-start.ts', 'handler bundle size and module-init time, bundled vs unbundled'],
  ['policy', 'policy.ts', 'Cedar decision latency with 100 policies'],
  ['audit', 'audit.ts', 'audit verify throughput over 100,000 records'],
  ['e2e', 'e2e.ts', 'offline loop: intent -> card, click -> decision, 1,000 intents at 50/s'],
  ['trace', 'trace.ts', 'trace export on vs off: cold start, click -> decision event p50/p99'],
  ['teams', 'teams.ts', 'Teams: invoke activity -> answer card, -> card updated for everyone'],
  [
    'flood',
    'flood.ts',
    '20 agents, 1,000 intents in 20 s, one flooding: lost, rate limited, card pace, latency, drain',
  ],
  ['cost', 'cost.ts', 'AWS cost per 1,000 approvals (measured units x dated prices) and of an idle month'],
];

const wanted = process.argv.slice(2);
const tsx = join(root, 'node_modules', '.bin', 'tsx');
let failed = 0;
for (const [name, file, what] of BENCHES) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  const path = join(root, 'bench', file);
  if (!existsSync(path)) continue;
  process.stdout.write(`\n=== ${name}: ${what}\n`);
  const run = spawnSync(tsx, [path], { cwd: root, stdio: 'inherit', env: process.env });
  if (run.status !== 0) {
    failed++;
    process.stdout.write(`(${name} exited with ${run.status ?? run.signal})\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
