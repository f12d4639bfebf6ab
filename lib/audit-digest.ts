/**
 * Signed audit digests: on a schedule, the digest handler lists every audit
 * record written in the period (GSI `byAuditHour`), writes a digest object
 * under `digests/` that chains to the previous digest, and signs it with an
 * asymmetric KMS key (ECC_NIST_P256) whose public key anyone can verify with.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { type Binding, HandlerFunction } from './handler-function.js';
import { limitGrantsToAwsServices } from './key-policy.js';

/** Properties of an {@link AuditDigest}. */
export interface AuditDigestProps {
  /** Table read (GSI), digest-object read/write: the audit store's digest binding. */
  readonly digestWriter: Binding;
  /**
   * EventBridge Scheduler expression of the digest run.
   * @default 'rate(1 hour)'
   */
  readonly schedule?: string;
  /**
   * Actions of the digest-failure alarm.
   * @default - none
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
}

/** The digest signing key, the digest handler and its schedule. */
export class AuditDigest extends Construct {
  /** ECC_NIST_P256 SIGN_VERIFY key; its public key verifies every digest. */
  public readonly signingKey: kms.Key;
  /** The digest handler (`lambdas/digest/handler.ts`). */
  public readonly handler: HandlerFunction;
  /** The EventBridge Scheduler schedule that runs it. */
  public readonly schedule: scheduler.Schedule;
  /** In alarm when a digest run fails (a gap in the digest chain). */
  public readonly failureAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: AuditDigestProps) {
    super(scope, id);
    this.signingKey = new kms.Key(this, 'SigningKey', {
      description: 'Countersign audit digest signing key (verify with its public key)',
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    limitGrantsToAwsServices(this.signingKey);
    Validations.of(this.signingKey).acknowledge({
      id: 'AwsSolutions-KMS5',
      reason:
        'KMS cannot rotate asymmetric keys; rotating would also change the public key verifiers pin. Digests record the key ARN, so a replacement key can be introduced deliberately.',
    });

    this.handler = new HandlerFunction(this, 'DigestFunction', {
      name: 'digest',
      description:
        'Countersign audit digest: list the period’s audit records, write and sign a chained digest',
      timeout: Duration.minutes(5),
    });
    this.handler.bind(props.digestWriter).bind(this.signer());

    const schedulerRole = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'EventBridge Scheduler: invoke the Countersign digest handler',
    });
    const fnId = Stack.of(this).getLogicalId(this.handler.node.defaultChild as lambda.CfnFunction);
    Validations.of(schedulerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${fnId}.Arn>:*]`,
      reason:
        'lambda:InvokeFunction on the digest function and its qualified ARNs (versions/aliases) only, as granted by the Scheduler Lambda target.',
    });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: 'Writes the signed Countersign audit digest',
      schedule: scheduler.ScheduleExpression.expression(props.schedule ?? 'rate(1 hour)'),
      target: new schedulerTargets.LambdaInvoke(this.handler, {
        role: schedulerRole,
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
      }),
    });

    this.failureAlarm = new cloudwatch.Alarm(this, 'FailureAlarm', {
      alarmDescription: 'A Countersign audit digest run failed: the digest chain has a gap until it succeeds',
      metric: this.handler.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const action of props.alarmActions ?? []) this.failureAlarm.addAlarmAction(action);
  }

  /**
   * Binding for a digest signer: `COUNTERSIGN_DIGEST_KEY_ID` (the key ARN) and
   * kms:Sign only (no Decrypt, no key administration; auditors fetch the public key themselves).
   */
  public signer(): Binding {
    return {
      environment: { COUNTERSIGN_DIGEST_KEY_ID: this.signingKey.keyArn },
      grant: (grantee) => {
        this.signingKey.grant(grantee, 'kms:Sign');
      },
    };
  }
}
