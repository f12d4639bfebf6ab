/**
 * `countersign audit verify --sandbox` on a trail the real workflow produced
 * in a sandbox started as `npm start` starts it (see sandbox-trail.script.ts,
 * run in its own process: one loop per process).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPublicKey } from '../../lambdas/shared/digest.js';

const root = resolve(import.meta.dirname, '../..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
interface Outcome {
  intents: string[];
  statuses: string[];
  victim: string;
  publicKeyFile: string;
  open: Run;
  openTampered: Run;
  digested: Run;
  exported: Run & { rows: { requestId: string; outcome: string; automatic: boolean }[] };
  digestedTampered: Run;
  lost: Run;
  rearchived: Run;
  restoredIdentical: boolean;
  rearchivedAgain: Run;
  restored: Run;
  afterStop: Run;
}

let outcome: Outcome;

beforeAll(() => {
  const out = execFileSync(resolve(root, 'node_modules/.bin/tsx'), ['test/audit/sandbox-trail.script.ts'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 240_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  outcome = JSON.parse(out.trim().split('\n').at(-1)!) as Outcome;
}, 270_000);

describe('audit verify --sandbox on a workflow-produced trail', () => {
  it('finds the sandbox from its data directory alone and signs with the key kept there', () => {
    expect([...outcome.statuses].sort()).toEqual(['APPROVED', 'APPROVED', 'DENIED', 'DENIED', 'EXPIRED']);
    expect(outcome.publicKeyFile).toMatch(/digest-public\.pem$/);
    expect(() => loadPublicKey(readFileSync(outcome.publicKeyFile))).not.toThrow();
  });

  it('passes while the hour is open, reporting its records as pending', () => {
    expect(outcome.open.code).toBe(0);
    expect(outcome.open.stdout).toMatch(
      /^OK: \d+ digests?, \d+ records, 5 requests verified.*\((\d+) pending: not yet in a digest\)/m,
    );
    expect(outcome.open.stderr).toMatch(/warning: pending: \d+ records written/);
  });

  it('fails naming the record when one byte of a pending record changes', () => {
    expect(outcome.openTampered.code).toBe(1);
    expect(outcome.openTampered.stdout).toContain(`modified: record ${outcome.victim}`);
  });

  it('passes once the hour is digested with the sandbox key, nothing pending', () => {
    expect(outcome.digested.code).toBe(0);
    expect(outcome.digested.stdout).toMatch(/^OK: \d+ digests, \d+ records, 5 requests verified/m);
    expect(outcome.digested.stdout).not.toContain('pending');
  });

  it('exports evidence from the sandbox with no range given', () => {
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
  });

  it('fails naming the record when one byte of a digested record changes', () => {
    expect(outcome.digestedTampered.code).toBe(1);
    expect(outcome.digestedTampered.stdout).toContain(`modified: record ${outcome.victim}`);
    expect(outcome.digestedTampered.stdout).toMatch(/^FAILED: /m);
  });

  it('audit archive --missing puts a lost record back byte for byte, once', () => {
    expect(outcome.lost.code).toBe(1);
    expect(outcome.lost.stdout).toContain(`missing: record ${outcome.victim}`);
    expect(outcome.rearchived.code).toBe(0);
    expect(outcome.rearchived.stdout).toContain(`archived: ${outcome.victim}`);
    expect(outcome.rearchived.stdout).toMatch(/^1 of \d+ audit rows written .* re-archived to s3:\/\//m);
    expect(outcome.restoredIdentical).toBe(true);
    expect(outcome.restored.code).toBe(0);
    expect(outcome.restored.stdout).toMatch(/^OK: /m);
    expect(outcome.rearchivedAgain.code).toBe(0);
    expect(outcome.rearchivedAgain.stdout).not.toContain('archived:');
    expect(outcome.rearchivedAgain.stdout).toMatch(/^nothing to do: all \d+ audit rows written/m);
  });

  it('says clearly that the sandbox is not running once it stopped', () => {
    expect(outcome.afterStop.code).toBe(1);
    expect(outcome.afterStop.stderr).toMatch(/is not running\. Start it again with "npm start"/);
  });
});
