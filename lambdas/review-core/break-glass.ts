/**
 * Break glass: the responder the agent acts for approves their own urgent
 * request, with a reason, where every matching policy allows it. Decided once
 * like any approval, then announced to the approvers with a post-hoc review
 * item another approver must acknowledge (./acknowledge.ts).
 */
import { appendAudit } from '../shared/audit.js';
import { currentHash, setPostHoc } from '../shared/store.js';
import type { ReviewCommand, ReviewCoreDeps, ReviewOutcome } from './contract.js';
import type { Admitted } from './prepare.js';
import { settle } from './settle.js';

/** The break-glass approval: decide, broadcast, open the post-hoc review item. */
export async function breakGlass(
  deps: ReviewCoreDeps,
  command: ReviewCommand,
  { request, voter, reason }: Admitted,
): Promise<ReviewOutcome> {
  const at = deps.now().toISOString();
  const outcome = await settle(
    deps,
    command,
    voter,
    request,
    {
      status: 'APPROVED',
      automatic: false,
      reason: `Break-glass approval by ${voter.displayName} (the responder): ${reason}`,
      decidedAt: at,
      approvers: [{ slackUserId: voter.slackUserId, email: voter.email, at }],
      policies: request.review?.policies ?? [],
      decidedBy: { slackUserId: voter.slackUserId, email: voter.email },
      intentHash: currentHash(request),
      breakGlass: true,
      ...(request.modification ? { parameters: request.modification.parameters } : {}),
    },
    { breakGlass: true, breakGlassReason: reason },
  );
  if (outcome.outcome !== 'approved') return outcome;
  try {
    const item = await deps.notifier.breakGlassApproved(
      request,
      { userId: voter.slackUserId, displayName: voter.displayName },
      reason,
    );
    if (item) {
      await setPostHoc(deps, request.intentId, item);
      await appendAudit(
        deps,
        { requestId: request.intentId, createdAt: request.createdAt },
        {
          kind: 'reviewers-notified',
          actor: { type: 'system', component: 'interaction' },
          intentHash: currentHash(request),
          data: { breakGlass: true, postHocReview: item, broadcast: true },
        },
      );
    }
  } catch (error) {
    // The approval stands and is audited; the missing broadcast is an alarmable error, not a reversal.
    deps.logger.error('break-glass broadcast or post-hoc review item failed', {
      requestId: request.intentId,
      error: (error as Error).message,
    });
  }
  return outcome;
}
