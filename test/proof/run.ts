/**
 * Runs test/proof/scenario.script.ts in its own process (handler modules read
 * their environment once: one loop per process) and returns what it recorded.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { RecordedCall } from './recorder.js';

/** What the scenario recorded. */
export interface ScenarioRun {
  calls: RecordedCall[];
  /** The COUNTERSIGN_* environment the handlers ran with (local names). */
  env: Record<string, string>;
  /** Final statuses and answers of each path, to show the scenario went where it claims. */
  outcomes: Record<string, unknown>;
  /** SDK clients built outside any handler module. */
  unattributed: string[];
}

const root = resolve(import.meta.dirname, '../..');

/** Runs the scenario (about 20–60 s) and parses its one-line JSON report. */
export function runScenario(): ScenarioRun {
  const out = execFileSync(resolve(root, 'node_modules/.bin/tsx'), ['test/proof/scenario.script.ts'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 240_000,
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' },
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as ScenarioRun;
}
