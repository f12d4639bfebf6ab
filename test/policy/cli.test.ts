/** `countersign policy test|explain` run as real subprocesses. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { POLICY_DIR, policyDir, REPO } from './helpers.js';

function countersign(...args: string[]) {
  const out = spawnSync('npx', ['tsx', 'bin/countersign.ts', ...args], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: out.status, stdout: out.stdout, stderr: out.stderr };
}

describe('countersign CLI', () => {
  it('policy test runs every case: one PASS line each and a summary, exit 0', () => {
    const { code, stdout } = countersign('policy', 'test');
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^PASS {2}iam\.json: attaching AdministratorAccess in prod needs 2 security approvers$/m,
    );
    expect(stdout).not.toMatch(/^FAIL/m);
    expect(stdout).toMatch(/^\d+ passed, 0 failed \(\d+ cases\)$/m);
  });

  it('policy test prints FAIL with what differed and exits 1', () => {
    const cases = mkdtempSync(join(tmpdir(), 'countersign-cases-'));
    writeFileSync(
      join(cases, 'wrong.json'),
      JSON.stringify({
        name: 'claims dev reads need review',
        agentId: 'deploy-bot',
        intent: {
          intentId: 'case-wrong-0001',
          action: 's3:GetObject',
          resource: 'arn:aws:s3:::b/k',
          environment: 'dev',
          justification: 'x',
          parameters: {},
          agent: { model: 'm', sessionId: 's', onBehalfOf: 'a@example.com', owner: 'b@example.com' },
        },
        expected: { outcome: 'review' },
      }),
    );
    const { code, stdout } = countersign('policy', 'test', '--dir', POLICY_DIR, '--cases', cases);
    expect(code).toBe(1);
    expect(stdout).toContain('FAIL  wrong.json: claims dev reads need review');
    expect(stdout).toContain('outcome: expected "review", got "allow"');
    expect(stdout).toMatch(/^0 passed, 1 failed \(1 cases\)$/m);
  });

  it('policy test on a broken policy names file:line and exits 1', () => {
    const dir = policyDir({
      'bad.cedar':
        '@id("x")\n@outcome("allow")\npermit (principal, action, resource) when { resource.nope };\n',
    });
    const { code, stderr } = countersign('policy', 'test', '--dir', dir);
    expect(code).toBe(1);
    expect(stderr).toMatch(/bad\.cedar:3:\d+: .*attribute `nope`/);
  });

  it('policy explain prints outcome, determining policies with their files, and whom it pings', () => {
    const { code, stdout } = countersign(
      'policy',
      'explain',
      'test/policy/fixtures/intent-admin.json',
      '--directory',
      'test/policy/fixtures/directory.json',
    );
    expect(code).toBe(0);
    expect(stdout).toContain('outcome:   REVIEW');
    expect(stdout).toMatch(/^ {2}- review-prod-privilege-escalation {2}\(policies\/20-iam\.cedar:\d+\)$/m);
    expect(stdout).toContain('review:    2 distinct approvals, any deny denies; expires after 1800s');
    expect(stdout).toContain('escalate:  group:security-leads');
    expect(stdout).toContain('asked:     @security-approvers');
    expect(stdout).toContain('  - Alice Adams <alice@example.com> via @security-approvers');
    expect(stdout).toMatch(
      /Carol Chen <carol@example\.com> via @security-approvers — cannot approve: the person the agent acts on behalf of/,
    );
    expect(stdout).toMatch(/Deploy Agent <deploy-agent@example\.com> .* agents and bots never approve/);
    expect(stdout).toContain('this will ping 4 people (2 can approve; quorum 2)');
  });

  it('policy explain without a directory lists groups and emails, with masks and editable parameters', () => {
    const { code, stdout } = countersign(
      'policy',
      'explain',
      'test/policy/fixtures/intent-customer-export.json',
      '--agent',
      'etl-bot',
    );
    expect(code).toBe(0);
    expect(stdout).toContain('asked:     @security-approvers, dpo@example.com');
    expect(stdout).toContain('masked:    parameters.connectionString, parameters.password, parameters.query');
    expect(stdout).toContain('editable:  parameters.rowLimit');
    expect(stdout).toContain('(pass --directory <file> to resolve names and count people)');
  });

  it('policy explain --json gives the report as JSON', () => {
    const { code, stdout } = countersign(
      'policy',
      'explain',
      'test/policy/fixtures/intent-admin.json',
      '--json',
    );
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { verdict: { outcome: string; review: { quorum: number } } };
    expect(report.verdict).toMatchObject({ outcome: 'review', review: { quorum: 2 } });
  });

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['policy'], /missing subcommand/],
    [['policy', 'explain'], /expected exactly one <intent.json>/],
    [['policy', 'test', '--bogus'], /Unknown option '--bogus'/],
  ])('bad usage %j prints usage and exits 2', (args, message) => {
    const { code, stderr } = countersign(...args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/usage:/);
  });
});
