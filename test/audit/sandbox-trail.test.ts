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
  exported: {
    code: number;
    rows: { requestId: string; outcome: string; automatic: boolean; approvers: unknown }[];
  };
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
    // Evidence export reads each request's final record: human and policy decisions alike.
    expect(outcome.exported.code).toBe(0);
    const outcomes = Object.fromEntries(
      outcome.exported.rows.map((r) => [r.requestId, [r.outcome, r.automatic]]),
    );
    const [allow, deny, approve, denied, expire] = outcome.intents;
    expect(outcomes).toEqual({
      [allow!]: ['APPROVED', true],
      [deny!]: ['DENIED', true],
      [approve!]: ['APPROVED', false],
      [denied!]: ['DENIED', false],
      [expire!]: ['EXPIRED', true],
    });
    expect(outcome.tampered.code).toBe(1);
    expect(outcome.tampered.stdout).toContain(`modified: record ${outcome.victim}`);
  }, 150_000);
});
