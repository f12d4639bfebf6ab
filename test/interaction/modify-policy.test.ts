/** A modification counts as the modifier's approval, so approve policies judge the modified parameters. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRule } from '../../lambdas/review-core/eligibility.js';
import type { IntentVerdict } from '../../lambdas/shared/policy.js';
import { type Harness, startHarness, USERS } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

/** An approve rule that, like a Cedar approve policy reading `resource.parameters`, refuses big exports. */
const refusesBigExports: ApprovalRule = ({ request }) =>
  Number(request.intent.parameters.rowLimit) > 100_000
    ? { allowed: false, reason: 'nobody approves exports over 100,000 rows here' }
    : { allowed: true, via: 'group:security-approvers' };

describe('modify before approve', () => {
  it('refuses a modification the modifier could not approve, and changes nothing', async () => {
    // Prepare: the plan allows editing rowLimit, and policy re-evaluates the change to the same review.
    const request = await h.seed({
      intent: { action: 'data:Export', parameters: { rowLimit: 50_000 } },
      review: { editable: ['rowLimit'] },
    });
    h.deps.canApprove = refusesBigExports;
    h.deps.evaluateIntent = (): IntentVerdict => ({
      outcome: 'review',
      reason: 'review',
      policies: request.review!.policies,
      review: request.review!,
      warnings: [],
      policyDigest: 'sha256:test',
    });
    await h.send(h.click(USERS.alice, 'approve', request.intentId, { actionId: 'modify' }));
    const view = h.lastView('countersign.modify')!;

    // Act
    const answer = await h.send(h.submission(USERS.alice, view, { 'param:rowLimit': '500000' }));

    // Assess
    expect(answer.outcome).toBe('refused');
    expect(answer.body).toContain('nobody approves exports over 100,000 rows here');
    const stored = await h.request(request.intentId);
    expect(stored).toMatchObject({ status: 'PENDING', approvals: [] });
    expect(stored?.modification).toBeUndefined();
    expect((await h.verifiedChain(request.intentId)).at(-1)).toMatchObject({
      kind: 'refused',
      data: expect.objectContaining({ code: 'modification-refused' }),
    });
  });
});
