/**
 * Approve: a vote for the version of the intent the person saw. One vote per
 * person (conditional write); once the quorum is met the request is decided
 * once (./settle.ts).
 */
import type { ApproverRef } from '../shared/intent.js';
import { currentHash, type RequestItem, recordApproval } from '../shared/store.js';
import type { ReviewCommand, ReviewCoreDeps, ReviewOutcome } from './contract.js';
import {
  approverRef,
  audit,
  checkActor,
  decidedByOf,
  lateMessage,
  openRequest,
  refuse,
  refuseStale,
  seesCurrentIntent,
  stateOf,
  stopped,
  styleOf,
  type Voter,
} from './request.js';
import { settle } from './settle.js';

/** Checks and counts an approval. */
export async function processApprove(deps: ReviewCoreDeps, command: ReviewCommand): Promise<ReviewOutcome> {
  const open = await openRequest(deps, command);
  if ('outcome' in open) return stopped(open, open.request);
  const request = open.request;
  if (command.seenHash === undefined || !seesCurrentIntent(request, command.seenHash)) {
    // The card this click came from showed another version of the intent (it was modified since),
    // or the command names no version at all: an approval counts only for the version its voter saw.
    const refused = await refuseStale(
      deps,
      request,
      command,
      command.seenHash === undefined
        ? 'This Approve names no version of the request, so it cannot count. Approve from the current card.'
        : 'This request changed after your card was drawn (it was modified). Review the updated card before approving.',
    );
    await deps.notifier.requestChanged(request);
    return refused;
  }
  const checked = await checkActor(deps, request, command);
  if (!('ok' in checked)) {
    // The responder's own Approve click on a break-glass request: point them at the right path.
    const hint =
      checked.code === 'self-on-behalf-of' &&
      // Stryker disable next-line OptionalChaining: openRequest refuses a request without a review plan
      request.review?.breakGlass &&
      request.intent.context?.urgency === 'urgent'
        ? ' This urgent request allows break-glass: use *Break glass* and give a reason (it is announced to the approvers and reviewed afterwards).'
        : '';
    return stopped({ ...checked, message: `${checked.message}${hint}` }, request);
  }
  return approve(deps, request, command, checked.voter);
}

/** Records the vote for the checked version, then decides or shows progress. */
export async function approve(
  deps: ReviewCoreDeps,
  request: RequestItem,
  command: ReviewCommand,
  voter: Voter,
): Promise<ReviewOutcome> {
  const plan = request.review!;
  const vote: ApproverRef = approverRef(voter, deps.now().toISOString());
  // The vote counts only for the version that was checked (and that the card showed).
  const counted = await recordApproval(deps, request.intentId, vote, currentHash(request));
  if (counted.kind === 'changed') {
    const message = await refuse(
      deps,
      counted.request,
      command,
      undefined,
      'stale-form',
      'This request changed while your approval was being checked (it was modified). Review the updated card before approving.',
    );
    await deps.notifier.requestChanged(counted.request);
    return { outcome: 'refused', refusal: { code: 'stale-form', message }, state: stateOf(counted.request) };
  }
  if (counted.kind === 'already-voted') {
    // Concurrent votes can all be counted before one of them decides, so the count may exceed the quorum.
    const missing = plan.quorum - counted.request.approvals.length;
    return {
      outcome: 'already-voted',
      notice:
        missing > 0
          ? `You already approved this request; it needs ${missing} more approval${missing === 1 ? '' : 's'} from someone else.`
          : 'You already approved this request; it has the approvals it needs and is being decided.',
      state: stateOf(counted.request),
    };
  }
  if (counted.kind === 'not-pending') {
    return {
      outcome: 'late',
      refusal: { code: 'late', message: lateMessage(counted.request, styleOf(deps)) },
      ...(counted.request ? { state: stateOf(counted.request), decided: counted.request.decision } : {}),
    };
  }
  const current = counted.request;
  await audit(deps, current, command, voter, 'vote', {
    vote: 'approve',
    via: voter.via,
    approvals: current.approvals.length,
    quorum: plan.quorum,
  });
  return afterApproval(deps, command, voter, current);
}

/** Decides once the quorum is met; otherwise shows progress on the request's messages. */
export async function afterApproval(
  deps: ReviewCoreDeps,
  command: ReviewCommand,
  voter: Voter,
  current: RequestItem,
): Promise<ReviewOutcome> {
  const plan = current.review!;
  if (current.approvals.length < plan.quorum) {
    await deps.notifier.requestChanged(current);
    const missing = plan.quorum - current.approvals.length;
    return {
      outcome: 'voted',
      notice: `Your approval is recorded. ${missing} more approval${missing === 1 ? '' : 's'} needed.`,
      state: stateOf(current),
    };
  }
  const modified = current.modification;
  const reason =
    plan.quorum > 1
      ? `Approved by ${current.approvals.map((a) => a.email).join(', ')} (quorum ${plan.quorum})`
      : `Approved by ${voter.displayName}`;
  return settle(deps, command, voter, current, {
    status: 'APPROVED',
    automatic: false,
    reason: modified
      ? `${reason}, with modified parameters (${modified.diff.map((d) => d.path).join(', ')})`
      : reason,
    decidedAt: deps.now().toISOString(),
    approvers: current.approvals,
    policies: plan.policies,
    decidedBy: decidedByOf(voter),
    intentHash: currentHash(current),
    ...(modified ? { parameters: modified.parameters } : {}),
  });
}
