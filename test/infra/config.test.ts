/** The deployment config: defaults, flat overrides, and errors that name the key. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
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
      auditRetentionDays: 365,
      auditLegalHold: false,
      digestSchedule: 'rate(1 hour)',
      policyDir: 'policies',
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
