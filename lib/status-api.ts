/**
 * The status API agents call with their own IAM role: a regional API Gateway
 * REST API with IAM (SigV4) authorization on every method.
 *
 * - `GET /requests/{intentId}`: status, decision and grant of one of the
 *   caller's own requests (status Lambda, table read only).
 * - `POST /grants/{grantId}/consume`: spends one of the caller's own grants
 *   (grant Lambda, table read/write plus audit append).
 *
 * Authorization has two layers. API Gateway lets a call in only with a valid
 * SigV4 signature from a principal whose IAM policy allows `execute-api:Invoke`
 * on the route ({@link grantAgent} adds exactly that). The Lambdas then map
 * the caller's ARN (`requestContext.identity.userArn`) to the agent id bound to
 * its role (`COUNTERSIGN_AGENT_ROLES`, set by {@link grantAgent} together with
 * the permission) and answer only about that agent's requests and grants. A
 * principal allowed to invoke but not registered gets 403; another agent's
 * request is answered like a missing one (404).
 */
import { Lazy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { agentIdSchema } from '../lambdas/shared/intent.js';
import { type Binding, HandlerFunction } from './handler-function.js';
import { principalArnOf } from './intent-bus.js';

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

/** The agents' status and grant API. */
export class StatusApi extends Construct {
  /** The REST API. */
  public readonly api: apigateway.RestApi;
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
      description: 'Countersign grant API: POST /grants/{grantId}/consume for the calling agent',
      memorySize: 256,
      environment: { COUNTERSIGN_AGENT_ROLES: agentRoles },
    }).bind(props.auditWriter);

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? logs.RetentionDays.ONE_YEAR,
    });
    this.api = new apigateway.RestApi(this, 'Api', {
      description: 'Countersign status API for agents (IAM authorization)',
      endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
      // No AWS::ApiGateway::Account here: it is one per account and region, and
      // setting it from this stack would take over every other API's logging role.
      cloudWatchRole: false,
      defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
      deployOptions: {
        stageName: props.stageName ?? 'v1',
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields({
          caller: true,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: true,
        }),
        // Execution logs need the account-level role (see cloudWatchRole); access logs and the
        // handlers' own logs record every call. Never log request or response bodies.
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
        throttlingRateLimit: props.throttlingRateLimit ?? 50,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 100,
      },
    });

    const validator = this.api.addRequestValidator('PathValidator', {
      requestValidatorName: 'path-parameters',
      validateRequestParameters: true,
      validateRequestBody: true,
    });
    const requests = this.api.root.addResource('requests').addResource('{intentId}');
    requests.addMethod('GET', new apigateway.LambdaIntegration(this.statusFunction), {
      authorizationType: apigateway.AuthorizationType.IAM,
      requestParameters: { 'method.request.path.intentId': true },
      requestValidator: validator,
    });
    const consume = this.api.root.addResource('grants').addResource('{grantId}').addResource('consume');
    consume.addMethod('POST', new apigateway.LambdaIntegration(this.grantFunction), {
      authorizationType: apigateway.AuthorizationType.IAM,
      requestParameters: { 'method.request.path.grantId': true },
      requestValidator: validator,
    });

    Validations.of(this.api).acknowledge(
      {
        id: 'AwsSolutions-APIG3',
        reason:
          'Every method requires a SigV4 signature from an IAM principal allowed execute-api:Invoke; the stage is throttled. A WAF web ACL adds cost and no identity check; attach one per deployment if wanted.',
      },
      {
        id: 'AwsSolutions-APIG6',
        reason:
          'Execution logging needs the account-wide API Gateway CloudWatch role, which this stack must not take over; every call is in the JSON access log (caller, status) and in the handler logs.',
      },
      {
        id: 'AwsSolutions-COG4',
        reason:
          'Callers are AI agents with IAM roles, not Cognito users: every method uses IAM (SigV4) authorization, and the handlers map the caller role to its agent id.',
      },
    );
  }

  /** Base URL of the API (the stage URL, with a trailing slash). */
  public get url(): string {
    return this.api.url;
  }

  /**
   * Lets an agent's role read its own requests and consume its own grants:
   * `execute-api:Invoke` on the two routes, and the role ARN → agent id entry
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
    const stage = this.api.deploymentStage.stageName;
    const resourceArns = [
      this.api.arnForExecuteApi('GET', '/requests/*', stage),
      this.api.arnForExecuteApi('POST', '/grants/*/consume', stage),
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
