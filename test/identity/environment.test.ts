/** The environment policy sees is derived from the resource or the registration (lambdas/shared/environment.ts). */
import { describe, expect, it } from 'vitest';
import {
  arnAccount,
  canonicalEnvironment,
  deriveEnvironment,
  type EnvironmentMap,
  matchesPattern,
  parseEnvironmentMap,
  resourcePatternProblem,
} from '../../lambdas/shared/environment.js';

const MAP: EnvironmentMap = {
  prod: { accounts: ['123456789012'], resources: ['arn:aws:s3:::prod-*'], aliases: ['production', 'prd'] },
  dev: {
    accounts: ['111122223333'],
    resources: ['arn:aws:s3:::dev-*', 'warehouse/dev/*'],
    aliases: ['development'],
  },
};

describe('canonicalEnvironment', () => {
  it.each([
    ['prod', 'prod'],
    ['production', 'prod'],
    ['PROD', 'prod'],
    ['Prd', 'prod'],
    ['development', 'dev'],
    ['qa', 'qa'],
  ])('%s -> %s', (name, canonical) => expect(canonicalEnvironment(name, MAP)).toBe(canonical));
});

describe('matchesPattern', () => {
  it.each([
    ['arn:aws:s3:::prod-*', 'arn:aws:s3:::prod-data', true],
    ['arn:aws:s3:::prod-*', 'arn:aws:s3:::prod-data/key/deep', true],
    ['arn:aws:s3:::prod-*', 'arn:aws:s3:::dev-prod-data', false],
    ['arn:aws:s3:::prod-*', 'xarn:aws:s3:::prod-data', false],
    ['arn:aws:*:*:123456789012:*', 'arn:aws:iam:us-east-1:123456789012:role/x', true],
    ['arn:aws:s3:::a*b*c', 'arn:aws:s3:::abc', true],
    ['arn:aws:s3:::a*b*c', 'arn:aws:s3:::acb', false],
    ['arn:aws:s3:::ab*ba', 'arn:aws:s3:::aba', false], // prefix and suffix may not overlap
    ['arn:aws:s3:::exact', 'arn:aws:s3:::exact', true],
    ['arn:aws:s3:::a.c', 'arn:aws:s3:::abc', false], // nothing but * is special
  ])('%s ~ %s -> %s', (pattern, value, match) => expect(matchesPattern(pattern, value)).toBe(match));
});

describe('arnAccount', () => {
  it.each([
    ['arn:aws:iam::123456789012:role/x', '123456789012'],
    ['arn:aws:s3:::prod-data', undefined],
    ['arn:aws:organizations::1:account/o/1', undefined],
    ['warehouse/orders', undefined],
  ])('%s -> %s', (resource, account) => expect(arnAccount(resource)).toBe(account));
});

describe('deriveEnvironment', () => {
  it.each([
    ['a prod bucket by pattern', 'arn:aws:s3:::prod-data/report.csv', undefined, 'prod', 'resource'],
    ['an IAM role by account', 'arn:aws:iam::123456789012:role/app', undefined, 'prod', 'account'],
    ['a dev data set by pattern', 'warehouse/dev/orders', undefined, 'dev', 'resource'],
    ['nothing places it', 'arn:aws:s3:::someone-elses-bucket', undefined, 'unknown', 'none'],
    ['nothing places it, one registered environment', 'warehouse/orders', ['dev'], 'dev', 'registration'],
    [
      'nothing places it, two registered environments',
      'warehouse/orders',
      ['dev', 'prod'],
      'unknown',
      'none',
    ],
    ['a resource in a registered environment', 'arn:aws:s3:::dev-x', ['dev'], 'dev', 'resource'],
  ] as const)('%s', (_name, resource, registered, environment, source) => {
    expect(deriveEnvironment(resource, MAP, registered)).toMatchObject({ ok: true, environment, source });
  });

  it('refuses a resource two environments claim (pattern says dev, account says prod)', () => {
    const map: EnvironmentMap = { ...MAP, dev: { ...MAP.dev!, resources: ['arn:aws:iam::*:role/dev-*'] } };
    const derived = deriveEnvironment('arn:aws:iam::123456789012:role/dev-app', map);
    expect(derived).toMatchObject({ ok: false });
    expect(derived.ok ? '' : derived.reason).toMatch(/several environments \(dev, prod\)/);
  });

  it('refuses a resource outside the environments the agent is registered for', () => {
    const derived = deriveEnvironment('arn:aws:s3:::prod-data', MAP, ['dev']);
    expect(derived.ok ? '' : derived.reason).toMatch(/registered for dev only.*is in prod/);
  });
});

describe('resourcePatternProblem', () => {
  it.each([
    ['arn:aws:s3:::prod-*', undefined],
    ['arn:aws:*:*:123456789012:*', undefined],
    ['warehouse/prod/*', undefined],
    ['*', /literal/],
    ['*-prod', /start with a literal/],
    ['ab*', /3 literal/],
    ['arn:aws:s3:prod-*', /six fields/],
    ['arn:aws:iam::12345:role/*', /account field "12345"/],
    ['arn:aws:s3:::prod *', /printable ASCII/],
    ['arn:aws:s3:::pr\u043ed-*', /printable ASCII/],
    ['', /non-empty/],
  ])('%s', (pattern, problem) => {
    const found = resourcePatternProblem(pattern);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });
});

describe('parseEnvironmentMap', () => {
  it('round-trips a map and refuses the reserved name', () => {
    expect(parseEnvironmentMap(JSON.stringify(MAP))).toEqual(MAP);
    expect(() => parseEnvironmentMap('{"unknown":{"accounts":[],"resources":[],"aliases":[]}}')).toThrow(
      /unknown/,
    );
  });
});
