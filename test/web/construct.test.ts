/**
 * The WebInbox construct on a minimal stack: only the handler's routes reach
 * the function, the stage logs access, the session key is generated in
 * Secrets Manager and only readable by the function, and cdk-nag's
 * AwsSolutions pack finds nothing unacknowledged.
 */
import { type App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../lambdas/web/api.js';
import { loadConfig } from '../../lib/config.js';
import { CountersignStack } from '../../lib/countersign-stack.js';
import { settings } from '../../lib/handler-function.js';
import { WEB_ROUTES, WebInbox } from '../../lib/web-inbox.js';
import { CDK_CONTEXT, TEST_ENV, TEST_POLICY_BUNDLE, testApp } from '../infra/support.js';

let app: App;
let template: Template;

beforeAll(() => {
  app = testApp();
  const stack = new Stack(app, 'Web', { env: TEST_ENV });
  const table = new dynamodb.TableV2(stack, 'Table', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  });
  const clientSecret = secretsmanager.Secret.fromSecretNameV2(
    stack,
    'ClientSecret',
    'countersign/idp-client',
  );
  new WebInbox(stack, 'WebInbox', {
    auditWriter: {
      environment: { COUNTERSIGN_TABLE_NAME: table.tableName },
      grant: (g) => void table.grantReadWriteData(g),
    },
    slackSecretReader: settings({
      COUNTERSIGN_SLACK_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-AbCdEf',
    }),
    identityProvider: settings({
      COUNTERSIGN_IDENTITY_PROVIDER: JSON.stringify({ issuer: 'https://idp.example.com', clientId: 'c' }),
    }),
    clientSecret: { environment: {}, grant: (g) => void clientSecret.grantRead(g) },
    approverGroupHandle: 'security-approvers',
    stepUpAcr: 'urn:example:mfa',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  template = Template.fromStack(stack);
});

describe('WebInbox', () => {
  it('routes exactly the inbox pages and the API routes of the OpenAPI document, nothing by default', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
      (r) => (r as { Properties: { RouteKey: string } }).Properties.RouteKey,
    );
    expect(routes.sort()).toEqual(WEB_ROUTES.map(([m, p]) => `${m} ${p}`).sort());
    expect(routes).not.toContain('$default');
    for (const route of API_ROUTES) expect(routes).toContain(`${route.method} ${route.path}`);
  });

  it('logs access on its stage and throttles it', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('"status"') },
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
    });
  });

  it('generates the session key in Secrets Manager and gives the function read access only', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { GenerateStringKey: 'sessionKey', PasswordLength: 64 },
    });
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('secretsmanager:GetSecretValue');
    expect(policies).not.toMatch(/secretsmanager:(PutSecretValue|UpdateSecret|\*)/);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          COUNTERSIGN_WEB_SESSION_SECRET_ARN: Match.anyValue(),
          COUNTERSIGN_IDENTITY_PROVIDER: Match.anyValue(),
          COUNTERSIGN_WEB_STEP_UP_ACR: 'urn:example:mfa',
          COUNTERSIGN_APPROVER_GROUP: 'security-approvers',
        }),
      },
    });
  });

  it('is cdk-nag AwsSolutions clean, every acknowledgement with its reason', () => {
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations).toEqual([]);
  });
});

describe('CountersignStack with an identity provider', () => {
  let stackTemplate: Template;
  let stackApp: App;
  beforeAll(() => {
    stackApp = testApp();
    const stack = new CountersignStack(stackApp, 'Countersign', {
      env: TEST_ENV,
      config: loadConfig(CDK_CONTEXT.countersign, {
        identityProvider: {
          issuer: 'https://idp.example.com',
          clientId: 'countersign-web',
          clientSecretId: 'countersign/idp-client',
          apiAudience: 'urn:countersign:approval-api',
        },
      }),
      policyBundle: TEST_POLICY_BUNDLE,
    });
    Validations.of(stackApp).addPlugins(new AwsSolutionsChecks(stackApp, { verbose: true }));
    stackTemplate = Template.fromStack(stack);
  });

  it('deploys the inbox with the task callbacks, the agent registry and the IdP client secret, and outputs its URL', () => {
    stackTemplate.hasOutput('WebInboxUrl', {});
    const web = Object.entries(stackTemplate.findResources('AWS::Lambda::Function')).find(([id]) =>
      id.startsWith('WebInboxWebFunction'),
    );
    expect(web).toBeDefined();
    const variables = (web![1] as { Properties: { Environment: { Variables: Record<string, unknown> } } })
      .Properties.Environment.Variables;
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining([
        'COUNTERSIGN_AGENTS',
        'COUNTERSIGN_IDENTITY_PROVIDER',
        'COUNTERSIGN_TABLE_NAME',
      ]),
    );
    const policies = JSON.stringify(
      Object.entries(stackTemplate.findResources('AWS::IAM::Policy')).filter(([id]) =>
        id.startsWith('WebInbox'),
      ),
    );
    expect(policies).toContain('states:SendTaskSuccess');
    expect(policies).toContain('countersign/idp-client');
    expect(policies).not.toContain('states:StartExecution');
    // Step-up cards link to the deployed inbox when no URL is configured.
    const review = Object.entries(stackTemplate.findResources('AWS::Lambda::Function')).find(([id]) =>
      id.startsWith('ApprovalWorkflowReviewFunction'),
    );
    expect(JSON.stringify(review?.[1])).toContain('COUNTERSIGN_WEB_INBOX_URL');
  });

  it('has no unacknowledged cdk-nag finding', () => {
    expect(new AwsSolutionsChecks(stackApp).validateScope(stackApp).violations).toEqual([]);
  });
});
