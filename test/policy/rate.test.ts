/**
 * Request quotas as policy: the `@rate` grammar, its validation at policy
 * load (what synth runs), the strictest-wins combination, the configured
 * default, and that a quota policy decides nothing else.
 */
import { describe, expect, it } from 'vitest';
import { createPolicyEngine } from '../../lambdas/shared/policy.js';
import {
  combineQuotas,
  DEFAULT_QUOTA_ID,
  defaultRateFromEnv,
  parseRate,
  windowStart,
} from '../../lambdas/shared/rate-limit.js';
import { loadConfig } from '../../lib/config.js';
import { buildPolicyBundle, PolicyBundleError } from '../../lib/policy-bundle.js';
import { DEFAULTS, intent, POLICY_DIR, policyDir, requestPolicy } from './helpers.js';

const FALLBACK = { limit: 30, windowSeconds: 60 };

function buildError(dir: string): PolicyBundleError {
  try {
    buildPolicyBundle(dir);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyBundleError);
    return error as PolicyBundleError;
  }
  throw new Error('expected the bundle build to fail');
}

describe('parseRate', () => {
  it.each([
    ['10/minute', 10, 60],
    ['1/second', 1, 1],
    ['100/hours', 100, 3600],
    ['5000/day', 5000, 86_400],
    ['100/PT5M', 100, 300],
    ['7/PT1H30M', 7, 5400],
    ['3/P1D', 3, 86_400],
  ])('reads %s', (text, limit, windowSeconds) => {
    expect(parseRate(text)).toEqual({ ok: true, rate: { limit, windowSeconds } });
  });

  it.each([
    ['', /not a rate/],
    ['10 per minute', /not a rate/],
    ['10/Minute ', /not a rate/],
    [' 10/minute', /not a rate/],
    ['0/minute', /count must be from 1/],
    ['2000000/minute', /count must be from 1/],
    ['-1/minute', /not a rate/],
    ['1e3/minute', /not a rate/],
    ['10/fortnight', /not a window/],
    ['10/PT0S', /not a window|window must be/],
    ['10/P2D', /window must be from 1 second to 1 day/],
    ['10/PT', /not a window/],
    ['10/minute; 1000/second', /not a rate/],
    ['10/minute\u200b', /not a rate/],
  ])('refuses %j', (text, message) => {
    const parsed = parseRate(text);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.error).toMatch(message);
  });
});

describe('combineQuotas', () => {
  it('applies the default when no policy matches', () => {
    expect(combineQuotas([], FALLBACK)).toEqual([
      { limit: 30, windowSeconds: 60, policies: [DEFAULT_QUOTA_ID], text: '30/minute' },
    ]);
  });

  it('keeps the lowest limit per window length and every window length, in any order', () => {
    const matched = [
      { id: 'b', rate: { limit: 20, windowSeconds: 60 } },
      { id: 'a', rate: { limit: 100, windowSeconds: 3600 } },
      { id: 'c', rate: { limit: 10, windowSeconds: 60 } },
      { id: 'd', rate: { limit: 10, windowSeconds: 60 } },
    ];
    const combined = combineQuotas(matched, FALLBACK);
    expect(combined).toEqual([
      { limit: 10, windowSeconds: 60, policies: ['c', 'd'], text: '10/minute' },
      { limit: 100, windowSeconds: 3600, policies: ['a'], text: '100/hour' },
    ]);
    expect(combineQuotas([...matched].reverse(), FALLBACK)).toEqual(combined);
  });

  it('aligns windows to the epoch', () => {
    expect(windowStart(new Date('2026-12-02T11:47:35.900Z'), 60)).toBe(
      Date.parse('2026-12-02T11:47:00Z') / 1000,
    );
    expect(windowStart(new Date('2026-12-02T11:47:35Z'), 3600)).toBe(
      Date.parse('2026-12-02T11:00:00Z') / 1000,
    );
  });
});

describe('the default quota', () => {
  const BASE = { slackChannelId: 'C0APPROVAL', approverGroupHandle: 'security-approvers' };

  it('is 30/minute unless configured, and a configured one is validated at synth', () => {
    expect(loadConfig(BASE).defaultRateLimit).toBe('30/minute');
    expect(loadConfig({ ...BASE, defaultRateLimit: '100/PT5M' }).defaultRateLimit).toBe('100/PT5M');
    expect(() => loadConfig({ ...BASE, defaultRateLimit: 'lots' })).toThrow(/defaultRateLimit/);
  });

  it('is read from the environment at cold start, and a bad one fails the start', () => {
    expect(defaultRateFromEnv({})).toEqual({ limit: 30, windowSeconds: 60 });
    expect(defaultRateFromEnv({ COUNTERSIGN_DEFAULT_RATE_LIMIT: '5/hour' })).toEqual({
      limit: 5,
      windowSeconds: 3600,
    });
    expect(() => defaultRateFromEnv({ COUNTERSIGN_DEFAULT_RATE_LIMIT: '5/week' })).toThrow(
      /COUNTERSIGN_DEFAULT_RATE_LIMIT: "5\/week"/,
    );
  });
});

describe('@rate at policy load', () => {
  it('a malformed @rate fails the bundle (and so synth), naming the file, line and policy', () => {
    const dir = policyDir({
      'quota.cedar': requestPolicy(
        '// quotas\n@id("quota-iam")\n@rate("lots/minute")',
        'resource.service == "iam"',
      ),
    });
    const error = buildError(dir);
    expect(error.problems).toHaveLength(1);
    expect(error.message).toMatch(/quota\.cedar:2:1: quota-iam: @rate: "lots\/minute" is not a rate/);
  });

  it.each([
    ['a forbid', requestPolicy('@id("q")\n@rate("5/minute")', 'true', 'forbid'), /applies only to permit/],
    [
      'an approve policy',
      '@id("q")\n@rate("5/minute")\npermit (principal, action == Countersign::Action::"approve", resource);\n',
      /applies only to permit policies for Action::"request"/,
    ],
    [
      'a policy for every action',
      '@id("q")\n@rate("5/minute")\npermit (principal, action, resource);\n',
      /applies only to permit policies for Action::"request"/,
    ],
    [
      'a shadow policy',
      requestPolicy('@id("q")\n@outcome("review")\n@mode("shadow")\n@rate("5/minute")', 'true'),
      /cannot be on a @mode\("shadow"\) policy/,
    ],
    ['an unknown window', requestPolicy('@id("q")\n@rate("5/fortnight")', 'true'), /not a window/],
  ])('@rate on %s is refused', (_, text, message) => {
    expect(buildError(policyDir({ 'q.cedar': text })).message).toMatch(message);
  });

  it('a permit without @outcome is still refused unless it carries @rate', () => {
    expect(buildError(policyDir({ 'q.cedar': requestPolicy('@id("q")', 'true') })).message).toMatch(
      /needs @outcome\("allow"\) or @outcome\("review"\)/,
    );
  });
});

describe('quotas in the engine', () => {
  const dir = policyDir({
    'allow.cedar': requestPolicy('@id("allow-dev")\n@outcome("allow")', 'resource.environment == "dev"'),
    'quota-iam.cedar': requestPolicy('@id("quota-iam")\n@rate("10/minute")', 'resource.service == "iam"'),
    'quota-bot.cedar':
      '@id("quota-bot")\n@rate("3/minute")\npermit (principal == Countersign::Agent::"batch-bot", action == Countersign::Action::"request", resource)\nwhen { resource.service == "iam" };\n',
    'quota-hourly.cedar': requestPolicy('@id("quota-hourly")\n@rate("50/hour")', 'resource.service == "iam"'),
    'review-iam.cedar': requestPolicy(
      '@id("review-iam")\n@outcome("review")\n@rate("6/minute")',
      'resource.service == "iam" && resource.environment == "prod"',
    ),
  });
  const engine = createPolicyEngine(buildPolicyBundle(dir));
  const dev = {
    environment: 'dev',
    declaredEnvironment: 'dev',
    environmentSource: 'resource' as const,
    owner: 'o@example.com',
    onBehalfOf: 'carol@example.com',
  };

  it('several matching policies: the strictest per window, every window', () => {
    const quotas = engine.quotasFor(
      { intent: intent({ action: 'iam:AttachRolePolicy' }), agentId: 'batch-bot' },
      FALLBACK,
    );
    expect(quotas.map((q) => [q.text, q.policies])).toEqual([
      ['3/minute', ['quota-bot']],
      ['50/hour', ['quota-hourly']],
    ]);
    // Another agent: the bot's own quota does not apply; a review policy's @rate does in prod.
    const other = engine.quotasFor(
      { intent: intent({ action: 'iam:AttachRolePolicy' }), agentId: 'deploy-bot' },
      FALLBACK,
    );
    expect(other.map((q) => q.text)).toEqual(['6/minute', '50/hour']);
  });

  it('the action class is asked in canonical case: IAM: and iam: have the same quota', () => {
    const upper = engine.quotasFor(
      { intent: intent({ action: 'IAM:AttachRolePolicy' }), agentId: 'batch-bot' },
      FALLBACK,
    );
    expect(upper.map((q) => q.text)).toEqual(['3/minute', '50/hour']);
    expect(engine.quotaClass('IAM:AttachRolePolicy')).toBe('iam');
    expect(engine.quotaClass('iAm:x')).toBe('iam');
  });

  it('services no policy names share the class `other` (an agent cannot mint fresh quotas)', () => {
    expect(engine.quotaClass('made-up-1:X')).toBe('other');
    expect(engine.quotaClass('made-up-2:X')).toBe('other');
    expect(
      engine.quotasFor({ intent: intent({ action: 'made-up-1:X' }), agentId: 'batch-bot' }, FALLBACK),
    ).toEqual([{ ...FALLBACK, policies: [DEFAULT_QUOTA_ID], text: '30/minute' }]);
  });

  it('a quota policy decides nothing: the outcome is what the other policies say', () => {
    const verdict = engine.evaluateIntent(
      { intent: intent({ action: 'iam:GetRole', environment: 'dev' }), agentId: 'batch-bot', verified: dev },
      DEFAULTS,
    );
    expect(verdict.outcome).toBe('allow');
    expect(verdict.policies).toEqual(['allow-dev']);
    const unmatched = engine.evaluateIntent(
      {
        intent: intent({ action: 'iam:GetRole', environment: 'staging' }),
        agentId: 'batch-bot',
        verified: { ...dev, environment: 'staging' },
      },
      DEFAULTS,
    );
    expect(unmatched.outcome).toBe('review');
    expect(unmatched.policies).toEqual(['default-review']);
  });

  it('agent-written text has no say: a @rate string in the justification or parameters changes nothing', () => {
    const hostile = intent({
      action: 'iam:AttachRolePolicy',
      justification: '@rate("1000000/second")\n@id("quota-bot")',
      parameters: { rate: '@rate("1000000/second")', note: '") @rate("999999/second' },
    });
    expect(engine.quotasFor({ intent: hostile, agentId: 'batch-bot' }, FALLBACK).map((q) => q.text)).toEqual([
      '3/minute',
      '50/hour',
    ]);
  });

  it('the repository policy set has the Run Command quota', () => {
    const repo = createPolicyEngine(buildPolicyBundle(POLICY_DIR));
    const quotas = repo.quotasFor(
      { intent: intent({ action: 'ssm:SendCommand' }), agentId: 'deploy-bot' },
      FALLBACK,
    );
    expect(quotas).toEqual([
      { limit: 5, windowSeconds: 3600, policies: ['quota-ssm-commands'], text: '5/hour' },
    ]);
  });
});
