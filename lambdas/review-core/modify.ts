/**
 * Modify: an approver changes editable parameters before approving. Policy
 * evaluates the modified intent again; it is recorded (conditional on the
 * version the modifier saw) and counts as the modifier's approval only if it
 * stays within the same review and they could approve it as modified.
 */
import { approvedIntentHash } from '../shared/grants.js';
import type { Intent } from '../shared/intent.js';
import { requestFacts } from '../shared/registration.js';
import { currentHash, currentIntent, type Modification, recordModification } from '../shared/store.js';
import { afterApproval } from './approve.js';
import type { ReviewCommand, ReviewCoreDeps, ReviewOutcome } from './contract.js';
import { checkVoter, reviewPlanRule } from './eligibility.js';
import { diffParameters, judgeReevaluation } from './modification.js';
import type { Admitted } from './prepare.js';
import { approverRef, audit, lateMessage, refuse, stateOf, styleOf } from './request.js';

/** A modification: re-evaluate, then record it as the modifier's approval, or refuse. */
export async function modify(
  deps: ReviewCoreDeps,
  command: ReviewCommand,
  { request, voter, identity }: Admitted,
): Promise<ReviewOutcome> {
  const plan = request.review!;
  const before = currentIntent(request);
  const parameters = command.parameters ?? before.parameters;
  const read = diffParameters(before.parameters, parameters, plan);
  const invalid = (message: string, field = plan.editable[0] ?? 'parameters'): ReviewOutcome => ({
    outcome: 'invalid',
    refusal: { code: 'invalid-input', message, field },
    state: stateOf(request),
  });
  if (read.outside) return invalid('Only the parameters policy marks editable may change.', 'parameters');
  if (read.diff.length === 0) return invalid('Nothing was changed: use Approve instead.');
  const modifiedIntent: Intent = { ...request.intent, parameters };
  const newHash = approvedIntentHash(request.intent, parameters);
  const refuseModification = async (reason: string, data: Record<string, unknown> = {}) => {
    const message = await refuse(deps, request, command, undefined, 'modification-refused', reason, {
      data: { diff: read.diff, proposedHash: newHash, ...data },
    });
    // Shown on the first changed input: that is what policy objected to.
    return {
      outcome: 'refused' as const,
      refusal: { code: 'modification-refused', message, field: read.diff[0]!.path },
      state: stateOf(request),
    };
  };
  if (!deps.evaluateIntent)
    return refuseModification('policy cannot be evaluated here, so nothing may be modified');
  const verdict = await deps.evaluateIntent(
    { intent: modifiedIntent, agentId: request.agentId, verified: requestFacts(request) },
    {
      approverGroup: deps.approverGroup ?? plan.approverGroups[0] ?? 'approvers',
      timeoutSeconds: plan.timeoutSeconds,
    },
  );
  const judged = judgeReevaluation(plan, verdict);
  if (!judged.ok)
    return refuseModification(judged.reason, { outcome: verdict.outcome, policies: verdict.policies });
  // The modification counts as the modifier's approval, so they must be allowed to approve the
  // modified parameters too (approve policies may read them).
  const asModified = await checkVoter(
    { ...request, intent: modifiedIntent },
    identity,
    // Stryker disable next-line StringLiteral: the vote's own checks (owner, on-behalf-of) read no parameter and passed in checkActor; neither rule (plan, Cedar) reads the vote
    'approve',
    deps.canApprove ?? reviewPlanRule,
  );
  if (!asModified.ok)
    return refuseModification(`you could not approve the modified request: ${asModified.reason}`);

  const modification: Modification = {
    parameters,
    intentHash: newHash,
    fromHash: currentHash(request),
    diff: read.diff,
    by: approverRef(voter, deps.now().toISOString()),
    policies: verdict.policies,
  };
  const written = await recordModification(deps, request.intentId, modification);
  if (!written.won) {
    const message =
      written.request?.status === 'PENDING'
        ? 'Someone modified this request at the same moment; close this form and look at the card again.'
        : lateMessage(written.request, styleOf(deps));
    return {
      outcome: 'late',
      refusal: { code: 'late', message },
      ...(written.request ? { state: stateOf(written.request) } : {}),
    };
  }
  const current = written.request;
  await audit(
    deps,
    current,
    command,
    voter,
    'modified',
    {
      oldHash: modification.fromHash,
      newHash,
      diff: modification.diff,
      via: voter.via,
      reevaluation: { outcome: verdict.outcome, policies: verdict.policies, reason: verdict.reason },
      countsAsApproval: true,
      approvals: current.approvals.length,
      quorum: plan.quorum,
    },
    newHash,
  );
  const outcome = await afterApproval(deps, command, voter, current);
  return outcome.outcome === 'voted' ? { ...outcome, outcome: 'modified' } : outcome;
}
