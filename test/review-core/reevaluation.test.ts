/**
 * A modification is evaluated again by policy before it counts: refused when
 * policy would deny the modified request, when it would need another review,
 * or when the modifier could not approve it as modified; counted, with the
 * re-evaluation in its audit record, otherwise. Policies written for these
 * tests (a temporary policy directory with the repository's schema) make each
 * case reachable from a parameter an approver may edit; a second set, whose
 * review policy names no approvers, shows which default approver group the
 * re-evaluation uses. Driven through the test channel over dynalite.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ReviewCoreDeps } from '../../lambdas/review-core/contract.js';
import { policyRule } from '../../lambdas/review-core/eligibility.js';
import { approvedIntentHash } from '../../lambdas/shared/canonical.js';
import { createPolicyEngine, type PolicyEngine } from '../../lambdas/shared/policy.js';
import type { RequestItem, ReviewPlan } from '../../lambdas/shared/store.js';
import { buildPolicyBundle } from '../../lib/policy-bundle.js';
import { policyDir, requestPolicy } from '../policy/helpers.js';
import { DEMO, makeIntent } from '../support/fixtures.js';
import { type HarnessCore, startCore } from './core-harness.js';
import { testChannel } from './test-channel.js';

/** Production review by security, the role name editable; some role names change the outcome. */
const ROLE_POLICIES = {
  'review.cedar': requestPolicy(
    '@id("review-prod-roles")\n@outcome("review")\n@approvers("group:security-approvers")\n@editable("parameters.roleName")',
    'resource.environment == "prod"',
  ),
  'deny.cedar': requestPolicy(
    '@id("deny-root-role")\n@description("No agent attaches policies to the root role")',
    'resource.parameters has roleName && resource.parameters.roleName == "root"',
    'forbid',
  ),
  'admin.cedar': requestPolicy(
    '@id("review-prod-admin-roles")\n@outcome("review")\n@approvers("group:security-approvers")\n@quorum("2")',
    'resource.environment == "prod" && resource.parameters has roleName && resource.parameters.roleName like "*-admin"',
  ),
  'approve.cedar': [
    '@id("approve-breakglass-roles-by-leads")',
    '@description("Only security leads approve changes to break-glass roles")',
    'forbid (principal, action == Countersign::Action::"approve", resource)',
    'when { resource.parameters has roleName && resource.parameters.roleName like "*-breakglass" && !principal.groups.contains("security-leads") };',
    '',
  ].join('\n'),
};

/** A production review that leaves who approves to the deployment's default approver group. */
const DEFAULT_APPROVER_POLICIES = {
  'review.cedar': requestPolicy(
    '@id("review-prod-by-default-approvers")\n@outcome("review")\n@editable("parameters.roleName")',
    'resource.environment == "prod"',
  ),
};

let core: HarnessCore;
let roles: PolicyEngine;
let byDefault: PolicyEngine;

beforeAll(async () => {
  core = await startCore();
  roles = createPolicyEngine(buildPolicyBundle(policyDir(ROLE_POLICIES)));
  byDefault = createPolicyEngine(buildPolicyBundle(policyDir(DEFAULT_APPROVER_POLICIES)));
});
afterAll(async () => {
  await core.close();
});
beforeEach(() => {
  core.fakeAws.tasks.reset();
});

/** The test channel, asking `engine` (the re-evaluation and who may approve). */
const channelOf = (engine: PolicyEngine, extra: Partial<ReviewCoreDeps> = {}) =>
  testChannel({
    ...core.base,
    evaluateIntent: async (q, d) => engine.evaluateIntent(q, d),
    canApprove: policyRule((q) => engine.canApprove(q)),
    ...extra,
  });

/** A pending request with the review plan `engine` gives it (as Evaluate stores it), or `plan`. */
async function seedWith(engine: PolicyEngine, plan: Partial<ReviewPlan> = {}): Promise<RequestItem> {
  const intent = makeIntent();
  const verdict = engine.evaluateIntent(
    { intent, agentId: DEMO.agentId },
    { approverGroup: DEMO.approverGroup, timeoutSeconds: 3600 },
  );
  expect(verdict.outcome).toBe('review');
  return core.seed({ intent, review: { ...verdict.review, ...plan } });
}

const withRole = (request: RequestItem, roleName: string) => ({
  seenHash: request.intentHash,
  parameters: { ...request.intent.parameters, roleName },
});

/** The request is as it was: no modification, no vote, no decision, and the refusal audited. */
async function expectRefusedAndUnchanged(
  request: RequestItem,
  reason: string,
  data: Record<string, unknown>,
) {
  const now = await core.stored(request.intentId);
  expect(now?.status).toBe('PENDING');
  expect(now?.modification).toBeUndefined();
  expect(now?.approvals).toEqual([]);
  expect(core.fakeAws.tasks.calls).toEqual([]);
  const refusals = (await core.chainOf(request.intentId)).filter((r) => r.kind === 'refused');
  expect(refusals).toHaveLength(1);
  expect(refusals[0]?.intentHash).toBe(request.intentHash);
  expect(refusals[0]?.data).toMatchObject({ vote: 'modify', code: 'modification-refused', reason, ...data });
}

describe('a modification that policy re-evaluates', () => {
  it('is refused when policy would deny the modified request, with the policy in the audit record', async () => {
    // Prepare
    const request = await seedWith(roles);
    const modify = withRole(request, 'root');

    // Act
    const outcome = await channelOf(roles).send('t-alice', 'modify', request.intentId, modify);

    // Assess
    const reason =
      'Policy would deny the modified request: denied by policy deny-root-role (No agent attaches policies to the root role)';
    expect(outcome).toEqual({
      outcome: 'refused',
      refusal: { code: 'modification-refused', message: reason, field: 'roleName' },
      state: expect.objectContaining({ intentHash: request.intentHash }),
    });
    await expectRefusedAndUnchanged(request, reason, {
      diff: [{ path: 'roleName', from: 'payments-deployer', to: 'root' }],
      proposedHash: approvedIntentHash(request.intent, modify.parameters),
      outcome: 'deny',
      policies: ['deny-root-role'],
    });
  });

  it('is refused when the modified request would need more approvals than this review has', async () => {
    // Prepare
    const request = await seedWith(roles);

    // Act
    const outcome = await channelOf(roles).send(
      't-alice',
      'modify',
      request.intentId,
      withRole(request, 'payments-admin'),
    );

    // Assess
    const reason =
      'The modified request needs 2 approvals (this review has 1); ask the agent to submit it as a new request.';
    expect(outcome.refusal).toEqual({ code: 'modification-refused', message: reason, field: 'roleName' });
    await expectRefusedAndUnchanged(request, reason, {
      outcome: 'review',
      policies: ['review-prod-admin-roles', 'review-prod-roles'],
    });
  });

  it('is refused when an approve policy keeps the modifier from approving the request as modified', async () => {
    // Prepare: alice may approve the request as it is, not with a break-glass role.
    const request = await seedWith(roles);

    // Act
    const outcome = await channelOf(roles).send(
      't-alice',
      'modify',
      request.intentId,
      withRole(request, 'payments-breakglass'),
    );

    // Assess
    expect(outcome.outcome).toBe('refused');
    expect(outcome.refusal?.code).toBe('modification-refused');
    expect(outcome.refusal?.field).toBe('roleName');
    expect(outcome.refusal?.message).toMatch(
      /^you could not approve the modified request: .*approve-breakglass-roles-by-leads/,
    );
    await expectRefusedAndUnchanged(request, outcome.refusal!.message, {});
  });

  it('counts within the same review, and audits the re-evaluation with the modification', async () => {
    // Prepare
    const request = await seedWith(roles);
    const modify = withRole(request, 'payments-deployer-ro');

    // Act
    const outcome = await channelOf(roles).send('t-alice', 'modify', request.intentId, modify);

    // Assess
    expect(outcome.outcome).toBe('approved');
    expect(outcome.decided?.parameters).toEqual(modify.parameters);
    const newHash = approvedIntentHash(request.intent, modify.parameters);
    const modified = (await core.chainOf(request.intentId)).filter((r) => r.kind === 'modified');
    expect(modified.map((r) => [r.intentHash, r.data])).toEqual([
      [
        newHash,
        {
          oldHash: request.intentHash,
          newHash,
          diff: [{ path: 'roleName', from: 'payments-deployer', to: 'payments-deployer-ro' }],
          via: 'policy:review-prod-roles',
          reevaluation: {
            outcome: 'review',
            policies: ['review-prod-roles'],
            reason: 'review required by policy review-prod-roles',
          },
          countsAsApproval: true,
          approvals: 1,
          quorum: 1,
        },
      ],
    ]);
  });
});

describe('the default approver group a modification is re-evaluated with', () => {
  it("uses the deployment's approver group: a modification that would now go to another group is refused", async () => {
    // Prepare: the request was evaluated when the default group was security-approvers.
    const request = await seedWith(byDefault);
    const channel = channelOf(byDefault, { approverGroup: 'platform-approvers' });

    // Act
    const outcome = await channel.send(
      't-alice',
      'modify',
      request.intentId,
      withRole(request, 'payments-ro'),
    );

    // Assess
    expect(outcome.refusal?.message).toBe(
      'The modified request needs a different review (@platform-approvers); ask the agent to submit it as a new request.',
    );
  });

  it("uses the request's own approver group when the deployment names none, so the modification counts", async () => {
    // Prepare
    const request = await seedWith(byDefault);

    // Act
    const outcome = await channelOf(byDefault).send(
      't-alice',
      'modify',
      request.intentId,
      withRole(request, 'payments-ro'),
    );

    // Assess
    expect(outcome.outcome).toBe('approved');
    expect(outcome.decided?.policies).toEqual(['review-prod-by-default-approvers']);
  });

  it('falls back to @approvers when neither the deployment nor the request names a group, and refuses', async () => {
    // Prepare: a request whose review names a person only (its policy named her when it was evaluated).
    const request = await seedWith(byDefault, { approverGroups: [], approverEmails: ['alice@example.com'] });

    // Act
    const outcome = await channelOf(byDefault).send(
      't-alice',
      'modify',
      request.intentId,
      withRole(request, 'payments-ro'),
    );

    // Assess
    expect(outcome.refusal?.message).toBe(
      'The modified request needs a different review (@approvers); ask the agent to submit it as a new request.',
    );
    expect((await core.stored(request.intentId))?.modification).toBeUndefined();
  });
});
