/**
 * The Teams endpoint: the Secrets Manager secret holding the bot's Entra app
 * password (created, or an existing one by ARN), and the Teams handler behind
 * a Lambda Function URL that is the bot's messaging endpoint. Its
 * {@link TeamsEndpoint.channel} binding gives any other handler what it needs
 * to post and repaint Teams cards (the Review task, Record, the reminder and
 * the Slack interaction handler).
 */
import { Duration, Validations } from 'aws-cdk-lib';
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
 * Placeholder app password of a fresh secret. The handlers refuse it as "not
 * filled in" (./../lambdas/teams/teams-secret.ts), so no token is ever asked
 * for with it.
 */
export const TEAMS_APP_PASSWORD_PLACEHOLDER = 'replace-me-with-the-entra-app-client-secret';

/** Properties of a {@link TeamsEndpoint}. */
export interface TeamsEndpointProps {
  /** The bot's Entra app (client) id. */
  readonly appId: string;
  /** The Entra tenant the bot serves. */
  readonly tenantId: string;
  /** The Teams channel review cards are posted to. */
  readonly channelId: string;
  /** The Bot Connector endpoint cards are posted through. */
  readonly serviceUrl: string;
  /**
   * ARN of an existing secret `{"appPassword": "..."}`.
   * @default - a new secret with a placeholder, for the operator to fill in
   */
  readonly secretArn?: string;
  /** Table and audit-bucket access for the Teams handler (votes, decisions, audit records). */
  readonly auditWriter: Binding;
  /** Slack secret access, so a vote in Teams repaints the request's Slack card. */
  readonly slackSecretReader: Binding;
  /** Default approver group handle (`COUNTERSIGN_APPROVER_GROUP`). */
  readonly approverGroupHandle: string;
  /**
   * Policy bundle compiled into the Teams handler.
   * @default - none
   */
  readonly policyBundle?: EmbeddedPolicyBundle;
  /**
   * Reserved concurrency of the Teams handler (a public endpoint).
   * @default - unreserved
   */
  readonly reservedConcurrency?: number;
}

/** The Teams secret and the bot's messaging endpoint. */
export class TeamsEndpoint extends Construct {
  /** JSON `{ "appPassword": "..." }`. */
  public readonly secret: secretsmanager.ISecret;
  /** The Teams handler (`lambdas/teams/handler.ts`). */
  public readonly handler: HandlerFunction;
  /** The bot's messaging endpoint: `<url>` in the Entra bot registration. */
  public readonly functionUrl: lambda.FunctionUrl;
  private readonly props: TeamsEndpointProps;

  constructor(scope: Construct, id: string, props: TeamsEndpointProps) {
    super(scope, id);
    this.props = props;
    if (props.secretArn) {
      this.secret = secretsmanager.Secret.fromSecretCompleteArn(this, 'TeamsSecret', props.secretArn);
    } else {
      const secret = new secretsmanager.Secret(this, 'TeamsSecret', {
        description:
          'Countersign Teams bot credentials: JSON {"appPassword":"<Entra app client secret>"}; fill in after deploying',
        generateSecretString: {
          secretStringTemplate: JSON.stringify({ appPassword: TEAMS_APP_PASSWORD_PLACEHOLDER }),
          generateStringKey: 'unused',
          passwordLength: 16,
        },
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The app password is an Entra client secret, issued and rotated in Entra ID, which no rotation Lambda can do; the operator updates the secret when rotating there.',
      });
      this.secret = secret;
    }

    this.handler = new HandlerFunction(this, 'TeamsFunction', {
      name: 'teams',
      description:
        'Countersign Teams bot messaging endpoint (Function URL; Bot Framework token authenticates)',
      memorySize: 1024,
      timeout: Duration.seconds(10),
      ...(props.reservedConcurrency !== undefined ? { reservedConcurrency: props.reservedConcurrency } : {}),
      copyFiles: [CEDAR_WASM],
      ...(props.policyBundle ? { policyBundle: props.policyBundle } : {}),
    });
    this.handler
      .bind(props.auditWriter)
      .bind(this.channel())
      .bind(props.slackSecretReader)
      .bind(settings({ COUNTERSIGN_APPROVER_GROUP: props.approverGroupHandle }));

    // The Bot Connector cannot sign with SigV4; the handler verifies its JWT
    // (Bot Framework keys, audience = app id, serviceUrl, tenant) on every request.
    this.functionUrl = this.handler.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
  }

  /**
   * Binding for a handler that posts or repaints Teams cards: the
   * `COUNTERSIGN_TEAMS_*` settings plus read access to the app password.
   */
  public channel(): Binding {
    return {
      environment: {
        COUNTERSIGN_TEAMS_APP_ID: this.props.appId,
        COUNTERSIGN_TEAMS_TENANT_ID: this.props.tenantId,
        COUNTERSIGN_TEAMS_CHANNEL_ID: this.props.channelId,
        COUNTERSIGN_TEAMS_SERVICE_URL: this.props.serviceUrl,
        COUNTERSIGN_TEAMS_SECRET_ARN: this.secret.secretArn,
      },
      grant: (grantee: iam.IGrantable) => {
        this.secret.grantRead(grantee);
      },
    };
  }

  /** Lets the Teams handler end a review: states:SendTaskSuccess and SendTaskFailure on `stateMachine`. */
  public allowReviewCallbacks(stateMachine: sfn.IStateMachine): void {
    stateMachine.grant(this.handler, 'states:SendTaskSuccess', 'states:SendTaskFailure');
  }
}
