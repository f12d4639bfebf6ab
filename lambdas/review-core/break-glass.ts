/**
 * Break glass: the responder the agent acts for approves their own urgent
 * request, with a reason, where every matching policy allows it. Decided once
 * like any approval. Record then announces it to the approvers with a post-hoc
 * review item another approver must acknowledge (./acknowledge.ts).
 */
import { currentHash } from '../shared/store.js';
import type { ReviewCommand, ReviewCoreDeps, ReviewOutcome } from './contract.js';
import type { Admitted } from './prepare.js';
import { approverRef, decidedByOf } from './request.js';
import { settle } from './settle.js';

/** The break-glass approval: decide, with the responder's reason kept for Record's notice. */
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
      approvers: [approverRef(voter, at)],
      // Stryker disable next-line OptionalChaining,ArrayDeclaration: openRequest refuses a request without a review plan
      policies: request.review?.policies ?? [],
      decidedBy: decidedByOf(voter),
      intentHash: currentHash(request),
      breakGlass: true,
      breakGlassReason: reason,
      ...(request.modification ? { parameters: request.modification.parameters } : {}),
    },
    { breakGlass: true, breakGlassReason: reason },
  );
  // The broadcast and the post-hoc review item are Record's (retried by the workflow), not this click's.
  return outcome;
}
