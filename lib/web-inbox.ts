/**
 * The web inbox and the approval API: one API Gateway HTTP API in front of
 * one Lambda (`lambdas/web/handler.ts`), a channel of the review core.
 *
 * - Inbox pages (`/`, `/history`, `/requests/{id}`) and their forms, behind
 *   an OpenID Connect sign-in with the organisation's IdP (`/login`,
 *   `/callback`, `/logout`), with a signed, HttpOnly, Secure session cookie.
 * - The approval API (`/v1/requests…`) for IdP access tokens whose audience
 *   is the API.
 *
 * Only the routes the handler serves exist; anything else is answered 404 by
 * API Gateway without running the function. Authentication is the handler's:
 * a session cookie or a bearer token, each verified against the IdP's keys,
 * so refusals can say why (a JWT authorizer would answer a bare 401).
 *
 * The session key is generated into its own Secrets Manager secret; the IdP's
 * client secret stays in the secret the identity configuration names.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { IdentityProviderConfig } from '../lambdas/identity/config.js';
import {
  type Binding,
  CEDAR_WASM,
  type EmbeddedPolicyBundle,
  HandlerFunction,
  settings,
} from './handler-function.js';
import { instanceScopedName } from './physical-names.js';

/** Every route of the inbox and the API (method, path): nothing else reaches the function. */
export const WEB_ROUTES: readonly [apigwv2.HttpMethod, string][] = [
  [apigwv2.HttpMethod.GET, '/'],
  [apigwv2.HttpMethod.GET, '/login'],
  [apigwv2.HttpMethod.GET, '/callback'],
  [apigwv2.HttpMethod.POST, '/logout'],
  [apigwv2.HttpMethod.GET, '/history'],
  [apigwv2.HttpMethod.GET, '/static/inbox.css'],
  [apigwv2.HttpMethod.GET, '/requests/{id}'],
  [apigwv2.HttpMethod.POST, '/requests/{id}/decision'],
  [apigwv2.HttpMethod.GET, '/v1/requests'],
  [apigwv2.HttpMethod.GET, '/v1/requests/{id}'],
  [apigwv2.HttpMethod.POST, '/v1/requests/{id}/decision'],
];

/** Properties of a {@link WebInbox}. */
export interface WebInboxProps {
  /** Table and audit-bucket access (the review core records votes, decisions and audit records). */
  readonly auditWriter: Binding;
  /** Read access to the Slack secret: a decision in the inbox repaints the request's Slack card. */
  readonly slackSecretReader: Binding;
  /** The IdP configuration (`COUNTERSIGN_IDENTITY_PROVIDER`), with its identity store when it has one. */
  readonly identityProvider: Binding;
  /**
   * Read access to the IdP client secret.
   * @default - none (a public client)
   */
  readonly clientSecret?: Binding;
  /** Slack user-group handle of the default approvers (`COUNTERSIGN_APPROVER_GROUP`). */
  readonly approverGroupHandle: string;
  /**
   * `acr_values` asked of the IdP when a request needs step-up.
   * @default - none (a fresh sign-in with `prompt=login` and `max_age` only)
   */
  readonly stepUpAcr?: string;
  /**
   * Scopes of the sign-in (`COUNTERSIGN_WEB_SCOPE`): add the IdP's groups scope
   * when it releases the groups claim only under one (Okta: `groups`).
   * @default 'openid email profile'
   */
  readonly scope?: string;
  /**
   * Policy bundle compiled into the handler.
   * @default - none
   */
  readonly policyBundle?: EmbeddedPolicyBundle;
  /**
   * Steady-state requests per second across the API.
   * @default 20
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst of requests across the API.
   * @default 40
   */
  readonly throttlingBurstLimit?: number;
  /**
   * Retention of the access log group.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly accessLogRetention?: logs.RetentionDays;
}

/** The access log line: who called what and the answer; never a body, a cookie or a token. */
const ACCESS_LOG_FORMAT = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  path: '$context.path',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  integrationError: '$context.integrationErrorMessage',
};

/** The web inbox and approval API. */
export class WebInbox extends Construct {
  /** The HTTP API serving the inbox and `/v1`. */
  public readonly api: apigwv2.HttpApi;
  /** The handler (`lambdas/web/handler.ts`). */
  public readonly handler: HandlerFunction;
  /** JSON `{ "sessionKey" }`: signs the session and sign-in state cookies. Generated; never leaves AWS. */
  public readonly sessionSecret: secretsmanager.Secret;
  /** Access log of the API. */
  public readonly accessLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WebInboxProps) {
    super(scope, id);
    this.sessionSecret = new secretsmanager.Secret(this, 'SessionSecret', {
      description:
        'Countersign web inbox session key: JSON {"sessionKey":"..."}; generated, signs session cookies',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({}),
        generateStringKey: 'sessionKey',
        excludePunctuation: true,
        passwordLength: 64,
      },
    });
    Validations.of(this.sessionSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The session key only signs cookies that live 30 minutes; rotating it signs everyone out, so the operator rotates it (put a new random value) when needed instead of on a schedule.',
    });

    this.handler = new HandlerFunction(this, 'WebFunction', {
      name: 'web',
      description: 'Countersign web inbox and approval API (session cookie or IdP bearer token)',
      memorySize: 1024,
      timeout: Duration.seconds(15),
      copyFiles: [CEDAR_WASM],
      ...(props.policyBundle ? { policyBundle: props.policyBundle } : {}),
    });
    this.handler
      .bind(props.auditWriter)
      .bind(props.slackSecretReader)
      .bind(props.identityProvider)
      .bind(props.clientSecret ?? settings({}))
      .bind(this.sessionKeyReader())
      .bind(
        settings({
          COUNTERSIGN_APPROVER_GROUP: props.approverGroupHandle,
          ...(props.stepUpAcr ? { COUNTERSIGN_WEB_STEP_UP_ACR: props.stepUpAcr } : {}),
          ...(props.scope ? { COUNTERSIGN_WEB_SCOPE: props.scope } : {}),
        }),
      );

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      logGroupName: instanceScopedName('/aws/vendedlogs/apigateway/web-'),
      retention: props.accessLogRetention ?? logs.RetentionDays.ONE_YEAR,
    });
    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: 'Countersign web inbox and approval API',
      createDefaultStage: false,
    });
    this.api.addStage('Stage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: {
        rateLimit: props.throttlingRateLimit ?? 20,
        burstLimit: props.throttlingBurstLimit ?? 40,
      },
      detailedMetricsEnabled: true,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: apigateway.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FORMAT)),
      },
    });
    const integration = new HttpLambdaIntegration('Web', this.handler, {
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
    });
    for (const [method, path] of WEB_ROUTES) {
      const [route] = this.api.addRoutes({ path, methods: [method], integration });
      Validations.of(route!).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'Every route authenticates in the handler: inbox pages by a signed session cookie from an OpenID Connect sign-in, /v1 by an IdP access token verified against the issuer keys and the API audience. The sign-in routes must be reachable signed out.',
      });
    }
  }

  /** Lets the handler complete review task tokens (the core completes the token of a decision). */
  public allowReviewCallbacks(stateMachine: sfn.IStateMachine): void {
    // Success and failure only: the handler sends no heartbeats.
    stateMachine.grant(this.handler, 'states:SendTaskSuccess', 'states:SendTaskFailure');
  }

  /** The inbox's URL (the API's default endpoint, no trailing slash). */
  public get url(): string {
    return this.api.apiEndpoint;
  }

  /** Binding for the session key: `COUNTERSIGN_WEB_SESSION_SECRET_ARN` plus read access. */
  private sessionKeyReader(): Binding {
    return {
      environment: { COUNTERSIGN_WEB_SESSION_SECRET_ARN: this.sessionSecret.secretArn },
      grant: (grantee: iam.IGrantable) => {
        this.sessionSecret.grantRead(grantee);
      },
    };
  }
}

/**
 * Read access to the IdP client secret the identity configuration names (an
 * ARN, or a name in this account and region): the sign-in's code exchange
 * authenticates with it. Nothing when the client is public.
 */
export function clientSecretReader(scope: Construct, config: IdentityProviderConfig): Binding {
  const secretId = config.clientSecretId;
  const secret = secretId
    ? secretId.startsWith('arn:')
      ? secretsmanager.Secret.fromSecretCompleteArn(scope, 'IdentityProviderClientSecret', secretId)
      : secretsmanager.Secret.fromSecretNameV2(scope, 'IdentityProviderClientSecret', secretId)
    : undefined;
  return {
    environment: {},
    grant: (grantee: iam.IGrantable) => {
      secret?.grantRead(grantee);
    },
  };
}
