/**
 * `countersign audit verify` on a trail the real workflow produced (see
 * sandbox-trail.script.ts, run in its own process: one loop per process).
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

interface Outcome {
  intents: string[];
  statuses: string[];
  digests: number;
  victim: string;
  verify: { code: number; stdout: string };
  tampered: { code: number; stdout: string };
}

describe('audit verify on a workflow-produced trail', () => {
  it('passes on the trail as written and names the record after one byte changes', () => {
    const out = execFileSync(resolve(root, 'node_modules/.bin/tsx'), ['test/audit/sandbox-trail.script.ts'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const outcome = JSON.parse(out.trim().split('\n').at(-1)!) as Outcome;

    expect([...outcome.statuses].sort()).toEqual(['APPROVED', 'APPROVED', 'DENIED', 'DENIED', 'EXPIRED']);
    expect(outcome.digests).toBeGreaterThan(0);
    expect(outcome.verify.code).toBe(0);
    expect(outcome.verify.stdout).toMatch(/^OK: \d+ digests?, \d+ records, 5 requests verified/m);
    expect(outcome.tampered.code).toBe(1);
    expect(outcome.tampered.stdout).toContain(`modified: record ${outcome.victim}`);
  }, 150_000);
});
