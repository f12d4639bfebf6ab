/**
 * Deciding once: the single conditional write of a final decision, its audit
 * record, then the workflow's task token (SendTaskSuccess / SendTaskFailure)
 * and every message of the request repainted. Whoever loses the race is told
 * who decided; a workflow that stopped waiting ends the request EXPIRED.
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { appendAudit } from '../shared/audit.js';
import { currentHash, decide, finalize, type RequestDecision, type RequestItem } from '../shared/store.js';
import { REVIEW_ERROR } from '../shared/workflow.js';
import type { ReviewCommand, ReviewCoreDeps, ReviewOutcome } from './contract.js';
import { audit, lateMessage, stateOf, styleOf, type Voter } from './request.js';

/** Errors from SendTask* meaning the workflow is no longer waiting (it timed out or ended). */
export const TASK_ENDED = new Set(['TaskTimedOut', 'TaskDoesNotExist']);

/** Writes the decision once, audits it, then tells the workflow and the request's messages. */
export async function settle(
  deps: ReviewCoreDeps,
  command: ReviewCommand,
  voter: Voter,
  request: RequestItem,
  decision: RequestDecision,
  extra: Record<string, unknown> = {},
): Promise<ReviewOutcome> {
  const result = await decide(deps, request.intentId, decision);
  if (!result.won) {
    return {
      outcome: 'late',
      notice: lateMessage(result.request, styleOf(deps)),
      ...(result.request ? { state: stateOf(result.request), decided: result.request.decision } : {}),
    };
  }
  let decided = result.request;
  const approved = decision.status === 'APPROVED';
  // The human act that decided is audited here as a vote (an approval's vote or
  // modification is already in the chain); the final `decided` record, with the
  // grant, is Record's, the single writer of final records.
  if (!approved || decision.breakGlass) {
    await audit(deps, decided, command, voter, 'vote', {
      vote: approved ? 'approve' : 'deny',
      reason: decision.reason,
      via: voter.via,
      deciding: true,
      ...extra,
    });
  }
  // The token is read from the decided item: it never left DynamoDB.
  // Stryker disable next-line LogicalOperator: deciding keeps the token, so both name the same one
  const token = decided.taskToken ?? request.taskToken!;
  try {
    if (approved) {
      const output = JSON.stringify({ status: 'APPROVED', intentId: decided.intentId });
      await deps.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output }));
    } else {
      const cause = decision.reason.slice(0, 32_768);
      await deps.sfn.send(
        new SendTaskFailureCommand({ taskToken: token, error: REVIEW_ERROR.denied, cause }),
      );
    }
  } catch (error) {
    // Stryker disable next-line StringLiteral: an error without a name is rethrown whatever stands in for it
    const name = (error as { name?: string }).name ?? '';
    if (!TASK_ENDED.has(name)) throw error;
    deps.logger.warn('workflow had already ended when the decision arrived', {
      requestId: decided.intentId,
      error: name,
    });
    // Nobody waits for this decision any more. Record ends a timed-out review as
    // EXPIRED; when the execution itself is gone (TaskDoesNotExist) nothing would,
    // and the request would read as decided forever. End it here, fail closed.
    const expiredDecision: RequestDecision = {
      status: 'EXPIRED',
      automatic: true,
      reason: `the workflow was no longer waiting for a decision (${name}); an ended review is a denial`,
      decidedAt: deps.now().toISOString(),
      // Stryker disable next-line ArrayDeclaration: a stored request always holds its approvals list
      approvers: decided.approvals ?? [],
      // Stryker disable next-line OptionalChaining,ArrayDeclaration: a request decided here had a review plan
      policies: decided.review?.policies ?? [],
      intentHash: currentHash(decided),
    };
    const finalized = await finalize(deps, decided.intentId, expiredDecision);
    if (finalized.won) {
      await appendAudit(
        deps,
        { requestId: decided.intentId, createdAt: decided.createdAt },
        {
          kind: 'expired',
          actor: { type: 'system', component: 'interaction' },
          intentHash: expiredDecision.intentHash,
          data: { final: true, decision: expiredDecision, lateDecision: decision.status, error: name },
        },
      );
    }
    // Whoever finalized (this handler or Record), the messages show what is stored now.
    decided = finalized.request ?? decided;
    const note = approved
      ? ':warning: The review had already expired when this approval arrived; the action was not approved.'
      : ':warning: The review had already ended when this denial arrived.';
    await deps.notifier.requestChanged(decided, note);
    return {
      outcome: 'expired',
      notice: approved
        ? 'Too late: this review had already expired, so your approval did not approve the action.'
        : 'This review had already ended; the action was not approved.',
      state: stateOf(decided),
      ...(decided.decision ? { decided: decided.decision } : {}),
    };
  }
  await deps.notifier.requestChanged(decided);
  return { outcome: approved ? 'approved' : 'denied', state: stateOf(decided), decided: decision };
}
