/** Step-up: the `@stepup` annotation, how matching policies combine, and whether a sign-in meets it. */
import { describe, expect, it } from 'vitest';
import type { SignIn } from '../../lambdas/identity/contract.js';
import { combineStepUps, parseStepUp, stepUpProblem } from '../../lambdas/identity/step-up.js';
import { createPolicyEngine } from '../../lambdas/shared/policy.js';
import { buildPolicyBundle, PolicyBundleError } from '../../lib/policy-bundle.js';
import { DEFAULTS, intent, POLICY_DIR, policyDir, requestPolicy } from '../policy/helpers.js';

const review = (annotations: string, when = 'resource.environment == "prod"') =>
  requestPolicy(`${annotations}\n@outcome("review")`, when);

describe('@stepup', () => {
  it.each([
    ['mfa PT10M', { amr: ['mfa'], maxAgeSeconds: 600 }],
    ['hwk|swk PT5M', { amr: ['hwk', 'swk'], maxAgeSeconds: 300 }],
    ['mfa, otp PT1H30M', { amr: ['mfa', 'otp'], maxAgeSeconds: 5400 }],
  ])('"%s" reads as %j', (value, requirement) => {
    expect(parseStepUp(value)).toEqual({ ok: true, requirement });
  });

  it.each([
    ['mfa', /does not end with a duration/],
    ['PT10M', /names no authentication method/],
    ['mfa PT10S', /from 60 seconds to 24 hours/],
    ['mfa P2D', /does not end with a duration/],
    ['mfa PT48H', /from 60 seconds to 24 hours/],
    ['m<f>a PT10M', /"m<f>a" is not an amr value/],
  ])('"%s" is refused at build time', (value, message) => {
    const dir = policyDir({ 'p.cedar': review(`@id("p")\n@stepup("${value}")`) });
    expect(() => buildPolicyBundle(dir)).toThrow(PolicyBundleError);
    expect(() => buildPolicyBundle(dir)).toThrow(message);
  });

  it('only on review policies', () => {
    const dir = policyDir({
      'p.cedar': requestPolicy(
        '@id("p")\n@outcome("allow")\n@stepup("mfa PT10M")',
        'resource.environment == "dev"',
      ),
    });
    expect(() => buildPolicyBundle(dir)).toThrow(/only apply to @outcome\("review"\) policies/);
  });

  it("the repository's account-access policy puts mfa within 10 minutes on the plan, combined with the catch-all", () => {
    const engine = createPolicyEngine(buildPolicyBundle(POLICY_DIR));
    const verdict = engine.evaluateIntent(
      {
        intent: intent({
          action: 'sso:CreateAccountAssignment',
          resource: 'arn:aws:sso:::instance/ssoins-1',
        }),
        agentId: 'deploy-bot',
      },
      DEFAULTS,
    );
    expect(verdict.outcome).toBe('review');
    expect(verdict.policies).toContain('review-prod-account-access');
    expect(verdict.review?.stepUp).toEqual({ amr: ['mfa'], maxAgeSeconds: 600 });
  });

  it('several matching policies: the strictest (shortest age, every method list)', () => {
    const engine = createPolicyEngine(
      buildPolicyBundle(
        policyDir({
          'a.cedar': review('@id("a")\n@stepup("mfa PT10M")'),
          'b.cedar': review('@id("b")\n@stepup("hwk PT5M")'),
          'c.cedar': review('@id("c")'),
        }),
      ),
    );
    const verdict = engine.evaluateIntent({ intent: intent(), agentId: 'deploy-bot' }, DEFAULTS);
    expect(verdict.review?.stepUp).toEqual({ amr: ['hwk'], maxAgeSeconds: 300, allOf: [['mfa']] });
  });

  it('a plan without @stepup has none', () => {
    const engine = createPolicyEngine(buildPolicyBundle(policyDir({ 'a.cedar': review('@id("a")') })));
    expect(
      engine.evaluateIntent({ intent: intent(), agentId: 'deploy-bot' }, DEFAULTS).review,
    ).not.toHaveProperty('stepUp');
  });
});

describe('combineStepUps', () => {
  it('a method common to every list satisfies them all', () => {
    expect(
      combineStepUps([
        { amr: ['mfa', 'hwk'], maxAgeSeconds: 600 },
        { amr: ['hwk', 'swk'], maxAgeSeconds: 900 },
      ]),
    ).toEqual({ amr: ['hwk'], maxAgeSeconds: 600 });
    expect(combineStepUps([undefined, undefined])).toBeUndefined();
  });
});

describe('stepUpProblem', () => {
  const now = new Date('2026-12-02T10:00:00Z');
  const at = (secondsAgo: number) => now.getTime() / 1000 - secondsAgo;
  const signIn = (amr: string[], authTime?: number): SignIn => ({
    issuer: 'https://idp.example.com',
    subject: 's',
    email: 'alice@example.com',
    emailVerified: true,
    groups: [],
    amr,
    ...(authTime !== undefined ? { authTime } : {}),
    via: 'session',
  });
  const mfa10 = { amr: ['mfa'], maxAgeSeconds: 600 };

  it('met by a fresh sign-in with a listed method', () => {
    expect(stepUpProblem(mfa10, signIn(['pwd', 'mfa'], at(599)), now)).toBeUndefined();
  });

  it.each([
    ['no sign-in (a chat click)', undefined, /needs a fresh sign-in \(mfa\)/],
    ['one factor', signIn(['pwd'], at(10)), /needs a sign-in with mfa; yours used pwd/],
    ['too old', signIn(['pwd', 'mfa'], at(601)), /within the last 10 minutes/],
    ['no auth_time', signIn(['mfa']), /does not say when you authenticated/],
    ['auth_time in the future', signIn(['mfa'], at(-3600)), /does not say when you authenticated/],
  ])('not met: %s', (_case, who, message) => {
    expect(stepUpProblem(mfa10, who, now)).toMatch(message);
  });

  it('every list of a combined requirement must be met', () => {
    const both = { amr: ['mfa'], maxAgeSeconds: 600, allOf: [['hwk']] };
    expect(stepUpProblem(both, signIn(['mfa'], at(1)), now)).toMatch(/with hwk/);
    expect(stepUpProblem(both, signIn(['mfa', 'hwk'], at(1)), now)).toBeUndefined();
  });
});
