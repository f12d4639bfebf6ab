/**
 * The enforcement parts of the synthesized stack: executor roles only the
 * grant function may assume (with source identity and session tags), the
 * grant function's STS permissions on exactly those roles, the credentials
 * route, the CloudTrail rule on the default bus with its detector and alarm,
 * a catalog checked at synth, and cdk-nag clean with executors added.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../lambdas/grant/catalog.js';
import { CONFIG_CONTEXT_KEY, loadConfig } from '../../lib/config.js';
import { CountersignStack } from '../../lib/countersign-stack.js';
import { loadCatalog } from '../../lib/executors.js';
import { CDK_CONTEXT, TEST_POLICY_BUNDLE, testApp } from '../infra/support.js';
import { enforcementStack, FIXTURE_ENV } from './stack-fixture.js';
import { CATALOG } from './support.js';

let template: Template;
let stack: CountersignStack;
beforeAll(() => {
  ({ stack } = enforcementStack());
  template = Template.fromStack(stack);
}, 120_000);

const grantRoleId = () => stack.getLogicalId(stack.statusApi.grantFunction.role!.node.defaultChild as never);
const executorId = (name: string) =>
  stack.getLogicalId(stack.executors.roles[name]!.node.defaultChild as never);

describe('executor roles', () => {
  it('trust only the grant function’s role, and only with a source identity and session tags', () => {
    for (const name of ['iam-changes', 'kms-operations']) {
      const trust = template.toJSON().Resources[executorId(name)].Properties.AssumeRolePolicyDocument;
      expect(trust.Statement).toEqual([
        {
          Action: 'sts:AssumeRole',
          Condition: { Null: { 'sts:SourceIdentity': 'false' } },
          Effect: 'Allow',
          Principal: { AWS: { 'Fn::GetAtt': [grantRoleId(), 'Arn'] } },
        },
        {
          Action: ['sts:SetSourceIdentity', 'sts:TagSession'],
          Effect: 'Allow',
          Principal: { AWS: { 'Fn::GetAtt': [grantRoleId(), 'Arn'] } },
        },
      ]);
    }
  });

  it('are the only roles the grant function may assume, with the three STS actions', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(grantRoleId()))
      .flatMap(
        (p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
      )
      .filter((s) => JSON.stringify(s.Action).includes('sts:'));
    expect(statements).toEqual([
      {
        Action: ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'],
        Effect: 'Allow',
        Resource: ['iam-changes', 'kms-operations'].map((n) => ({ 'Fn::GetAtt': [executorId(n), 'Arn'] })),
      },
    ]);
  });

  it('give the grant function the catalog and the executor role ARNs', () => {
    const fnId = stack.getLogicalId(stack.statusApi.grantFunction.node.defaultChild as never);
    const vars = template.toJSON().Resources[fnId].Properties.Environment.Variables;
    expect(parseCatalog(vars.COUNTERSIGN_ENFORCEMENT_CATALOG)).toEqual(CATALOG);
    expect(JSON.stringify(vars.COUNTERSIGN_EXECUTORS)).toContain(executorId('iam-changes'));
  });

  it('let the agent invoke the credentials route, IAM-authorized like the others', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'POST /grants/{grantId}/credentials',
      AuthorizationType: 'AWS_IAM',
    });
    const agentPolicy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) =>
      JSON.stringify(p.Properties.Roles).includes('AgentDeployBot'),
    );
    expect(JSON.stringify(agentPolicy)).toContain('/grants/*/credentials');
    expect(JSON.stringify(agentPolicy)).not.toMatch(/"(iam|kms):/);
  });
});

describe('addExecutor at synth', () => {
  const fresh = () =>
    new CountersignStack(testApp(), 'Countersign', {
      env: FIXTURE_ENV,
      config: loadConfig(CDK_CONTEXT[CONFIG_CONTEXT_KEY], {}),
      policyBundle: TEST_POLICY_BUNDLE,
    });

  it('refuses an executor no catalog entry names', () => {
    expect(() =>
      fresh().addExecutor('payments', {
        statements: [new iam.PolicyStatement({ actions: ['iam:*'], resources: ['*'] })],
      }),
    ).toThrow(/no entry of the enforcement catalog names this executor/);
  });

  it('refuses statements that miss an IAM action the catalog needs', () => {
    expect(() =>
      fresh().addExecutor('iam-changes', {
        statements: [new iam.PolicyStatement({ actions: ['iam:AttachRolePolicy'], resources: ['*'] })],
      }),
    ).toThrow(/do not allow iam:DetachRolePolicy, which iam:DetachRolePolicy needs/);
  });
});

describe('unapproved-action detector', () => {
  it('listens on the default bus for CloudTrail calls of exactly the catalog’s actions', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule')).filter((r) =>
      JSON.stringify(r.Properties.EventPattern ?? {}).includes('AWS API Call via CloudTrail'),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0]!.Properties.EventBusName).toBeUndefined();
    expect(rules[0]!.Properties.EventPattern).toEqual({
      source: ['aws.iam', 'aws.kms', 'aws.s3'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['iam.amazonaws.com', 'kms.amazonaws.com', 's3.amazonaws.com'],
        eventName: ['AttachRolePolicy', 'DetachRolePolicy', 'EnableKeyRotation', 'PutBucketPolicy'],
      },
    });
    expect(rules[0]!.Properties.Targets[0]).toMatchObject({
      RetryPolicy: { MaximumRetryAttempts: 8 },
      DeadLetterConfig: { Arn: expect.anything() },
    });
  });

  it('alarms on the first unapproved action', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Countersign',
      MetricName: 'UnapprovedActions',
      Dimensions: [{ Name: 'service', Value: 'detector' }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('knows Countersign’s own handler roles, but not the executors or the agent', () => {
    const fnId = stack.getLogicalId(stack.detector.handler.node.defaultChild as never);
    const own = JSON.stringify(
      template.toJSON().Resources[fnId].Properties.Environment.Variables.COUNTERSIGN_OWN_ROLES,
    );
    expect(own).toContain(grantRoleId());
    expect(own).not.toContain(executorId('iam-changes'));
    expect(own).not.toContain('AgentDeployBot');
  });
});

describe('cdk-nag with executors', () => {
  it('finds nothing unacknowledged', () => {
    const { app } = enforcementStack();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations).toEqual([]);
  });
});

describe('the catalog at synth', () => {
  it('fails the synth naming the file when it is missing or invalid', () => {
    const dir = mkdtempSync(join(tmpdir(), 'countersign-catalog-'));
    try {
      expect(() => loadCatalog(dir)).toThrow(`${dir}/enforcement.json is missing`);
      writeFileSync(
        join(dir, 'enforcement.json'),
        JSON.stringify({ version: 1, actions: { 'iam:AttachRolePolicy': { executor: 'iam-changes' } } }),
      );
      expect(() => loadCatalog(dir)).toThrow(
        /enforcement\.json is invalid: actions\.iam:AttachRolePolicy\.iamActions/,
      );
      writeFileSync(join(dir, 'enforcement.json'), JSON.stringify({ version: 1, actions: {} }));
      expect(() => loadCatalog(dir)).toThrow(/maps no action/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
