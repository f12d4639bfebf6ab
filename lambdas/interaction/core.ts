/**
 * The interaction core: one Slack interaction in, at most one state change out.
 *
 * verify signature -> claim (timestamp, signature) against replays -> parse ->
 * load the request -> resolve the person -> invariants + eligibility ->
 * conditional vote / modification / decision write -> SendTaskSuccess /
 * SendTaskFailure -> update the card.
 *
 * - Approve is a vote. Deny, Modify and Break glass open a modal
 *   (`views.open`); its `view_submission` is acted on only when its signed
 *   `private_metadata` verifies (./metadata.ts) and everything is checked again.
 * - Refused, late and duplicate clickers get an ephemeral message saying why;
 *   a refused form submission gets Slack's `response_action: "errors"` answer.
 * Every state change is audited before the workflow hears of it, and any error
 * before SendTaskSuccess leaves the review unapproved (it then ends as
 * EXPIRED, a denial): fail closed.
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { View } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import { type AuditDeps, appendAudit } from '../shared/audit.js';
import { escapeMrkdwn, mention, renderCard, showsCurrentIntent, slackTime } from '../shared/card.js';
import { approvedIntentHash } from '../shared/grants.js';
import { type IdentityResolver, identityResolverFor, type ResolvedIdentity } from '../shared/identity.js';
import type { ApproverRef, Intent } from '../shared/intent.js';
import { mentionTargets } from '../shared/mentions.js';
import type { IntentQuestion, IntentVerdict, PolicyDefaults } from '../shared/policy.js';
import { requestFacts, type VerifiedFacts } from '../shared/registration.js';
import {
  acknowledgePostHoc,
  currentHash,
  currentIntent,
  decide,
  finalize,
  getRequest,
  type Modification,
  type RequestDecision,
  type RequestItem,
  recordApproval,
  recordModification,
  setPostHoc,
} from '../shared/store.js';
import { REVIEW_ERROR } from '../shared/workflow.js';
import {
  type ApprovalRule,
  checkBreakGlass,
  checkVoter,
  type RefusalCode,
  reviewPlanRule,
  type VoterCheck,
} from './eligibility.js';
import { MODAL_TTL_SECONDS, type ModalAction, signMetadata, verifyMetadata } from './metadata.js';
import {
  breakGlassModal,
  CALLBACK,
  denyModal,
  fullRequestModal,
  judgeReevaluation,
  MAX_REASON,
  modifyModal,
  PARAM_BLOCK,
  REASON_BLOCK,
  readModification,
} from './modals.js';
import {
  type ButtonAction,
  type HttpRequest,
  parseInteraction,
  type ViewSubmission,
  type VoteAction,
} from './payload.js';
import { claimSignature, verifySlackSignature } from './signature.js';

/** The logging the core needs (Powertools' Logger fits). */
export interface CoreLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** Dependencies of {@link handleInteraction}. */
export interface InteractionDeps extends AuditDeps {
  sfn: Pick<SFNClient, 'send'>;
  slack: Pick<WebClient, 'chat' | 'users' | 'usergroups' | 'views'>;
  signingSecret: string;
  logger: CoreLogger;
  /** @default the module-wide cached resolver of `slack` */
  identity?: IdentityResolver;
  /** Who may vote beyond the invariants. @default reviewPlanRule */
  canApprove?: ApprovalRule;
  /** Further group handles whose membership the approval rule reads (the policies' `groups.contains`). */
  policyGroups?: () => Promise<readonly string[]>;
  /**
   * The approve policies' forbids for a break-glass responder (Cedar's
   * `approvePoliciesForbid`): break-glass replaces the self-approval invariant,
   * never the policies that keep someone from approving at all.
   */
  breakGlassForbids?: (input: {
    intent: Intent;
    agentId: string;
    approver: { slackUserId: string; email: string; groups: string[] };
    verified?: VerifiedFacts;
  }) => Promise<{ reason: string; policies: string[] } | undefined>;
  /**
   * Policy evaluation of a modified intent (Cedar's `evaluateIntent`). Without
   * it every modification is refused (fail closed).
   */
  evaluateIntent?: (
    input: IntentQuestion,
    defaults: PolicyDefaults,
  ) => IntentVerdict | Promise<IntentVerdict>;
  /** Default approver group handle for re-evaluation. @default the plan's first group */
  approverGroup?: string;
}

/** What happened, one word per case; the handler emits a metric per outcome. */
export type InteractionOutcome =
  | 'signature-rejected'
  | 'replayed'
  | 'invalid-payload'
  | 'ignored'
  | 'unknown-request'
  | 'refused'
  | 'voted'
  | 'already-voted'
  | 'approved'
  | 'denied'
  | 'late'
  | 'expired'
  | 'form-opened'
  | 'form-errors'
  | 'modified'
  | 'acknowledged'
  | 'error';

/** The HTTP answer and the outcome. */
export interface InteractionResult {
  statusCode: number;
  body: string;
  outcome: InteractionOutcome;
  /** `application/json` for a view-submission answer with a body; text otherwise. */
  contentType?: string;
}

/** Errors from SendTask* meaning the workflow is no longer waiting (it timed out or ended). */
const TASK_ENDED = new Set(['TaskTimedOut', 'TaskDoesNotExist']);

/** Who is acting, on which request, from where. */
interface Actor {
  userId: string;
  requestId: string;
  /** Channel for ephemeral answers (else the card's). */
  channel?: string;
  /** What they tried, for messages and audit: approve, deny, modify, break-glass, acknowledge. */
  verb: 'approve' | 'deny' | 'modify' | 'break-glass' | 'acknowledge';
  /** For Approve: the start of the intent hash the clicked card showed. */
  seenHash?: string;
}

/** A refusal or late answer, for an ephemeral (clicks) or a form error (submissions). */
type Stop = { outcome: InteractionOutcome; message: string; code?: string };

/** Handles one request to the interaction endpoint. Never throws. */
export async function handleInteraction(
  deps: InteractionDeps,
  http: HttpRequest,
): Promise<InteractionResult> {
  const check = verifySlackSignature({
    rawBody: http.rawBody,
    timestamp: http.headers['x-slack-request-timestamp'],
    signature: http.headers['x-slack-signature'],
    signingSecret: deps.signingSecret,
    nowSeconds: Math.floor(deps.now().getTime() / 1000),
  });
  if (!check.ok) {
    deps.logger.warn('Slack request rejected', { reason: check.reason });
    return { statusCode: 401, body: 'invalid Slack signature', outcome: 'signature-rejected' };
  }
  let actor: Actor | undefined;
  let submission: ViewSubmission | undefined;
  try {
    if (!(await claimSignature(deps, check))) {
      deps.logger.warn('Slack request replayed', { timestamp: check.timestamp });
      return { statusCode: 401, body: 'replayed Slack request', outcome: 'replayed' };
    }
    const interaction = parseInteraction(http.rawBody.toString('utf8'));
    if (interaction.kind === 'invalid') {
      deps.logger.warn('invalid interaction payload', { reason: interaction.reason });
      return { statusCode: 400, body: interaction.reason, outcome: 'invalid-payload' };
    }
    if (interaction.kind === 'ignored') return { statusCode: 200, body: '', outcome: 'ignored' };
    if (interaction.kind === 'submission') {
      submission = interaction;
      return await submit(deps, interaction);
    }
    actor = {
      userId: interaction.userId,
      requestId: interaction.requestId,
      channel: interaction.channel,
      verb: verbOf(interaction),
      ...(interaction.kind === 'vote' && interaction.seenHash ? { seenHash: interaction.seenHash } : {}),
    };
    const outcome = await click(deps, interaction, actor);
    deps.logger.info('interaction handled', { outcome, requestId: actor.requestId, user: actor.userId });
    return { statusCode: 200, body: '', outcome };
  } catch (error) {
    deps.logger.error('interaction failed; nothing was approved', {
      error:
        error instanceof Error
          ? { name: error.name, message: error.message, stack: error.stack }
          : String(error),
      requestId: actor?.requestId,
    });
    const apology =
      'Countersign could not process this and approved nothing. Try again in a moment; if the card does not change, this review ends as a denial when it expires.';
    if (submission) return formErrors(submission, apology, 'error');
    if (actor) await ephemeral(deps, actor, undefined, apology);
    return { statusCode: 500, body: 'internal error', outcome: 'error' };
  }
}

function verbOf(action: VoteAction | ButtonAction): Actor['verb'] {
  if (action.kind === 'vote') return action.vote;
  if (action.button === 'breakglass') return 'break-glass';
  if (action.button === 'acknowledge') return 'acknowledge';
  return action.button === 'modify' ? 'modify' : 'approve';
}

async function click(
  deps: InteractionDeps,
  action: VoteAction | ButtonAction,
  actor: Actor,
): Promise<InteractionOutcome> {
  if (action.kind === 'vote' && action.vote === 'approve') return processApprove(deps, actor);
  if (action.kind === 'button' && action.button === 'acknowledge') return acknowledge(deps, actor);
  if (action.kind === 'button' && action.button === 'view-full') return showFullRequest(deps, action, actor);
  const form: ModalAction =
    action.kind === 'vote' ? 'deny' : action.button === 'breakglass' ? 'breakglass' : 'modify';
  return openForm(deps, action, actor, form);
}

/** Without the approve policies to ask, break-glass is refused (fail closed). */
const refuseUnchecked = async () => ({
  reason: 'the approve policies could not be consulted, so break-glass is unavailable',
  policies: [],
});

/** Loads a request that is open for decisions, or says why it is not. */
async function openRequest(
  deps: InteractionDeps,
  actor: Actor,
): Promise<{ request: RequestItem } | (Stop & { request?: RequestItem })> {
  const request = await getRequest(deps, actor.requestId);
  if (!request)
    return { outcome: 'unknown-request', message: `Countersign has no request \`${actor.requestId}\`.` };
  if (request.status !== 'PENDING') return { outcome: 'late', message: lateMessage(request), request };
  if (request.expiresAt && deps.now().getTime() >= Date.parse(request.expiresAt)) {
    return {
      outcome: 'expired',
      message: `This review expired at ${slackTime(request.expiresAt)}; it can no longer be decided.`,
      request,
    };
  }
  if (!request.review || !request.taskToken || !request.intent) {
    const message = await refuse(
      deps,
      request,
      actor,
      undefined,
      'not-open',
      'this request is not open for review',
    );
    return { outcome: 'refused', message, request };
  }
  return { request };
}

/** Resolves the person and applies the invariants and the eligibility rule for what they try. */
async function checkActor(
  deps: InteractionDeps,
  request: RequestItem,
  actor: Actor,
): Promise<{ ok: true; voter: Voter; identity: ResolvedIdentity } | Stop> {
  const groups = [
    ...new Set([
      ...request.review!.approverGroups,
      ...(request.review!.responderGroups ?? []),
      ...((await deps.policyGroups?.()) ?? []),
    ]),
  ];
  const identity = await (deps.identity ?? identityResolverFor(deps.slack)).resolve(actor.userId, groups);
  const rule = deps.canApprove ?? reviewPlanRule;
  const forPolicy = request.modification ? { ...request, intent: currentIntent(request) } : request;
  let verdict: VoterCheck =
    actor.verb === 'break-glass'
      ? checkBreakGlass(request, identity)
      : await checkVoter(forPolicy, identity, actor.verb === 'deny' ? 'deny' : 'approve', rule);
  if (verdict.ok && actor.verb === 'break-glass') {
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
    const message = await refuse(deps, request, actor, identity, verdict.code, verdict.reason);
    return { outcome: 'refused', message, code: verdict.code };
  }
  return { ok: true, identity, voter: { ...verdict.approver, via: verdict.via } };
}

async function processApprove(deps: InteractionDeps, actor: Actor): Promise<InteractionOutcome> {
  const open = await openRequest(deps, actor);
  if ('outcome' in open) {
    await ephemeral(deps, actor, open.request, open.message);
    return open.outcome;
  }
  const request = open.request;
  if (actor.seenHash !== undefined && !showsCurrentIntent(request, actor.seenHash)) {
    // The card this click came from showed another version of the intent (it was modified since).
    const message = await refuse(
      deps,
      request,
      actor,
      undefined,
      'stale-form',
      'This request changed after your card was drawn (it was modified). Review the updated card before approving.',
      { data: { seenHash: actor.seenHash, currentHash: currentHash(request) } },
    );
    await ephemeral(deps, actor, request, message);
    await updateCard(deps, request);
    return 'refused';
  }
  const checked = await checkActor(deps, request, actor);
  if (!('ok' in checked)) {
    // The responder's own Approve click on a break-glass request: point them at the right path.
    const hint =
      checked.code === 'self-on-behalf-of' &&
      request.review?.breakGlass &&
      request.intent.context?.urgency === 'urgent'
        ? ' This urgent request allows break-glass: use *Break glass* and give a reason (it is announced to the approvers and reviewed afterwards).'
        : '';
    await ephemeral(deps, actor, request, `${checked.message}${hint}`);
    return checked.outcome;
  }
  return approve(deps, request, actor, checked.voter);
}

/** Deny, Modify, Break glass: check, then open the form with signed metadata. */
async function openForm(
  deps: InteractionDeps,
  action: VoteAction | ButtonAction,
  actor: Actor,
  form: ModalAction,
): Promise<InteractionOutcome> {
  const open = await openRequest(deps, actor);
  if ('outcome' in open) {
    await ephemeral(deps, actor, open.request, open.message);
    return open.outcome;
  }
  const request = open.request;
  if (form === 'modify' && !request.review?.editable.length) {
    await ephemeral(deps, actor, request, 'Policy allows no changes to this request.');
    return 'refused';
  }
  const checked = await checkActor(deps, request, actor);
  if (!('ok' in checked)) {
    await ephemeral(deps, actor, request, checked.message);
    return checked.outcome;
  }
  if (!action.triggerId) {
    await ephemeral(
      deps,
      actor,
      request,
      'Slack sent no trigger to open the form with; click the button again.',
    );
    return 'invalid-payload';
  }
  const nowSeconds = Math.floor(deps.now().getTime() / 1000);
  const expiry = request.expiresAt
    ? Math.floor(Date.parse(request.expiresAt) / 1000)
    : nowSeconds + MODAL_TTL_SECONDS;
  const metadata = signMetadata(deps.signingSecret, {
    requestId: request.intentId,
    action: form,
    intentHash: currentHash(request),
    expiresAt: Math.min(expiry, nowSeconds + MODAL_TTL_SECONDS),
    userId: actor.userId,
  });
  const view: View =
    form === 'deny'
      ? denyModal(request, metadata)
      : form === 'breakglass'
        ? breakGlassModal(request, metadata)
        : modifyModal(request, currentIntent(request), metadata);
  await deps.slack.views.open({ trigger_id: action.triggerId, view });
  return 'form-opened';
}

async function showFullRequest(
  deps: InteractionDeps,
  action: ButtonAction,
  actor: Actor,
): Promise<InteractionOutcome> {
  const request = await getRequest(deps, actor.requestId);
  if (!request?.intent) {
    await ephemeral(deps, actor, undefined, `Countersign has no request \`${actor.requestId}\`.`);
    return 'unknown-request';
  }
  if (!action.triggerId) return 'invalid-payload';
  // Read-only and masked like the card: anyone who can see the card may see it.
  await deps.slack.views.open({
    trigger_id: action.triggerId,
    view: fullRequestModal(request, currentIntent(request)),
  });
  return 'form-opened';
}

/** Slack's answer that keeps a modal open and shows `message` on an input. */
function formErrors(
  submission: ViewSubmission,
  message: string,
  outcome: InteractionOutcome,
): InteractionResult {
  const block =
    REASON_BLOCK in submission.values ? REASON_BLOCK : (Object.keys(submission.values)[0] ?? REASON_BLOCK);
  return errorsAnswer({ [block]: message }, outcome);
}

function errorsAnswer(errors: Record<string, string>, outcome: InteractionOutcome): InteractionResult {
  const trimmed = Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, v.slice(0, 1900)]));
  return {
    statusCode: 200,
    contentType: 'application/json',
    body: JSON.stringify({ response_action: 'errors', errors: trimmed }),
    outcome,
  };
}

const closeForm = (outcome: InteractionOutcome): InteractionResult => ({
  statusCode: 200,
  body: '',
  outcome,
});

/** A submitted modal: verify its metadata, check everything again, then act. */
async function submit(deps: InteractionDeps, submission: ViewSubmission): Promise<InteractionResult> {
  const nowSeconds = Math.floor(deps.now().getTime() / 1000);
  const checked = verifyMetadata(deps.signingSecret, submission.privateMetadata, nowSeconds);
  const claimedAction = Object.entries(CALLBACK).find(([, id]) => id === submission.callbackId)?.[0];
  let problem: string | undefined;
  if (!checked.ok) problem = checked.reason;
  else if (checked.metadata.userId !== submission.userId) problem = 'this form was opened for someone else';
  else if (claimedAction !== checked.metadata.action) problem = 'the form does not match its metadata';
  if (problem || !checked.ok) {
    const claimed = checked.ok ? checked.metadata.requestId : checked.claimed;
    const request = claimed ? await getRequest(deps, claimed).catch(() => undefined) : undefined;
    const verb =
      claimedAction === 'breakglass' ? 'break-glass' : claimedAction === 'modify' ? 'modify' : 'deny';
    const actor: Actor = { userId: submission.userId, requestId: claimed ?? '(unknown)', verb };
    if (request) await refuse(deps, request, actor, undefined, 'bad-metadata', problem!);
    else deps.logger.warn('form submission refused', { reason: problem, claimed });
    return formErrors(submission, `Countersign refused this form: ${problem}. Nothing changed.`, 'refused');
  }
  const metadata = checked.metadata;
  const actor: Actor = {
    userId: submission.userId,
    requestId: metadata.requestId,
    verb: metadata.action === 'breakglass' ? 'break-glass' : metadata.action,
  };
  const open = await openRequest(deps, actor);
  if ('outcome' in open) return formErrors(submission, stripMrkdwn(open.message), open.outcome);
  const request = open.request;
  if (currentHash(request) !== metadata.intentHash) {
    const message = await refuse(
      deps,
      request,
      actor,
      undefined,
      'stale-form',
      'the request changed since this form was opened (it was modified); close it and look at the card again',
    );
    return formErrors(submission, message, 'refused');
  }

  // Validate the input before anything else, so an empty reason changes nothing.
  let reason = '';
  if (metadata.action !== 'modify') {
    reason = (submission.values[REASON_BLOCK]?.[REASON_BLOCK] ?? '').trim();
    if (!reason) return errorsAnswer({ [REASON_BLOCK]: 'A reason is required.' }, 'form-errors');
    if (reason.length > MAX_REASON)
      return errorsAnswer({ [REASON_BLOCK]: `At most ${MAX_REASON} characters.` }, 'form-errors');
  }
  const who = await checkActor(deps, request, actor);
  if (!('ok' in who)) return formErrors(submission, stripMrkdwn(who.message), who.outcome);

  if (metadata.action === 'deny') return closeForm(await deny(deps, request, actor, who.voter, reason));
  if (metadata.action === 'breakglass')
    return closeForm(await breakGlass(deps, request, actor, who.voter, reason));
  return modify(deps, request, actor, who.voter, who.identity, submission);
}

const stripMrkdwn = (text: string) =>
  text.replace(/<!date\^\d+\^[^|]*\|([^>]*)>/g, '$1').replace(/<@([A-Z0-9]+)>/g, '$1');

type Voter = { slackUserId: string; email: string; displayName: string; via: string };

async function approve(
  deps: InteractionDeps,
  request: RequestItem,
  actor: Actor,
  voter: Voter,
): Promise<InteractionOutcome> {
  const plan = request.review!;
  const vote: ApproverRef = {
    slackUserId: voter.slackUserId,
    email: voter.email,
    at: deps.now().toISOString(),
  };
  // The vote counts only for the version that was checked (and that the card showed).
  const counted = await recordApproval(deps, request.intentId, vote, currentHash(request));
  if (counted.kind === 'changed') {
    const message = await refuse(
      deps,
      counted.request,
      actor,
      undefined,
      'stale-form',
      'This request changed while your approval was being checked (it was modified). Review the updated card before approving.',
    );
    await ephemeral(deps, actor, counted.request, message);
    await updateCard(deps, counted.request);
    return 'refused';
  }
  if (counted.kind === 'already-voted') {
    // Concurrent votes can all be counted before one of them decides, so the count may exceed the quorum.
    const missing = plan.quorum - (counted.request?.approvals.length ?? 0);
    await ephemeral(
      deps,
      actor,
      request,
      missing > 0
        ? `You already approved this request; it needs ${missing} more approval${missing === 1 ? '' : 's'} from someone else.`
        : 'You already approved this request; it has the approvals it needs and is being decided.',
    );
    return 'already-voted';
  }
  if (counted.kind === 'not-pending') {
    await ephemeral(deps, actor, request, lateMessage(counted.request));
    return 'late';
  }
  const current = counted.request;
  await audit(deps, current, voter, 'vote', {
    vote: 'approve',
    via: voter.via,
    approvals: current.approvals.length,
    quorum: plan.quorum,
  });
  return afterApproval(deps, actor, voter, current);
}

/** Decides once the quorum is met; otherwise shows progress on the card. */
async function afterApproval(
  deps: InteractionDeps,
  actor: Actor,
  voter: Voter,
  current: RequestItem,
): Promise<InteractionOutcome> {
  const plan = current.review!;
  if (current.approvals.length < plan.quorum) {
    await updateCard(deps, current);
    const missing = plan.quorum - current.approvals.length;
    await ephemeral(
      deps,
      actor,
      current,
      `Your approval is recorded. ${missing} more approval${missing === 1 ? '' : 's'} needed.`,
    );
    return 'voted';
  }
  const modified = current.modification;
  const reason =
    plan.quorum > 1
      ? `Approved by ${current.approvals.map((a) => a.email).join(', ')} (quorum ${plan.quorum})`
      : `Approved by ${voter.displayName}`;
  return settle(deps, actor, voter, current, {
    status: 'APPROVED',
    automatic: false,
    reason: modified
      ? `${reason}, with modified parameters (${modified.diff.map((d) => d.path).join(', ')})`
      : reason,
    decidedAt: deps.now().toISOString(),
    approvers: current.approvals,
    policies: plan.policies,
    decidedBy: { slackUserId: voter.slackUserId, email: voter.email },
    intentHash: currentHash(current),
    ...(modified ? { parameters: modified.parameters } : {}),
  });
}

async function deny(
  deps: InteractionDeps,
  request: RequestItem,
  actor: Actor,
  voter: Voter,
  reason: string,
): Promise<InteractionOutcome> {
  return settle(
    deps,
    actor,
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

/** A modification: re-evaluate, then record it as the modifier's approval, or refuse. */
async function modify(
  deps: InteractionDeps,
  request: RequestItem,
  actor: Actor,
  voter: Voter,
  identity: ResolvedIdentity,
  submission: ViewSubmission,
): Promise<InteractionResult> {
  const plan = request.review!;
  const before = currentIntent(request);
  const read = readModification(before, plan, submission.values);
  if (!read.ok) return errorsAnswer(read.errors, 'form-errors');
  const modifiedIntent: Intent = { ...request.intent, parameters: read.parameters };
  const newHash = approvedIntentHash(request.intent, read.parameters);
  const refuseModification = async (reason: string, data: Record<string, unknown> = {}) => {
    await refuse(deps, request, actor, undefined, 'modification-refused', reason, {
      data: { diff: read.diff, proposedHash: newHash, ...data },
    });
    // Shown on the first changed input: that is what policy objected to.
    return errorsAnswer({ [`${PARAM_BLOCK}${read.diff[0]!.path}`]: reason }, 'refused');
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
    'approve',
    deps.canApprove ?? reviewPlanRule,
  );
  if (!asModified.ok)
    return refuseModification(`you could not approve the modified request: ${asModified.reason}`);

  const modification: Modification = {
    parameters: read.parameters,
    intentHash: newHash,
    fromHash: currentHash(request),
    diff: read.diff,
    by: { slackUserId: voter.slackUserId, email: voter.email, at: deps.now().toISOString() },
    policies: verdict.policies,
  };
  const written = await recordModification(deps, request.intentId, modification);
  if (!written.won) {
    const message =
      written.request?.status === 'PENDING'
        ? 'Someone modified this request at the same moment; close this form and look at the card again.'
        : stripMrkdwn(lateMessage(written.request));
    return formErrors(submission, message, 'late');
  }
  const current = written.request;
  await appendAudit(
    deps,
    { requestId: current.intentId, createdAt: current.createdAt },
    {
      kind: 'modified',
      actor: { type: 'human', slackUserId: voter.slackUserId, email: voter.email },
      intentHash: newHash,
      data: {
        oldHash: modification.fromHash,
        newHash,
        diff: modification.diff,
        via: voter.via,
        reevaluation: { outcome: verdict.outcome, policies: verdict.policies, reason: verdict.reason },
        countsAsApproval: true,
        approvals: current.approvals.length,
        quorum: plan.quorum,
      },
    },
  );
  const outcome = await afterApproval(deps, actor, voter, current);
  return closeForm(outcome === 'voted' ? 'modified' : outcome);
}

/** The break-glass approval: decide, broadcast, open the post-hoc review item. */
async function breakGlass(
  deps: InteractionDeps,
  request: RequestItem,
  actor: Actor,
  voter: Voter,
  reason: string,
): Promise<InteractionOutcome> {
  const at = deps.now().toISOString();
  const outcome = await settle(
    deps,
    actor,
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
  if (outcome !== 'approved') return outcome;
  const channel = request.card?.channel;
  if (!channel) return outcome;
  try {
    const asked = await mentionTargets(deps.slack, [
      ...request.review!.approverGroups.map((g) => `group:${g}`),
      ...request.review!.approverEmails.map((e) => `email:${e}`),
    ]);
    const text = `:rotating_light: *Break-glass approval* of \`${escapeMrkdwn(request.intent.action)}\` on \`${escapeMrkdwn(request.intent.resource)}\` (${escapeMrkdwn(request.intent.environment)}) by ${mention(voter.slackUserId)}, the responder the agent acts for. Reason: ${escapeMrkdwn(reason.replace(/\s+/g, ' '))}`;
    await deps.slack.chat.postMessage({ channel, text, reply_broadcast: true, thread_ts: request.card!.ts });
    const item = await deps.slack.chat.postMessage({
      channel,
      text: `Post-hoc review needed: break-glass approval of ${request.intentId}`,
      blocks: [
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: `:mag: *Post-hoc review* — ${asked.join(' ')}: ${mention(voter.slackUserId)} approved their own urgent request \`${request.intentId}\` (\`${escapeMrkdwn(request.intent.action)}\`) on the break-glass path.\n>${escapeMrkdwn(reason.slice(0, 500).replace(/\s+/g, ' '))}\nAn approver other than the responder must acknowledge it.`,
          },
        },
        {
          type: 'actions',
          block_id: 'posthoc',
          elements: [
            {
              type: 'button',
              action_id: 'acknowledge',
              style: 'primary',
              text: { type: 'plain_text', text: 'Acknowledge' },
              value: request.intentId,
            },
          ],
        },
      ],
    });
    if (item.ok && item.ts && item.channel) {
      await setPostHoc(deps, request.intentId, { channel: item.channel, ts: item.ts });
      await appendAudit(
        deps,
        { requestId: request.intentId, createdAt: request.createdAt },
        {
          kind: 'reviewers-notified',
          actor: { type: 'system', component: 'interaction' },
          intentHash: currentHash(request),
          data: { breakGlass: true, postHocReview: { channel: item.channel, ts: item.ts }, broadcast: true },
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

/** An approver acknowledges a break-glass approval's post-hoc review. */
async function acknowledge(deps: InteractionDeps, actor: Actor): Promise<InteractionOutcome> {
  const request = await getRequest(deps, actor.requestId);
  if (!request?.decision?.breakGlass || !request.postHoc || !request.review) {
    await ephemeral(deps, actor, request, 'There is no break-glass approval to acknowledge here.');
    return 'refused';
  }
  if (request.postHoc.acknowledgedBy) {
    await ephemeral(
      deps,
      actor,
      request,
      `Already acknowledged by ${mention(request.postHoc.acknowledgedBy.slackUserId)} at ${slackTime(request.postHoc.acknowledgedBy.at)}.`,
    );
    return 'late';
  }
  const checked = await checkActor(deps, request, actor);
  if (!('ok' in checked)) {
    await ephemeral(deps, actor, request, checked.message);
    return checked.outcome;
  }
  const by = {
    slackUserId: checked.voter.slackUserId,
    email: checked.voter.email,
    at: deps.now().toISOString(),
  };
  const won = await acknowledgePostHoc(deps, request.intentId, by);
  if (!won.won) {
    await ephemeral(deps, actor, request, 'Someone acknowledged it at the same moment.');
    return 'late';
  }
  await audit(deps, request, checked.voter, 'acknowledged', {
    breakGlass: true,
    postHocReview: 'acknowledged',
    via: checked.voter.via,
  });
  try {
    await deps.slack.chat.update({
      channel: request.postHoc.channel,
      ts: request.postHoc.ts,
      text: `Post-hoc review of ${request.intentId} acknowledged`,
      blocks: [
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: `:white_check_mark: *Post-hoc review acknowledged* by ${mention(by.slackUserId)} at ${slackTime(by.at)} — break-glass approval of \`${request.intentId}\` by ${mention(request.decision.decidedBy?.slackUserId ?? '')}.`,
          },
        },
      ],
    });
  } catch (error) {
    deps.logger.warn('post-hoc review item update failed', { error: (error as Error).message });
  }
  await updateCard(deps, won.request);
  return 'acknowledged';
}

/** Writes the decision once, audits it, then tells the workflow and the card. */
async function settle(
  deps: InteractionDeps,
  actor: Actor,
  voter: Voter,
  request: RequestItem,
  decision: RequestDecision,
  extra: Record<string, unknown> = {},
): Promise<InteractionOutcome> {
  const result = await decide(deps, request.intentId, decision);
  if (!result.won) {
    await ephemeral(deps, actor, request, lateMessage(result.request));
    return 'late';
  }
  let decided = result.request;
  const approved = decision.status === 'APPROVED';
  // The human act that decided is audited here as a vote (an approval's vote or
  // modification is already in the chain); the final `decided` record, with the
  // grant, is Record's, the single writer of final records.
  if (!approved || decision.breakGlass) {
    await audit(deps, decided, voter, 'vote', {
      vote: approved ? 'approve' : 'deny',
      reason: decision.reason,
      via: voter.via,
      deciding: true,
      ...extra,
    });
  }
  // The token is read from the decided item: it never left DynamoDB.
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
      approvers: decided.approvals ?? [],
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
    // Whoever finalized (this handler or Record), the card shows what is stored now.
    decided = finalized.request ?? decided;
    const note = approved
      ? ':warning: The review had already expired when this approval arrived; the action was not approved.'
      : ':warning: The review had already ended when this denial arrived.';
    await updateCard(deps, decided, note);
    await ephemeral(
      deps,
      actor,
      decided,
      approved
        ? 'Too late: this review had already expired, so your approval did not approve the action.'
        : 'This review had already ended; the action was not approved.',
    );
    return 'expired';
  }
  await updateCard(deps, decided);
  return approved ? 'approved' : 'denied';
}

/** Audits a refusal and returns the message for the person. */
async function refuse(
  deps: InteractionDeps,
  request: RequestItem,
  actor: Actor,
  identity: ResolvedIdentity | undefined,
  code: RefusalCode | 'bad-metadata' | 'stale-form' | 'modification-refused',
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
        slackUserId: actor.userId,
        ...(identity?.kind === 'human' ? { email: identity.email } : {}),
      },
      intentHash: currentHash(request),
      data: {
        vote: actor.verb,
        code,
        reason,
        identity: identity?.kind ?? 'not-resolved',
        ...options.data,
      },
    },
  );
  deps.logger.warn('refused', {
    requestId: request.intentId,
    user: actor.userId,
    verb: actor.verb,
    code,
    reason,
  });
  const verb = actor.verb === 'break-glass' ? 'break glass on' : actor.verb;
  return code === 'modification-refused' || code === 'bad-metadata' || code === 'stale-form'
    ? reason
    : `You can't ${verb} this request: ${reason}.`;
}

function audit(
  deps: InteractionDeps,
  request: RequestItem,
  voter: Voter,
  kind: 'vote' | 'acknowledged',
  data: Record<string, unknown>,
) {
  return appendAudit(
    deps,
    { requestId: request.intentId, createdAt: request.createdAt },
    {
      kind,
      actor: { type: 'human', slackUserId: voter.slackUserId, email: voter.email },
      intentHash: currentHash(request),
      data,
    },
  );
}

/** "Already approved by @x at …" for a request that is no longer pending. */
export function lateMessage(request: RequestItem | undefined): string {
  if (!request) return 'This request no longer exists.';
  const decision = request.decision;
  const status = request.status.toLowerCase();
  if (!decision) return `This request is already ${status}.`;
  const by = decision.decidedBy
    ? ` by ${mention(decision.decidedBy.slackUserId)}`
    : decision.automatic
      ? ' by policy'
      : '';
  const reason = request.status === 'APPROVED' ? '' : ` Reason: ${decision.reason}`;
  return `This request was already ${status}${by} at ${slackTime(decision.decidedAt)}.${reason}`;
}

async function updateCard(deps: InteractionDeps, request: RequestItem, note?: string): Promise<void> {
  if (!request.card) return;
  const card = renderCard(request, note ? { note } : {});
  try {
    await deps.slack.chat.update({
      channel: request.card.channel,
      ts: request.card.ts,
      text: card.text,
      blocks: card.blocks,
    });
  } catch (error) {
    // The decision stands; a stale card is cosmetic and the next update repaints it.
    deps.logger.warn('card update failed', { requestId: request.intentId, error: (error as Error).message });
  }
}

async function ephemeral(
  deps: InteractionDeps,
  actor: Actor,
  request: RequestItem | undefined,
  text: string,
): Promise<void> {
  const channel = actor.channel ?? request?.card?.channel;
  if (!channel) return;
  try {
    await deps.slack.chat.postEphemeral({ channel, user: actor.userId, text });
  } catch (error) {
    deps.logger.warn('ephemeral message failed', { user: actor.userId, error: (error as Error).message });
  }
}
