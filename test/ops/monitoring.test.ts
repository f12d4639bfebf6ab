/**
 * The operations dashboard and alarms on the synthesized stack: every alarm
 * reaches the stack's topic, the new alarms watch the metrics the handlers
 * publish (same namespace, metric and dimensions), the dashboard covers the
 * workflow, every handler, every dead-letter queue and the table, and a second
 * copy of the stack gets its own dashboard.
 */
import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { METRIC, METRICS_NAMESPACE } from '../../lambdas/shared/metrics.js';
import { scheduleInterval } from '../../lib/operations-monitoring.js';
import { functionEnv, synth } from '../infra/support.js';

const ALARM = 'AWS::CloudWatch::Alarm';

describe('operations monitoring in the stack', () => {
  const { stack, template } = synth();
  const alarms = template.findResources(ALARM);
  const topicRef = { Ref: stack.getLogicalId(stack.alarms.topic.node.defaultChild as never) };

  it('every alarm in the stack notifies the alarm topic', () => {
    expect(Object.keys(alarms).length).toBeGreaterThanOrEqual(10);
    for (const [id, alarm] of Object.entries(alarms)) {
      expect(alarm.Properties.AlarmActions, id).toEqual([topicRef]);
    }
  });

  it('archive lag alarms above 15 minutes on the maximum lag the archive handler publishes', () => {
    template.hasResourceProperties(ALARM, {
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC.archiveLag,
      Dimensions: [{ Name: 'service', Value: 'countersign' }],
      Statistic: 'Maximum',
      Threshold: 900,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('digest overdue is a heartbeat: two hours without a written digest, missing data breaching', () => {
    template.hasResourceProperties(ALARM, {
      MetricName: METRIC.digestsWritten,
      Period: 3600,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  it('a review pending past its policy timeout alarms', () => {
    template.hasResourceProperties(ALARM, {
      MetricName: METRIC.stuck,
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('the interaction error rate counts Lambda errors and the handler’s own internal errors per invocation', () => {
    template.hasResourceProperties(ALARM, {
      Metrics: Match.arrayWith([
        Match.objectLike({
          Expression: Match.stringLikeRegexp(
            '100 \\* \\(FILL\\(errors, 0\\) \\+ FILL\\(internal, 0\\)\\) / invocations',
          ),
        }),
        Match.objectLike({
          Id: 'internal',
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({
              MetricName: 'InteractionError',
              Dimensions: [{ Name: 'service', Value: 'interaction' }],
            }),
          }),
        }),
      ]),
      Threshold: 5,
    });
  });

  it('executions failed and every dead-letter queue still alarm (made by their constructs)', () => {
    template.hasResourceProperties(ALARM, { MetricName: 'ExecutionsFailed' });
    const dlqAlarms = Object.values(alarms).filter(
      (a) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' && a.Properties.Threshold === 1,
    );
    // Intent, cancel, archive, reminder, the card poster and the unapproved-action detector.
    expect(dlqAlarms).toHaveLength(6);
  });

  it('one dashboard covers the workflow, every handler, every dead-letter queue, the table and the review metrics', () => {
    const dashboards = template.findResources('AWS::CloudWatch::Dashboard');
    expect(Object.keys(dashboards)).toHaveLength(1);
    const body = JSON.stringify(Object.values(dashboards)[0]!.Properties.DashboardBody);
    for (const fn of [
      stack.workflow.evaluateFunction,
      stack.workflow.reviewFunction,
      stack.workflow.recordFunction,
      stack.slackEndpoint.handler,
      stack.detector.handler,
      stack.auditArchiver.handler,
      stack.auditDigest.handler,
      stack.cancelRoute.handler,
      stack.statusApi.statusFunction,
      stack.statusApi.grantFunction,
      stack.workflow.reminders.reminderFunction,
    ]) {
      expect(body, fn.node.path).toContain(stack.getLogicalId(fn.node.defaultChild as never));
    }
    for (const queue of [
      stack.intentRoute.deadLetterQueue,
      stack.cancelRoute.deadLetterQueue,
      stack.auditArchiver.deadLetterQueue,
      stack.workflow.reminders.deadLetterQueue,
    ]) {
      expect(body).toContain(stack.getLogicalId(queue.node.defaultChild as never));
    }
    expect(body).toContain(stack.getLogicalId(stack.workflow.stateMachine.node.defaultChild as never));
    expect(body).toContain(stack.getLogicalId(stack.auditStore.table.node.defaultChild as never));
    for (const name of Object.values(METRIC)) expect(body, name).toContain(name);
    expect(body).toContain('\\"alarms\\"');
  });

  it('the dashboard name is unique per stack instance, and an output names it', () => {
    const dashboard = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]!;
    expect(JSON.stringify(dashboard.Properties.DashboardName)).toContain('AWS::StackId');
    template.hasOutput('DashboardName', {});
    template.hasOutput('AlarmTopicArn', {});
  });

  it('the rubber-stamp threshold reaches the Record handler from config', () => {
    expect(functionEnv(template, 'ApprovalWorkflowRecord').COUNTERSIGN_RUBBER_STAMP_SECONDS).toBe('10');
    const other = synth({ rubberStampSeconds: 30 });
    expect(functionEnv(other.template, 'ApprovalWorkflowRecord').COUNTERSIGN_RUBBER_STAMP_SECONDS).toBe('30');
  });

  it('alarmEmail subscribes to the topic every alarm notifies', () => {
    synth({ alarmEmail: 'oncall@example.com' }).template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
  });
});

describe('scheduleInterval', () => {
  it('reads rate expressions and treats cron as hourly', () => {
    expect(scheduleInterval('rate(1 hour)').toSeconds()).toBe(3600);
    expect(scheduleInterval('rate(30 minutes)').toSeconds()).toBe(1800);
    expect(scheduleInterval('rate(2 days)').toSeconds()).toBe(Duration.days(2).toSeconds());
    expect(scheduleInterval('cron(0 * * * ? *)').toSeconds()).toBe(3600);
  });
});
