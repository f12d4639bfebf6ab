/**
 * The EventBridge Scheduler adapter of the review step: the CreateSchedule
 * request it sends. No local Scheduler server exists, so the client is a
 * recorder of the commands it is given.
 */
import type { CreateScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { describe, expect, it } from 'vitest';
import { eventBridgeScheduler } from '../../lambdas/review/scheduler.js';

const TARGET = {
  group: 'countersign-reminders-0f1e2d3c',
  functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:reminder',
  roleArn: 'arn:aws:iam::123456789012:role/scheduler',
  deadLetterArn: 'arn:aws:sqs:eu-west-1:123456789012:reminders-dlq',
};

describe('eventBridgeScheduler', () => {
  it('creates a one-off schedule in the group with retries and the dead-letter queue', async () => {
    // Prepare
    const sent: CreateScheduleCommand[] = [];
    const client = { send: async (command: CreateScheduleCommand) => void sent.push(command) };
    const scheduler = eventBridgeScheduler(client as unknown as Pick<SchedulerClient, 'send'>, TARGET);
    // Act
    await scheduler.schedule(new Date('2030-01-02T03:04:05.250Z'), {
      kind: 'reminder',
      requestId: 'intent-0001-demo',
      beforeSeconds: 600,
    });
    // Assess
    expect(sent).toHaveLength(1);
    expect(sent[0]!.input).toMatchObject({
      GroupName: TARGET.group,
      ScheduleExpression: 'at(2030-01-02T03:04:06)',
      ActionAfterCompletion: 'DELETE',
      Target: {
        Arn: TARGET.functionArn,
        RoleArn: TARGET.roleArn,
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
        DeadLetterConfig: { Arn: TARGET.deadLetterArn },
      },
    });
  });
});
