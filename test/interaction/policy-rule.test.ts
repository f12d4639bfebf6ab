/** The Cedar policy engine's canApprove as the interaction's eligibility rule. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policyRule } from '../../lambdas/review-core/eligibility.js';
import { canApprove } from '../../lambdas/shared/policy.js';
import { type Harness, startHarness, USERS } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.deps.canApprove = policyRule(canApprove);
});
afterAll(async () => {
  await h.close();
});

describe('policyRule(canApprove)', () => {
  it.each([
    ['a member of the plan group', USERS.alice, 'approved', undefined],
    ['someone outside the plan group', USERS.dave, 'refused', /not an eligible approver/],
    // Only Cedar refuses her: she is in the plan's group, and no invariant applies to her.
    ['a contractor on a prod request', USERS.heidi, 'refused', /approve-no-contractors-in-prod/],
  ])('gives %s (%s) the outcome %s', async (_who, user, outcome, why) => {
    // Prepare
    h.deps.policyGroups = async () => ['contractors'];
    const request = await h.seed();

    // Act
    const result = await h.send(h.click(user, 'approve', request.intentId));

    // Assess
    expect(result.outcome).toBe(outcome);
    if (why) {
      const refusal = (await h.verifiedChain(request.intentId)).at(-1);
      expect(refusal).toMatchObject({ kind: 'refused', data: { code: 'not-eligible' } });
      expect(String(refusal?.data.reason)).toMatch(why);
    }
  });
});
