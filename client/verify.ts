/**
 * The last check before an agent runs an approved action: is this decision an
 * approval of exactly the intent about to run, and is its grant still valid?
 */
import { approvedIntentHash } from '../lambdas/shared/canonical.js';
import type { DecisionDetail, Intent } from '../lambdas/shared/intent.js';
import { describeIssues, intentSchema } from '../lambdas/shared/intent.js';

/** Why a decision does not allow the intent to run. */
export type VerifyFailure =
  | 'not-approved'
  | 'intent-mismatch'
  | 'hash-mismatch'
  | 'parameters-modified'
  | 'no-grant'
  | 'grant-expired'
  | 'invalid-intent';

/** Result of {@link verifyDecision}. */
export type VerifyResult =
  | { ok: true; grant: NonNullable<DecisionDetail['grant']> }
  | { ok: false; code: VerifyFailure; reason: string };

/**
 * The intent as approved: `intent` with its parameters replaced by the ones
 * an approver set, when the decision carries modified parameters. This is what
 * the agent must execute.
 */
export function approvedIntent(intent: Intent, decision: Pick<DecisionDetail, 'parameters'>): Intent {
  return decision.parameters ? { ...intent, parameters: decision.parameters } : intent;
}

/**
 * Checks a decision against the intent the agent is about to execute:
 * - the status is APPROVED and the decision is for this intent id;
 * - the hash of the intent about to run (parsed with the same schema, so
 *   text is trimmed as the workflow trimmed it) equals `decision.intentHash`.
 *   When an approver modified the parameters, the decision's hash is of the
 *   modified intent: run `approvedIntent(intent, decision)`, not the original
 *   (the original is refused with `parameters-modified`, naming the fix);
 * - the grant exists and has not expired at `now`.
 *
 * It does not consume the grant: call `consumeGrant` right before executing.
 */
export function verifyDecision(
  decision: DecisionDetail,
  intentAboutToExecute: Intent | Record<string, unknown>,
  now: Date = new Date(),
): VerifyResult {
  if (decision.status !== 'APPROVED') {
    return {
      ok: false,
      code: 'not-approved',
      reason: `decision is ${decision.status}${decision.reason ? `: ${decision.reason}` : ''}`,
    };
  }
  const parsed = intentSchema.safeParse(intentAboutToExecute);
  if (!parsed.success) {
    return { ok: false, code: 'invalid-intent', reason: `invalid intent: ${describeIssues(parsed.error)}` };
  }
  const intent = parsed.data;
  if (intent.intentId !== decision.intentId) {
    return {
      ok: false,
      code: 'intent-mismatch',
      reason: `decision is for intent ${decision.intentId}, not ${intent.intentId}`,
    };
  }
  const hash = approvedIntentHash(intent);
  if (hash !== decision.intentHash) {
    if (decision.parameters && approvedIntentHash(intent, decision.parameters) === decision.intentHash) {
      return {
        ok: false,
        code: 'parameters-modified',
        reason:
          'an approver modified the parameters: execute approvedIntent(intent, decision) (the decision’s parameters), not the original',
      };
    }
    return {
      ok: false,
      code: 'hash-mismatch',
      reason: `the intent about to run hashes to ${hash}, but ${decision.intentHash} was approved`,
    };
  }
  const grant = decision.grant;
  if (!grant) return { ok: false, code: 'no-grant', reason: 'the approval carries no grant' };
  const expires = Date.parse(grant.expiresAt);
  if (!Number.isFinite(expires) || expires <= now.getTime()) {
    return {
      ok: false,
      code: 'grant-expired',
      reason: `grant ${grant.grantId} expired at ${grant.expiresAt}`,
    };
  }
  return { ok: true, grant };
}
