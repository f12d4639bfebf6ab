/**
 * Who may vote on a request. Two layers:
 * - invariants, in code, that no rule can turn off: an unresolved identity is
 *   refused, agents (bot and app users) never vote, and nobody approves their
 *   own action (the agent's owner, the human it acts on behalf of);
 * - an eligibility rule, injected, deciding who else may approve. The default
 *   reads the request's review plan; the Cedar policy engine replaces it by
 *   supplying another {@link ApprovalRule}.
 *
 * A deny is the fail-closed direction, so the owner and the on-behalf-of human
 * may deny (withdraw) their own request; anyone else needs the rule's consent
 * to deny too, so outsiders cannot shoot requests down.
 */
import { canonicalEmail, sameIdentity } from '../shared/email.js';
import type { HumanIdentity, ResolvedIdentity } from '../shared/identity.js';
import type { ApprovalAnswer, ApprovalQuestion } from '../shared/policy.js';
import { registeredAgents, requestFacts } from '../shared/registration.js';
import type { RequestItem } from '../shared/store.js';

/** The verdict of an eligibility rule. */
export type RuleVerdict = { allowed: true; via: string } | { allowed: false; reason: string };

/** Decides whether a resolved human may vote on a request (after the invariants passed). */
export type ApprovalRule = (input: {
  request: RequestItem;
  approver: HumanIdentity;
  vote: 'approve' | 'deny';
}) => RuleVerdict | Promise<RuleVerdict>;

/** Issue-2 rule: members of the plan's approver groups, or emails the plan lists. */
export const reviewPlanRule: ApprovalRule = ({ request, approver }) => {
  const plan = request.review;
  if (!plan) return { allowed: false, reason: 'the request has no review plan' };
  const group = plan.approverGroups.find((handle) => approver.groups.includes(handle));
  if (group) return { allowed: true, via: `group:${group}` };
  if (plan.approverEmails.some((email) => sameIdentity(email, approver.email))) {
    return { allowed: true, via: `email:${approver.email}` };
  }
  const groups = plan.approverGroups.map((handle) => `@${handle}`).join(' or ');
  return {
    allowed: false,
    reason: groups ? `you are not a member of ${groups}` : 'you are not one of the approvers of this request',
  };
};

/**
 * Adapts the policy engine's `canApprove` (Cedar) to an {@link ApprovalRule}.
 * Takes the function rather than importing it, so a handler that does not use
 * the engine does not load it.
 */
export function policyRule(canApprove: (question: ApprovalQuestion) => ApprovalAnswer): ApprovalRule {
  return ({ request, approver }) => {
    if (!request.review) return { allowed: false, reason: 'the request has no review plan' };
    const answer = canApprove({
      intent: request.intent,
      agentId: request.agentId,
      plan: request.review,
      approver: {
        slackUserId: approver.slackUserId,
        email: approver.email,
        groups: approver.groups,
        isBot: false,
      },
      verified: requestFacts(request),
    });
    return answer.allowed
      ? { allowed: true, via: `policy:${answer.policies.join(',') || 'review-plan'}` }
      : { allowed: false, reason: answer.reason };
  };
}

/** Why a voter was refused; stable codes for audit records and tests. */
export type RefusalCode =
  | 'unresolved'
  | 'agent'
  | 'self-owner'
  | 'self-on-behalf-of'
  | 'not-eligible'
  | 'not-open';

/** The outcome of {@link checkVoter}. */
export type VoterCheck =
  | { ok: true; approver: HumanIdentity; via: string }
  | { ok: false; code: RefusalCode; reason: string };

/**
 * Who is "self" on a request, canonically: the owner Evaluate bound from the
 * registration, the agent's owner in this handler's registry
 * (`COUNTERSIGN_AGENTS`, should it have changed since), the human it acts
 * for, and whatever owner the intent claims (Evaluate refuses a different
 * one; counting it too keeps requests stored before verification safe).
 */
function selfOf(request: RequestItem, email: string): { owner: boolean; principal: boolean } {
  const { owner, onBehalfOf } = request.intent.agent;
  const registry = registeredAgents();
  const registeredOwner = Object.hasOwn(registry, request.agentId)
    ? // Stryker disable next-line OptionalChaining: an own entry of a parsed registry is always an object
      registry[request.agentId]?.owner
    : undefined;
  return {
    owner:
      sameIdentity(email, request.verified?.owner) ||
      sameIdentity(email, registeredOwner) ||
      sameIdentity(email, owner),
    principal: sameIdentity(email, request.verified?.onBehalfOf) || sameIdentity(email, onBehalfOf),
  };
}

/** Refuses a human whose profile email is not acceptable as an identity (non-ASCII, lookalike, punycode). */
function unacceptableEmail(identity: HumanIdentity): VoterCheck | undefined {
  const canonical = canonicalEmail(identity.email);
  return canonical.ok
    ? undefined
    : { ok: false, code: 'unresolved', reason: `your email ${canonical.reason}` };
}

/** Applies the invariants, then the rule. */
export async function checkVoter(
  request: RequestItem,
  identity: ResolvedIdentity,
  vote: 'approve' | 'deny',
  rule: ApprovalRule,
): Promise<VoterCheck> {
  if (identity.kind === 'unresolved') {
    return {
      ok: false,
      code: 'unresolved',
      reason: `your identity could not be resolved (${identity.reason})`,
    };
  }
  if (identity.kind === 'bot')
    return { ok: false, code: 'agent', reason: 'agents and bots never vote on requests' };
  const unacceptable = unacceptableEmail(identity);
  if (unacceptable) return unacceptable;
  const self = selfOf(request, identity.email);
  const isOwner = self.owner;
  const isPrincipal = self.principal;
  if (vote === 'approve' && isOwner) {
    return {
      ok: false,
      code: 'self-owner',
      reason: 'you own the agent that asked for this action; nobody approves their own action',
    };
  }
  if (vote === 'approve' && isPrincipal) {
    return {
      ok: false,
      code: 'self-on-behalf-of',
      reason: 'the agent acts on your behalf; nobody approves their own action',
    };
  }
  // Stryker disable next-line ConditionalExpression: an approving owner or principal was refused just above
  if (vote === 'deny' && (isOwner || isPrincipal)) {
    return { ok: true, approver: identity, via: isOwner ? 'owner-withdrawal' : 'principal-withdrawal' };
  }
  const verdict = await rule({ request, approver: identity, vote });
  if (!verdict.allowed) return { ok: false, code: 'not-eligible', reason: verdict.reason };
  return { ok: true, approver: identity, via: verdict.via };
}

/**
 * The one documented exception to "nobody approves their own action": on the
 * break-glass path the human the agent acts on behalf of may approve their
 * own request, with a mandatory reason, only when every matching review
 * policy allows break-glass (`plan.breakGlass`), the intent says
 * `context.urgency` is `urgent`, and policy names that human a responder
 * (`@responders`: a member of a responder group, or a listed email). The
 * agent chooses `onBehalfOf`; only policy makes someone a responder. Agents,
 * bots, unresolved identities and the agent's owner stay excluded, always.
 */
export function checkBreakGlass(request: RequestItem, identity: ResolvedIdentity): VoterCheck {
  if (identity.kind === 'unresolved') {
    return {
      ok: false,
      code: 'unresolved',
      reason: `your identity could not be resolved (${identity.reason})`,
    };
  }
  if (identity.kind === 'bot') return { ok: false, code: 'agent', reason: 'agents and bots never approve' };
  const unacceptable = unacceptableEmail(identity);
  if (unacceptable) return unacceptable;
  const self = selfOf(request, identity.email);
  if (self.owner) {
    return {
      ok: false,
      code: 'self-owner',
      reason:
        'you own the agent that asked for this action; owners never approve, not even on the break-glass path',
    };
  }
  if (!request.review?.breakGlass) {
    return { ok: false, code: 'not-eligible', reason: 'policy does not allow break-glass for this request' };
  }
  if (request.intent.context?.urgency !== 'urgent') {
    return {
      ok: false,
      code: 'not-eligible',
      reason: 'break-glass is only for requests the agent marks urgent',
    };
  }
  if (!self.principal) {
    return {
      ok: false,
      code: 'not-eligible',
      reason: 'only the responder the agent acts for may break glass; approvers use Approve',
    };
  }
  const plan = request.review;
  // Stryker disable next-line ArrayDeclaration: a placeholder responder is neither a group a person is in nor an email
  const group = (plan.responderGroups ?? []).find((handle) => identity.groups.includes(handle));
  // Stryker disable next-line ArrayDeclaration: a placeholder responder is neither a group a person is in nor an email
  const named = (plan.responderEmails ?? []).some((email) => sameIdentity(email, identity.email));
  if (!group && !named) {
    const responders =
      [...(plan.responderGroups ?? []).map((g) => `@${g}`), ...(plan.responderEmails ?? [])].join(', ') ||
      'nobody';
    return {
      ok: false,
      code: 'not-eligible',
      reason: `policy does not name you a break-glass responder for this action (responders: ${responders}); the agent acting for you does not make you one`,
    };
  }
  return { ok: true, approver: identity, via: 'break-glass' };
}
