/**
 * Where operational alarms go: an encrypted, TLS-only SNS topic that every
 * Countersign alarm notifies, always created, so an alarm never fires into
 * nothing. An alarm email only subscribes to it; operators can subscribe
 * anything else (chat, paging) to the topic ARN the stack outputs.
 */
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { limitGrantsToAwsServices } from './key-policy.js';

/** Properties of {@link AlarmNotifications}. */
export interface AlarmNotificationsProps {
  /**
   * Email address subscribed to every Countersign alarm.
   * @default - no subscription (subscribe to the topic yourself)
   */
  readonly email?: string;
}

/** An SNS topic (customer-managed KMS key, TLS only) that alarms notify. */
export class AlarmNotifications extends Construct {
  /** The alarm topic. */
  public readonly topic: sns.Topic;
  /** Alarm action that publishes to {@link topic}. */
  public readonly action: cloudwatch.IAlarmAction;
  /**
   * The topic's customer-managed key. The stack's other operational log (the
   * workflow's execution logs) is encrypted with it too: one key for both
   * keeps an idle stack's fixed cost down (docs/scale.md), and each service
   * may use it only through its own key-policy statement.
   */
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: AlarmNotificationsProps = {}) {
    super(scope, id);
    const key = limitGrantsToAwsServices(
      new kms.Key(this, 'TopicKey', {
        description: 'Countersign operations: alarm topic and workflow execution logs',
        enableKeyRotation: true,
      }),
    );
    this.key = key;
    // CloudWatch alarms publish to an encrypted topic only if the key lets them.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Countersign alarms',
      masterKey: key,
      enforceSSL: true,
    });
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    this.action = new actions.SnsAction(this.topic);
  }
}
