/**
 * The Teams endpoint on the synthesized template: configured only when the
 * `teams` config key is set; a Function URL whose handler reads its own secret
 * and ends reviews, nothing more; the handlers that post and repaint cards get
 * the Teams settings and read access together; cdk-nag finds nothing; and the
 * config refuses what would not work.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { CountersignStack } from '../../lib/countersign-stack.js';
import { CDK_CONTEXT, synth, TEST_ENV, TEST_POLICY_BUNDLE, testApp } from '../infra/support.js';

const TEAMS = {
  appId: '00000000-0000-4000-8000-00000000c0de',
  tenantId: '00000000-0000-4000-8000-0000000000aa',
  channelId: '19:countersign-approvals@thread.tacv2',
};
const withTeams = { teams: TEAMS, reviewChannels: ['slack', 'teams'] };

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
const functionsWith = (resources: Resources, variable: string) =>
  Object.entries(resources)
    .filter(
      ([, r]) =>
        r.Type === 'AWS::Lambda::Function' &&
        (r.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.[
          variable
        ] !== undefined,
    )
    .map(([id]) => id);

describe('Teams endpoint (template)', () => {
  it('is absent unless teams is configured', () => {
    const { template } = synth();
    expect(functionsWith(template.toJSON().Resources as Resources, 'COUNTERSIGN_TEAMS_APP_ID')).toEqual([]);
    template.resourceCountIs('AWS::Lambda::Url', 1);
  });

  it('is a Function URL (the token authenticates) on a Node 24 arm64 handler with the Teams settings', () => {
    const { template } = synth(withTeams);
    template.resourceCountIs('AWS::Lambda::Url', 2);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('Teams bot messaging endpoint'),
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Environment: {
        Variables: Match.objectLike({
          COUNTERSIGN_TEAMS_APP_ID: TEAMS.appId,
          COUNTERSIGN_TEAMS_TENANT_ID: TEAMS.tenantId,
          COUNTERSIGN_TEAMS_CHANNEL_ID: TEAMS.channelId,
          COUNTERSIGN_TEAMS_SERVICE_URL: 'https://smba.trafficmanager.net/teams/',
        }),
      },
    });
  });

  it('gives the handlers that post, repaint or remind the Teams settings, and the Review task the default channels', () => {
    const { template } = synth(withTeams);
    const resources = template.toJSON().Resources as Resources;
    const ids = functionsWith(resources, 'COUNTERSIGN_TEAMS_SECRET_ARN');
    expect(ids.map((id) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(
      [
        'ApprovalWorkflowRecordFunction',
        'ApprovalWorkflowRemindersReminderFunction',
        'ApprovalWorkflowReviewFunction',
        'SlackEndpointInteractionFunction',
        'TeamsEndpointTeamsFunction',
      ].sort(),
    );
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('Review task'),
      Environment: { Variables: Match.objectLike({ COUNTERSIGN_REVIEW_CHANNELS: 'slack,teams' }) },
    });
  });

  it('with the web inbox deployed too, a decision there repaints Teams cards: the inbox gets the Teams settings', () => {
    const { template } = synth({
      ...withTeams,
      identityProvider: {
        issuer: 'https://idp.example.com',
        clientId: 'countersign-web',
        clientSecretId: 'countersign/idp-client',
        apiAudience: 'urn:countersign:approval-api',
      },
    });
    const ids = functionsWith(template.toJSON().Resources as Resources, 'COUNTERSIGN_TEAMS_SECRET_ARN');
    expect(ids.map((id) => id.replace(/[0-9A-F]{8}$/, ''))).toContain('WebInboxWebFunction');
  });

  it('the Teams handler may end reviews (success and failure only) and read its secret; nothing else of Step Functions', () => {
    const { template } = synth(withTeams);
    const policies = template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('TeamsEndpointTeamsFunctionRole') }] },
    });
    const statements = Object.values(policies).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: { Action: string | string[] }[] } } }).Properties
          .PolicyDocument.Statement,
    );
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions.filter((a) => a.startsWith('states:')).sort()).toEqual([
      'states:SendTaskFailure',
      'states:SendTaskSuccess',
    ]);
    expect(actions).toContain('secretsmanager:GetSecretValue');
    expect(actions.some((a) => a.endsWith(':*') || a === '*')).toBe(false);
  });

  it('uses an existing secret by ARN when given one (no new secret)', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:countersign-teams-AbCdEf';
    const { template } = synth({ ...withTeams, teams: { ...TEAMS, secretArn: arn } });
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('Teams bot'),
      Environment: { Variables: Match.objectLike({ COUNTERSIGN_TEAMS_SECRET_ARN: arn }) },
    });
  });

  it('cdk-nag AwsSolutions finds nothing unacknowledged with Teams on', () => {
    const app = testApp();
    new CountersignStack(app, 'Countersign', {
      env: TEST_ENV,
      config: loadConfig(CDK_CONTEXT.countersign, withTeams),
      policyBundle: TEST_POLICY_BUNDLE,
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations).toEqual([]);
  });
});

describe('Teams config', () => {
  it.each([
    [{ teams: { ...TEAMS, appId: 'countersign' } }, /teams\.appId: must be the bot app id/],
    [{ teams: { ...TEAMS, channelId: 'C0APPROVAL' } }, /teams\.channelId: must be a Teams channel id/],
    [{ teams: { ...TEAMS, serviceUrl: 'http://smba.example/' } }, /teams\.serviceUrl: must be an https URL/],
    [{ reviewChannels: ['teams'] }, /reviewChannels: names teams, but teams is not configured/],
    [{ reviewChannels: ['email'] }, /reviewChannels\.0: must be slack or teams/],
  ])('refuses %j', (overrides, message) => {
    expect(() => loadConfig(CDK_CONTEXT.countersign, overrides)).toThrow(message);
  });
});

describe('Teams app manifest', () => {
  it('is one bot in team scope whose ids agree, with the two icons Teams requires at their sizes', () => {
    const dir = resolve(import.meta.dirname, '../../teams');
    const manifest = JSON.parse(readFileSync(resolve(dir, 'manifest.json'), 'utf8'));
    expect(manifest.manifestVersion).toBe('1.17');
    expect(manifest.bots).toHaveLength(1);
    expect(manifest.bots[0]).toMatchObject({ botId: manifest.id, scopes: ['team'] });
    expect(manifest.webApplicationInfo).toEqual({ id: manifest.id, resource: `api://${manifest.id}` });
    const size = (file: string) => {
      const png = readFileSync(resolve(dir, file));
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      return [png.readUInt32BE(16), png.readUInt32BE(20)];
    };
    expect(size(manifest.icons.color)).toEqual([192, 192]);
    expect(size(manifest.icons.outline)).toEqual([32, 32]);
  });
});
