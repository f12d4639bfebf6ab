/**
 * The pieces doctor compares with: template resolution against physical
 * resources (ARN formats as AWS documents them), the policy comparison's
 * tolerance of AWS's rewrites and nothing else, when the API Gateway account
 * role is needed, and the Slack scopes the channel check relies on.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { needsApiGatewayAccountRole } from '../../doctor/checks.js';
import { diffPolicies } from '../../doctor/policy-diff.js';
import {
  type CfnTemplate,
  intendedBusPolicy,
  type StackResource,
  TemplateResolver,
  UnresolvableError,
} from '../../doctor/template.js';

const template: CfnTemplate = {
  Resources: {
    Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: 'countersign' } },
    WorkflowRole: { Type: 'AWS::IAM::Role', Properties: { Path: '/service/' } },
    Group: { Type: 'AWS::Scheduler::ScheduleGroup', Properties: {} },
    Deny: {
      Type: 'AWS::Events::EventBusPolicy',
      Properties: {
        EventBusName: { Ref: 'Bus' },
        StatementId: 'DenyForgedDecisionSource',
        Statement: {
          Sid: 'DenyForgedDecisionSource',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 'events:PutEvents',
          Resource: { 'Fn::GetAtt': ['Bus', 'Arn'] },
          Condition: {
            StringEquals: { 'events:source': 'countersign' },
            ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': ['WorkflowRole', 'Arn'] } },
          },
        },
      },
    },
    Url: { Type: 'AWS::Lambda::Url', Properties: {} },
  },
};

const resources = new Map<string, StackResource>([
  ['Bus', { type: 'AWS::Events::EventBus', physicalId: 'countersign' }],
  ['WorkflowRole', { type: 'AWS::IAM::Role', physicalId: 'Countersign-WorkflowRole-AbC123' }],
  ['Group', { type: 'AWS::Scheduler::ScheduleGroup', physicalId: 'Countersign-Reminders-1A2B' }],
  ['Deny', { type: 'AWS::Events::EventBusPolicy', physicalId: 'countersign-DenyForgedDecisionSource' }],
  ['Url', { type: 'AWS::Lambda::Url', physicalId: 'arn:aws:lambda:eu-west-1:111122223333:function:f' }],
]);

const resolver = new TemplateResolver(template, {
  account: '111122223333',
  region: 'eu-west-1',
  stackName: 'Countersign',
  stackId: 'arn:aws:cloudformation:eu-west-1:111122223333:stack/Countersign/1',
  resources,
});

describe('TemplateResolver', () => {
  it('resolves Ref, GetAtt (with the role path), Join, Sub, Select and Split to the documented ARN formats', () => {
    expect(resolver.resolve({ 'Fn::GetAtt': ['Group', 'Arn'] })).toBe(
      'arn:aws:scheduler:eu-west-1:111122223333:schedule-group/Countersign-Reminders-1A2B',
    );
    expect(resolver.resolve({ 'Fn::GetAtt': 'WorkflowRole.Arn' })).toBe(
      'arn:aws:iam::111122223333:role/service/Countersign-WorkflowRole-AbC123',
    );
    expect(resolver.resolve({ 'Fn::Join': ['/', [{ Ref: 'AWS::Region' }, { Ref: 'Bus' }]] })).toBe(
      'eu-west-1/countersign',
    );
    expect(
      resolver.resolve({
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's own placeholder syntax
        'Fn::Sub': 'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:x/${Bus}',
      }),
    ).toBe('arn:aws:events:eu-west-1:111122223333:x/countersign');
    expect(resolver.resolve({ 'Fn::Select': [1, { 'Fn::Split': ['-', { Ref: 'Group' }] }] })).toBe(
      'Reminders',
    );
  });

  it('refuses to guess: unknown attributes and unknown resources are errors', () => {
    expect(() => resolver.resolve({ 'Fn::GetAtt': ['Url', 'FunctionUrl'] })).toThrow(UnresolvableError);
    expect(() => resolver.resolve({ Ref: 'Nope' })).toThrow(/no resource Nope/);
    expect(() => resolver.resolve({ 'Fn::If': ['c', 'a', 'b'] })).toThrow(/unsupported intrinsic Fn::If/);
  });

  it('reads the intended bus policy from EventBusPolicy resources, named by their StatementId', () => {
    expect(intendedBusPolicy(resolver, 'countersign')).toEqual([
      {
        Sid: 'DenyForgedDecisionSource',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'events:PutEvents',
        Resource: 'arn:aws:events:eu-west-1:111122223333:event-bus/countersign',
        Condition: {
          StringEquals: { 'events:source': 'countersign' },
          ArnNotEquals: {
            'aws:PrincipalArn': 'arn:aws:iam::111122223333:role/service/Countersign-WorkflowRole-AbC123',
          },
        },
      },
    ]);
    expect(intendedBusPolicy(resolver, 'another-bus')).toEqual([]);
  });

  it('reads a policy set on the bus resource itself (one document)', () => {
    const onBus: CfnTemplate = {
      Resources: {
        Bus: {
          Type: 'AWS::Events::EventBus',
          Properties: {
            Name: 'countersign',
            Policy: {
              Version: '2012-10-17',
              Statement: [{ Sid: 'A', Effect: 'Deny', Action: 'events:PutEvents' }],
            },
          },
        },
      },
    };
    const r = new TemplateResolver(onBus, {
      account: '111122223333',
      region: 'eu-west-1',
      stackName: 's',
      stackId: 'id',
      resources,
    });
    expect(intendedBusPolicy(r, 'countersign')).toEqual([
      { Sid: 'A', Effect: 'Deny', Action: 'events:PutEvents' },
    ]);
  });
});

describe('diffPolicies', () => {
  const deny = {
    Sid: 'D',
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: 'events:PutEvents',
    Resource: 'arn:aws:events:eu-west-1:111122223333:event-bus/countersign',
    Condition: { StringNotLike: { 'events:source': ['countersign.agent.*', 'countersign'] } },
  };

  it('ignores the rewrites AWS makes when storing a policy', () => {
    const stored = {
      ...deny,
      Principal: '*',
      Action: ['events:PutEvents'],
      Condition: { StringNotLike: { 'events:source': ['countersign', 'countersign.agent.*'] } },
    };
    expect(diffPolicies([deny], [stored])).toEqual({ missing: [], changed: [], unexpected: [] });
  });

  it('reports a missing, a changed and an unexpected statement', () => {
    const other = { ...deny, Sid: 'E', Action: 'events:PutRule' };
    const loosened = { ...deny, Condition: { StringNotLike: { 'events:source': ['*'] } } };
    const extra = {
      Sid: 'X',
      Effect: 'Allow',
      Principal: { AWS: '210987654321' },
      Action: 'events:PutEvents',
    };
    expect(diffPolicies([deny, other], [loosened, extra])).toEqual({
      missing: ['E'],
      changed: ['D'],
      unexpected: ['X'],
    });
  });

  it('does not accept a Deny turned into an Allow', () => {
    expect(diffPolicies([deny], [{ ...deny, Effect: 'Allow' }]).changed).toEqual(['D']);
  });
});

describe('needsApiGatewayAccountRole', () => {
  const stage = (props: Record<string, unknown>, type = 'AWS::ApiGateway::Stage'): CfnTemplate => ({
    Resources: { S: { Type: type, Properties: props } },
  });

  it('is needed for a REST stage with access logs or execution logs', () => {
    expect(needsApiGatewayAccountRole(stage({ AccessLogSetting: { DestinationArn: 'x' } }))).toBe(true);
    expect(needsApiGatewayAccountRole(stage({ MethodSettings: [{ LoggingLevel: 'ERROR' }] }))).toBe(true);
    expect(
      needsApiGatewayAccountRole(
        stage(
          { StageDescription: { AccessLogSetting: { DestinationArn: 'x' } } },
          'AWS::ApiGateway::Deployment',
        ),
      ),
    ).toBe(true);
  });

  it('is not needed for a quiet REST stage or an HTTP API', () => {
    expect(needsApiGatewayAccountRole(stage({ MethodSettings: [{ LoggingLevel: 'OFF' }] }))).toBe(false);
    expect(
      needsApiGatewayAccountRole(
        stage({ AccessLogSettings: { DestinationArn: 'x' } }, 'AWS::ApiGatewayV2::Stage'),
      ),
    ).toBe(false);
  });
});

describe('slack/manifest.json', () => {
  it('grants the scopes conversations.info needs for public and private review channels', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../slack/manifest.json', import.meta.url), 'utf8'));
    expect(manifest.oauth_config.scopes.bot).toEqual(
      expect.arrayContaining(['channels:read', 'groups:read']),
    );
  });
});
