/** verifyDecision: the last check before an approved action runs. */
import { describe, expect, it } from 'vitest';
import { approvedIntent, type DecisionDetail, verifyDecision } from '../../client/index.js';
import { intentHash } from '../../lambdas/shared/canonical.js';
import { approvedIntentHash } from '../../lambdas/shared/grants.js';
import { makeIntent } from '../support/fixtures.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');

function decisionFor(
  intent: ReturnType<typeof makeIntent>,
  overrides: Partial<DecisionDetail> = {},
): DecisionDetail {
  return {
    intentId: intent.intentId,
    agentId: 'deploy-bot',
    status: 'APPROVED',
    automatic: false,
    approvers: [{ slackUserId: 'U0ALICE01', email: 'alice@example.com', at: '2026-03-01T11:59:00.000Z' }],
    reason: 'approved by reviewers',
    intentHash: intentHash(intent),
    policies: ['review-prod-iam-change'],
    decidedAt: '2026-03-01T11:59:00.000Z',
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    grant: {
      grantId: '7f0c2a8e-0000-4000-8000-000000000001',
      expiresAt: '2026-03-01T12:10:00.000Z',
      singleUse: true,
    },
    ...overrides,
  };
}

describe('verifyDecision', () => {
  it('approved, same intent, grant valid: ok', () => {
    const intent = makeIntent();
    expect(verifyDecision(decisionFor(intent), intent, NOW)).toEqual({
      ok: true,
      grant: expect.objectContaining({ singleUse: true }),
    });
  });

  it('key order and surrounding whitespace do not matter (the schema trims as the workflow did)', () => {
    const intent = makeIntent();
    const reordered = { ...intent, justification: `  ${intent.justification}  ` };
    const shuffled = Object.fromEntries(Object.entries(reordered).reverse());
    expect(verifyDecision(decisionFor(intent), shuffled, NOW).ok).toBe(true);
  });

  it('hash mismatch: a changed parameter is refused', () => {
    const intent = makeIntent();
    const tampered = {
      ...intent,
      parameters: { ...intent.parameters, policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
    };
    expect(verifyDecision(decisionFor(intent), tampered, NOW)).toMatchObject({
      ok: false,
      code: 'hash-mismatch',
    });
  });

  it('modified parameters: the approved intent is ok, the original is refused naming the fix', () => {
    const intent = makeIntent();
    const parameters = { ...intent.parameters, roleName: 'payments-deployer-readonly' };
    const decision = decisionFor(intent, { parameters, intentHash: approvedIntentHash(intent, parameters) });
    expect(verifyDecision(decision, approvedIntent(intent, decision), NOW).ok).toBe(true);
    expect(verifyDecision(decision, intent, NOW)).toMatchObject({
      ok: false,
      code: 'parameters-modified',
      reason: expect.stringMatching(/approvedIntent/),
    });
  });

  it('expired grant is refused', () => {
    const intent = makeIntent();
    const decision = decisionFor(intent);
    expect(verifyDecision(decision, intent, new Date('2026-03-01T12:10:00.000Z'))).toMatchObject({
      ok: false,
      code: 'grant-expired',
    });
  });

  it.each(['DENIED', 'EXPIRED', 'CANCELLED'] as const)('%s is refused with its reason', (status) => {
    const intent = makeIntent();
    const decision = decisionFor(intent, { status, reason: 'not today', grant: undefined });
    expect(verifyDecision(decision, intent, NOW)).toEqual({
      ok: false,
      code: 'not-approved',
      reason: `decision is ${status}: not today`,
    });
  });

  it('a decision for another intent id is refused', () => {
    const intent = makeIntent();
    const other = makeIntent();
    expect(verifyDecision(decisionFor(other), intent, NOW)).toMatchObject({
      ok: false,
      code: 'intent-mismatch',
    });
  });

  it('an approval without a grant is refused', () => {
    const intent = makeIntent();
    expect(verifyDecision(decisionFor(intent, { grant: undefined }), intent, NOW)).toMatchObject({
      ok: false,
      code: 'no-grant',
    });
  });

  it('an invalid intent is refused naming the field', () => {
    const intent = makeIntent();
    expect(verifyDecision(decisionFor(intent), { ...intent, environment: 'PROD' }, NOW)).toMatchObject({
      ok: false,
      code: 'invalid-intent',
      reason: expect.stringContaining('environment'),
    });
  });
});
