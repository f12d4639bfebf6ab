/** The policy engine: outcomes, plan combination, fail-safe evaluation, and who may approve. */
import { describe, expect, it } from 'vitest';
import { type ApproverIdentity, createPolicyEngine, policyDirectory } from '../../lambdas/shared/policy.js';
import type { ReviewPlan } from '../../lambdas/shared/store.js';
import { buildPolicyBundle, policyBundleDigest } from '../../lib/policy-bundle.js';
import { DEFAULTS, intent, POLICY_DIR, policyDir, requestPolicy } from './helpers.js';

const engineFor = (files: Record<string, string>) => createPolicyEngine(buildPolicyBundle(policyDir(files)));
const allowProd = requestPolicy('@id("allow-prod-ec2")\n@outcome("allow")', 'resource.service == "ec2"');

describe('evaluateIntent', () => {
  it('no matching policy: review by the default group with the default timeout, and a warning', () => {
    const engine = engineFor({
      'a.cedar': requestPolicy('@id("dev")\n@outcome("allow")', 'resource.environment == "dev"'),
    });
    const verdict = engine.evaluateIntent({ intent: intent(), agentId: 'deploy-bot' }, DEFAULTS);
    expect(verdict).toMatchObject({
      outcome: 'review',
      policies: ['default-review'],
      review: { quorum: 1, timeoutSeconds: 3600, approverGroups: ['security-approvers'], approverEmails: [] },
    });
    expect(verdict.warnings.join()).toMatch(/no policy matched ec2:RunInstances in prod/);
  });

  it('an empty policy set never allows', () => {
    const engine = engineFor({});
    expect(engine.evaluateIntent({ intent: intent(), agentId: 'deploy-bot' }, DEFAULTS).outcome).toBe(
      'review',
    );
  });

  it('review beats allow', () => {
    const engine = engineFor({
      'allow.cedar': allowProd,
      'review.cedar': requestPolicy(
        '@id("review-prod")\n@outcome("review")',
        'resource.environment == "prod"',
      ),
    });
    const verdict = engine.evaluateIntent({ intent: intent(), agentId: 'deploy-bot' }, DEFAULTS);
    expect(verdict.outcome).toBe('review');
    expect(verdict.policies).toEqual(['review-prod']);
    expect(verdict.warnings).toEqual([]);
  });

  it('deny beats review and allow', () => {
    const engine = engineFor({
      'allow.cedar': allowProd,
      'review.cedar': requestPolicy(
        '@id("review-prod")\n@outcome("review")',
        'resource.environment == "prod"',
      ),
      'deny.cedar': requestPolicy('@id("no-ec2")', 'resource.action == "ec2:RunInstances"', 'forbid'),
    });
    const verdict = engine.evaluateIntent({ intent: intent(), agentId: 'deploy-bot' }, DEFAULTS);
    expect(verdict).toMatchObject({ outcome: 'deny', policies: ['no-ec2'] });
    expect(verdict.review).toBeUndefined();
  });

  it('allow when only an allow policy matches', () => {
    const engine = engineFor({ 'allow.cedar': allowProd });
    expect(engine.evaluateIntent({ intent: intent(), agentId: 'deploy-bot' }, DEFAULTS)).toMatchObject({
      outcome: 'allow',
      policies: ['allow-prod-ec2'],
      warnings: [],
    });
  });

  it('combines several review plans conservatively', () => {
    // Prepare
    const engine = engineFor({
      'a.cedar': requestPolicy(
        [
          '@id("a")',
          '@outcome("review")',
          '@quorum("2")',
          '@timeout("3600")',
          '@remind("1800,300")',
          '@approvers("group:security-approvers")',
          '@escalate("group:security-leads")',
          '@mask("parameters.password")',
          '@editable("parameters.rowLimit, parameters.durationMinutes")',
          '@breakglass("true")',
          '@responders("group:platform-oncall")',
        ].join('\n'),
        'true',
      ),
      'b.cedar': requestPolicy(
        [
          '@id("b")',
          '@outcome("review")',
          '@quorum("3")',
          '@timeout("900")',
          '@remind("600")',
          '@approvers("group:@Data-Owners, email:DPO@example.com")',
          '@mask("parameters.connectionString, parameters.password")',
          '@editable("parameters.rowLimit")',
        ].join('\n'),
        'resource.environment == "prod"',
      ),
      // No @editable: no say on editability; no @approvers: the default group.
      'c.cedar': requestPolicy('@id("c")\n@outcome("review")', 'resource.environment == "prod"'),
    });
    // Act
    const verdict = engine.evaluateIntent({ intent: intent(), agentId: 'deploy-bot' }, DEFAULTS);
    // Assess
    expect(verdict.outcome).toBe('review');
    expect(verdict.review).toEqual<ReviewPlan>({
      quorum: 3, // max
      timeoutSeconds: 900, // min
      approverGroups: ['data-owners', 'security-approvers'], // union (c adds the default group)
      approverEmails: ['dpo@example.com'],
      policies: ['a', 'b', 'c'],
      masked: ['connectionString', 'password'], // union
      editable: ['rowLimit'], // intersection of the policies that state it
      remindBeforeSeconds: [600, 300], // union, only inside the combined timeout
      escalateTo: ['group:security-leads'],
      breakGlass: false, // only when every matching policy allows it
      responderGroups: [],
      responderEmails: [],
    });
  });

  it('a policy referencing an attribute the intent lacks ends in review with a warning, never allow', () => {
    // Prepare: a bundle that skipped validation (the Lambda trusts its embedded
    // bundle, so this is the engine's own fail-safe, not the validator's).
    const policies = {
      'allow-small':
        '@id("allow-small")\n@outcome("allow")\npermit (principal, action, resource) when { resource.parameters.rowLimit < 100 };',
      'allow-all': '@id("allow-all")\n@outcome("allow")\npermit (principal, action, resource);',
    };
    const schema = buildPolicyBundle(POLICY_DIR).schema;
    const engine = createPolicyEngine({ schema, policies, digest: policyBundleDigest({ schema, policies }) });
    // Act
    const verdict = engine.evaluateIntent({ intent: intent(), agentId: 'deploy-bot' }, DEFAULTS);
    // Assess
    expect(verdict.outcome).toBe('review');
    expect(verdict.warnings.join('\n')).toMatch(/policy allow-small could not be evaluated .*rowLimit/);
    expect(verdict.review?.approverGroups).toEqual(['security-approvers']);
  });

  it('an erroring forbid is treated as possibly matching: review, not allow', () => {
    const policies = {
      'allow-all': '@id("allow-all")\n@outcome("allow")\npermit (principal, action, resource);',
      'deny-big':
        '@id("deny-big")\nforbid (principal, action, resource) when { resource.parameters.rowLimit > 100 };',
    };
    const schema = buildPolicyBundle(POLICY_DIR).schema;
    const engine = createPolicyEngine({ schema, policies, digest: policyBundleDigest({ schema, policies }) });
    const verdict = engine.evaluateIntent({ intent: intent(), agentId: 'deploy-bot' }, DEFAULTS);
    expect(verdict.outcome).toBe('review');
    expect(verdict.warnings.join('\n')).toMatch(/deny-big might have denied/);
  });

  it('a known parameter with the wrong type is left out, with a warning, and blocks allow', () => {
    const engine = engineFor({
      'a.cedar': requestPolicy(
        '@id("allow-small-export")\n@outcome("allow")',
        'resource.parameters has rowLimit && resource.parameters.rowLimit <= 100 || !(resource.parameters has rowLimit)',
      ),
    });
    const verdict = engine.evaluateIntent(
      { intent: intent({ parameters: { rowLimit: '100000000' } }), agentId: 'deploy-bot' },
      DEFAULTS,
    );
    expect(verdict.outcome).toBe('review');
    expect(verdict.warnings.join()).toMatch(/parameter "rowLimit" should be Long/);
  });

  it('exposes every top-level parameter as a string tag', () => {
    const engine = engineFor({
      'a.cedar': requestPolicy(
        '@id("no-public-acl")',
        'resource.hasTag("acl") && resource.getTag("acl") == "public-read"',
        'forbid',
      ),
    });
    const verdict = engine.evaluateIntent(
      { intent: intent({ parameters: { acl: 'public-read' } }), agentId: 'deploy-bot' },
      DEFAULTS,
    );
    expect(verdict).toMatchObject({ outcome: 'deny', policies: ['no-public-acl'] });
  });

  it('skips only policies that cannot match (scope index): disjunctions and negations are not pinned', () => {
    const engine = engineFor({
      'a.cedar': requestPolicy(
        '@id("either-env")\n@outcome("allow")',
        'resource.environment == "prod" || resource.environment == "dev"',
      ),
      'b.cedar': requestPolicy(
        '@id("not-prod")\n@outcome("review")',
        '!(resource.environment == "prod") && resource.service == "s3"',
      ),
      'c.cedar': requestPolicy(
        '@id("deny-list")',
        '["s3:DeleteBucket", "kms:ScheduleKeyDeletion"].contains(resource.action)',
        'forbid',
      ),
    });
    expect(engine.meta.get('either-env')?.scope).toEqual({});
    expect(engine.meta.get('not-prod')?.scope).toEqual({ services: ['s3'] });
    expect(engine.meta.get('deny-list')?.scope).toEqual({ services: ['s3', 'kms'] });
    const ask = (overrides: Parameters<typeof intent>[0]) =>
      engine.evaluateIntent({ intent: intent(overrides), agentId: 'deploy-bot' }, DEFAULTS);
    expect(ask({ environment: 'dev', action: 'ec2:RunInstances' })).toMatchObject({
      outcome: 'allow',
      policies: ['either-env'],
    });
    expect(ask({ environment: 'dev', action: 's3:PutObject' })).toMatchObject({
      outcome: 'review',
      policies: ['not-prod'],
    });
    expect(ask({ environment: 'staging', action: 'kms:ScheduleKeyDeletion' })).toMatchObject({
      outcome: 'deny',
      policies: ['deny-list'],
    });
    expect(ask({ environment: 'staging', action: 'kms:Decrypt' }).policies).toEqual(['default-review']);
  });

  it('refuses a tampered bundle', () => {
    const bundle = buildPolicyBundle(POLICY_DIR);
    expect(() =>
      createPolicyEngine({
        ...bundle,
        policies: {
          ...bundle.policies,
          extra: '@id("extra")\n@outcome("allow")\npermit (principal, action, resource);',
        },
      }),
    ).toThrow(/digest mismatch/);
  });

  it('finds the policies directory from COUNTERSIGN_POLICY_DIR or next to the module', () => {
    const saved = process.env.COUNTERSIGN_POLICY_DIR;
    try {
      delete process.env.COUNTERSIGN_POLICY_DIR;
      expect(policyDirectory().replace(/\/$/, '')).toBe(POLICY_DIR.replace(/\/$/, ''));
      process.env.COUNTERSIGN_POLICY_DIR = '/somewhere/else';
      expect(policyDirectory()).toBe('/somewhere/else');
    } finally {
      if (saved === undefined) delete process.env.COUNTERSIGN_POLICY_DIR;
      else process.env.COUNTERSIGN_POLICY_DIR = saved;
    }
  });
});

describe('canApprove', () => {
  const selfApproval = `@id("let-people-approve-their-own")
permit (principal, action == Countersign::Action::"approve", resource)
when { principal.email == resource.onBehalfOf };

@id("everyone-may-approve")
permit (principal, action == Countersign::Action::"approve", resource);
`;
  const engine = engineFor({
    'review.cedar': requestPolicy(
      '@id("review-all")\n@outcome("review")\n@approvers("group:security-approvers, email:grace@example.com")',
      'true',
    ),
    'approve.cedar': selfApproval,
  });
  const theIntent = intent();
  const plan = engine.evaluateIntent({ intent: theIntent, agentId: 'deploy-bot' }, DEFAULTS).review!;
  const ask = (approver: ApproverIdentity) =>
    engine.canApprove({ intent: theIntent, agentId: 'deploy-bot', plan, approver });

  it('allows a member of an approver group', () => {
    expect(ask({ slackUserId: 'U1', email: 'alice@example.com', groups: ['security-approvers'] })).toEqual({
      allowed: true,
      reason: 'member of @security-approvers',
      policies: ['review-all'],
    });
  });

  it('allows a named approver email, case-insensitively', () => {
    expect(ask({ slackUserId: 'U7', email: 'Grace@Example.com', groups: [] }).allowed).toBe(true);
  });

  it('a policy permitting self-approval is overridden: the on-behalf-of human is refused', () => {
    // carol is the on-behalf-of human and a member of the approver group; a policy permits her.
    const answer = ask({ slackUserId: 'U3', email: 'CAROL@example.com', groups: ['security-approvers'] });
    expect(answer.allowed).toBe(false);
    expect(answer.reason).toMatch(/on behalf of cannot approve/);
  });

  it('the agent owner is refused even in the approver group', () => {
    const answer = ask({ slackUserId: 'U9', email: 'owner@example.com', groups: ['security-approvers'] });
    expect(answer).toMatchObject({ allowed: false });
    expect(answer.reason).toMatch(/owner cannot approve/);
  });

  it('approve permits grant nothing: someone the plan does not name is refused', () => {
    const answer = ask({ slackUserId: 'U4', email: 'dave@example.com', groups: ['platform-oncall'] });
    expect(answer.allowed).toBe(false);
    expect(answer.reason).toMatch(/not an eligible approver .*@security-approvers, grace@example.com/);
  });

  it.each([
    [
      'a Slack bot or app user',
      { slackUserId: 'U8', email: 'bot@example.com', groups: ['security-approvers'], isBot: true },
    ],
    ['a bot id', { slackUserId: 'B0123ABC', email: 'bot@example.com', groups: ['security-approvers'] }],
    ['Slackbot', { slackUserId: 'USLACKBOT', email: 'slackbot@example.com', groups: ['security-approvers'] }],
    [
      'the agent itself',
      { slackUserId: 'deploy-bot', email: 'deploy-bot@example.com', groups: ['security-approvers'] },
    ],
  ])('agents never approve: %s is refused', (_what, approver) => {
    const answer = ask(approver);
    expect(answer.allowed).toBe(false);
    expect(answer.reason).toMatch(/agents and bots never approve/);
  });

  it.each([
    ['no email', { slackUserId: 'U5', groups: ['security-approvers'] }],
    ['a blank email', { slackUserId: 'U5', email: '  ', groups: ['security-approvers'] }],
    ['no Slack user id', { slackUserId: '', email: 'alice@example.com', groups: ['security-approvers'] }],
  ])('an unresolved identity is refused: %s', (_what, approver) => {
    expect(ask(approver)).toMatchObject({ allowed: false, reason: expect.stringMatching(/not resolved/) });
  });

  it('an approve forbid takes eligibility away and is named', () => {
    const strict = engineFor({
      'review.cedar': requestPolicy('@id("review-all")\n@outcome("review")', 'true'),
      'approve.cedar': `@id("no-contractors")\nforbid (principal, action == Countersign::Action::"approve", resource)\nwhen { principal.groups.contains("contractors") };\n`,
    });
    const p = strict.evaluateIntent({ intent: theIntent, agentId: 'deploy-bot' }, DEFAULTS).review!;
    const answer = strict.canApprove({
      intent: theIntent,
      agentId: 'deploy-bot',
      plan: p,
      approver: {
        slackUserId: 'U6',
        email: 'frank@example.com',
        groups: ['security-approvers', 'contractors'],
      },
    });
    expect(answer).toEqual({
      allowed: false,
      reason: 'forbidden by policy no-contractors',
      policies: ['no-contractors'],
    });
  });
});
