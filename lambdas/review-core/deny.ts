/** Deny: any single deny decides the request, with the person's reason (./settle.ts). */
import { currentHash, type RequestItem } from '../shared/store.js';
import type { ReviewCommand, ReviewCoreDeps, ReviewOutcome } from './contract.js';
import { admit } from './prepare.js';
import type { Voter } from './request.js';
import { settle } from './settle.js';

/** Checks a filled-in Deny in full, then decides DENIED once. */
export async function processDeny(deps: ReviewCoreDeps, command: ReviewCommand): Promise<ReviewOutcome> {
  const checked = await admit(deps, command);
  if ('outcome' in checked) return checked.outcome;
  const { request, voter, reason } = checked.admitted;
  return deny(deps, request, command, voter, reason);
}

/** Decides DENIED with the denier's reason. */
export async function deny(
  deps: ReviewCoreDeps,
  request: RequestItem,
  command: ReviewCommand,
  voter: Voter,
  reason: string,
): Promise<ReviewOutcome> {
  return settle(
    deps,
    command,
    voter,
    request,
    {
      status: 'DENIED',
      automatic: false,
      reason: `Denied by ${voter.displayName}: ${reason}`,
      decidedAt: deps.now().toISOString(),
      approvers: request.approvals,
      policies: request.review?.policies ?? [],
      decidedBy: { slackUserId: voter.slackUserId, email: voter.email },
      intentHash: currentHash(request),
    },
    { denyReason: reason },
  );
}
