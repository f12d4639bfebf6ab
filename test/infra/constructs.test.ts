/** Construct-level behaviour on minimal stacks: agent publish grants and guard rails. */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { AuditStore } from '../../lib/audit-store.js';
import { loadConfig } from '../../lib/config.js';
import { CountersignStack } from '../../lib/countersign-stack.js';
import { IntentBus } from '../../lib/intent-bus.js';
import { CDK_CONTEXT, TEST_ENV, TEST_POLICY_BUNDLE, testApp } from './support.js';

describe('IntentBus.grantPublish', () => {
  it('lets an agent role put events on this bus only as its own source and intent detail-types', () => {
    // Prepare
    const stack = new Stack(new App(), 'Agents', { env: TEST_ENV });
    const bus = new IntentBus(stack, 'IntentBus', { eventBusName: 'countersign-test' });
    const role = new iam.Role(stack, 'DeployBot', { assumedBy: new iam.AccountRootPrincipal() });
    // Act
    bus.grantPublish(role, 'deploy-bot');
    // Assess
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'countersign-test' });
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    expect(policies).toHaveLength(1);
    expect(policies[0]!.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^IntentBus/), 'Arn'] },
        Condition: {
          StringEquals: {
            'events:source': 'countersign.agent.deploy-bot',
            'events:detail-type': ['Privileged Action Requested', 'Privileged Action Cancelled'],
          },
        },
      },
    ]);
  });

  it.each(['', 'Deploy Bot', '*', 'a'.repeat(65), 'bot*'])('refuses agent id %j', (agentId) => {
    const stack = new Stack(new App(), 'Agents', { env: TEST_ENV });
    const bus = new IntentBus(stack, 'IntentBus');
    const role = new iam.Role(stack, 'Bot', { assumedBy: new iam.AccountRootPrincipal() });
    expect(() => bus.grantPublish(role, agentId)).toThrow(/agent id/);
  });
});

describe('guard rails', () => {
  it('the stack needs a region (the table key is per replica region)', () => {
    const app = testApp();
    expect(
      () =>
        new CountersignStack(app, 'NoRegion', {
          config: loadConfig(CDK_CONTEXT.countersign),
          policyBundle: TEST_POLICY_BUNDLE,
        }),
    ).toThrow(/needs a region/);
  });

  it('the audit store refuses a non-positive retention', () => {
    const stack = new Stack(new App(), 'Store', { env: TEST_ENV });
    expect(() => new AuditStore(stack, 'AuditStore', { retentionDays: 0 })).toThrow(/retentionDays/);
  });
});
