/**
 * Policy shadow mode: a `@mode("shadow")` policy is evaluated on every intent
 * and its would-be outcome is recorded, but it decides nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatExplain } from '../../cli/policy.js';
import { type EvaluateDeps, evaluate } from '../../lambdas/evaluate/core.js';
import { readChain } from '../../lambdas/shared/audit.js';
import { createPolicyEngine } from '../../lambdas/shared/policy.js';
import { verifyIntent } from '../../lambdas/shared/registration.js';
import { buildPolicyBundle, PolicyBundleError } from '../../lib/policy-bundle.js';
import { DEFAULTS, intent, POLICY_DIR, policyDir, requestPolicy } from '../policy/helpers.js';
import { makeIntent, sandboxVerification } from '../support/fixtures.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';
import { newIntentId } from '../support/loop.js';

const allowEc2 = requestPolicy('@id("allow-ec2")\n@outcome("allow")', 'resource.service == "ec2"');
const shadowForbidEc2 = requestPolicy(
  '@id("trial-no-ec2")\n@mode("shadow")',
  'resource.action == "ec2:RunInstances"',
  'forbid',
);
const engineFor = (files: Record<string, string>) => createPolicyEngine(buildPolicyBundle(policyDir(files)));

describe('@mode("shadow") in the policy engine', () => {
  it('a shadow forbid decides nothing: the enforced allow stands, the would-be deny is reported as a change', () => {
    // Prepare
    const engine = engineFor({ 'allow.cedar': allowEc2, 'trial.cedar': shadowForbidEc2 });

    // Act
    const verdict = engine.evaluateIntent({ intent: intent(), agentId: 'deploy-bot' }, DEFAULTS);

    // Assess
    expect(verdict.outcome).toBe('allow');
    expect(verdict.policies).toEqual(['allow-ec2']);
    expect(verdict.shadow).toEqual({
      outcome: 'deny',
      changed: true,
      policies: ['trial-no-ec2'],
      reason: expect.stringContaining('trial-no-ec2'),
    });
  });

  it('a shadow review that matches nothing leaves the would-be outcome equal: no change', () => {
    const engine = engineFor({
      'allow.cedar': allowEc2,
      'trial.cedar': requestPolicy(
        '@id("trial-review-s3")\n@mode("shadow")\n@outcome("review")',
        'resource.service == "s3"',
      ),
    });
    const verdict = engine.evaluateIntent({ intent: intent(), agentId: 'deploy-bot' }, DEFAULTS);
    expect(verdict.outcome).toBe('allow');
    expect(verdict.shadow).toMatchObject({ outcome: 'allow', changed: false, policies: [] });
  });

  it('a shadow review never adds its approvers or quorum to the enforced plan', () => {
    const engine = engineFor({
      'review.cedar': requestPolicy('@id("review-ec2")\n@outcome("review")', 'resource.service == "ec2"'),
      'trial.cedar': requestPolicy(
        '@id("trial-quorum")\n@mode("shadow")\n@outcome("review")\n@quorum("3")\n@approvers("group:cto-office")',
        'resource.service == "ec2"',
      ),
    });
    const verdict = engine.evaluateIntent({ intent: intent(), agentId: 'deploy-bot' }, DEFAULTS);
    expect(verdict.review).toMatchObject({ quorum: 1, policies: ['review-ec2'] });
    expect(verdict.review?.approverGroups).not.toContain('cto-office');
    expect(verdict.shadow).toMatchObject({ outcome: 'review', changed: false, policies: ['trial-quorum'] });
  });

  it('policy explain shows the would-be outcome beside the enforced one', () => {
    const engine = engineFor({ 'allow.cedar': allowEc2, 'trial.cedar': shadowForbidEc2 });
    const verdict = engine.evaluateIntent({ intent: intent(), agentId: 'deploy-bot' }, DEFAULTS);
    const lines = formatExplain({
      intentId: 'intent-test-0001',
      action: 'ec2:RunInstances',
      environment: 'prod',
      verdict,
      sources: {},
      asked: { groups: [], emails: [] },
      notes: [],
    });
    expect(lines).toContain('outcome:   ALLOW');
    expect(lines).toContain('shadow:    would be DENY (a change) by trial-no-ec2; decides nothing');
  });

  it('two engines of one bundle keep their own policy sets (Cedar’s registry is per process)', () => {
    // Prepare: engine A has chosen its set for a dev read before engine B, same bundle, chooses one for prod IAM.
    const bundle = buildPolicyBundle(POLICY_DIR);
    const facts = (environment: string) => ({
      owner: 'o@example.com',
      onBehalfOf: 'c@example.com',
      environment,
      declaredEnvironment: environment,
      environmentSource: 'resource' as const,
    });
    const devRead = {
      intent: intent({ action: 's3:GetObject', resource: 'arn:aws:s3:::dev-x/y', environment: 'dev' }),
      agentId: 'deploy-bot',
      verified: facts('dev'),
    };
    const prodIam = {
      intent: intent({ action: 'iam:AttachRolePolicy', resource: 'arn:aws:iam::1:role/x' }),
      agentId: 'deploy-bot',
      verified: facts('prod'),
    };
    const a = createPolicyEngine(bundle);
    expect(a.evaluateIntent(devRead, DEFAULTS).policies).toEqual(['allow-dev-read-only']);

    // Act
    createPolicyEngine(bundle).evaluateIntent(prodIam, DEFAULTS);

    // Assess: A still allows the dev read.
    expect(a.evaluateIntent(devRead, DEFAULTS).policies).toEqual(['allow-dev-read-only']);
  });

  it('a bundle without shadow policies carries no shadow verdict', () => {
    const verdict = engineFor({ 'allow.cedar': allowEc2 }).evaluateIntent(
      { intent: intent(), agentId: 'deploy-bot' },
      DEFAULTS,
    );
    expect(verdict.shadow).toBeUndefined();
  });

  it('refuses a shadow approval rule and an unknown mode, naming them', () => {
    const approveShadow =
      '@id("trial-approve")\n@mode("shadow")\nforbid (principal, action == Countersign::Action::"approve", resource);\n';
    const badMode = requestPolicy('@id("bad-mode")\n@mode("dry-run")\n@outcome("allow")', 'true');
    let error: unknown;
    try {
      buildPolicyBundle(policyDir({ 'a.cedar': approveShadow, 'b.cedar': badMode }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PolicyBundleError);
    expect((error as Error).message).toMatch(
      /trial-approve: @mode\("shadow"\) applies only to policies for Action::"request"/,
    );
    expect((error as Error).message).toMatch(/bad-mode: @mode\("dry-run"\) must be "shadow" or "enforce"/);
  });
});

describe('@mode("shadow") in Evaluate', () => {
  let aws: LocalAws;
  beforeAll(async () => {
    aws = await startLocalAws({ table: 'shadow-test', bucket: 'shadow-test' });
  });
  afterAll(() => aws.close());

  it('records the would-be outcome in the policy-evaluated audit record and acts on the enforced one', async () => {
    // Prepare
    const engine = engineFor({ 'allow.cedar': allowEc2, 'trial.cedar': shadowForbidEc2 });
    const trusted = sandboxVerification();
    const deps: EvaluateDeps = {
      ddb: aws.ddb,
      table: aws.table,
      now: () => new Date(),
      policy: engine.evaluateIntent,
      verify: (agentId, i) => verifyIntent(trusted, agentId, i),
      defaults: DEFAULTS,
    };
    const detail = makeIntent({
      intentId: newIntentId(),
      action: 'ec2:RunInstances',
      resource: 'arn:aws:ec2:us-east-1:123456789012:instance/*',
    });

    // Act
    const evaluation = await evaluate(deps, {
      id: 'evt-shadow',
      source: 'countersign.agent.deploy-bot',
      'detail-type': 'Privileged Action Requested',
      detail,
      executionId: 'exec-shadow',
    });

    // Assess
    const evaluated = (await readChain(deps, detail.intentId)).find((r) => r.kind === 'policy-evaluated');
    expect(evaluated?.data.outcome).toBe(evaluation.outcome);
    expect(evaluated?.data.shadow).toMatchObject({
      policies: ['trial-no-ec2'],
      outcome: 'deny',
      changed: true,
    });
    expect(evaluation).toMatchObject({ outcome: 'allow', policies: ['allow-ec2'] });
  });
});
