/** The deployment config: defaults, flat overrides, and errors that name the key. */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { EmailRules } from '../../lambdas/shared/email.js';
import type { EnvironmentMap } from '../../lambdas/shared/environment.js';
import { type CountersignConfig, loadConfig } from '../../lib/config.js';
import { CDK_CONTEXT } from './support.js';

const minimal = { slackChannelId: 'C0123ABCD', approverGroupHandle: 'security-approvers' };

describe('loadConfig', () => {
  it('reads cdk.json’s countersign object', () => {
    expect(loadConfig(CDK_CONTEXT.countersign)).toEqual({
      stackName: 'Countersign',
      eventBusName: 'countersign',
      slackChannelId: 'C0COUNTERSIGN',
      approverGroupHandle: 'security-approvers',
      defaultReviewTimeoutSeconds: 3600,
      defaultRateLimit: '30/minute',
      auditRetentionDays: 365,
      auditLegalHold: false,
      digestSchedule: 'rate(1 hour)',
      rubberStampSeconds: 10,
      cardRatePerSecond: 1,
      cardBurst: 3,
      cardBacklogThreshold: 20,
      policyDir: 'policies',
      environments: {
        prod: {
          accounts: ['123456789012'],
          resources: ['arn:aws:s3:::prod-*'],
          aliases: ['production', 'prd'],
        },
        staging: {
          accounts: ['210987654321'],
          resources: ['arn:aws:s3:::staging-*'],
          aliases: ['stage', 'stg'],
        },
        dev: {
          accounts: ['111122223333'],
          resources: ['arn:aws:s3:::dev-*', 'arn:aws:s3:::dev/*'],
          aliases: ['development'],
        },
      },
      emailIdentity: { subaddressDomains: ['*'], punycodeDomains: [] },
      reviewChannels: ['slack'],
    });
  });

  it('defaults to no environments (everything derives "unknown") and +tag removal for every domain', () => {
    expect(loadConfig(minimal)).toMatchObject({
      environments: {},
      emailIdentity: { subaddressDomains: ['*'], punycodeDomains: [] },
    });
  });

  it('lower-cases aliases, and takes the map as JSON from -c', () => {
    const config = loadConfig(minimal, {
      environments: JSON.stringify({ prod: { accounts: ['123456789012'], aliases: ['PRODUCTION'] } }),
    });
    expect(config.environments).toEqual({
      prod: { accounts: ['123456789012'], resources: [], aliases: ['production'] },
    });
  });

  it('fills defaults for optional keys', () => {
    expect(loadConfig(minimal)).toMatchObject({
      eventBusName: 'countersign',
      defaultReviewTimeoutSeconds: 3600,
      auditRetentionDays: 365,
      auditLegalHold: false,
      digestSchedule: 'rate(1 hour)',
    });
    expect(loadConfig(minimal).alarmEmail).toBeUndefined();
    // Off by default: new accounts cannot reserve concurrency.
    expect(loadConfig(minimal).interactionReservedConcurrency).toBeUndefined();
  });

  it('takes the interaction function’s reserved concurrency as a number or a -c string', () => {
    expect(
      loadConfig({ ...minimal, interactionReservedConcurrency: 20 }).interactionReservedConcurrency,
    ).toBe(20);
    expect(loadConfig(minimal, { interactionReservedConcurrency: '5' }).interactionReservedConcurrency).toBe(
      5,
    );
  });

  it('lets flat countersign:<key> overrides (strings from -c) win over the object', () => {
    const config = loadConfig(minimal, {
      auditRetentionDays: '30',
      auditLegalHold: 'true',
      defaultReviewTimeoutSeconds: '900',
      slackChannelId: 'C9999999',
    });
    expect(config).toMatchObject({
      auditRetentionDays: 30,
      auditLegalHold: true,
      defaultReviewTimeoutSeconds: 900,
      slackChannelId: 'C9999999',
    });
  });

  it("accepts the object as a JSON string (-c countersign='{...}')", () => {
    expect(loadConfig(JSON.stringify(minimal)).slackChannelId).toBe('C0123ABCD');
  });

  it.each([
    [{ approverGroupHandle: 'security-approvers' }, /^countersign\.slackChannelId: is required .*C0123ABCD/],
    [
      { ...minimal, slackChannelId: '#general' },
      /^countersign\.slackChannelId: must be a Slack channel id like C0123ABCD/,
    ],
    [{ slackChannelId: 'C0123ABCD' }, /^countersign\.approverGroupHandle: is required/],
    [
      { ...minimal, approverGroupHandle: '@Security' },
      /^countersign\.approverGroupHandle: must be a Slack user-group handle/,
    ],
    [
      { ...minimal, auditRetentionDays: 'a year' },
      /^countersign\.auditRetentionDays: must be an integer number of days/,
    ],
    [
      { ...minimal, auditRetentionDays: 0 },
      /^countersign\.auditRetentionDays: must be an integer number of days/,
    ],
    [
      { ...minimal, auditRetentionDays: 1.5 },
      /^countersign\.auditRetentionDays: must be an integer number of days/,
    ],
    [
      { ...minimal, defaultReviewTimeoutSeconds: 10 },
      /^countersign\.defaultReviewTimeoutSeconds: must be an integer/,
    ],
    [{ ...minimal, auditLegalHold: 'yes' }, /^countersign\.auditLegalHold: must be true or false/],
    [
      { ...minimal, digestSchedule: 'rate(1 hours)' },
      /^countersign\.digestSchedule: must be a schedule expression/,
    ],
    [
      { ...minimal, digestSchedule: 'every hour' },
      /^countersign\.digestSchedule: must be a schedule expression/,
    ],
    [{ ...minimal, eventBusName: 'default' }, /^countersign\.eventBusName: must not be "default"/],
    [{ ...minimal, alarmEmail: 'secops' }, /^countersign\.alarmEmail: must be an email address/],
    [{ ...minimal, slackChanelId: 'C0123ABCD' }, /^countersign: unknown key\(s\) slackChanelId/],
    [
      { ...minimal, stackName: 'countersign staging' },
      /^countersign\.stackName: must be a CloudFormation stack name/,
    ],
    [{ ...minimal, stackName: '1st' }, /^countersign\.stackName: must be a CloudFormation stack name/],
    [
      { ...minimal, stackName: 'A'.repeat(129) },
      /^countersign\.stackName: must be a CloudFormation stack name/,
    ],
    [
      { ...minimal, interactionReservedConcurrency: 0 },
      /^countersign\.interactionReservedConcurrency: must be an integer number of concurrent executions from 1 to 10000/,
    ],
    [
      { ...minimal, interactionReservedConcurrency: '2.5' },
      /^countersign\.interactionReservedConcurrency: must be an integer/,
    ],
    [
      { ...minimal, environments: { prod: { resources: ['*'] } } },
      /^countersign\.environments\.prod\.resources\.0: "\*" must start with a literal/,
    ],
    [
      { ...minimal, environments: { dev: { resources: ['*-dev'] } } },
      /^countersign\.environments\.dev\.resources\.0: "\*-dev" must start with a literal/,
    ],
    [
      { ...minimal, environments: { prod: { resources: ['arn:aws:iam::12345:role/*'] } } },
      /^countersign\.environments\.prod\.resources\.0: .*account field "12345"/,
    ],
    [
      { ...minimal, environments: { prod: { accounts: ['1234'] } } },
      /^countersign\.environments\.prod\.accounts\.0: must be a 12-digit AWS account id/,
    ],
    [
      { ...minimal, environments: { unknown: { accounts: [] } } },
      /^countersign\.environments\.unknown: "unknown" is reserved/,
    ],
    [
      { ...minimal, environments: { prod: { aliases: ['live'] }, staging: { aliases: ['live'] } } },
      /^countersign\.environments\.staging\.aliases: "live" already names environment prod/,
    ],
    [
      {
        ...minimal,
        environments: { prod: { accounts: ['123456789012'] }, dev: { accounts: ['123456789012'] } },
      },
      /^countersign\.environments\.dev\.accounts\.0: account 123456789012 is already in environment prod/,
    ],
    [
      { ...minimal, environments: { prod: { regions: ['us-east-1'] } } },
      /^countersign\.environments\.prod: unknown key\(s\) regions/,
    ],
    [
      { ...minimal, environments: { Prod: { accounts: [] } } },
      /^countersign\.environments\.Prod: must be a canonical name/,
    ],
    [
      { ...minimal, emailIdentity: { subaddressDomains: ['Example.COM '] } },
      /^countersign\.emailIdentity\.subaddressDomains\.0: must be "\*" or a lower-case domain name/,
    ],
    [
      { ...minimal, emailIdentity: { punycodeDomains: ['example.com'] } },
      /^countersign\.emailIdentity\.punycodeDomains\.0: must be a lower-case punycode/,
    ],
  ])('rejects %j naming the key', (context, message) => {
    expect(() => loadConfig(context)).toThrow(message);
  });

  it('names the key of a bad flat override', () => {
    expect(() => loadConfig(minimal, { auditRetentionDays: 'x' })).toThrow(
      /^countersign\.auditRetentionDays: /,
    );
  });

  it('rejects a missing or non-object countersign context', () => {
    expect(() => loadConfig(undefined)).toThrow(/countersign\.slackChannelId: is required/);
    expect(() => loadConfig([1])).toThrow(/^countersign: must be an object/);
    expect(() => loadConfig('not json')).toThrow(/^countersign: must be an object/);
  });
});

describe('CountersignConfig', () => {
  it('is the schema output, read-only, with environments and emailIdentity in their domain types', () => {
    const config = loadConfig({
      ...(CDK_CONTEXT.countersign as object),
      environments: { prod: { accounts: ['111122223333'] } },
    });

    // Type-level: checked by tsc (npm test runs it over test/).
    expectTypeOf(config).toEqualTypeOf<CountersignConfig>();
    expectTypeOf(config.environments).toEqualTypeOf<EnvironmentMap>();
    expectTypeOf(config.emailIdentity).toEqualTypeOf<EmailRules>();
    expectTypeOf(config.alarmEmail).toEqualTypeOf<string | undefined>();
    expectTypeOf<CountersignConfig>().toMatchTypeOf<{
      readonly stackName: string;
      readonly auditLegalHold: boolean;
    }>();
    // @ts-expect-error the configuration is read-only
    config.stackName = 'Other';

    expect(config.environments.prod).toEqual({ accounts: ['111122223333'], resources: [], aliases: [] });
  });
});
