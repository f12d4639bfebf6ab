/**
 * cdk-nag (AwsSolutions) runs on the real app's stack: no unacknowledged
 * finding, every acknowledgement has a specific reason, and the pack is live
 * (a plainly non-compliant stack fails).
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { CountersignStack } from '../../lib/countersign-stack.js';
import { CDK_CONTEXT, TEST_ENV, TEST_POLICY_BUNDLE, testApp } from './support.js';

function nagApp(overrides: Record<string, unknown> = {}): { app: App; stack: CountersignStack } {
  const app = testApp();
  const stack = new CountersignStack(app, 'Countersign', {
    env: TEST_ENV,
    config: loadConfig(CDK_CONTEXT.countersign, overrides),
    policyBundle: TEST_POLICY_BUNDLE,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}

/** Every acknowledgement recorded in the tree, as `path: id`. */
function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  const found: { path: string; id: string; reason: string }[] = [];
  for (const node of root.node.findAll()) {
    for (const entry of node.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      // Each entry is `{ [ruleId]: reason }`.
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        // CDK stores ids without a plugin namespace as `Annotation::<id>`; cdk-nag strips that.
        found.push({ path: node.node.path, id: id.replace(/^annotation::/i, ''), reason });
      }
    }
  }
  return found;
}

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing unacknowledged in the stack (default config and with every option on)', () => {
    for (const overrides of [
      {},
      {
        auditLegalHold: true,
        alarmEmail: 'secops@example.com',
        identityProvider: {
          issuer: 'https://example.okta.com',
          clientId: 'countersign',
          clientSecretId: 'countersign/oidc-client',
          identityStoreId: 'd-1234567890',
        },
        webInboxUrl: 'https://countersign.example.com',
        traceExport: { endpoint: 'https://otlp.example.com/v1/traces', headersSecret: true },
      },
    ]) {
      // Prepare
      const { app } = nagApp(overrides);
      // Act
      const report = new AwsSolutionsChecks(app).validateScope(app);
      // Assess
      expect(report.violations, JSON.stringify(overrides)).toEqual([]);
      expect(report.success).toBe(true);
      expect(() => app.synth()).not.toThrow();
    }
  });

  it('acknowledges only known findings, each on a narrow construct with a specific reason', () => {
    const { app } = nagApp();
    const acks = acknowledgements(app);
    for (const ack of acks) {
      expect(ack.reason.length, `${ack.path}: ${ack.id}`).toBeGreaterThan(60);
      expect(ack.path, ack.id).not.toBe('Countersign');
    }
    const ids = [
      ...new Set(
        // The schedule group's name is a reference to the group (named per stack instance).
        acks.map((a) => a.id.replace(/<[^>]+>/g, '<token>')),
      ),
    ].sort();
    // No API Gateway acknowledgement: the status API is an HTTP API (IAM auth, access logs).
    expect(ids).toEqual([
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-IAM5[Resource::<token>/digests/*]',
      'AwsSolutions-IAM5[Resource::<token>/records/*]',
      'AwsSolutions-IAM5[Resource::<token>:*]',
      'AwsSolutions-IAM5[Resource::arn:aws:scheduler:eu-west-1:123456789012:schedule/<token>/*]',
      'AwsSolutions-KMS5',
      'AwsSolutions-S1',
      'AwsSolutions-SMG4',
      'AwsSolutions-SQS3',
    ]);
  });

  it('is live: a stack with a plain bucket fails validation', () => {
    // Prepare
    const app = new App();
    const stack = new Stack(app, 'NotCompliant');
    new s3.Bucket(stack, 'Plain');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // Act
    const report = new AwsSolutionsChecks(app).validateScope(app);
    // Assess
    expect(report.violations.map((v) => v.ruleName)).toEqual(
      expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']),
    );
    expect(() => app.synth()).toThrow(/AwsSolutions-S10/);
  });
});
