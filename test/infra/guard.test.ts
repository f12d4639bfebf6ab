/**
 * Template rules: the AWS Control Tower proactive controls run by cfn-guard
 * (`@cdklabs/cdk-validator-cfnguard`) as a synth-time validation plugin, as
 * bin/countersign-app.ts wires them. The plugin flags a deliberately
 * non-compliant stack (so the check can fail), accepts the real stack with
 * its acknowledgements, and every acknowledgement names a real rule and a reason.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { CONFIG_CONTEXT_KEY, loadConfig } from '../../lib/config.js';
import { CountersignStack } from '../../lib/countersign-stack.js';
import { REPO_ROOT } from '../../lib/handler-function.js';
import {
  acknowledgeTemplateFindings,
  addTemplateRules,
  TEMPLATE_RULE_ACCEPTANCES,
} from '../../lib/template-rules.js';
import { CDK_CONTEXT, testApp } from './support.js';

/** The validation failure of a synth (the report text, or the report file it points to), or ''. */
const synthError = (app: App): string => {
  try {
    app.synth();
    return '';
  } catch (error) {
    const message = (error as Error).message;
    const report = /found in: (\S+\.json)/.exec(message)?.[1];
    return report ? `${message}\n${readFileSync(report, 'utf8')}` : message;
  }
};

/** Every rule name in the bundled Control Tower rule files. */
function bundledRuleNames(): Set<string> {
  const root = join(
    dirname(createRequire(import.meta.url).resolve('@cdklabs/cdk-validator-cfnguard/package.json')),
    'rules',
  );
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.guard'))
        for (const m of readFileSync(path, 'utf8').matchAll(/^rule\s+([a-z0-9_]+)/gm)) names.add(m[1]!);
    }
  };
  walk(root);
  return names;
}

describe('template rules (Control Tower proactive controls, cfn-guard)', () => {
  it('fail synth on a non-compliant stack, even with Countersign’s acknowledgements applied', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'NonCompliant', { env: { account: '123456789012', region: 'us-east-1' } });
    new s3.Bucket(stack, 'PlainBucket');
    new logs.LogGroup(stack, 'ShortLogs', { retention: logs.RetentionDays.ONE_DAY });
    addTemplateRules(app);
    acknowledgeTemplateFindings(stack);
    const message = synthError(app);
    expect(message).toMatch(/CT\.S3\.PR\.11/); // versioning: not accepted for an ordinary bucket
    expect(message).toMatch(/CT\.CLOUDWATCH\.PR\.2/); // log retention under a year
    expect(message).toMatch(/NonCompliant\/PlainBucket\/Resource/);
  });

  it('pass the Countersign stack with its acknowledgements (as `npm run synth` runs them)', () => {
    const app = testApp();
    const stack = new CountersignStack(app, 'Countersign', {
      env: { account: '123456789012', region: 'us-east-1' },
      config: loadConfig(CDK_CONTEXT[CONFIG_CONTEXT_KEY], {}),
    });
    addTemplateRules(app);
    acknowledgeTemplateFindings(stack);
    expect(synthError(app)).toBe('');
  }, 300_000);

  it('acknowledge only rules that exist, each with a reason, and are wired into the app', () => {
    const rules = bundledRuleNames();
    expect(rules.size).toBeGreaterThan(100);
    for (const acceptance of TEMPLATE_RULE_ACCEPTANCES) {
      expect(rules.has(acceptance.rule), acceptance.rule).toBe(true);
      expect(acceptance.reason.length, acceptance.rule).toBeGreaterThan(40);
    }
    const bin = readFileSync(join(REPO_ROOT, 'bin/countersign-app.ts'), 'utf8');
    expect(bin).toMatch(/addTemplateRules\(app\)/);
    expect(bin).toMatch(/acknowledgeTemplateFindings\(stack\)/);
  });
});
