/**
 * What the platform team watches: one CloudWatch dashboard (built with
 * cdk-monitoring-constructs) over the workflow, every handler, the
 * dead-letter queues, the table and Countersign's own metrics
 * (lambdas/shared/metrics.ts), and the alarms no single construct owns:
 * archive lag, digest overdue, a stuck review and the interaction error rate.
 * Every alarm notifies the given actions (the stack's alarm topic).
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { DefaultDashboardFactory, MonitoringFacade } from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE, METRICS_SERVICE } from '../lambdas/shared/metrics.js';
import { instanceScopedName } from './physical-names.js';

/** Properties of {@link OperationsMonitoring}. */
export interface OperationsMonitoringProps {
  /** The approval workflow. */
  readonly stateMachine: sfn.IStateMachine;
  /** Every handler, by the name shown on the dashboard. */
  readonly functions: Record<string, lambda.IFunction>;
  /** The public Slack interaction handler (its error rate is alarmed). */
  readonly interactionFunction: lambda.IFunction;
  /** The stream-fed archive handler (shown with its iterator age). */
  readonly archiveFunction: lambda.IFunction;
  /** Every dead-letter queue, by the name shown on the dashboard (each is alarmed where it is made). */
  readonly deadLetterQueues: Record<string, sqs.IQueue>;
  /** The request and audit table. */
  readonly table: dynamodb.ITable;
  /** Alarms made elsewhere (executions failed, dead-letter queues, digest failures), shown in the alarm widget. */
  readonly existingAlarms?: cloudwatch.IAlarm[];
  /**
   * Actions of the alarms made here.
   * @default - none
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
  /**
   * Archive lag that alarms.
   * @default Duration.minutes(15)
   */
  readonly archiveLagThreshold?: Duration;
  /**
   * How often a digest is written; the digest-overdue alarm fires after two
   * such intervals (at least one hour each) without one.
   * @default Duration.hours(1)
   */
  readonly digestInterval?: Duration;
  /**
   * Interaction error rate (handler errors and internal errors per invocation, percent) that alarms.
   * @default 5
   */
  readonly interactionErrorRatePercent?: number;
}

/** Dashboard and cross-cutting alarms of one Countersign stack. */
export class OperationsMonitoring extends Construct {
  /** The cdk-monitoring-constructs facade that built the dashboard. */
  public readonly facade: MonitoringFacade;
  /** The dashboard. */
  public readonly dashboard: cloudwatch.Dashboard;
  /** Newest audit record not archived within the threshold. */
  public readonly archiveLagAlarm: cloudwatch.Alarm;
  /** No digest written for two digest intervals. */
  public readonly digestOverdueAlarm: cloudwatch.Alarm;
  /** A review still pending past its policy timeout. */
  public readonly stuckReviewAlarm: cloudwatch.Alarm;
  /** The interaction endpoint fails too often. */
  public readonly interactionErrorRateAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: OperationsMonitoringProps) {
    super(scope, id);
    const actions = props.alarmActions ?? [];
    const archiveLag = props.archiveLagThreshold ?? Duration.minutes(15);
    const digestInterval = Math.max(3600, (props.digestInterval ?? Duration.hours(1)).toSeconds());

    this.archiveLagAlarm = new cloudwatch.Alarm(this, 'ArchiveLagAlarm', {
      alarmDescription: `An audit record took more than ${archiveLag.toMinutes()} minutes to reach the Object Lock bucket (docs/operations.md#archive-lag)`,
      metric: countersignMetric(METRIC.archiveLag, 'Maximum', Duration.minutes(5)),
      threshold: archiveLag.toSeconds(),
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // A heartbeat: no data is the failure, so missing data breaches.
    this.digestOverdueAlarm = new cloudwatch.Alarm(this, 'DigestOverdueAlarm', {
      alarmDescription:
        'No audit digest was written for two digest intervals: the trail is not being signed (docs/operations.md#digest-overdue)',
      metric: countersignMetric(METRIC.digestsWritten, 'Sum', Duration.seconds(digestInterval)),
      threshold: 1,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    this.stuckReviewAlarm = new cloudwatch.Alarm(this, 'StuckReviewAlarm', {
      alarmDescription:
        'A review is still pending past its policy timeout: its workflow did not expire it (docs/operations.md#stuck-review)',
      metric: countersignMetric(METRIC.stuck, 'Maximum', Duration.hours(1)),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const rate = interactionErrorRate(props.interactionFunction);
    const ratePercent = props.interactionErrorRatePercent ?? 5;
    this.interactionErrorRateAlarm = new cloudwatch.Alarm(this, 'InteractionErrorRateAlarm', {
      alarmDescription: `More than ${ratePercent}% of Slack interactions failed (handler errors or internal errors) (docs/operations.md#interaction-errors)`,
      metric: rate,
      threshold: ratePercent,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const own = [
      this.archiveLagAlarm,
      this.digestOverdueAlarm,
      this.stuckReviewAlarm,
      this.interactionErrorRateAlarm,
    ];
    for (const alarm of own) for (const action of actions) alarm.addAlarmAction(action);

    // Unique per stack instance: a second copy in the account gets its own dashboard.
    const factory = new DefaultDashboardFactory(this, 'Dashboards', {
      dashboardNamePrefix: instanceScopedName('Countersign-'),
      createDashboard: true,
      createSummaryDashboard: false,
      createAlarmDashboard: false,
    });
    this.facade = new MonitoringFacade(this, 'Facade', { dashboardFactory: factory });
    this.facade
      .addLargeHeader('Countersign: approvals and evidence')
      .addWidget(
        new cloudwatch.AlarmStatusWidget({
          title: 'Alarms (all notify the alarm topic)',
          alarms: [...own, ...(props.existingAlarms ?? [])],
          width: 24,
        }),
      )
      .monitorCustom({
        alarmFriendlyName: 'Reviews',
        humanReadableName: 'Reviews: pending, decisions, time to decision',
        metricGroups: [
          {
            title: 'Pending reviews and stuck reviews',
            metrics: [
              countersignMetric(METRIC.pending, 'Maximum', Duration.hours(1)),
              countersignMetric(METRIC.stuck, 'Maximum', Duration.hours(1)),
            ],
          },
          {
            title: 'Oldest pending review (seconds)',
            metrics: [countersignMetric(METRIC.oldestPending, 'Maximum', Duration.hours(1))],
          },
          { title: 'Decisions by status', metrics: [search(METRIC.decisions, 'Status', 'Sum')] },
          {
            title: 'Time to decision p50 by action class (s)',
            metrics: [search(METRIC.timeToDecision, 'ActionClass', 'p50')],
          },
          {
            title: 'Time to decision p90 by action class (s)',
            metrics: [search(METRIC.timeToDecision, 'ActionClass', 'p90')],
          },
          {
            title: 'Expiries and break-glass approvals',
            metrics: [
              countersignMetric(METRIC.expiries, 'Sum', Duration.minutes(5)),
              countersignMetric(METRIC.breakGlass, 'Sum', Duration.minutes(5)),
            ],
          },
        ],
      })
      .monitorCustom({
        alarmFriendlyName: 'People',
        humanReadableName: 'Approvers and agents',
        metricGroups: [
          { title: 'Approvals per approver (load)', metrics: [search(METRIC.approvals, 'Approver', 'Sum')] },
          {
            title: 'Rubber-stamp approvals per approver',
            metrics: [search(METRIC.rubberStamps, 'Approver', 'Sum')],
          },
          { title: 'Refusals by reason', metrics: [search(METRIC.refusals, 'Reason', 'Sum')] },
          { title: 'Intents per agent', metrics: [search(METRIC.intents, 'Agent', 'Sum')] },
          { title: 'Policy outcomes', metrics: [search(METRIC.policyOutcomes, 'Outcome', 'Sum')] },
          {
            title: 'Shadow policies that would have changed the outcome',
            metrics: [search(METRIC.shadowChanges, 'Policy', 'Sum')],
          },
          {
            title: 'Intents denied on a request quota, by action class',
            metrics: [search(METRIC.rateLimited, 'ActionClass', 'Sum')],
          },
        ],
      })
      .monitorCustom({
        alarmFriendlyName: 'Evidence',
        humanReadableName: 'Audit trail: archive and digests',
        metricGroups: [
          {
            title: 'Archive lag (s, max)',
            metrics: [countersignMetric(METRIC.archiveLag, 'Maximum', Duration.minutes(5))],
          },
          {
            title: 'Digests written and chain gaps',
            metrics: [
              countersignMetric(METRIC.digestsWritten, 'Sum', Duration.hours(1)),
              countersignMetric(METRIC.digestGaps, 'Sum', Duration.hours(1)),
            ],
          },
          { title: 'Interaction error rate (%)', metrics: [rate] },
        ],
      })
      .monitorStepFunction({ stateMachine: props.stateMachine, humanReadableName: 'Approval workflow' });
    for (const [name, fn] of Object.entries(props.functions)) {
      this.facade.monitorLambdaFunction({
        lambdaFunction: fn,
        humanReadableName: `${name} handler`,
        alarmFriendlyName: name,
        ...(fn === props.archiveFunction ? { isIterator: true } : {}),
      });
    }
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      this.facade.monitorSqsQueue({
        queue,
        humanReadableName: `${name} dead-letter queue`,
        alarmFriendlyName: `${name}Dlq`,
      });
    }
    this.facade.monitorDynamoTable({ table: props.table, humanReadableName: 'Requests and audit table' });
    const dashboard = factory.dashboard;
    if (!dashboard) throw new Error('the monitoring dashboard was not created');
    this.dashboard = dashboard;
  }
}

/**
 * The interval of a schedule expression: `rate(N minute|hour|day[s])` as
 * written, anything else (a cron expression) one hour.
 */
export function scheduleInterval(expression: string): Duration {
  const m = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression.trim());
  if (!m) return Duration.hours(1);
  const n = Number(m[1]);
  return m[2] === 'minute' ? Duration.minutes(n) : m[2] === 'hour' ? Duration.hours(n) : Duration.days(n);
}

/** A Countersign metric with only the `service` dimension. */
function countersignMetric(name: string, statistic: string, period: Duration): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { service: METRICS_SERVICE },
    statistic,
    period,
  });
}

/** Every series of a Countersign metric split by one dimension (one line per agent, approver, ...). */
function search(name: string, dimension: string, statistic: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `SEARCH('{${METRICS_NAMESPACE},service,${dimension}} service="${METRICS_SERVICE}" MetricName="${name}"', '${statistic}', 300)`,
    usingMetrics: {},
    label: '',
    period: Duration.minutes(5),
  });
}

/** Failed interactions per invocation, percent: Lambda errors plus the handler's own internal errors. */
function interactionErrorRate(fn: lambda.IFunction): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: 'IF(invocations > 0, 100 * (FILL(errors, 0) + FILL(internal, 0)) / invocations, 0)',
    usingMetrics: {
      invocations: fn.metricInvocations({ statistic: 'Sum', period: Duration.minutes(5) }),
      errors: fn.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) }),
      internal: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: 'InteractionError',
        dimensionsMap: { service: 'interaction' },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
    },
    label: 'Interaction error rate (%)',
    period: Duration.minutes(5),
  });
}
