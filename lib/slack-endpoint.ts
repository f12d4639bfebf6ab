/**
 * The Slack endpoint: the Secrets Manager secret holding the Slack app's bot
 * token and signing secret, and the interaction handler behind a Lambda
 * Function URL that Slack posts button clicks to.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  type Binding,
  CEDAR_WASM,
  type EmbeddedPolicyBundle,
  HandlerFunction,
  settings,
} from './handler-function.js';

/**
 * Placeholder bot token of a fresh secret. It deliberately fails the handlers'
 * secret schema (a bot token starts with `xox`), so an unfilled secret is
 * reported as "not filled in" instead of being used.
 */
export const SLACK_BOT_TOKEN_PLACEHOLDER = 'replace-me-with-the-xoxb-bot-token';

/** Properties of a {@link SlackEndpoint}. */
export interface SlackEndpointProps {
  /** Table and audit-bucket access for the interaction handler (votes, decisions, audit records). */
  readonly auditWriter: Binding;
  /** Slack user-group handle of the default approvers (`COUNTERSIGN_APPROVER_GROUP`). */
  readonly approverGroupHandle: string;
  /**
   * Policy bundle compiled into the interaction handler.
   * @default - none
   */
  readonly policyBundle?: EmbeddedPolicyBundle;
  /**
   * Memory of the interaction handler; more memory is more CPU, and Slack wants an answer within 3 s.
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * Reserved concurrency of the interaction handler, the one public endpoint: it
   * caps what a flood of (unsigned, refused) requests can run and keeps that
   * capacity for Slack. New accounts often cannot reserve any.
   * @default - unreserved
   */
  readonly reservedConcurrency?: number;
  /**
   * Actions for alarms on the interaction handler.
   * @default - none
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
}

/** The Slack secret and the interaction handler with its Function URL. */
export class SlackEndpoint extends Construct {
  /**
   * JSON `{ "botToken", "signingSecret" }`, under a name CloudFormation generates
   * (a literal name would be refused while a deleted copy waits out its
   * recovery window; the stack outputs the name). Created with a placeholder bot token
   * and a random signing secret (so nothing secret is in the template, and an
   * unfilled secret verifies no Slack request); the operator fills it in.
   */
  public readonly secret: secretsmanager.Secret;
  /** The interaction handler (`lambdas/interaction/handler.ts`). */
  public readonly handler: HandlerFunction;
  /** The Function URL to configure as the Slack app's interactivity request URL. */
  public readonly functionUrl: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: SlackEndpointProps) {
    super(scope, id);
    this.secret = new secretsmanager.Secret(this, 'SlackSecret', {
      description:
        'Countersign Slack app credentials: JSON {"botToken":"xoxb-...","signingSecret":"..."}; fill in after deploying',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ botToken: SLACK_BOT_TOKEN_PLACEHOLDER }),
        generateStringKey: 'signingSecret',
        excludePunctuation: true,
        passwordLength: 32,
      },
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The bot token and signing secret are issued by Slack and rotated in the Slack app settings, which no rotation Lambda can do; the operator updates the secret when rotating there.',
    });

    this.handler = new HandlerFunction(this, 'InteractionFunction', {
      name: 'interaction',
      description: 'Countersign Slack interaction handler (Function URL; Slack signature authenticates)',
      memorySize: props.memorySize ?? 1024,
      timeout: Duration.seconds(10),
      ...(props.reservedConcurrency !== undefined ? { reservedConcurrency: props.reservedConcurrency } : {}),
      // Cedar decides who may approve; it is loaded on the first vote, not at cold start.
      copyFiles: [CEDAR_WASM],
      ...(props.policyBundle ? { policyBundle: props.policyBundle } : {}),
    });
    this.handler
      .bind(props.auditWriter)
      .bind(this.secretReader())
      .bind(settings({ COUNTERSIGN_APPROVER_GROUP: props.approverGroupHandle }));

    // Slack cannot sign requests with AWS SigV4; every request is authenticated
    // by the handler with the Slack signing secret (HMAC-SHA256, 5-minute skew, replay guard).
    this.functionUrl = this.handler.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
  }

  /** Binding for a handler that reads the Slack secret: `COUNTERSIGN_SLACK_SECRET_ARN` plus read access. */
  public secretReader(): Binding {
    return {
      environment: { COUNTERSIGN_SLACK_SECRET_ARN: this.secret.secretArn },
      grant: (grantee: iam.IGrantable) => {
        this.secret.grantRead(grantee);
      },
    };
  }

  /**
   * Lets the interaction handler, and only it, end a review:
   * states:SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat on `stateMachine`.
   */
  public allowReviewCallbacks(stateMachine: sfn.IStateMachine): void {
    // Success and failure only: the handler sends no heartbeats.
    stateMachine.grant(this.handler, 'states:SendTaskSuccess', 'states:SendTaskFailure');
  }
}
