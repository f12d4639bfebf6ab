/** Deny: any single deny decides the request, with the person's reason (./settle.ts). */
import { currentHash } from '../shared/store.js';
import type { ReviewCommand, ReviewCoreDeps, ReviewOutcome } from './contract.js';
import type { Admitted } from './prepare.js';
import { decidedByOf } from './request.js';
import { settle } from './settle.js';

/** Decides DENIED with the denier's reason. */
export async function deny(
  deps: ReviewCoreDeps,
  command: ReviewCommand,
  { request, voter, reason }: Admitted,
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
      // Stryker disable next-line OptionalChaining,ArrayDeclaration: openRequest refuses a request without a review plan
      policies: request.review?.policies ?? [],
      decidedBy: decidedByOf(voter),
      intentHash: currentHash(request),
    },
    { denyReason: reason },
  );
}
