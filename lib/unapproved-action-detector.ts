/**
 * The unapproved-action detector: an EventBridge rule on the account's
 * default bus for CloudTrail management events ("AWS API Call via
 * CloudTrail") of the catalog's privileged actions, a detector Lambda
 * (lambdas/detector/), its alarmed dead-letter queue, and an alarm on the
 * `UnapprovedActions` metric.
 *
 * Needs CloudTrail on in the account (a trail recording management events:
 * EventBridge receives CloudTrail's API-call events only then). IAM is a
 * global service whose events reach the default bus in us-east-1 only, so a
 * stack elsewhere sees KMS and S3 calls but not IAM calls (docs/enforcement.md).
 */
import { Duration, Lazy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Catalog } from '../lambdas/grant/catalog.js';
import { alarmedDeadLetterQueue, deadLetterAsyncFailures } from './dead-letter-queue.js';
import { type Binding, HandlerFunction, settings } from './handler-function.js';

/** EventBridge's detail type of CloudTrail API-call events. */
const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail';

/** Properties of an {@link UnapprovedActionDetector}. */
export interface UnapprovedActionDetectorProps {
  /** The validated enforcement catalog: which calls the rule matches. */
  readonly catalog: Catalog;
  /** The catalog and executor role ARNs (from `Executors.reader()`). */
  readonly executorReader: Binding;
  /** Audit writer access (request and grant reads, the unapproved action's chain). */
  readonly auditWriter: Binding;
  /** Read access to the Slack secret. */
  readonly slackSecretReader: Binding;
  /** The approvals channel the alert cards go to. */
  readonly slackChannelId: string;
  /**
   * ARNs of Countersign's own roles whose privileged calls are recognised, not alerted.
   * @default - none
   */
  readonly ownRoleArns?: () => string[];
  /**
   * Where the alarms notify.
   * @default - no actions
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
}

/** The CloudTrail event pattern of the catalog's actions. */
export function cloudTrailPattern(catalog: Catalog): events.EventPattern {
  const trails = Object.values(catalog.actions).map((e) => e.trail);
  const unique = (values: string[]) => [...new Set(values)].sort();
  return {
    source: unique(trails.map((t) => `aws.${t.eventSource.replace(/\.amazonaws\.com$/, '')}`)),
    detailType: [CLOUDTRAIL_DETAIL_TYPE],
    detail: {
      eventSource: unique(trails.map((t) => t.eventSource)),
      eventName: unique(trails.map((t) => t.eventName)),
    },
  };
}

/** Rule, detector function, dead-letter queue and the unapproved-action alarm. */
export class UnapprovedActionDetector extends Construct {
  /** The rule on the default bus. */
  public readonly rule: events.Rule;
  /** The detector. */
  public readonly handler: HandlerFunction;
  /** Events EventBridge could not deliver to the detector. */
  public readonly deadLetterQueue: sqs.Queue;
  /** In alarm while the dead-letter queue holds anything. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  /** Unapproved actions counted by the detector (namespace Countersign, service detector). */
  public readonly metric: cloudwatch.Metric;
  /** In alarm as soon as one unapproved action is counted. */
  public readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: UnapprovedActionDetectorProps) {
    super(scope, id);
    this.handler = new HandlerFunction(this, 'DetectorFunction', {
      name: 'detector',
      description: 'Countersign detector: flags privileged AWS calls no consumed grant covers',
      memorySize: 256,
    })
      .bind(props.auditWriter)
      .bind(props.executorReader)
      .bind(props.slackSecretReader)
      .bind(settings({ COUNTERSIGN_SLACK_CHANNEL: props.slackChannelId }));
    const ownRoleArns = props.ownRoleArns;
    if (ownRoleArns) {
      // Resolved at synth, after every construct added its roles.
      this.handler.addEnvironment(
        'COUNTERSIGN_OWN_ROLES',
        Lazy.string({ produce: () => Stack.of(this).toJsonString(ownRoleArns()) }),
      );
    }
    ({ queue: this.deadLetterQueue, alarm: this.deadLetterAlarm } = alarmedDeadLetterQueue(
      this,
      'the CloudTrail detector rule target',
      'CloudTrail events of privileged actions could not be delivered to the Countersign detector',
      props.alarmActions,
    ));
    deadLetterAsyncFailures(this.handler, this.deadLetterQueue, Duration.hours(6));
    this.rule = new events.Rule(this, 'Rule', {
      // No eventBus: the account's default bus, where CloudTrail delivers.
      description: 'CloudTrail calls of Countersign-catalogued privileged actions, for the detector',
      eventPattern: cloudTrailPattern(props.catalog),
      targets: [
        new targets.LambdaFunction(this.handler, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
    this.metric = new cloudwatch.Metric({
      namespace: 'Countersign',
      metricName: 'UnapprovedActions',
      dimensionsMap: { service: 'detector' },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
    });
    this.alarm = new cloudwatch.Alarm(this, 'UnapprovedActionAlarm', {
      alarmDescription:
        'A privileged AWS call ran without a Countersign approval covering it (see the approvals channel)',
      metric: this.metric,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const action of props.alarmActions ?? []) this.alarm.addAlarmAction(action);
  }
}
