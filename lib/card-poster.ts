/**
 * The card poster: posts review cards from the per-channel card queue at the
 * channel's pace (lambdas/poster). Review kicks it with an asynchronous
 * invoke (so do Record, when a decided request's card leaves the queue, and
 * the interaction handler, when it hands over a rate-limited card update);
 * it re-invokes itself when a backlog outlasts one invocation; a
 * schedule runs it every minute (the sweep), so a card whose poster crashed
 * or was throttled is posted anyway. Kicks and sweeps Lambda or Scheduler
 * could not deliver go to an alarmed dead-letter queue.
 *
 * Least privilege: the table (queue and request items, audit records) as
 * every audit writer, the Slack secret, `states:SendTaskFailure` (a card
 * Slack refuses fails its review), and invoking itself.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { POSTER_ENV } from '../lambdas/poster/settings.js';
import { alarmedDeadLetterQueue } from './dead-letter-queue.js';
import { type Binding, HandlerFunction, settings } from './handler-function.js';

/** Properties of a {@link CardPoster}. */
export interface CardPosterProps {
  /** Table access (queue, requests, audit records): the audit store's audit writer. */
  readonly auditWriter: Binding;
  /** Slack secret access. */
  readonly slackSecretReader: Binding;
  /** Slack channel id of the review cards (`COUNTERSIGN_SLACK_CHANNEL`). */
  readonly slackChannelId: string;
  /**
   * Cards a second per channel.
   * @default 1
   */
  readonly ratePerSecond?: number;
  /**
   * Cards that may go out back to back.
   * @default 3
   */
  readonly burst?: number;
  /**
   * More cards waiting than this show one queue message instead.
   * @default 20
   */
  readonly backlogThreshold?: number;
  /**
   * Actions of the dead-letter alarm.
   * @default - none
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
}

/** The poster function, its sweep schedule and its dead-letter queue. */
export class CardPoster extends Construct {
  /** The poster (`lambdas/poster/handler.ts`). */
  public readonly posterFunction: HandlerFunction;
  /** Runs the poster every minute (the sweep). */
  public readonly sweep: scheduler.Schedule;
  /** Kicks and sweeps that could not be delivered. */
  public readonly deadLetterQueue: sqs.Queue;
  /** In alarm while the dead-letter queue holds anything. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  /** The poster's links to itself and the workflow (outside its default policy, see the constructor). */
  private readonly linkPolicy: iam.Policy;

  constructor(scope: Construct, id: string, props: CardPosterProps) {
    super(scope, id);
    this.posterFunction = new HandlerFunction(this, 'PosterFunction', {
      name: 'poster',
      description: 'Countersign card poster: post queued review cards at the pace of the Slack channel',
      // Long enough to post a burst and wait out a short Retry-After; it re-invokes itself for more.
      timeout: Duration.seconds(90),
    })
      .bind(props.auditWriter)
      .bind(props.slackSecretReader)
      .bind(
        settings({
          COUNTERSIGN_SLACK_CHANNEL: props.slackChannelId,
          [POSTER_ENV.ratePerSecond]: String(props.ratePerSecond ?? 1),
          [POSTER_ENV.burst]: String(props.burst ?? 3),
          [POSTER_ENV.backlogThreshold]: String(props.backlogThreshold ?? 20),
        }),
      );

    ({ queue: this.deadLetterQueue, alarm: this.deadLetterAlarm } = alarmedDeadLetterQueue(
      this,
      'the asynchronous invocations and the sweep schedule of the card poster',
      'Countersign card poster kicks or sweeps failed and are in the dead-letter queue; queued cards wait for the next sweep',
      props.alarmActions,
    ));
    this.posterFunction.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.minutes(10),
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });

    // Invoking itself and failing reviews: in a policy of its own, which the function does not
    // depend on (the function's ARN and the workflow, which invokes Review, which kicks the poster,
    // would otherwise make a cycle).
    this.linkPolicy = new iam.Policy(this, 'LinkPolicy', {
      statements: [
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: [this.posterFunction.functionArn],
        }),
      ],
    });
    this.linkPolicy.attachToRole(this.posterFunction.role!);

    const schedulerRole = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'EventBridge Scheduler: run the Countersign card poster sweep',
    });
    const fnId = Stack.of(this).getLogicalId(this.posterFunction.node.defaultChild as lambda.CfnFunction);
    Validations.of(schedulerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${fnId}.Arn>:*]`,
      reason:
        'lambda:InvokeFunction on the poster function and its qualified ARNs (versions/aliases) only, as granted by the Scheduler Lambda target.',
    });
    this.sweep = new scheduler.Schedule(this, 'Sweep', {
      description: 'Runs the Countersign card poster: posts any card whose kick was lost',
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(1)),
      target: new schedulerTargets.LambdaInvoke(this.posterFunction, {
        role: schedulerRole,
        input: scheduler.ScheduleTargetInput.fromObject({ kick: 'sweep' }),
        retryAttempts: 1,
        maxEventAge: Duration.minutes(1),
        deadLetterQueue: this.deadLetterQueue,
      }),
    });
  }

  /** Lets the poster fail a review whose card Slack refuses (`states:SendTaskFailure` on this workflow). */
  public allowReviewFailures(stateMachine: sfn.IStateMachine): void {
    this.linkPolicy.addStatements(
      new iam.PolicyStatement({
        actions: ['states:SendTaskFailure'],
        resources: [stateMachine.stateMachineArn],
      }),
    );
  }

  /**
   * Binding for a function that kicks the poster (Review, Record, the Slack interaction handler):
   * `COUNTERSIGN_POSTER_FUNCTION_ARN` and `lambda:InvokeFunction` on it.
   */
  public kicking(): Binding {
    return {
      environment: { COUNTERSIGN_POSTER_FUNCTION_ARN: this.posterFunction.functionArn },
      grant: (grantee) => {
        grantee.grantPrincipal.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['lambda:InvokeFunction'],
            resources: [this.posterFunction.functionArn],
          }),
        );
      },
    };
  }
}
