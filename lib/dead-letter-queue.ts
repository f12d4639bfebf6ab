/** The alarmed dead-letter queue every asynchronous delivery in Countersign ends in. */
import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * An encrypted, TLS-only dead-letter queue (for a rule target, or the
 * on-failure destination of a stream), and an alarm that fires as soon as it
 * holds anything: nothing that could not be delivered is lost silently.
 */
export function alarmedDeadLetterQueue(
  scope: Construct,
  target: string,
  alarmDescription: string,
  alarmActions: cloudwatch.IAlarmAction[] = [],
): { queue: sqs.Queue; alarm: cloudwatch.Alarm } {
  const queue = new sqs.Queue(scope, 'DeadLetterQueue', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: `This queue is itself the dead-letter queue of ${target}, which cdk-nag cannot see; its depth is alarmed.`,
  });
  const alarm = new cloudwatch.Alarm(scope, 'DeadLetterAlarm', {
    alarmDescription,
    metric: queue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(1),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  for (const action of alarmActions) alarm.addAlarmAction(action);
  return { queue, alarm };
}

/**
 * A rule's dead-letter queue catches only what EventBridge could not hand to
 * Lambda; an event Lambda accepted and whose handler then failed every
 * asynchronous retry would be dropped. Send those to the same alarmed queue
 * (the function's on-failure destination), so a throttled or failing handler
 * loses nothing either.
 */
export function deadLetterAsyncFailures(fn: lambda.Function, queue: sqs.IQueue, maxEventAge: Duration): void {
  fn.configureAsyncInvoke({
    onFailure: new destinations.SqsDestination(queue),
    retryAttempts: 2,
    maxEventAge,
  });
}
