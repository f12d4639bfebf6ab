/**
 * What AWS would reject at deploy time, or accept and then break silently:
 * each finding of a review of the synthesized template against AWS's
 * documented behaviour, asserted on the template (no AWS account needed).
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  actionsOf,
  busPolicyStatements,
  functionEnv,
  logicalId,
  type Statement,
  statementsByRole,
  synth,
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

  it('are encrypted with a rotating customer-managed key that CloudWatch Logs may use for that log group only', () => {
    const { template } = synth();
    const key = logicalId(template, 'AWS::KMS::Key', 'ApprovalWorkflowExecutionLogsKey');
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
      Description: 'Countersign approval workflow execution logs',
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
