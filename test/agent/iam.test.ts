/**
 * Agent identity on the synthesized template: an agent role may publish only
 * as its own source with the intent detail-types, the bus refuses that source
 * to everyone else, and the status API is IAM-authorized with the caller →
 * agent mapping set next to the permission.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { CountersignStack } from '../../lib/countersign-stack.js';
import { busPolicyStatements, CDK_CONTEXT, TEST_ENV, TEST_POLICY_BUNDLE, testApp } from '../infra/support.js';

let template: Template;
let stack: CountersignStack;
const logicalIdOf = (prefix: string, type: string) => {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  expect(ids, prefix).toHaveLength(1);
  return ids[0]!;
};

beforeAll(() => {
  const app = testApp();
  stack = new CountersignStack(app, 'Countersign', {
    env: TEST_ENV,
    config: loadConfig(CDK_CONTEXT.countersign),
    policyBundle: TEST_POLICY_BUNDLE,
  });
  const deployBot = new iam.Role(stack, 'DeployBotRole', { assumedBy: new iam.AccountRootPrincipal() });
  const reportBot = iam.Role.fromRoleArn(
    stack,
    'ReportBotRole',
    'arn:aws:iam::123456789012:role/agents/report-bot',
  );
  stack.addAgent(deployBot, 'deploy-bot', { owner: 'erin@example.com' });
  stack.addAgent(reportBot, 'report-bot', { owner: 'frank@example.com' });
  template = Template.fromStack(stack);
});

/** Statements of the inline policies attached to a role (by logical id or role name). */
function statementsOf(role: string | { name: string }) {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) =>
      (p.Properties.Roles as unknown[]).some((r) =>
        typeof role === 'string' ? JSON.stringify(r) === JSON.stringify({ Ref: role }) : r === role.name,
      ),
    )
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
}

describe('agent publish permission', () => {
  it('PutEvents on the bus only, only as countersign.agent.<id>, only the intent and cancel detail-types', () => {
    const bus = logicalIdOf('IntentBus', 'AWS::Events::EventBus');
    const role = logicalIdOf('DeployBotRole', 'AWS::IAM::Role');
    const publish = statementsOf(role).filter((s) => s.Action === 'events:PutEvents');
    expect(publish).toEqual([
      {
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Resource: { 'Fn::GetAtt': [bus, 'Arn'] },
        Condition: {
          StringEquals: {
            'events:source': 'countersign.agent.deploy-bot',
            'events:detail-type': ['Privileged Action Requested', 'Privileged Action Cancelled'],
          },
        },
      },
    ]);
    // Nothing else on the agent's role touches EventBridge.
    expect(statementsOf(role).filter((s) => String(s.Action).startsWith('events:'))).toHaveLength(1);
  });

  it('an imported role gets the same bound statement', () => {
    const publish = statementsOf({ name: 'report-bot' }).filter((s) => s.Action === 'events:PutEvents');
    expect(publish).toHaveLength(1);
    expect(publish[0]!.Condition).toEqual({
      StringEquals: {
        'events:source': 'countersign.agent.report-bot',
        'events:detail-type': ['Privileged Action Requested', 'Privileged Action Cancelled'],
      },
    });
  });
});

/** The bus policy statement with this Sid (the bus's own `Policy` property). */
function busStatement(sid: string): Record<string, unknown> {
  const found = busPolicyStatements(template).get(sid);
  expect(found, sid).toBeDefined();
  return found as unknown as Record<string, unknown>;
}

/** aws:PrincipalArn values of an ArnNotEquals condition, as a list. */
const exempt = (st: Record<string, unknown>) =>
  [
    (st.Condition as { ArnNotEquals: { 'aws:PrincipalArn': unknown } }).ArnNotEquals['aws:PrincipalArn'],
  ].flat();

describe('bus resource policy', () => {
  it('refuses countersign.agent.<id> to every principal but the role bound to <id>', () => {
    const role = logicalIdOf('DeployBotRole', 'AWS::IAM::Role');
    const deploy = busStatement('DenyAgentSource1');
    expect(deploy).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'events:PutEvents',
      Condition: { StringEquals: { 'events:source': 'countersign.agent.deploy-bot' } },
    });
    expect(exempt(deploy)).toEqual([{ 'Fn::GetAtt': [role, 'Arn'] }]);
    const report = busStatement('DenyAgentSource2');
    expect(report).toMatchObject({
      Condition: { StringEquals: { 'events:source': 'countersign.agent.report-bot' } },
    });
    expect(exempt(report)).toEqual(['arn:aws:iam::123456789012:role/agents/report-bot']);
  });

  it('refuses every agent source to principals that are no registered agent role', () => {
    const role = logicalIdOf('DeployBotRole', 'AWS::IAM::Role');
    const statement = busStatement('DenyUnregisteredAgents');
    expect(statement).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'events:PutEvents',
      Condition: { StringLike: { 'events:source': 'countersign.agent.*' } },
    });
    expect(exempt(statement)).toEqual([
      { 'Fn::GetAtt': [role, 'Arn'] },
      'arn:aws:iam::123456789012:role/agents/report-bot',
    ]);
  });

  it('still refuses unknown sources and forged decisions', () => {
    expect(busStatement('DenyUnknownSources')).toMatchObject({
      Condition: { StringNotLike: { 'events:source': ['countersign.agent.*', 'countersign'] } },
    });
    busStatement('DenyForgedDecisionSource');
    busStatement('DenyForgedDecisionType');
  });
});

describe('status API', () => {
  it('is an HTTP API whose every route requires IAM authorization', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual([
      'GET /requests/{intentId}',
      'POST /grants/{grantId}/consume',
      'POST /grants/{grantId}/credentials',
    ]);
    for (const r of routes) expect(r.Properties.AuthorizationType).toBe('AWS_IAM');
    for (const integration of Object.values(template.findResources('AWS::ApiGatewayV2::Integration'))) {
      expect(integration.Properties).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
      });
    }
    // No REST API and no account-wide API Gateway setting.
    template.resourceCountIs('AWS::ApiGateway::RestApi', 0);
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
  });

  it('the stage has JSON access logs with the caller, throttling, and never logs bodies', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: 'v1',
      AutoDeploy: true,
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('"caller"') },
      DefaultRouteSettings: Match.objectLike({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 }),
    });
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0]!;
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format as string) as Record<string, string>;
    expect(format.caller).toBe('$context.identity.userArn');
    expect(Object.values(format).join(' ')).not.toMatch(/body/i);
  });

  it('an agent role may invoke exactly the three routes of this stage', () => {
    const api = logicalIdOf('StatusApi', 'AWS::ApiGatewayV2::Api');
    const role = logicalIdOf('DeployBotRole', 'AWS::IAM::Role');
    const invoke = statementsOf(role).filter((s) => s.Action === 'execute-api:Invoke');
    expect(invoke).toHaveLength(1);
    const resources = JSON.stringify(invoke[0]!.Resource);
    expect(resources).toContain(api);
    expect(resources).toContain('/v1/GET/requests/*');
    expect(resources).toContain('/v1/POST/grants/*/consume');
    expect(resources).toContain('/v1/POST/grants/*/credentials');
    expect((invoke[0]!.Resource as unknown[]).length).toBe(3);
  });

  it('both handlers get the role -> agent mapping, and only the grant handler may write', () => {
    for (const prefix of ['StatusApiStatusFunction', 'StatusApiGrantFunction']) {
      const fn = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) =>
        id.startsWith(prefix),
      )!;
      const mapping = JSON.stringify(fn[1].Properties.Environment.Variables.COUNTERSIGN_AGENT_ROLES);
      expect(mapping, prefix).toContain('deploy-bot');
      expect(mapping, prefix).toContain('arn:aws:iam::123456789012:role/agents/report-bot');
      expect(mapping, prefix).toContain(logicalIdOf('DeployBotRole', 'AWS::IAM::Role'));
    }
    const statusRole = logicalIdOf('StatusApiStatusFunctionRole', 'AWS::IAM::Role');
    const statusActions = statementsOf(statusRole).flatMap((s) => [s.Action].flat() as string[]);
    expect(
      statusActions.filter(
        (a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a) || a.startsWith('s3:Put'),
      ),
    ).toEqual([]);
    const grantRole = logicalIdOf('StatusApiGrantFunctionRole', 'AWS::IAM::Role');
    const grantActions = statementsOf(grantRole).flatMap((s) => [s.Action].flat() as string[]);
    expect(grantActions).toEqual(expect.arrayContaining(['dynamodb:UpdateItem', 'dynamodb:PutItem']));
    expect(grantActions.filter((a) => a.startsWith('s3:'))).toEqual([]);
    expect(grantActions.filter((a) => /Delete/.test(a))).toEqual([]);
  });

  it('the StatusApiUrl output gives agents the base URL', () => {
    template.hasOutput('StatusApiUrl', { Value: Match.anyValue() });
  });

  it('refuses a bad agent id and a grantee without an ARN', () => {
    const role = new iam.Role(stack, 'Other', { assumedBy: new iam.AccountRootPrincipal() });
    expect(() => stack.statusApi.grantAgent(role, 'Bad Id')).toThrow(/agent id/);
    // One role speaking for two agents would make the status handlers refuse every cold start: fail the synth.
    stack.statusApi.grantAgent(role, 'other-bot');
    expect(() => stack.statusApi.grantAgent(role, 'other-bot')).not.toThrow();
    expect(() => stack.statusApi.grantAgent(role, 'deploy-bot')).toThrow(/two agents/);
    expect(() =>
      stack.intentBus.grantPublish(new iam.ServicePrincipal('lambda.amazonaws.com'), 'svc'),
    ).toThrow(/IAM role or user/);
  });
});
