/**
 * The EventBridge Scheduler implementation of the reminder port: one one-off
 * `at(...)` schedule per wake-up, in Countersign's own schedule group, that
 * invokes the reminder function through the scheduler role and deletes itself
 * after running (`ActionAfterCompletion: DELETE`); one Scheduler cannot
 * deliver goes to the dead-letter queue. Creating a schedule that
 * already exists (a retried Review) is not an error.
 */
import { ConflictException, CreateScheduleCommand, type SchedulerClient } from '@aws-sdk/client-scheduler';
import { sha256Hex } from '../shared/canonical.js';
import { type ReminderPayload, type ReminderScheduler, scheduleName } from '../shared/reminders.js';

/** Where schedules go and what they invoke. */
export interface SchedulerTarget {
  group: string;
  /** ARN of the reminder function. */
  functionArn: string;
  /** Role EventBridge Scheduler assumes to invoke it. */
  roleArn: string;
  /** SQS queue a wake-up goes to when Scheduler cannot invoke the function (alarmed in the stack). */
  deadLetterArn: string;
}

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC, rounded up to the next second. */
export const atExpression = (at: Date) =>
  `at(${new Date(Math.ceil(at.getTime() / 1000) * 1000).toISOString().slice(0, 19)})`;

/** A {@link ReminderScheduler} over EventBridge Scheduler. */
export function eventBridgeScheduler(
  client: Pick<SchedulerClient, 'send'>,
  target: SchedulerTarget,
): ReminderScheduler {
  return {
    async schedule(at: Date, payload: ReminderPayload) {
      try {
        await client.send(
          new CreateScheduleCommand({
            Name: scheduleName(sha256Hex(payload.requestId), payload),
            GroupName: target.group,
            ScheduleExpression: atExpression(at),
            ScheduleExpressionTimezone: 'UTC',
            FlexibleTimeWindow: { Mode: 'OFF' },
            ActionAfterCompletion: 'DELETE',
            Description: `Countersign ${payload.kind} for ${payload.requestId}`.slice(0, 512),
            Target: {
              Arn: target.functionArn,
              RoleArn: target.roleArn,
              Input: JSON.stringify(payload),
              RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
              // A wake-up Scheduler could not deliver lands here and raises an alarm, instead of vanishing.
              DeadLetterConfig: { Arn: target.deadLetterArn },
            },
          }),
        );
      } catch (error) {
        if (error instanceof ConflictException || (error as { name?: string }).name === 'ConflictException')
          return;
        throw error;
      }
    },
  };
}
