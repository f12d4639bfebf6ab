/**
 * The approval workflow: a Step Functions Standard state machine built from
 * CDK L2 states (state names are a contract, see docs/architecture.md):
 *
 * ReceiveIntent → Evaluate → Outcome → Review (waitForTaskToken) → Record → Announce → Recorded
 *
 * ReceiveIntent (a Pass) only adds `executionId` to the event, so Evaluate and
 * Record receive the whole state plus `executionId`.
 *
 * Every error of Evaluate or Review goes to Record (which records an audited
 * denial or expiry); if Record itself fails, AnnounceFailClosed publishes a
 * DENIED decision and the execution fails as RecordFailed (fail closed). If
 * Announce fails after its retries, the decision stays as recorded and the
 * execution fails as AnnounceFailed: the agent still reads the decision from
 * the status API.
 */

import { App, ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { DECISION_DETAIL_TYPE, DECISION_SOURCE } from '../lambdas/shared/intent.js';
import { BUILT_IN_DEFAULT_RATE, DEFAULT_RATE_ENV } from '../lambdas/shared/rate-limit.js';
import { BREAK_GLASS_NOTICE_ERROR, STATE } from '../lambdas/shared/workflow.js';
import {
  type Binding,
  CEDAR_WASM,
  type EmbeddedPolicyBundle,
  HandlerFunction,
  settings,
} from './handler-function.js';
import { limitGrantsToAwsServices } from './key-policy.js';
import { instanceScopedName } from './physical-names.js';
import { ReviewReminders } from './review-reminders.js';

/** Lambda service errors every Lambda task retries (never function errors: those are decisions). */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

/** Reason of the decision published when recording itself failed. */
export const FAIL_CLOSED_REASON = 'Countersign could not record the decision; denied (fail closed)';

/** Error of the execution when the recorded decision could not be put on the bus. */
export const ANNOUNCE_FAILED_ERROR = 'Countersign.AnnounceFailed';

/** Cause of {@link ANNOUNCE_FAILED_ERROR}. */
export const ANNOUNCE_FAILED_CAUSE =
  'The decision was recorded but could not be announced on the bus; the agent can read it from the status API (GET /requests/{intentId})';

/** Description of the ExecutionsFailed alarm: which failure means what. */
export const EXECUTIONS_FAILED_ALARM_DESCRIPTION = [
  'A Countersign approval workflow execution failed; its error says which way.',
  `${ANNOUNCE_FAILED_ERROR}: the decision was recorded (it may be APPROVED) but not announced on the bus; the agent can still read it from the status API.`,
  'Countersign.RecordFailed: the decision could not be recorded; the intent was denied and the denial announced (fail closed).',
].join(' ');

/** Name of the first state: a Pass that adds `executionId` to the execution input. */
export const RECEIVE_STATE = 'ReceiveIntent';

/** Name of the final Succeed state after Announce. */
export const RECORDED_STATE = 'Recorded';

/** Properties of an {@link ApprovalWorkflow}. */
export interface ApprovalWorkflowProps {
  /** The bus decisions are announced on. */
  readonly eventBus: events.IEventBus;
  /** Table and audit-bucket access for the task handlers. */
  readonly auditWriter: Binding;
  /** Slack secret access for the review and record handlers. */
  readonly slackSecretReader: Binding;
  /** Slack channel id for review cards (`COUNTERSIGN_SLACK_CHANNEL`). */
  readonly slackChannelId: string;
  /** Default approver user-group handle (`COUNTERSIGN_APPROVER_GROUP`). */
  readonly approverGroupHandle: string;
  /**
   * Review timeout when policy sets none (`COUNTERSIGN_DEFAULT_REVIEW_TIMEOUT_SECONDS`).
   * @default 3600
   */
  readonly defaultReviewTimeoutSeconds?: number;
  /**
   * Request quota of every agent and action class no `@rate` policy matches
   * (`COUNTERSIGN_DEFAULT_RATE_LIMIT`, read by Evaluate at cold start).
   * @default '30/minute'
   */
  readonly defaultRateLimit?: string;
  /**
   * Policy bundle compiled into the Evaluate handler.
   * @default - none
   */
  readonly policyBundle?: EmbeddedPolicyBundle;
  /**
   * Retention of the execution log group.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Actions of the ExecutionsFailed alarm and the reminder dead-letter alarm.
   * @default - none
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
  /**
   * Customer-managed key for the execution logs (the stack passes its
   * operations key, the alarm topic's); CloudWatch Logs is allowed to use it
   * for this log group only.
   * @default - a key of its own
   */
  readonly logKey?: kms.Key;
}

/** The Step Functions Standard approval workflow and its three task handlers. */
export class ApprovalWorkflow extends Construct {
  /** The state machine (STANDARD, logs ALL without execution data, X-Ray). */
  public readonly stateMachine: sfn.StateMachine;
  /** Execution logs (level ALL, no execution data), under `/aws/vendedlogs/states/`, KMS-encrypted. */
  public readonly logGroup: logs.LogGroup;
  /** Customer-managed key of {@link logGroup}. */
  public readonly logKey: kms.Key;
  /** Evaluate task handler. */
  public readonly evaluateFunction: HandlerFunction;
  /** Review task handler (invoked with `.waitForTaskToken`). */
  public readonly reviewFunction: HandlerFunction;
  /** Record task handler. */
  public readonly recordFunction: HandlerFunction;
  /** In alarm when any execution fails. */
  public readonly executionsFailedAlarm: cloudwatch.Alarm;
  /** Reminder handler, schedule group and scheduler role of the Review step's wake-ups. */
  public readonly reminders: ReviewReminders;

  private readonly eventBus: events.IEventBus;

  constructor(scope: Construct, id: string, props: ApprovalWorkflowProps) {
    super(scope, id);
    this.eventBus = props.eventBus;

    this.evaluateFunction = new HandlerFunction(this, 'EvaluateFunction', {
      name: 'evaluate',
      description: 'Countersign Evaluate task: validate, hash and evaluate an intent, create the request',
      copyFiles: [CEDAR_WASM],
      ...(props.policyBundle ? { policyBundle: props.policyBundle } : {}),
    })
      .bind(props.auditWriter)
      .bind(
        settings({
          COUNTERSIGN_APPROVER_GROUP: props.approverGroupHandle,
          COUNTERSIGN_DEFAULT_REVIEW_TIMEOUT_SECONDS: String(props.defaultReviewTimeoutSeconds ?? 3600),
          [DEFAULT_RATE_ENV]: props.defaultRateLimit ?? BUILT_IN_DEFAULT_RATE,
        }),
      );
    this.reminders = new ReviewReminders(this, 'Reminders', {
      auditWriter: props.auditWriter,
      slackSecretReader: props.slackSecretReader,
      ...(props.alarmActions ? { alarmActions: props.alarmActions } : {}),
    });
    this.reviewFunction = new HandlerFunction(this, 'ReviewFunction', {
      name: 'review',
      description:
        'Countersign Review task: store the task token, post the review card to Slack, schedule reminders',
    })
      .bind(props.auditWriter)
      .bind(props.slackSecretReader)
      .bind(this.reminders.scheduling())
      .bind(settings({ COUNTERSIGN_SLACK_CHANNEL: props.slackChannelId }));
    this.recordFunction = new HandlerFunction(this, 'RecordFunction', {
      name: 'record',
      description: 'Countersign Record task: write the final decision and its audit record, update the card',
    })
      .bind(props.auditWriter)
      .bind(props.slackSecretReader)
      .bind(settings({ COUNTERSIGN_SLACK_CHANNEL: props.slackChannelId }));

    const failure = { resultPath: '$.failure' };

    // Record fails → announce a DENIED decision → fail the execution.
    const recordFailed = new sfn.Fail(this, STATE.recordFailed, {
      error: 'Countersign.RecordFailed',
      cause: FAIL_CLOSED_REASON,
    });
    const announceFailClosed = this.announce(
      STATE.announceFailClosed,
      sfn.TaskInput.fromObject({
        intentId: sfn.JsonPath.stringAt('$.detail.intentId'),
        status: 'DENIED',
        automatic: true,
        approvers: [],
        reason: FAIL_CLOSED_REASON,
        // The event's own `time` is the decision time ($$.State is not available to local runners).
        executionId: sfn.JsonPath.executionId,
      }),
    );
    announceFailClosed.addCatch(recordFailed, { resultPath: '$.announceFailure' });
    announceFailClosed.next(recordFailed);

    const announce = this.announce(STATE.announce, sfn.TaskInput.fromJsonPathAt('$.decision'));
    // The decision is already recorded (maybe APPROVED): an announce failure must not turn it into a
    // denial. The execution fails under its own name, and the alarm says what happened.
    announce.addCatch(
      new sfn.Fail(this, STATE.announceFailed, {
        error: ANNOUNCE_FAILED_ERROR,
        cause: ANNOUNCE_FAILED_CAUSE,
      }),
      { errors: [sfn.Errors.ALL], resultPath: '$.announceFailure' },
    );
    announce.next(new sfn.Succeed(this, RECORDED_STATE));

    // No payload: a direct invoke gets the whole state (with executionId) as its event.
    const record = this.lambdaTask(STATE.record, this.recordFunction, {
      payloadResponseOnly: true,
      resultPath: '$.decision',
    });
    // Slack refused a break-glass approval's broadcast or post-hoc review item: Record posts
    // only what is still missing, so retrying it is safe; after the last try it fails closed.
    record.addRetry({
      errors: [BREAK_GLASS_NOTICE_ERROR],
      interval: Duration.seconds(2),
      maxAttempts: 6,
      backoffRate: 2,
      maxDelay: Duration.seconds(60),
      jitterStrategy: sfn.JitterType.FULL,
    });
    // After the last try, Record runs once more with the failure: nothing was finalized before
    // the notice, so it records, audits and announces a denial (the request says DENIED too).
    record.addCatch(record, { errors: [BREAK_GLASS_NOTICE_ERROR], ...failure });
    record.addCatch(announceFailClosed, { errors: [sfn.Errors.ALL], ...failure });
    record.next(announce);

    const review = this.lambdaTask(STATE.review, this.reviewFunction, {
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        taskToken: sfn.JsonPath.taskToken,
        requestId: sfn.JsonPath.stringAt('$.evaluation.requestId'),
      }),
      taskTimeout: sfn.Timeout.at('$.evaluation.review.timeoutSeconds'),
      resultPath: '$.review',
    });
    // One catch: States.ALL also matches States.Timeout and the reviewer errors, and
    // Record tells them apart by `$.failure.Error` (timeout → EXPIRED, denied, cancelled, failed).
    review.addCatch(record, { errors: [sfn.Errors.ALL], ...failure });
    review.next(record);

    const outcome = new sfn.Choice(this, STATE.outcome)
      .when(sfn.Condition.stringEquals('$.evaluation.outcome', 'review'), review)
      .when(
        sfn.Condition.stringEquals('$.evaluation.outcome', 'duplicate'),
        new sfn.Succeed(this, STATE.duplicate),
      )
      .otherwise(record);

    const evaluate = this.lambdaTask(STATE.evaluate, this.evaluateFunction, {
      payloadResponseOnly: true,
      resultPath: '$.evaluation',
    });
    evaluate.addCatch(record, { errors: [sfn.Errors.ALL], ...failure });
    evaluate.next(outcome);

    // Evaluate and Record receive the whole state plus `executionId`. A task's
    // Parameters must be an object, so the merge happens once, up front; the
    // state then carries executionId to every later task.
    const receive = new sfn.Pass(this, RECEIVE_STATE, {
      parameters: { state: stateWithExecutionId() },
      outputPath: '$.state',
    });
    receive.next(evaluate);

    // Under /aws/vendedlogs/states/: CloudWatch Logs then needs no per-log-group entry in the account's
    // size-limited resource policy. The stack instance's id makes the name unique per copy and per deploy.
    const logGroupName = instanceScopedName('/aws/vendedlogs/states/');
    this.logKey =
      props.logKey ??
      limitGrantsToAwsServices(
        new kms.Key(this, 'ExecutionLogsKey', {
          description: 'Countersign approval workflow execution logs',
          enableKeyRotation: true,
        }),
      );
    this.logKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchLogsForTheExecutionLogGroup',
        principals: [new iam.ServicePrincipal(`logs.${Stack.of(this).region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnEquals: {
            'kms:EncryptionContext:aws:logs:arn': Stack.of(this).formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: logGroupName,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    this.logGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName,
      encryptionKey: this.logKey,
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'Countersign approval workflow: one execution per privileged-action intent',
      definitionBody: sfn.DefinitionBody.fromChainable(receive),
      // Every event, but never execution data: inputs and outputs carry task tokens and unmasked intents.
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    const role = this.stateMachine.role;
    Validations.of(role).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'CloudWatch Logs delivery (logs:CreateLogDelivery, PutResourcePolicy, ...) and X-Ray (PutTraceSegments, GetSamplingRules, ...) do not support resource-level permissions; both statements are added by CDK for logging and tracing.',
      },
      ...[this.evaluateFunction, this.reviewFunction, this.recordFunction].map((fn) => ({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(fn.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason:
          "lambda:InvokeFunction on the function's qualified ARNs (versions/aliases) of this one function, as CDK grants for a Lambda task.",
      })),
    );

    this.executionsFailedAlarm = new cloudwatch.Alarm(this, 'ExecutionsFailedAlarm', {
      alarmDescription: EXECUTIONS_FAILED_ALARM_DESCRIPTION,
      metric: this.stateMachine.metricFailed({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.SUM,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const action of props.alarmActions ?? []) this.executionsFailedAlarm.addAlarmAction(action);
  }

  /**
   * The state machine definition (ASL) as a JSON object, with every token
   * replaced by a readable placeholder: Lambda ARNs become
   * `arn:aws:lambda:us-east-1:123456789012:function:countersign-<handler>`,
   * the bus ARN `arn:aws:events:us-east-1:123456789012:event-bus/<name>`.
   * A local runner finds the Task states by name (`STATE`).
   */
  public renderDefinition(): AslDefinition {
    const stack = Stack.of(this);
    const cfn = this.stateMachine.node.defaultChild as sfn.CfnStateMachine;
    const placeholders = new Map<string, { Arn: string; Ref: string }>();
    for (const [name, fn] of this.taskFunctions()) {
      const arn = `arn:aws:lambda:${PLACEHOLDER_REGION}:${PLACEHOLDER_ACCOUNT}:function:countersign-${name}`;
      placeholders.set(stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction), {
        Arn: arn,
        Ref: `countersign-${name}`,
      });
    }
    const busName = stack.resolve(this.eventBus.eventBusName);
    const busPlaceholder = typeof busName === 'string' ? busName : 'countersign';
    const busDefault = this.eventBus.node.defaultChild;
    if (busDefault) {
      placeholders.set(stack.getLogicalId(busDefault as events.CfnEventBus), {
        Arn: `arn:aws:events:${PLACEHOLDER_REGION}:${PLACEHOLDER_ACCOUNT}:event-bus/${busPlaceholder}`,
        Ref: busPlaceholder,
      });
    }
    const text = flattenToString(stack.resolve(cfn.definitionString), placeholders);
    return JSON.parse(text) as AslDefinition;
  }

  /** Each Lambda task's function, by its handler's name (`lambdas/<name>/handler.ts`). */
  private taskFunctions(): ReadonlyArray<readonly [string, HandlerFunction]> {
    return [
      ['evaluate', this.evaluateFunction],
      ['review', this.reviewFunction],
      ['record', this.recordFunction],
    ];
  }

  private lambdaTask(
    name: string,
    fn: lambda.IFunction,
    props: Omit<tasks.LambdaInvokeProps, 'lambdaFunction'>,
  ): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(this, name, {
      ...props,
      lambdaFunction: fn,
      // Replaced by the explicit retry below (it also covers throttling).
      retryOnServiceExceptions: false,
    });
    task.addRetry({
      errors: LAMBDA_SERVICE_ERRORS,
      interval: Duration.seconds(1),
      maxAttempts: 6,
      backoffRate: 2,
      maxDelay: Duration.seconds(30),
      jitterStrategy: sfn.JitterType.FULL,
    });
    return task;
  }

  private announce(name: string, detail: sfn.TaskInput): tasks.EventBridgePutEvents {
    const task = new tasks.EventBridgePutEvents(this, name, {
      entries: [
        { eventBus: this.eventBus, source: DECISION_SOURCE, detailType: DECISION_DETAIL_TYPE, detail },
      ],
      resultPath: sfn.JsonPath.DISCARD,
    });
    task.addRetry({
      errors: [sfn.Errors.TASKS_FAILED],
      interval: Duration.seconds(1),
      maxAttempts: 6,
      backoffRate: 2,
      maxDelay: Duration.seconds(30),
      jitterStrategy: sfn.JitterType.FULL,
    });
    return task;
  }
}

/**
 * The workflow's ASL without a deployment: builds the workflow alone in a
 * throwaway app (bundling skipped, no config or policies needed) and returns
 * {@link ApprovalWorkflow.renderDefinition}. The states are identical to the
 * deployed stack's; only the placeholder ARNs stand in for real ones.
 */
export function renderApprovalWorkflowDefinition(): AslDefinition {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Countersign', {
    env: { account: PLACEHOLDER_ACCOUNT, region: PLACEHOLDER_REGION },
  });
  const none = settings({});
  const workflow = new ApprovalWorkflow(stack, 'ApprovalWorkflow', {
    eventBus: new events.EventBus(stack, 'Bus', { eventBusName: 'countersign' }),
    auditWriter: none,
    slackSecretReader: none,
    slackChannelId: 'C0000000000',
    approverGroupHandle: 'approvers',
  });
  return workflow.renderDefinition();
}

/** An ASL document. */
export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  Comment?: string;
  [key: string]: unknown;
}

/** One ASL state (only the fields tests and runners commonly read are typed). */
export interface AslState {
  Type: string;
  Resource?: string;
  Next?: string;
  End?: boolean;
  Parameters?: Record<string, unknown>;
  ResultPath?: string | null;
  TimeoutSecondsPath?: string;
  Retry?: { ErrorEquals: string[]; [key: string]: unknown }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string | null }[];
  [key: string]: unknown;
}

const PLACEHOLDER_REGION = 'us-east-1';
const PLACEHOLDER_ACCOUNT = '123456789012';

/**
 * Merges `executionId` (`$$.Execution.Id`) into the top level of the state.
 * Execution ids are ARNs, so they need no JSON escaping.
 */
function stateWithExecutionId(): string {
  return sfn.JsonPath.jsonMerge(
    sfn.JsonPath.objectAt('$'),
    sfn.JsonPath.stringToJson(sfn.JsonPath.format('\\{"executionId":"{}"\\}', sfn.JsonPath.executionId)),
  );
}

/** Joins a resolved `Fn::Join` definition into a string, replacing intrinsics by placeholders. */
function flattenToString(value: unknown, placeholders: Map<string, { Arn: string; Ref: string }>): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null)
    throw new Error(`unexpected definition part ${String(value)}`);
  const v = value as Record<string, unknown>;
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => flattenToString(p, placeholders)).join(sep);
  }
  if ('Ref' in v) {
    const ref = String(v.Ref);
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': PLACEHOLDER_REGION,
      'AWS::AccountId': PLACEHOLDER_ACCOUNT,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    const found = pseudo[ref] ?? placeholders.get(ref)?.Ref;
    if (found === undefined) throw new Error(`renderDefinition: no placeholder for Ref ${ref}`);
    return found;
  }
  if ('Fn::GetAtt' in v) {
    const [logicalId, attr] = v['Fn::GetAtt'] as [string, string];
    const found = attr === 'Arn' ? placeholders.get(logicalId)?.Arn : undefined;
    if (found === undefined)
      throw new Error(`renderDefinition: no placeholder for GetAtt ${logicalId}.${attr}`);
    return found;
  }
  throw new Error(`renderDefinition: unexpected intrinsic ${JSON.stringify(v)}`);
}
