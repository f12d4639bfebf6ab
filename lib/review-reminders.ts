/**
 * Reminders and escalation without polling: the reminder handler, a dedicated
 * EventBridge Scheduler schedule group for the one-off `at(...)` schedules the
 * Review step creates, and the role Scheduler assumes to invoke the handler.
 *
 * A wake-up Scheduler cannot deliver goes to an alarmed dead-letter queue.
 *
 * The group is named after the stack instance (a second copy, or a redeploy
 * after `cdk destroy`, gets another name) and is destroyed with the stack: it
 * holds only pending one-off wake-ups of reviews whose workflow and reminder
 * function go with the stack, nothing of audit value (the audit trail records
 * every reminder sent).
 *
 * Least privilege, both ways:
 * - the scheduler role may invoke the reminder function and send to the
 *   dead-letter queue, nothing else;
 * - a function bound with {@link ReviewReminders.scheduling} may
 *   `scheduler:CreateSchedule` only in this group, and `iam:PassRole` only for
 *   the scheduler role, only to scheduler.amazonaws.com.
 */
import { Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { alarmedDeadLetterQueue } from './dead-letter-queue.js';
import { type Binding, HandlerFunction } from './handler-function.js';
import { stackInstanceId } from './physical-names.js';

/** Properties of {@link ReviewReminders}. */
export interface ReviewRemindersProps {
  /** Table and audit-bucket access for the reminder handler (it reads requests, audits escalations). */
  readonly auditWriter: Binding;
  /** Slack secret access for the reminder handler. */
  readonly slackSecretReader: Binding;
  /**
   * Actions of the dead-letter alarm.
   * @default - none
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
}

/** The reminder handler, its schedule group and the scheduler role. */
export class ReviewReminders extends Construct {
  /** Posts reminders and escalations (`lambdas/reminder/handler.ts`). */
  public readonly reminderFunction: HandlerFunction;
  /** The group every review wake-up schedule is created in. */
  public readonly scheduleGroup: scheduler.ScheduleGroup;
  /** The role EventBridge Scheduler assumes to invoke {@link reminderFunction}. */
  public readonly schedulerRole: iam.Role;
  /** Wake-ups Scheduler could not deliver (the schedules' `DeadLetterConfig`). */
  public readonly deadLetterQueue: sqs.Queue;
  /** In alarm while the dead-letter queue holds anything. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ReviewRemindersProps) {
    super(scope, id);
    this.reminderFunction = new HandlerFunction(this, 'ReminderFunction', {
      name: 'reminder',
      description: 'Countersign reminder: remind approvers or escalate a review that is still pending',
    })
      .bind(props.auditWriter)
      .bind(props.slackSecretReader);

    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', {
      // 22 + 36 characters of the 64 allowed.
      scheduleGroupName: Fn.join('-', ['countersign-reminders', stackInstanceId()]),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    ({ queue: this.deadLetterQueue, alarm: this.deadLetterAlarm } = alarmedDeadLetterQueue(
      this,
      'the one-off reminder and escalation schedules (their DeadLetterConfig)',
      'Countersign reminder or escalation wake-ups could not invoke the reminder handler and are in the dead-letter queue',
      props.alarmActions,
    ));

    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      // EventBridge Scheduler assumes the role with aws:SourceArn set to the
      // schedule group's ARN (not the schedule's), so that is what the trust names.
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
          // Scheduler presents the schedule group's ARN as aws:SourceArn, not the schedule's.
          ArnEquals: { 'aws:SourceArn': this.scheduleGroup.scheduleGroupArn },
        },
      }),
      description: 'EventBridge Scheduler: invoke the Countersign reminder handler (review wake-ups)',
    });
    this.schedulerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [this.reminderFunction.functionArn],
      }),
    );
    this.schedulerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.queueArn],
      }),
    );
  }

  /** The group's name as a reference to the group (its name is computed at deploy time). */
  private groupNameRef(): string {
    return (this.scheduleGroup.node.defaultChild as scheduler.CfnScheduleGroup).ref;
  }

  /** ARN pattern of the schedules in this group. */
  private scheduleArns(): string {
    const stack = Stack.of(this);
    return stack.formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.groupNameRef()}/*`,
    });
  }

  /**
   * Binding for the function that schedules wake-ups (the Review task):
   * `COUNTERSIGN_SCHEDULE_GROUP`, `COUNTERSIGN_REMINDER_FUNCTION_ARN`,
   * `COUNTERSIGN_SCHEDULER_ROLE_ARN`, `COUNTERSIGN_REMINDER_DLQ_ARN` (the
   * schedules' dead-letter queue), plus `scheduler:CreateSchedule` in this
   * group only and `iam:PassRole` for the scheduler role only.
   */
  public scheduling(): Binding {
    return {
      environment: {
        COUNTERSIGN_SCHEDULE_GROUP: this.groupNameRef(),
        COUNTERSIGN_REMINDER_FUNCTION_ARN: this.reminderFunction.functionArn,
        COUNTERSIGN_SCHEDULER_ROLE_ARN: this.schedulerRole.roleArn,
        COUNTERSIGN_REMINDER_DLQ_ARN: this.deadLetterQueue.queueArn,
      },
      grant: (grantee) => {
        grantee.grantPrincipal.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['scheduler:CreateSchedule'],
            resources: [this.scheduleArns()],
          }),
        );
        if (grantee.grantPrincipal instanceof iam.Role) {
          Validations.of(grantee.grantPrincipal).acknowledge({
            id: `AwsSolutions-IAM5[Resource::${nagResource(Stack.of(this), this.scheduleArns())}]`,
            reason:
              'scheduler:CreateSchedule on schedules of the dedicated Countersign review-reminder group only: each review creates its one-off schedules at run time, so their names cannot be known in advance.',
          });
        }
        grantee.grantPrincipal.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['iam:PassRole'],
            resources: [this.schedulerRole.roleArn],
            conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
          }),
        );
      },
    };
  }
}

/** A resource as cdk-nag prints it in a finding id: intrinsics become `<Ref>` / `<Id.Attr>`. */
function nagResource(stack: Stack, value: string): string {
  const render = (part: unknown): string => {
    if (typeof part === 'string') return part;
    const v = part as Record<string, unknown>;
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(sep);
    }
    if ('Ref' in v) return `<${String(v.Ref)}>`;
    if ('Fn::GetAtt' in v) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
    return JSON.stringify(v);
  };
  return render(stack.resolve(value));
}
