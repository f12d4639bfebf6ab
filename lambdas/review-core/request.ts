/**
 * What every verb does first: load a request that is open for decisions,
 * resolve the person and apply the invariants and the eligibility rule; and
 * how a refusal or a human act lands in the audit trail.
 */
import { type SignInRef, signInRef } from '../identity/contract.js';
import { requestPageUrl, STEP_UP_REFUSAL, stepUpProblem } from '../identity/step-up.js';
import { appendAudit } from '../shared/audit.js';
import { showsCurrentIntent } from '../shared/card.js';
import type { ResolvedIdentity } from '../shared/identity.js';
import type { ApproverRef } from '../shared/intent.js';
import { requestFacts } from '../shared/registration.js';
import {
  currentHash,
  currentIntent,
  getRequest,
  type RequestDecision,
  type RequestItem,
} from '../shared/store.js';
import {
  type MessageStyle,
  PLAIN_STYLE,
  type ReviewCommand,
  type ReviewCoreDeps,
  type ReviewOutcome,
  type ReviewOutcomeCode,
} from './contract.js';
import {
  checkBreakGlass,
  checkVoter,
  type RefusalCode,
  reviewPlanRule,
  type VoterCheck,
} from './eligibility.js';

/** A person who passed the checks, as votes and decisions name them. */
export type Voter = {
  slackUserId: string;
  email: string;
  displayName: string;
  via: string;
  /** The channel they acted in. */
  channel: string;
  /** The IdP sign-in their channel verified, when there was one. */
  signIn?: SignInRef;
};

/** How a vote, a modification or an acknowledgement names the voter. */
export function approverRef(voter: Voter, at: string): ApproverRef {
  return { ...decidedByOf(voter), at };
}

/** How a decision names the person whose act decided it. */
export function decidedByOf(voter: Voter): NonNullable<RequestDecision['decidedBy']> {
  return {
    slackUserId: voter.slackUserId,
    email: voter.email,
    channel: voter.channel,
    ...(voter.signIn ? { signIn: voter.signIn } : {}),
  };
}

/** A refusal or late answer, with its code (and where to act instead, for a step-up). */
export type Stop = { outcome: ReviewOutcomeCode; message: string; code?: string; url?: string };

/** Refusal codes beyond the eligibility rule's. */
export type CoreRefusalCode =
  | RefusalCode
  | 'bad-metadata'
  | 'stale-form'
  | 'modification-refused'
  | typeof STEP_UP_REFUSAL;

/** Without the approve policies to ask, break-glass is refused (fail closed). */
const refuseUnchecked = async () => ({
  reason: 'the approve policies could not be consulted, so break-glass is unavailable',
  policies: [],
});

/** The channel's style, or plain text. */
export const styleOf = (deps: Pick<ReviewCoreDeps, 'style'>): MessageStyle => deps.style ?? PLAIN_STYLE;

/** Loads a request that is open for decisions, or says why it is not. */
export async function openRequest(
  deps: ReviewCoreDeps,
  command: ReviewCommand,
): Promise<{ request: RequestItem } | (Stop & { request?: RequestItem })> {
  const request = await getRequest(deps, command.requestId);
  if (!request)
    return {
      outcome: 'unknown-request',
      message: `Countersign has no request ${styleOf(deps).value(command.requestId, 140)}.`,
    };
  if (request.status !== 'PENDING')
    return { outcome: 'late', message: lateMessage(request, styleOf(deps)), request };
  if (request.expiresAt && deps.now().getTime() >= Date.parse(request.expiresAt)) {
    return {
      outcome: 'expired',
      message: `This review expired at ${styleOf(deps).time(request.expiresAt)}; it can no longer be decided.`,
      request,
    };
  }
  if (!request.review || !request.taskToken || !request.intent) {
    const message = await refuse(
      deps,
      request,
      command,
      undefined,
      'not-open',
      'this request is not open for review',
    );
    return { outcome: 'refused', message, request };
  }
  return { request };
}

/** Resolves the person and applies the invariants and the eligibility rule for what they try. */
export async function checkActor(
  deps: ReviewCoreDeps,
  request: RequestItem,
  command: ReviewCommand,
): Promise<{ ok: true; voter: Voter; identity: ResolvedIdentity } | Stop> {
  const groups = [
    ...new Set([
      ...request.review!.approverGroups,
      ...(request.review!.responderGroups ?? []),
      ...((await deps.policyGroups?.()) ?? []),
    ]),
  ];
  const identity = await deps.resolveActor(command.actor, groups);
  const rule = deps.canApprove ?? reviewPlanRule;
  const forPolicy = request.modification ? { ...request, intent: currentIntent(request) } : request;
  let verdict: VoterCheck =
    command.verb === 'break-glass'
      ? checkBreakGlass(request, identity)
      : await checkVoter(forPolicy, identity, command.verb === 'deny' ? 'deny' : 'approve', rule);
  if (verdict.ok && command.verb === 'break-glass') {
    const forbidden = await (deps.breakGlassForbids ?? refuseUnchecked)({
      intent: forPolicy.intent,
      agentId: request.agentId,
      verified: requestFacts(request),
      approver: {
        slackUserId: verdict.approver.slackUserId,
        email: verdict.approver.email,
        groups: verdict.approver.groups,
      },
    });
    if (forbidden) verdict = { ok: false, code: 'not-eligible', reason: forbidden.reason };
  }
  if (!verdict.ok) {
    const message = await refuse(deps, request, command, identity, verdict.code, verdict.reason);
    return { outcome: 'refused', message, code: verdict.code };
  }
  const stepUp = await checkStepUp(deps, request, command, identity);
  if (stepUp) return stepUp;
  const { slackUserId, email, displayName } = verdict.approver;
  const signIn = command.actor.signIn;
  return {
    ok: true,
    identity,
    voter: {
      slackUserId,
      email,
      displayName,
      via: verdict.via,
      channel: command.actor.channel,
      ...(signIn ? { signIn: signInRef(signIn) } : {}),
    },
  };
}

/**
 * A request whose policy asks for step-up counts an approval, a modification
 * or a break-glass only from a sign-in that meets it: a chat click carries
 * none. Refused (and audited) with the request's web page to go to instead.
 * Deny and acknowledge never need it.
 */
async function checkStepUp(
  deps: ReviewCoreDeps,
  request: RequestItem,
  command: ReviewCommand,
  identity: ResolvedIdentity,
): Promise<Stop | undefined> {
  const requirement = request.review?.stepUp;
  if (!requirement || command.verb === 'deny' || command.verb === 'acknowledge') return undefined;
  const problem = stepUpProblem(requirement, command.actor.signIn, deps.now());
  if (!problem) return undefined;
  const url = requestPageUrl(deps.webInboxUrl, request.intentId);
  const where = url
    ? ` Approve at ${url}`
    : ' This deployment configures no web inbox (webInboxUrl), so it cannot be approved';
  const message = await refuse(deps, request, command, identity, STEP_UP_REFUSAL, problem, {
    data: { stepUp: requirement, ...(url ? { url } : {}) },
  });
  return {
    outcome: 'refused',
    code: STEP_UP_REFUSAL,
    message: `${message}${where}.`,
    ...(url ? { url } : {}),
  };
}

/** Audits a refusal and returns the message for the person. */
export async function refuse(
  deps: ReviewCoreDeps,
  request: RequestItem,
  command: Pick<ReviewCommand, 'actor' | 'verb'>,
  identity: ResolvedIdentity | undefined,
  code: CoreRefusalCode,
  reason: string,
  options: { data?: Record<string, unknown> } = {},
): Promise<string> {
  await appendAudit(
    deps,
    { requestId: request.intentId, createdAt: request.createdAt },
    {
      kind: 'refused',
      actor: {
        type: 'human',
        slackUserId: command.actor.userId,
        ...(identity?.kind === 'human' ? { email: identity.email } : {}),
        channel: command.actor.channel,
        ...(command.actor.signIn ? { signIn: signInRef(command.actor.signIn) } : {}),
      },
      intentHash: currentHash(request),
      data: {
        vote: command.verb,
        code,
        reason,
        identity: identity?.kind ?? 'not-resolved',
        ...options.data,
      },
    },
  );
  deps.logger.warn('refused', {
    requestId: request.intentId,
    user: command.actor.userId,
    channel: command.actor.channel,
    verb: command.verb,
    code,
    reason,
  });
  const verb = command.verb === 'break-glass' ? 'break glass on' : command.verb;
  return code === 'modification-refused' || code === 'bad-metadata' || code === 'stale-form'
    ? reason
    : `You can't ${verb} this request: ${reason}.`;
}

/** Audits a human act (a vote, an acknowledgement) with the channel it came from. */
export function audit(
  deps: ReviewCoreDeps,
  request: RequestItem,
  command: ReviewCommand,
  voter: Voter,
  kind: 'vote' | 'acknowledged' | 'modified',
  data: Record<string, unknown>,
  intentHash = currentHash(request),
) {
  return appendAudit(
    deps,
    { requestId: request.intentId, createdAt: request.createdAt },
    {
      kind,
      actor: {
        type: 'human',
        slackUserId: voter.slackUserId,
        email: voter.email,
        channel: command.actor.channel,
        ...(voter.signIn ? { signIn: voter.signIn } : {}),
      },
      intentHash,
      data,
    },
  );
}

/** "Already approved by @x at …" for a request that is no longer pending. */
export function lateMessage(request: RequestItem | undefined, style: MessageStyle = PLAIN_STYLE): string {
  if (!request) return 'This request no longer exists.';
  const decision = request.decision;
  const status = request.status.toLowerCase();
  if (!decision) return `This request is already ${status}.`;
  const by = decision.decidedBy
    ? ` by ${style.person(decision.decidedBy.slackUserId)}`
    : decision.automatic
      ? ' by policy'
      : '';
  const reason = request.status === 'APPROVED' ? '' : ` Reason: ${style.value(decision.reason, 500)}`;
  return `This request was already ${status}${by} at ${style.time(decision.decidedAt)}.${reason}`;
}

/** The request as a channel renders it. */
export const stateOf = (request: RequestItem) => ({
  request,
  intent: currentIntent(request),
  intentHash: currentHash(request),
});

/** A stop (a refusal, a late or unknown request) as the outcome a channel shows. */
export const stopped = (stop: Stop, request?: RequestItem): ReviewOutcome => ({
  outcome: stop.outcome,
  refusal: { code: stop.code ?? stop.outcome, message: stop.message, ...(stop.url ? { url: stop.url } : {}) },
  ...(request ? { state: stateOf(request) } : {}),
});

/** Refuses (and audits) a command made on another version of the intent than the current one. */
export async function refuseStale(
  deps: ReviewCoreDeps,
  request: RequestItem,
  command: ReviewCommand,
  reason: string,
): Promise<ReviewOutcome> {
  const data = { data: { seenHash: command.seenHash ?? null, currentHash: currentHash(request) } };
  const message = await refuse(deps, request, command, undefined, 'stale-form', reason, data);
  return stopped({ outcome: 'refused', code: 'stale-form', message }, request);
}

/** Whether `seenHash` (a full hash, or a card's hash prefix) names the request's current intent. */
export const seesCurrentIntent = (request: RequestItem, seenHash: string) =>
  seenHash === currentHash(request) || showsCurrentIntent(request, seenHash);
