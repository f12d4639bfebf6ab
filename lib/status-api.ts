/**
 * The status API agents call with their own IAM role: an API Gateway HTTP API
 * with IAM (SigV4, service `execute-api`) authorization on every route.
 *
 * - `GET /requests/{intentId}`: status, decision and grant of one of the
 *   caller's own requests (status Lambda, table read only).
 * - `POST /grants/{grantId}/consume`: spends one of the caller's own grants
 *   (grant Lambda, table read/write plus audit append).
 * - `POST /grants/{grantId}/credentials`: spends one of the caller's own
 *   grants for executor credentials scoped to the approved call (same Lambda;
 *   see lib/executors.ts).
 *
 * Why an HTTP API: its access logs need no account-wide setting. A REST API
 * stage with access logging fails to deploy in an account whose API Gateway
 * CloudWatch role is not set, and setting that role (`AWS::ApiGateway::Account`)
 * from this stack would take over every other API's logging in the account and
 * region, and fight a second copy of the stack.
 *
 * Authorization has two layers. API Gateway lets a call in only with a valid
 * SigV4 signature from a principal whose IAM policy allows `execute-api:Invoke`
 * on the route ({@link grantAgent} adds exactly that). The Lambdas then map
 * the caller's ARN (`requestContext.authorizer.iam.userArn` of the payload
 * format 2.0 event) to the agent id bound to its role (`COUNTERSIGN_AGENT_ROLES`,
 * set by {@link grantAgent} together with the permission) and answer only
 * about that agent's requests and grants. A principal allowed to invoke but
 * not registered gets 403; another agent's request is answered like a missing
 * one (404).
 */
import { Lazy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { agentIdSchema } from '../lambdas/shared/intent.js';
import { type Binding, HandlerFunction } from './handler-function.js';
import { principalArnOf } from './intent-bus.js';
import { instanceScopedName } from './physical-names.js';

/** Properties of a {@link StatusApi}. */
export interface StatusApiProps {
  /** Read access to the request table (for `GET /requests/{intentId}`). */
  readonly tableReader: Binding;
  /** Audit writer access (table read/write and audit objects) for consuming grants. */
  readonly auditWriter: Binding;
  /**
   * Steady-state requests per second across the API.
   * @default 50
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst of requests across the API.
   * @default 100
   */
  readonly throttlingBurstLimit?: number;
  /**
   * Stage name (the last path segment of the API's URL).
   * @default 'v1'
   */
  readonly stageName?: string;
  /**
   * Retention of the access log group.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly accessLogRetention?: logs.RetentionDays;
}

/** The access log line: who called what, and the answer. Never a request or response body. */
const ACCESS_LOG_FORMAT = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  caller: '$context.identity.userArn',
  accountId: '$context.identity.accountId',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  path: '$context.path',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  integrationError: '$context.integrationErrorMessage',
};

/** The agents' status and grant API. */
export class StatusApi extends Construct {
  /** The HTTP API. */
  public readonly api: apigwv2.HttpApi;
  /** The stage agents call (`v1`). */
  public readonly stage: apigwv2.HttpStage;
  /** Serves `GET /requests/{intentId}`. */
  public readonly statusFunction: HandlerFunction;
  /** Serves `POST /grants/{grantId}/consume`. */
  public readonly grantFunction: HandlerFunction;
  /** Access log of the API's stage. */
  public readonly accessLogGroup: logs.LogGroup;
  /** Agent roles registered with {@link grantAgent}. */
  private readonly agents: { roleArn: string; agentId: string }[] = [];

  constructor(scope: Construct, id: string, props: StatusApiProps) {
    super(scope, id);
    const agentRoles = Lazy.string({ produce: () => Stack.of(this).toJsonString(this.agents) });

    this.statusFunction = new HandlerFunction(this, 'StatusFunction', {
      name: 'status',
      description: 'Countersign status API: GET /requests/{intentId} for the calling agent',
      memorySize: 256,
      environment: { COUNTERSIGN_AGENT_ROLES: agentRoles },
    }).bind(props.tableReader);
    this.grantFunction = new HandlerFunction(this, 'GrantFunction', {
      name: 'grant',
      description:
        'Countersign grant API: POST /grants/{grantId}/consume and /credentials for the calling agent',
      memorySize: 256,
      environment: { COUNTERSIGN_AGENT_ROLES: agentRoles },
    }).bind(props.auditWriter);

    // HTTP API access logs are delivered as vended logs: under /aws/vendedlogs/ the account's
    // CloudWatch Logs resource policy needs no entry per log group (its size is limited).
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      logGroupName: instanceScopedName('/aws/vendedlogs/apigateway/'),
      retention: props.accessLogRetention ?? logs.RetentionDays.ONE_YEAR,
    });
    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: 'Countersign status API for agents (IAM authorization)',
      createDefaultStage: false,
      defaultAuthorizer: new HttpIamAuthorizer(),
    });
    this.stage = this.api.addStage('Stage', {
      stageName: props.stageName ?? 'v1',
      autoDeploy: true,
      throttle: {
        rateLimit: props.throttlingRateLimit ?? 50,
        burstLimit: props.throttlingBurstLimit ?? 100,
      },
      detailedMetricsEnabled: true,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: apigateway.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FORMAT)),
      },
    });
    const authorizer = new HttpIamAuthorizer();
    const payloadFormatVersion = apigwv2.PayloadFormatVersion.VERSION_2_0;
    this.api.addRoutes({
      path: '/requests/{intentId}',
      methods: [apigwv2.HttpMethod.GET],
      authorizer,
      integration: new HttpLambdaIntegration('Status', this.statusFunction, { payloadFormatVersion }),
    });
    const grantIntegration = new HttpLambdaIntegration('Grant', this.grantFunction, { payloadFormatVersion });
    this.api.addRoutes({
      path: '/grants/{grantId}/consume',
      methods: [apigwv2.HttpMethod.POST],
      authorizer,
      integration: grantIntegration,
    });
    this.api.addRoutes({
      path: '/grants/{grantId}/credentials',
      methods: [apigwv2.HttpMethod.POST],
      authorizer,
      integration: grantIntegration,
    });
  }

  /** Base URL of the API (the stage URL, with a trailing slash). */
  public get url(): string {
    return `${this.stage.url}/`;
  }

  /**
   * Lets an agent's role read its own requests and consume (or exchange) its
   * own grants: `execute-api:Invoke` on the three routes, and the role ARN → agent id entry
   * in the handlers' `COUNTERSIGN_AGENT_ROLES`, set together.
   */
  public grantAgent(grantee: iam.IGrantable, agentId: string): iam.Grant {
    if (!agentIdSchema.safeParse(agentId).success) {
      throw new Error(`grantAgent: agent id "${agentId}" must be 1-64 of [a-z0-9._-], starting alphanumeric`);
    }
    const roleArn = principalArnOf(grantee);
    const other = this.agents.find((a) => a.roleArn === roleArn && a.agentId !== agentId);
    if (other) {
      // The handlers refuse an ambiguous map at cold start; fail the synth instead of the deployed API.
      throw new Error(
        `grantAgent: one role cannot speak for two agents ("${other.agentId}" and "${agentId}")`,
      );
    }
    if (!this.agents.some((a) => a.roleArn === roleArn)) this.agents.push({ roleArn, agentId });
    const stage = this.stage.stageName;
    const resourceArns = [
      this.api.arnForExecuteApi('GET', '/requests/*', stage),
      this.api.arnForExecuteApi('POST', '/grants/*/consume', stage),
      this.api.arnForExecuteApi('POST', '/grants/*/credentials', stage),
    ];
    const grant = iam.Grant.addToPrincipal({ grantee, actions: ['execute-api:Invoke'], resourceArns });
    const principal = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) {
      for (const arn of resourceArns) {
        Validations.of(principal).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${nagFinding(Stack.of(this).resolve(arn))}]`,
          reason:
            'Intent and grant ids are opaque, so each route needs a wildcard in its id segment; the handlers answer only about the calling role’s own agent.',
        });
      }
    }
    return grant;
  }
}

/**
 * How cdk-nag names a resolved CloudFormation value in a finding id: `Ref` as
 * `<Name>`, `Fn::GetAtt` as `<Id.Attr>`, `Fn::Join` concatenated.
 */
function nagFinding(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return `<${v.Ref}>`;
  if (Array.isArray(v['Fn::GetAtt'])) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  if (Array.isArray(v['Fn::Join'])) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(nagFinding).join(sep);
  }
  return JSON.stringify(value);
}
