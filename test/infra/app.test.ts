/**
 * bin/countersign-app.ts as the CDK CLI runs it: context in CDK_CONTEXT_JSON
 * (cdk.json plus -c flags), the template in CDK_OUTDIR. Bundling is skipped.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/handler-function.js';
import { CDK_CONTEXT } from './support.js';

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

function runApp(context: Record<string, unknown>) {
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'countersign-app-'));
  outdirs.push(outdir);
  const result = spawnSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['bin/countersign-app.ts'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context }),
      CDK_OUTDIR: outdir,
      CDK_DEFAULT_REGION: 'eu-west-1',
      CDK_DEFAULT_ACCOUNT: '123456789012',
    },
  });
  return { ...result, outdir };
}

// Each test runs the app in a child process with cdk-nag: minutes on a loaded machine.
describe('bin/countersign-app.ts', { timeout: 240_000 }, () => {
  it('applies flat countersign:<key> overrides and passes cdk-nag', () => {
    // Act
    const run = runApp({ 'countersign:auditRetentionDays': '30' });
    // Assess
    expect(run.status, run.stderr).toBe(0);
    const template = JSON.parse(readFileSync(path.join(run.outdir, 'Countersign.template.json'), 'utf8'));
    type Bucket = {
      Type: string;
      Properties: {
        ObjectLockEnabled?: boolean;
        ObjectLockConfiguration?: { Rule: { DefaultRetention: unknown } };
      };
    };
    const retention = Object.values(template.Resources as Record<string, Bucket>)
      .filter((r) => r.Type === 'AWS::S3::Bucket' && r.Properties.ObjectLockEnabled)
      .map((r) => r.Properties.ObjectLockConfiguration?.Rule.DefaultRetention);
    expect(retention).toEqual([{ Mode: 'COMPLIANCE', Days: 30 }]);
    // A whole synth with cdk-nag and the cfn-guard rules in a child process: ~50-120 s on a busy two-core machine.
  }, 300_000);

  it('fails the synth on a policy that does not validate, naming the file and the line', () => {
    // Prepare: the real schema and policies, plus one policy that reads an attribute the schema lacks.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'countersign-policies-'));
    outdirs.push(dir);
    cpSync(path.join(REPO_ROOT, 'policies'), dir, { recursive: true });
    writeFileSync(
      path.join(dir, '60-broken.cedar'),
      [
        '// A typo the validator must catch: resource.enviroment does not exist.',
        '@id("review-broken")',
        '@outcome("review")',
        'permit (principal, action == Countersign::Action::"request", resource)',
        'when { resource.enviroment == "prod" };',
        '',
      ].join('\n'),
    );
    // Act
    const run = runApp({ 'countersign:policyDir': dir });
    // Assess
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/60-broken\.cedar:\d+/);
    expect(run.stderr).toContain('enviroment');
  });

  it('names the stack from countersign:stackName, so a second copy can be deployed beside the first', () => {
    // Act
    const run = runApp({
      'countersign:stackName': 'CountersignStaging',
      'countersign:eventBusName': 'countersign-staging',
    });
    // Assess
    expect(run.status, run.stderr).toBe(0);
    const template = JSON.parse(
      readFileSync(path.join(run.outdir, 'CountersignStaging.template.json'), 'utf8'),
    ) as { Resources: Record<string, { Type: string; Properties: { Name?: string } }> };
    const buses = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Events::EventBus');
    expect(buses.map((b) => b.Properties.Name)).toEqual(['countersign-staging']);
  });

  it('refuses a stack name CloudFormation would refuse, naming the key', () => {
    const run = runApp({ 'countersign:stackName': 'countersign_staging' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('countersign.stackName: must be a CloudFormation stack name');
  });

  it('fails the synth on an environment pattern that matches any resource, naming the key', () => {
    const run = runApp({
      countersign: { ...(CDK_CONTEXT.countersign as object), environments: { dev: { resources: ['*'] } } },
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('countersign.environments.dev.resources.0: "*" must start with a literal');
  });

  it('fails with a message naming the missing key', () => {
    const { slackChannelId: _omitted, ...rest } = CDK_CONTEXT.countersign as Record<string, unknown>;
    const run = runApp({ countersign: rest });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('countersign.slackChannelId: is required');
  });
});
