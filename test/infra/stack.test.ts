/**
 * Template assertions for every security setting of the stack. One template is
 * synthesized for the cdk.json config and reused; variants synthesize once each.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  actionsOf,
  busPolicyStatements,
  functionEnv,
  functionRole,
  logicalId,
  type Statement,
  statementsByRole,
  synth,
  TEST_POLICY_BUNDLE,
} from './support.js';

/** What an audit writer gets: the table only (records reach S3 through the archiver). */
const AUDIT_ENV = ['COUNTERSIGN_TABLE_NAME'];
/** What an object writer gets: the Object Lock bucket and its retention. */
const OBJECT_LOCK_ENV = ['COUNTERSIGN_AUDIT_BUCKET', 'COUNTERSIGN_AUDIT_RETENTION_DAYS'];
const POWERTOOLS_ENV = ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE'];

describe('audit bucket', () => {
  it('has Object Lock with default COMPLIANCE retention of the configured days (365 by default)', () => {
    // Prepare / Act
    const { template } = synth();
    // Assess
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } },
      },
    });
  });

  it('takes a custom retention from config, in the bucket and in the object writers’ environment', () => {
    const { template } = synth({ auditRetentionDays: '30' });
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockConfiguration: { Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 30 } } },
    });
    for (const fn of ['AuditArchiverArchiveFunction', 'AuditDigestDigestFunction']) {
      expect(functionEnv(template, fn).COUNTERSIGN_AUDIT_RETENTION_DAYS, fn).toBe('30');
    }
  });

  it('is versioned, blocks all public access, is KMS-encrypted with its own key and bucket keys, retained', () => {
    const { template } = synth();
    const key = logicalId(template, 'AWS::KMS::Key', 'AuditStoreBucketKey');
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        ObjectLockEnabled: true,
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              ServerSideEncryptionByDefault: {
                SSEAlgorithm: 'aws:kms',
                KMSMasterKeyID: { 'Fn::GetAtt': [key, 'Arn'] },
              },
              BucketKeyEnabled: true,
            },
          ],
        },
        LoggingConfiguration: {
          DestinationBucketName: { Ref: logicalId(template, 'AWS::S3::Bucket', 'AuditStoreAccessLogs') },
        },
      }),
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, KeySpec: Match.absent() });
  });

  it('every bucket denies non-TLS requests', () => {
    const { template } = synth();
    const buckets = Object.keys(template.findResources('AWS::S3::Bucket'));
    expect(buckets).toHaveLength(2);
    for (const bucket of buckets) {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: bucket },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('denies deleting objects and bypassing retention to every principal', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalId(template, 'AWS::S3::Bucket', 'AuditStoreBucket') },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'DenyAuditDeletion',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: Match.arrayWith([
              's3:BypassGovernanceRetention',
              's3:DeleteObject',
              's3:DeleteObjectVersion',
            ]),
          }),
        ]),
      },
    });
  });
});

describe('table', () => {
  it('is on-demand with PITR, deletion protection, a customer-managed KMS key, TTL and the byAuditHour and byStatus indexes', () => {
    const { template } = synth();
    const key = logicalId(template, 'AWS::KMS::Key', 'AuditStoreTableKey');
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byAuditHour',
            KeySchema: [
              { AttributeName: 'auditHour', KeyType: 'HASH' },
              { AttributeName: 'auditSort', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
          {
            IndexName: 'byStatus',
            KeySchema: [
              { AttributeName: 'status', KeyType: 'HASH' },
              { AttributeName: 'createdAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
        Replicas: [
          Match.objectLike({
            DeletionProtectionEnabled: true,
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            SSESpecification: { KMSMasterKeyId: { 'Fn::GetAtt': [key, 'Arn'] } },
          }),
        ],
      }),
    });
  });
});

describe('intent bus', () => {
  it('routes agent intents to the workflow with retries and a dead-letter queue', () => {
    const { template } = synth();
    const dlq = logicalId(template, 'AWS::SQS::Queue', 'IntentRouteDeadLetterQueue');
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'countersign' });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalId(template, 'AWS::Events::EventBus', 'IntentBus') },
      EventPattern: {
        'detail-type': ['Privileged Action Requested'],
        source: [{ prefix: 'countersign.agent.' }],
      },
      Targets: [
        Match.objectLike({
          Arn: {
            Ref: logicalId(template, 'AWS::StepFunctions::StateMachine', 'ApprovalWorkflowStateMachine'),
          },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 24, MaximumEventAgeInSeconds: 21600 },
        }),
      ],
    });
  });

  it('has an encrypted, TLS-only dead-letter queue with an alarm on visible messages', () => {
    const { template } = synth();
    const dlq = logicalId(template, 'AWS::SQS::Queue', 'IntentRouteDeadLetterQueue');
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: dlq }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('bus policy denies unknown sources, and decisions from anyone but the workflow role', () => {
    const { template } = synth();
    const smRole = logicalId(template, 'AWS::IAM::Role', 'ApprovalWorkflowStateMachineRole');
    const statements = busPolicyStatements(template);
    expect(statements.get('DenyUnknownSources')).toMatchObject({
      Effect: 'Deny',
      Action: 'events:PutEvents',
      Condition: { StringNotLike: { 'events:source': ['countersign.agent.*', 'countersign'] } },
    });
    for (const [sid, key, value] of [
      ['DenyForgedDecisionSource', 'events:source', 'countersign'],
      ['DenyForgedDecisionType', 'events:detail-type', 'Privileged Action Decided'],
    ] as const) {
      expect(statements.get(sid), sid).toMatchObject({
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Condition: {
          StringEquals: { [key]: value },
          ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [smRole, 'Arn'] } },
        },
      });
    }
  });
});

describe('approval workflow', () => {
  it('is a STANDARD state machine with logging level ALL (without execution data) and tracing', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [
          {
            CloudWatchLogsLogGroup: {
              LogGroupArn: {
                'Fn::GetAtt': [
                  logicalId(template, 'AWS::Logs::LogGroup', 'ApprovalWorkflowExecutionLogs'),
                  'Arn',
                ],
              },
            },
          },
        ],
      },
      TracingConfiguration: { Enabled: true },
    });
  });

  it('alarms on failed executions', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
      Threshold: 1,
    });
  });
});

describe('functions', () => {
  it('run nodejs24.x on arm64 with active tracing, JSON logs to their own log group, 512 MB by default', () => {
    const { template } = synth();
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(12); // evaluate, review, record, interaction, archive, digest, status, grant, reminder, cancel, detector, poster
    for (const [id, fn] of Object.entries(functions)) {
      expect(fn.Properties, id).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.stringContaining('LogGroup') } },
      });
      expect(fn.Properties.ReservedConcurrentExecutions, id).toBeUndefined();
      expect(fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).toBe('countersign');
    }
    expect(functionEnv(template, 'ApprovalWorkflowRecordFunction')).toBeDefined();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('Evaluate'),
      MemorySize: 512,
    });
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 365 }, 14); // 12 functions, workflow, status API access log
  });

  it('get exactly the environment the architecture names, each with its binding', () => {
    const { template } = synth();
    const keys = (prefix: string) => Object.keys(functionEnv(template, prefix)).sort();
    expect(keys('ApprovalWorkflowEvaluateFunction')).toEqual(
      [
        ...POWERTOOLS_ENV,
        ...AUDIT_ENV,
        'COUNTERSIGN_POLICY_DIGEST',
        'COUNTERSIGN_APPROVER_GROUP',
        'COUNTERSIGN_DEFAULT_REVIEW_TIMEOUT_SECONDS',
        'COUNTERSIGN_DEFAULT_RATE_LIMIT',
        'COUNTERSIGN_AGENTS',
        'COUNTERSIGN_ENVIRONMENTS',
        'COUNTERSIGN_EMAIL_RULES',
      ].sort(),
    );
    expect(keys('ApprovalWorkflowReviewFunction')).toEqual(
      [
        ...POWERTOOLS_ENV,
        ...AUDIT_ENV,
        'COUNTERSIGN_SLACK_SECRET_ARN',
        'COUNTERSIGN_SLACK_CHANNEL',
        'COUNTERSIGN_SCHEDULE_GROUP',
        'COUNTERSIGN_REMINDER_FUNCTION_ARN',
        'COUNTERSIGN_SCHEDULER_ROLE_ARN',
        'COUNTERSIGN_REMINDER_DLQ_ARN',
        'COUNTERSIGN_REVIEW_CHANNELS',
        'COUNTERSIGN_POSTER_FUNCTION_ARN',
      ].sort(),
    );
    expect(keys('ApprovalWorkflowRemindersReminderFunction')).toEqual(
      [...POWERTOOLS_ENV, ...AUDIT_ENV, 'COUNTERSIGN_SLACK_SECRET_ARN'].sort(),
    );
    expect(keys('ApprovalWorkflowRecordFunction')).toEqual(
      [
        ...POWERTOOLS_ENV,
        ...AUDIT_ENV,
        'COUNTERSIGN_SLACK_SECRET_ARN',
        'COUNTERSIGN_SLACK_CHANNEL',
        'COUNTERSIGN_RUBBER_STAMP_SECONDS',
        'COUNTERSIGN_POSTER_FUNCTION_ARN',
      ].sort(),
    );
    expect(keys('SlackEndpointInteractionFunction')).toEqual(
      [
        ...POWERTOOLS_ENV,
        ...AUDIT_ENV,
        'COUNTERSIGN_POLICY_DIGEST',
        'COUNTERSIGN_SLACK_SECRET_ARN',
        'COUNTERSIGN_APPROVER_GROUP',
        'COUNTERSIGN_AGENTS',
        'COUNTERSIGN_EMAIL_RULES',
        'COUNTERSIGN_POSTER_FUNCTION_ARN',
      ].sort(),
    );
    expect(keys('AuditDigestDigestFunction')).toEqual(
      [...POWERTOOLS_ENV, ...AUDIT_ENV, ...OBJECT_LOCK_ENV, 'COUNTERSIGN_DIGEST_KEY_ID'].sort(),
    );
    expect(keys('AuditArchiverArchiveFunction')).toEqual([...POWERTOOLS_ENV, ...OBJECT_LOCK_ENV].sort());
    const evaluate = functionEnv(template, 'ApprovalWorkflowEvaluateFunction');
    expect(evaluate).toMatchObject({
      COUNTERSIGN_APPROVER_GROUP: 'security-approvers',
      COUNTERSIGN_DEFAULT_REVIEW_TIMEOUT_SECONDS: '3600',
      // The default request quota (config defaultRateLimit): Evaluate needs no new permission to count.
      COUNTERSIGN_DEFAULT_RATE_LIMIT: '30/minute',
      COUNTERSIGN_POLICY_DIGEST: TEST_POLICY_BUNDLE.digest,
    });
    expect(functionEnv(template, 'ApprovalWorkflowReviewFunction').COUNTERSIGN_SLACK_CHANNEL).toBe(
      'C0COUNTERSIGN',
    );
  });
});

describe('review reminders (EventBridge Scheduler one-off schedules)', () => {
  it('has one dedicated schedule group; the scheduler role may invoke only the reminder function', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    const group = logicalId(
      template,
      'AWS::Scheduler::ScheduleGroup',
      'ApprovalWorkflowRemindersScheduleGroup',
    );
    const reminderFn = logicalId(
      template,
      'AWS::Lambda::Function',
      'ApprovalWorkflowRemindersReminderFunction',
    );
    const schedulerRole = logicalId(template, 'AWS::IAM::Role', 'ApprovalWorkflowRemindersSchedulerRole');
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': '123456789012' } }),
          }),
        ],
      },
    });
    const dlq = logicalId(template, 'AWS::SQS::Queue', 'ApprovalWorkflowRemindersDeadLetterQueue');
    expect(statementsByRole(template).get(schedulerRole)).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [reminderFn, 'Arn'] } },
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [dlq, 'Arn'] } },
    ]);
    expect(group).toBeTruthy();
  });

  it('only the review role may create schedules, only in that group, and pass only the scheduler role, only to Scheduler', () => {
    const { template } = synth();
    const reviewRole = functionRole(template, 'ApprovalWorkflowReviewFunction');
    const schedulerRole = logicalId(template, 'AWS::IAM::Role', 'ApprovalWorkflowRemindersSchedulerRole');
    const creators: string[] = [];
    const passers: string[] = [];
    for (const [role, statements] of statementsByRole(template)) {
      for (const s of statements.filter((st) => st.Effect === 'Allow')) {
        const actions = actionsOf(s);
        if (actions.some((a) => a.startsWith('scheduler:'))) {
          creators.push(role);
          expect(actions).toEqual(['scheduler:CreateSchedule']);
          expect(JSON.stringify(s.Resource)).toMatch(
            /:schedule\/","?\{"Ref":"[^"]*ScheduleGroup[^"]*"\},"\/\*"/,
          );
        }
        if (actions.includes('iam:PassRole')) {
          passers.push(role);
          expect(s.Resource).toEqual({ 'Fn::GetAtt': [schedulerRole, 'Arn'] });
          expect(s.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
        }
      }
    }
    expect(creators).toEqual([reviewRole]);
    expect(passers).toEqual([reviewRole]);
    const env = functionEnv(template, 'ApprovalWorkflowReviewFunction');
    expect(env.COUNTERSIGN_SCHEDULER_ROLE_ARN).toEqual({ 'Fn::GetAtt': [schedulerRole, 'Arn'] });
  });
});

describe('slack endpoint', () => {
  it('exposes only the interaction handler through a Function URL with auth NONE', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      TargetFunctionArn: {
        'Fn::GetAtt': [
          logicalId(template, 'AWS::Lambda::Function', 'SlackEndpointInteractionFunction'),
          'Arn',
        ],
      },
    });
  });

  it('creates the Slack secret with nothing secret in the template', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: Match.absent(),
      GenerateSecretString: {
        SecretStringTemplate: JSON.stringify({ botToken: 'replace-me-with-the-xoxb-bot-token' }),
        GenerateStringKey: 'signingSecret',
      },
      SecretString: Match.absent(),
    });
  });

  it('outputs the interactivity URL, the secret and the digest key with descriptions', () => {
    const { template } = synth();
    for (const name of ['SlackInteractivityUrl', 'SlackSecretArn', 'SlackSecretName', 'DigestKeyArn']) {
      template.hasOutput(name, { Description: Match.stringLikeRegexp('.+'), Value: Match.anyValue() });
    }
    template.hasOutput('SlackInteractivityUrl', {
      Value: {
        'Fn::GetAtt': [
          logicalId(template, 'AWS::Lambda::Url', 'SlackEndpointInteractionFunctionFunctionUrl'),
          'FunctionUrl',
        ],
      },
    });
    const command = template.findOutputs('DigestPublicKeyCommand').DigestPublicKeyCommand!.Value;
    expect(JSON.stringify(command)).toContain('aws kms get-public-key --key-id ');
    expect(JSON.stringify(command)).toContain('base64 -d > countersign-digest.der');
  });
});

describe('least privilege', () => {
  it('only the interaction role may SendTaskSuccess; the cancel and card poster roles may only SendTaskFailure; on the state machine only', () => {
    const { template } = synth();
    const interactionRole = functionRole(template, 'SlackEndpointInteractionFunction');
    const cancelRole = functionRole(template, 'CancelRouteCancelFunction');
    // The card poster fails a review whose card Slack refuses; it never approves.
    const posterRole = functionRole(template, 'CardPosterPosterFunction');
    const sm = logicalId(template, 'AWS::StepFunctions::StateMachine', 'ApprovalWorkflowStateMachine');
    const holders: string[] = [];
    for (const [role, statements] of statementsByRole(template)) {
      for (const s of statements) {
        if (s.Effect !== 'Allow' || !actionsOf(s).some((a) => a.startsWith('states:SendTask'))) continue;
        holders.push(role);
        expect(actionsOf(s).sort()).toEqual(
          role === cancelRole || role === posterRole
            ? ['states:SendTaskFailure']
            : ['states:SendTaskFailure', 'states:SendTaskSuccess'],
        );
        expect(s.Resource).toEqual({ Ref: sm });
      }
    }
    expect(holders.sort()).toEqual([interactionRole, cancelRole, posterRole].sort());
  });

  it('cancellations from agent sources go to the cancel handler (retries, alarmed dead-letter queue)', () => {
    const { template } = synth();
    const fn = logicalId(template, 'AWS::Lambda::Function', 'CancelRouteCancelFunction');
    const dlq = logicalId(template, 'AWS::SQS::Queue', 'CancelRouteDeadLetterQueue');
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        'detail-type': ['Privileged Action Cancelled'],
        source: [{ prefix: 'countersign.agent.' }],
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [fn, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
          RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 8 }),
        }),
      ],
    });
    expect(Object.keys(functionEnv(template, 'CancelRouteCancelFunction')).sort()).toEqual(
      [...POWERTOOLS_ENV, ...AUDIT_ENV].sort(),
    );
  });

  it('no role may delete objects, bypass retention, change the lock configuration or use s3:*', () => {
    const { template } = synth({ auditLegalHold: true });
    const forbidden =
      /^s3:(\*|Delete|BypassGovernanceRetention|PutBucketObjectLockConfiguration|PutBucketPolicy)/;
    for (const [role, statements] of statementsByRole(template)) {
      for (const s of statements.filter((st) => st.Effect === 'Allow')) {
        for (const action of actionsOf(s)) expect(action, `${role} may ${action}`).not.toMatch(forbidden);
      }
    }
  });

  it('audit writers append to the table only: no S3 permission, no deletes but of card-queue entries, no scans', () => {
    const { template } = synth();
    for (const fn of [
      'ApprovalWorkflowEvaluateFunction',
      'ApprovalWorkflowReviewFunction',
      'ApprovalWorkflowRecordFunction',
      'ApprovalWorkflowRemindersReminderFunction',
      'SlackEndpointInteractionFunction',
      'CancelRouteCancelFunction',
      'StatusApiGrantFunction',
    ]) {
      const statements = statementsByRole(template).get(functionRole(template, fn))!;
      const actions = statements.flatMap(actionsOf);
      expect(actions, fn).toContain('dynamodb:PutItem');
      expect(
        actions.filter((a) => a.startsWith('s3:')),
        fn,
      ).toEqual([]);
      // Record may delete a card-queue entry, and nothing else: every key must be CARDQUEUE#.
      for (const statement of statements.filter((s) => actionsOf(s).includes('dynamodb:DeleteItem'))) {
        expect(fn).toBe('ApprovalWorkflowRecordFunction');
        expect(actionsOf(statement)).toEqual(['dynamodb:DeleteItem']);
        expect(statement.Condition).toEqual({
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CARDQUEUE#*'] },
        });
      }
      expect(actions, fn).not.toContain('dynamodb:Scan');
    }
    // The poster's only delete is the same: entries of the card queue.
    const poster = statementsByRole(template).get(functionRole(template, 'CardPosterPosterFunction'))!;
    const deletes = poster.filter((s) => actionsOf(s).includes('dynamodb:DeleteItem'));
    expect(deletes).toHaveLength(1);
    expect(deletes[0]!.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CARDQUEUE#*'] },
    });
  });

  it('only the archiver puts record objects (and sets their retention), under records/ only; it cannot write the table', () => {
    const { template } = synth();
    const bucket = logicalId(template, 'AWS::S3::Bucket', 'AuditStoreBucket');
    const records = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/records/*']] };
    const archiver = functionRole(template, 'AuditArchiverArchiveFunction');
    const statements = statementsByRole(template).get(archiver)!;
    const onRecords = statements.filter((s) => JSON.stringify(s.Resource) === JSON.stringify(records));
    expect(onRecords.flatMap(actionsOf).sort()).toEqual([
      's3:GetObject',
      's3:PutObject',
      's3:PutObjectRetention',
    ]);
    const actions = statements.flatMap(actionsOf);
    expect(
      actions.filter((a) => /^dynamodb:(Put|Update|Delete|BatchWrite|Query|Scan|GetItem)/.test(a)),
    ).toEqual([]);
    for (const [role, roleStatements] of statementsByRole(template)) {
      if (role === archiver) continue;
      for (const s of roleStatements.filter((st) => actionsOf(st).includes('s3:PutObject'))) {
        expect(JSON.stringify(s.Resource), role).not.toContain('/records/');
      }
    }
  });

  it('the archiver is fed new audit rows from the table stream: filtered, bisected, retried, dead-lettered with an alarm', () => {
    const { template } = synth();
    const fn = logicalId(template, 'AWS::Lambda::Function', 'AuditArchiverArchiveFunction');
    const dlq = logicalId(template, 'AWS::SQS::Queue', 'AuditArchiverDeadLetterQueue');
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fn },
      StartingPosition: 'TRIM_HORIZON',
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 100,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq, 'Arn'] } } },
      FilterCriteria: {
        Filters: [
          {
            Pattern: JSON.stringify({
              eventName: ['INSERT'],
              dynamodb: { NewImage: { sk: { S: [{ prefix: 'AUDIT#' }] } } },
            }),
          },
        ],
      },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('could not be archived'),
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
      Threshold: 1,
    });
  });

  it('legal hold off: nobody may place holds and no handler is told to', () => {
    const { template } = synth();
    for (const statements of statementsByRole(template).values()) {
      for (const s of statements) expect(actionsOf(s)).not.toContain('s3:PutObjectLegalHold');
    }
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.Environment.Variables.COUNTERSIGN_AUDIT_LEGAL_HOLD).toBeUndefined();
    }
  });

  it('legal hold on: object writers may place holds and get COUNTERSIGN_AUDIT_LEGAL_HOLD=ON; lifting is denied', () => {
    const { template } = synth({ auditLegalHold: true });
    for (const fn of ['AuditArchiverArchiveFunction', 'AuditDigestDigestFunction']) {
      const actions = statementsByRole(template).get(functionRole(template, fn))!.flatMap(actionsOf);
      expect(actions, fn).toContain('s3:PutObjectLegalHold');
      expect(functionEnv(template, fn).COUNTERSIGN_AUDIT_LEGAL_HOLD, fn).toBe('ON');
    }
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'DenyLiftingLegalHold',
            Effect: 'Deny',
            Action: 's3:PutObjectLegalHold',
            Condition: { StringNotEquals: { 's3:object-lock-legal-hold': 'ON' } },
          }),
        ]),
      },
    });
  });

  it('Resource "*" is used only for X-Ray and CloudWatch Logs delivery, which have no resource-level permissions', () => {
    const { template } = synth();
    for (const [role, statements] of statementsByRole(template)) {
      for (const s of statements.filter((st: Statement) => st.Resource === '*')) {
        for (const action of actionsOf(s)) {
          expect(action, role).toMatch(
            /^(xray:|logs:(Create|Get|Update|Delete|List)LogDeliver|logs:(PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)$)/,
          );
        }
      }
    }
  });

  it('KMS data-key use by handlers goes through S3 or DynamoDB only; only the stream reader decrypts directly', () => {
    const { template } = synth();
    const symmetric = ['AuditStoreTableKey', 'AuditStoreBucketKey'].map((p) =>
      logicalId(template, 'AWS::KMS::Key', p),
    );
    const archiver = functionRole(template, 'AuditArchiverArchiveFunction');
    for (const [role, statements] of statementsByRole(template)) {
      for (const s of statements) {
        const onSymmetricKey = symmetric.some(
          (k) => JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [k, 'Arn'] }),
        );
        if (!onSymmetricKey) continue;
        if (role === archiver && s.Condition === undefined) {
          // Reading the encrypted table stream (the event source's grant): decrypt only.
          expect(actionsOf(s)).toEqual(['kms:Decrypt', 'kms:DescribeKey']);
          expect(s.Resource).toEqual({ 'Fn::GetAtt': [symmetric[0], 'Arn'] });
          continue;
        }
        expect(s.Condition?.StringEquals?.['kms:ViaService'], role).toMatch(/^(s3|dynamodb)\./);
      }
    }
  });
});

describe('audit digests', () => {
  it('sign with a retained ECC_NIST_P256 SIGN_VERIFY key', () => {
    const { template } = synth();
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }),
    });
  });

  it('the digest role may only Sign with the signing key, and only Query the table index', () => {
    const { template } = synth();
    const key = logicalId(template, 'AWS::KMS::Key', 'AuditDigestSigningKey');
    const role = functionRole(template, 'AuditDigestDigestFunction');
    const onKey = statementsByRole(template)
      .get(role)!
      .filter((s) => JSON.stringify(s.Resource).includes(key));
    expect(onKey.flatMap(actionsOf).sort()).toEqual(['kms:Sign']);
    for (const [other, statements] of statementsByRole(template)) {
      if (other === role) continue;
      for (const s of statements) expect(JSON.stringify(s.Resource), other).not.toContain(key);
    }
    const everything = statementsByRole(template).get(role)!.flatMap(actionsOf);
    for (const admin of [
      'kms:*',
      'kms:CreateGrant',
      'kms:PutKeyPolicy',
      'kms:ScheduleKeyDeletion',
      'kms:DisableKey',
    ]) {
      expect(everything).not.toContain(admin);
    }
    // The witness cannot write the rows it signs: DynamoDB access is Query on the audit-hour index only.
    const dynamo = everything.filter((a) => a.startsWith('dynamodb:'));
    expect(dynamo).toEqual(['dynamodb:Query']);
    const queryOn = statementsByRole(template)
      .get(role)!
      .filter((s) => actionsOf(s).includes('dynamodb:Query'))
      .map((s) => JSON.stringify(s.Resource));
    expect(queryOn).toHaveLength(1);
    expect(queryOn[0]).toContain('/index/byAuditHour');
  });

  it('the digest role writes and reads digests/ only, never records/', () => {
    const { template } = synth();
    const role = functionRole(template, 'AuditDigestDigestFunction');
    const objectStatements = statementsByRole(template)
      .get(role)!
      .filter((s) => actionsOf(s).some((a) => a.endsWith('Object') || a.includes('ObjectRetention')));
    for (const s of objectStatements) expect(JSON.stringify(s.Resource)).toContain('/digests/*');
  });

  it('runs on an EventBridge Scheduler schedule, hourly by default and configurable', () => {
    synth().template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      Target: Match.objectLike({
        Arn: {
          'Fn::GetAtt': [
            logicalId(synth().template, 'AWS::Lambda::Function', 'AuditDigestDigestFunction'),
            'Arn',
          ],
        },
      }),
    });
    synth({ digestSchedule: 'rate(15 minutes)' }).template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(15 minutes)',
    });
  });
});

describe('alarm email', () => {
  it('subscribes the address to the alarm topic when configured, and nothing otherwise', () => {
    synth().template.resourceCountIs('AWS::SNS::Subscription', 0);
    const { template } = synth({ alarmEmail: 'secops@example.com' });
    const topic = logicalId(template, 'AWS::SNS::Topic', 'AlarmsTopic');
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: { Ref: topic },
      Protocol: 'email',
      Endpoint: 'secops@example.com',
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThanOrEqual(3);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic }]);
  });
});
