/** The Cedar policy engine's canApprove as the interaction's eligibility rule. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policyRule } from '../../lambdas/interaction/eligibility.js';
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
    ['a member of the plan group', USERS.alice, 'approved'],
    ['someone outside the plan group', USERS.dave, 'refused'],
    ['the agent owner', USERS.erin, 'refused'],
  ])('gives %s (%s) the outcome %s', async (_who, user, outcome) => {
    // Prepare
    const request = await h.seed();

    // Act
    const result = await h.send(h.click(user, 'approve', request.intentId));

    // Assess
    expect(result.outcome).toBe(outcome);
  });
});
