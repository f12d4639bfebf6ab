/**
 * What AWS would reject at deploy time, or accept and then break silently:
 * each finding of a review of the synthesized template against AWS's
 * documented behaviour, asserted on the template (no AWS account needed).
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { CountersignStack } from '../../lib/countersign-stack.js';
import {
  actionsOf,
  busPolicyStatements,
  CDK_CONTEXT,
  functionEnv,
  logicalId,
  type Statement,
  statementsByRole,
  synth,
  TEST_ENV,
  TEST_POLICY_BUNDLE,
  testApp,
} from './support.js';

describe('bus policy', () => {
  it('is one document on the bus itself: no separate policy resources that deploy in parallel', () => {
    // Prepare / Act
    const { template } = synth();
    // Assess: concurrent PutPermission calls on one bus can lose a statement; one Policy property cannot.
    template.resourceCountIs('AWS::Events::EventBusPolicy', 0);
    const sids = [...busPolicyStatements(template).keys()];
    expect(sids).toEqual([
      'DenyUnknownSources',
      'DenyForgedDecisionSource',
      'DenyForgedDecisionType',
      'DenyUnregisteredAgents',
    ]);
    // The bus cannot refer to its own Arn attribute: the policy names it by its configured name.
    for (const statement of busPolicyStatements(template).values()) {
      expect(statement.Resource).toBe('arn:aws:events:eu-west-1:123456789012:event-bus/countersign');
    }
  });

  it('with no agent registered, nobody may publish any countersign.agent.* source (fail closed)', () => {
    const { template } = synth();
    const statement = busPolicyStatements(template).get('DenyUnregisteredAgents');
    expect(statement).toEqual({
      Sid: 'DenyUnregisteredAgents',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'events:PutEvents',
      Resource: 'arn:aws:events:eu-west-1:123456789012:event-bus/countersign',
      // No exception at all: the deny applies to every principal.
      Condition: { StringLike: { 'events:source': 'countersign.agent.*' } },
    });
    template.hasResourceProperties('AWS::Events::EventBus', {
      Policy: Match.objectLike({ Version: '2012-10-17' }),
    });
  });
});

describe('workflow execution logs', () => {
  it('go to a log group under /aws/vendedlogs/states/ named after the stack instance', () => {
    const { template } = synth();
    const group = logicalId(template, 'AWS::Logs::LogGroup', 'ApprovalWorkflowExecutionLogs');
    const name = template.findResources('AWS::Logs::LogGroup')[group]!.Properties.LogGroupName;
    // Fn::Join of the prefix, the stack name and the UUID of AWS::StackId: unique per copy and per deploy.
    expect(name).toEqual({
      'Fn::Join': [
        '',
        [
          '/aws/vendedlogs/states/',
          { Ref: 'AWS::StackName' },
          '-',
          { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] },
        ],
      ],
    });
  });

  it('never include execution data (task tokens, unmasked intents), at level ALL', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
    });
  });

  it('are encrypted with the rotating operations key (the alarm topic’s), which CloudWatch Logs may use for that log group only', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::KMS::Key', 4);
    const key = logicalId(template, 'AWS::KMS::Key', 'AlarmsTopicKey');
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
      KmsKeyId: { 'Fn::GetAtt': [key, 'Arn'] },
    });
    const statements = template.findResources('AWS::KMS::Key')[key]!.Properties.KeyPolicy
      .Statement as Statement[];
    const forLogs = statements.filter((s) =>
      JSON.stringify(s.Principal).includes('logs.eu-west-1.amazonaws.com'),
    );
    expect(forLogs).toHaveLength(1);
    expect(actionsOf(forLogs[0]!).sort()).toEqual(
      ['kms:Decrypt*', 'kms:Describe*', 'kms:Encrypt*', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'].sort(),
    );
    const arn = JSON.stringify(forLogs[0]!.Condition?.ArnEquals?.['kms:EncryptionContext:aws:logs:arn']);
    expect(arn).toContain(':log-group:/aws/vendedlogs/states/');
    expect(arn).toContain('AWS::StackId');
    template.hasResourceProperties('AWS::KMS::Key', {
      Description: 'Countersign operations: alarm topic and workflow execution logs',
      EnableKeyRotation: true,
    });
  });
});

describe('reminder schedule group', () => {
  it('is named after the stack instance (no "already exists" after destroy + deploy) and destroyed with the stack', () => {
    const { template } = synth();
    const groups = template.findResources('AWS::Scheduler::ScheduleGroup');
    expect(Object.values(groups)).toHaveLength(1);
    const group = Object.values(groups)[0]!;
    expect(group.Properties.Name).toEqual({
      'Fn::Join': [
        '-',
        ['countersign-reminders', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }],
      ],
    });
    // It holds only pending wake-ups of reviews that go with the stack: nothing to keep.
    expect(group.DeletionPolicy).toBe('Delete');
    expect(group.UpdateReplacePolicy).toBe('Delete');
  });
});

describe('one-off reminder schedules', () => {
  it('have an alarmed, encrypted dead-letter queue whose ARN reaches the review handler with the permission to use it', () => {
    const { template } = synth();
    const dlq = logicalId(template, 'AWS::SQS::Queue', 'ApprovalWorkflowRemindersDeadLetterQueue');
    const topic = logicalId(template, 'AWS::SNS::Topic', 'AlarmsTopic');
    expect(functionEnv(template, 'ApprovalWorkflowReviewFunction').COUNTERSIGN_REMINDER_DLQ_ARN).toEqual({
      'Fn::GetAtt': [dlq, 'Arn'],
    });
    const schedulerRole = logicalId(template, 'AWS::IAM::Role', 'ApprovalWorkflowRemindersSchedulerRole');
    expect(statementsByRole(template).get(schedulerRole)).toContainEqual({
      Effect: 'Allow',
      Action: 'sqs:SendMessage',
      Resource: { 'Fn::GetAtt': [dlq, 'Arn'] },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('reminder or escalation wake-ups could not invoke'),
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
      AlarmActions: [{ Ref: topic }],
    });
  });
});

describe('alarms', () => {
  it('always notify an encrypted, TLS-only topic whose ARN is an output, even without alarmEmail', () => {
    const { template } = synth();
    const topic = logicalId(template, 'AWS::SNS::Topic', 'AlarmsTopic');
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topic }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    template.hasOutput('AlarmTopicArn', { Value: { Ref: topic } });
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    expect(Object.keys(alarms).length).toBeGreaterThanOrEqual(6);
    for (const [id, alarm] of Object.entries(alarms)) {
      expect(alarm.Properties.AlarmActions, id).toEqual([{ Ref: topic }]);
    }
  });
});

describe('interaction function concurrency', () => {
  it('is unreserved by default (new accounts cannot reserve) and reserved when configured', () => {
    const interaction = (overrides: Record<string, unknown>) => {
      const { template } = synth(overrides);
      const id = logicalId(template, 'AWS::Lambda::Function', 'SlackEndpointInteractionFunction');
      return template.findResources('AWS::Lambda::Function')[id]!.Properties.ReservedConcurrentExecutions;
    };
    expect(interaction({})).toBeUndefined();
    expect(interaction({ interactionReservedConcurrency: '25' })).toBe(25);
    // Only the public endpoint is reserved.
    const { template } = synth({ interactionReservedConcurrency: '25' });
    const reserved = Object.entries(template.findResources('AWS::Lambda::Function')).filter(
      ([, fn]) => fn.Properties.ReservedConcurrentExecutions !== undefined,
    );
    expect(reserved.map(([id]) => id)).toEqual([
      logicalId(template, 'AWS::Lambda::Function', 'SlackEndpointInteractionFunction'),
    ]);
  });
});

/**
 * Top-level properties that give a resource a physical name unique in the
 * account and region (or, for StatementId, on the bus). Names scoped to a
 * parent (an inline policy's PolicyName, an API's StageName) are not listed:
 * they cannot collide across stacks.
 */
const PHYSICAL_NAME_PROPERTIES: Record<string, string[]> = {
  'AWS::ApiGatewayV2::Api': [],
  'AWS::CloudWatch::Alarm': ['AlarmName'],
  'AWS::CloudWatch::Dashboard': ['DashboardName'],
  'AWS::DynamoDB::GlobalTable': ['TableName'],
  'AWS::DynamoDB::Table': ['TableName'],
  'AWS::Events::EventBus': ['Name'],
  'AWS::Events::EventBusPolicy': ['StatementId'],
  'AWS::Events::Rule': ['Name'],
  'AWS::IAM::ManagedPolicy': ['ManagedPolicyName'],
  'AWS::IAM::Role': ['RoleName'],
  'AWS::KMS::Alias': ['AliasName'],
  'AWS::Lambda::Function': ['FunctionName'],
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::S3::Bucket': ['BucketName'],
  'AWS::Scheduler::Schedule': ['Name'],
  'AWS::Scheduler::ScheduleGroup': ['Name'],
  'AWS::SecretsManager::Secret': ['Name'],
  'AWS::SNS::Topic': ['TopicName'],
  'AWS::SQS::Queue': ['QueueName'],
  'AWS::StepFunctions::StateMachine': ['StateMachineName'],
};

/** A name derived from the stack instance's id: unique per copy and per deploy. */
const perInstance = (value: unknown) => JSON.stringify(value).includes('"Ref":"AWS::StackId"');

/** Every physical name of a template: resource, type, property, value. */
function physicalNames(template: Template) {
  const names: { id: string; type: string; property: string; value: unknown; retained: boolean }[] = [];
  for (const [id, resource] of Object.entries(template.toJSON().Resources as Record<string, CfnResource>)) {
    if (SCOPED_OR_UNNAMED.has(resource.Type)) continue;
    const known = PHYSICAL_NAME_PROPERTIES[resource.Type];
    const properties =
      known ??
      Object.keys(resource.Properties ?? {}).filter((p) => /^(Name|[A-Za-z]*Name|StatementId)$/.test(p));
    for (const property of properties) {
      const value = resource.Properties?.[property];
      if (value === undefined) continue;
      names.push({
        id,
        type: resource.Type,
        property,
        value,
        retained: resource.DeletionPolicy === 'Retain',
      });
    }
  }
  return names;
}

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
}

describe('two copies in one account and region, and a redeploy', () => {
  // Prepare: production and staging, same account and region, as one app (as `cdk deploy --all` would).
  const app = testApp();
  const copies = [
    { stackName: 'Countersign', eventBusName: 'countersign' },
    { stackName: 'CountersignStaging', eventBusName: 'countersign-staging' },
  ].map(
    ({ stackName, eventBusName }) =>
      new CountersignStack(app, stackName, {
        env: TEST_ENV,
        config: loadConfig({ ...(CDK_CONTEXT.countersign as object), stackName, eventBusName }),
        policyBundle: TEST_POLICY_BUNDLE,
      }),
  );
  const templates = copies.map((stack) => Template.fromStack(stack));

  it('every resource type in the template is known to have, or not have, an account-unique name', () => {
    const types = new Set(
      templates.flatMap((t) =>
        Object.values(t.toJSON().Resources as Record<string, CfnResource>).map((r) => r.Type),
      ),
    );
    const unclassified = [...types].filter(
      (type) => !(type in PHYSICAL_NAME_PROPERTIES) && !SCOPED_OR_UNNAMED.has(type),
    );
    expect(unclassified).toEqual([]);
  });

  it('no physical name or account-unique id collides between the copies', () => {
    // Act
    const [prod = [], staging = []] = templates.map(physicalNames);
    // Assess: literal names differ; computed names are per stack instance or references.
    const literal = (names: typeof prod) =>
      new Set(names.filter((n) => typeof n.value === 'string').map((n) => `${n.type} ${String(n.value)}`));
    const shared = [...literal(prod)].filter((n) => literal(staging).has(n));
    expect(shared).toEqual([]);
    for (const name of [...prod, ...staging].filter((n) => typeof n.value !== 'string')) {
      expect(perInstance(name.value), `${name.id}.${name.property}`).toBe(true);
    }
    // The only literal name left is the configured bus name.
    expect([...literal(prod)]).toEqual(['AWS::Events::EventBus countersign']);
    expect([...literal(staging)]).toEqual(['AWS::Events::EventBus countersign-staging']);
  });

  it('every resource kept after cdk destroy has a generated or per-instance name (no "already exists" on redeploy)', () => {
    for (const template of templates) {
      const resources = Object.entries(template.toJSON().Resources as Record<string, CfnResource>);
      const retained = resources.filter(([, r]) => r.DeletionPolicy === 'Retain');
      expect(retained.length).toBeGreaterThan(5);
      for (const name of physicalNames(template).filter((n) => n.retained)) {
        expect(perInstance(name.value), `${name.id}.${name.property} = ${JSON.stringify(name.value)}`).toBe(
          true,
        );
      }
    }
  });

  it('the bus policies are separate documents with no shared statement resources', () => {
    for (const template of templates) template.resourceCountIs('AWS::Events::EventBusPolicy', 0);
    expect([...busPolicyStatements(templates[1]!).values()].map((s) => s.Resource)).toEqual(
      Array(4).fill('arn:aws:events:eu-west-1:123456789012:event-bus/countersign-staging'),
    );
  });
});

/** Resource types with no physical name of their own, or one scoped to a parent resource. */
const SCOPED_OR_UNNAMED = new Set([
  'AWS::ApiGatewayV2::Integration',
  'AWS::ApiGatewayV2::Route',
  'AWS::ApiGatewayV2::Stage',
  'AWS::ApiGateway::Account',
  'AWS::ApiGateway::Deployment',
  'AWS::ApiGateway::Method',
  'AWS::ApiGateway::RequestValidator',
  'AWS::ApiGateway::Resource',
  'AWS::ApiGateway::RestApi',
  'AWS::ApiGateway::Stage',
  'AWS::IAM::Policy',
  'AWS::KMS::Key',
  // Scoped to its function (asynchronous invoke configs: the card poster's, the rule targets').
  'AWS::Lambda::EventInvokeConfig',
  'AWS::Lambda::EventSourceMapping',
  'AWS::Lambda::Permission',
  'AWS::Lambda::Url',
  'AWS::S3::BucketPolicy',
  'AWS::SNS::Subscription',
  'AWS::SNS::TopicPolicy',
  'AWS::SQS::QueuePolicy',
]);

describe('status API access logs', () => {
  it('need no account-level API Gateway setting: an HTTP API, no REST stage, no AWS::ApiGateway::Account', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::ApiGateway::Stage', 0);
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
    const group = logicalId(template, 'AWS::Logs::LogGroup', 'StatusApiAccessLogs');
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [group, 'Arn'] }, Format: Match.anyValue() },
    });
    // Delivered as vended logs: under /aws/vendedlogs/, named after the stack instance.
    const name = template.findResources('AWS::Logs::LogGroup')[group]!.Properties.LogGroupName;
    expect(JSON.stringify(name)).toContain('"/aws/vendedlogs/apigateway/"');
    expect(JSON.stringify(name)).toContain('AWS::StackId');
  });

  it('the status URL output is the v1 stage URL with a trailing slash', () => {
    const { template } = synth();
    const api = logicalId(template, 'AWS::ApiGatewayV2::Api', 'StatusApi');
    template.hasOutput('StatusApiUrl', {
      Value: {
        'Fn::Join': [
          '',
          ['https://', { Ref: api }, '.execute-api.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/v1/'],
        ],
      },
    });
  });
});
