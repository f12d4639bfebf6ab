/**
 * Who acts in the web inbox and the approval API: the person the IdP vouched
 * for in a verified token ({@link SignIn}), never anything the browser or the
 * caller says about itself. The review core resolves this actor with the
 * identity module's `signInResolver` (../identity/actor-resolver.ts); the
 * inbox's list of what a person may decide asks the same invariants and the
 * same rule the core asks ({@link mayApprove}), read-only.
 */
import type { SignIn } from '../identity/contract.js';
import type { ChannelActor, ReviewCoreDeps } from '../review-core/contract.js';
import { checkVoter, reviewPlanRule } from '../review-core/eligibility.js';
import { canonicalEmail, sameIdentity } from '../shared/email.js';
import { currentIntent, type RequestItem } from '../shared/store.js';

/** The inbox's channel name in review commands and audit records. */
export const WEB_CHANNEL = 'web';
/** The approval API's channel name. */
export const API_CHANNEL = 'api';

/** The channel actor of a verified sign-in: known by its canonical email, carrying the sign-in. */
export function actorOf(channel: typeof WEB_CHANNEL | typeof API_CHANNEL, signIn: SignIn): ChannelActor {
  const canonical = canonicalEmail(signIn.email);
  return {
    channel,
    userId: canonical.ok ? canonical.email : `${signIn.issuer}#${signIn.subject}`,
    signIn,
  };
}

/**
 * The core's own invariants and rule applied to this person approving this
 * request (the same groups asked, the modified intent checked), whatever its
 * status. Read-only: nothing is audited, so listing an inbox leaves no trace.
 */
async function approveCheck(
  deps: Pick<ReviewCoreDeps, 'resolveActor' | 'canApprove' | 'policyGroups'>,
  request: RequestItem,
  actor: ChannelActor,
): Promise<boolean> {
  if (!request.review || !request.intent) return false;
  const groups = [
    ...new Set([
      ...request.review.approverGroups,
      ...(request.review.responderGroups ?? []),
      ...((await deps.policyGroups?.()) ?? []),
    ]),
  ];
  const identity = await deps.resolveActor(actor, groups);
  const forPolicy = request.modification ? { ...request, intent: currentIntent(request) } : request;
  const verdict = await checkVoter(forPolicy, identity, 'approve', deps.canApprove ?? reviewPlanRule);
  return verdict.ok;
}

/** Whether this person may approve this pending request now (what the inbox lists). */
export async function mayApprove(
  deps: Pick<ReviewCoreDeps, 'resolveActor' | 'canApprove' | 'policyGroups'>,
  request: RequestItem,
  actor: ChannelActor,
): Promise<boolean> {
  return request.status === 'PENDING' && (await approveCheck(deps, request, actor));
}

/** Whether the person had a part in the request: it is theirs, or they voted, modified, decided or acknowledged it. */
function involved(request: RequestItem, email: string): boolean {
  const people = [
    request.verified?.owner,
    request.verified?.onBehalfOf,
    request.intent?.agent.owner,
    request.intent?.agent.onBehalfOf,
    request.modification?.by.email,
    request.decision?.decidedBy?.email,
    request.postHoc?.acknowledgedBy?.email,
    ...request.approvals.map((a) => a.email),
  ];
  return people.some((person) => sameIdentity(person, email));
}

/**
 * Whether the person may see the request at all: they may approve it (or
 * could have, once it is decided), or they had a part in it. Anyone else is
 * answered as if it did not exist, so request ids cannot be probed.
 */
export async function mayView(
  deps: Pick<ReviewCoreDeps, 'resolveActor' | 'canApprove' | 'policyGroups'>,
  request: RequestItem,
  actor: ChannelActor,
): Promise<boolean> {
  const signIn = actor.signIn;
  if (!signIn?.emailVerified || !request.intent) return false;
  return involved(request, signIn.email) || (await approveCheck(deps, request, actor));
}
