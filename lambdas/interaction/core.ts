/**
 * The Slack channel: one Slack interaction in, one review command to the
 * review core (../review-core/), Slack's answer out. It decides nothing.
 *
 * verify signature -> claim (timestamp, signature) against replays -> parse
 * -> ReviewCommand -> `runReviewCommand` -> answer in Slack's words.
 *
 * - Approve and Acknowledge are commands as clicked. Deny, Modify and Break
 *   glass are checked first (`stage: "check"`), then open a modal
 *   (`views.open`) whose signed `private_metadata` (./metadata.ts) binds the
 *   request, the verb, the intent version and the user; its
 *   `view_submission` becomes the filled-in command, which the core checks
 *   again in full.
 * - Refused, late and duplicate clickers get an ephemeral message saying why;
 *   a refused form submission gets Slack's `response_action: "errors"` answer.
 * - The card is repainted by the core through this channel's notifier
 *   (./slack-notifier.ts).
 */
import type { WebClient } from '@slack/web-api';
import type {
  ChannelActor,
  ReviewCommand,
  ReviewCoreDeps,
  ReviewNotifier,
  ReviewOutcome,
  ReviewOutcomeCode,
  ReviewVerb,
} from '../review-core/contract.js';
import {
  APOLOGY,
  describeError,
  refuseUnverified,
  reviewState,
  runReviewCommand,
} from '../review-core/dispatch.js';
import { everyChannel } from '../review-core/notifiers.js';
import { inlineValue } from '../shared/agent-text.js';
import { type IdentityResolver, identityResolverFor } from '../shared/identity.js';
import { MODAL_TTL_SECONDS, type ModalAction, signMetadata, verifyMetadata } from './metadata.js';
import {
  breakGlassModal,
  CALLBACK,
  denyModal,
  fullRequestModal,
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
import { ephemeral, type NotifierDeps, SLACK_STYLE, slackNotifier } from './slack-notifier.js';

export type { CoreLogger } from '../review-core/contract.js';

/** The channel's name in review commands and audit records. */
export const SLACK_CHANNEL = 'slack';

/** Dependencies of {@link handleInteraction}: the core's, plus Slack. */
export interface InteractionDeps extends Omit<ReviewCoreDeps, 'resolveActor' | 'notifier' | 'style'> {
  slack: Pick<WebClient, 'chat' | 'users' | 'usergroups' | 'views'>;
  signingSecret: string;
  /** @default the module-wide cached resolver of `slack` */
  identity?: IdentityResolver;
  /** The other channels' notifiers (Teams), so a vote here repaints the request's cards there too. */
  otherChannels?: ReviewNotifier[];
  /** Where a rate-limited card update goes (the poster's repaint queue); without it, it is only logged. */
  repaintLater?: NotifierDeps['repaintLater'];
}

/** What happened, one word per case; the handler emits a metric per outcome. */
export type InteractionOutcome =
  | 'signature-rejected'
  | 'replayed'
  | 'invalid-payload'
  | 'ignored'
  | 'form-opened'
  | 'form-errors'
  | Exclude<ReviewOutcomeCode, 'ready' | 'invalid'>;

/** The HTTP answer and the outcome. */
export interface InteractionResult {
  statusCode: number;
  body: string;
  outcome: InteractionOutcome;
  /** `application/json` for a view-submission answer with a body; text otherwise. */
  contentType?: string;
}

/** The core's dependencies, with this channel's identity resolver, notifier and style. */
function coreDeps(deps: InteractionDeps): ReviewCoreDeps {
  const identity = deps.identity ?? identityResolverFor(deps.slack);
  return {
    ...deps,
    // A Slack user id means nothing in another channel: only Slack actors are resolved here.
    resolveActor: async (actor, groups) =>
      actor.channel === SLACK_CHANNEL
        ? identity.resolve(actor.userId, groups)
        : { kind: 'unresolved', slackUserId: actor.userId, reason: `not a ${SLACK_CHANNEL} user` },
    notifier: everyChannel(slackNotifier(deps), ...(deps.otherChannels ?? [])),
    style: SLACK_STYLE,
  };
}

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
  let actor: ChannelActor | undefined;
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
    const core = coreDeps(deps);
    if (interaction.kind === 'submission') {
      submission = interaction;
      return await submit(deps, core, interaction);
    }
    actor = {
      channel: SLACK_CHANNEL,
      userId: interaction.userId,
      ...(interaction.channel ? { replyTo: interaction.channel } : {}),
    };
    const outcome = await click(deps, core, interaction, actor);
    return outcome === 'error'
      ? { statusCode: 500, body: 'internal error', outcome }
      : { statusCode: 200, body: '', outcome };
  } catch (error) {
    deps.logger.error('interaction failed; nothing was approved', { error: describeError(error) });
    if (submission) return formErrors(submission, APOLOGY, 'error');
    if (actor) await ephemeral(deps, actor.userId, actor.replyTo, APOLOGY);
    return { statusCode: 500, body: 'internal error', outcome: 'error' };
  }
}

function verbOf(action: VoteAction | ButtonAction): ReviewVerb {
  if (action.kind === 'vote') return action.vote;
  if (action.button === 'breakglass') return 'break-glass';
  if (action.button === 'acknowledge') return 'acknowledge';
  return action.button === 'modify' ? 'modify' : 'approve';
}

/** The Slack outcome of a core outcome. */
const slackOutcome = (outcome: ReviewOutcome['outcome'], form: boolean): InteractionOutcome =>
  outcome === 'ready' ? 'form-opened' : outcome === 'invalid' ? (form ? 'form-errors' : 'refused') : outcome;

/** Tells the clicker what the core said (a refusal, a late answer, progress). */
async function reply(deps: InteractionDeps, actor: ChannelActor, outcome: ReviewOutcome): Promise<void> {
  const text = outcome.refusal?.message ?? outcome.notice;
  if (text) await ephemeral(deps, actor.userId, actor.replyTo ?? outcome.state?.request.card?.channel, text);
}

async function click(
  deps: InteractionDeps,
  core: ReviewCoreDeps,
  action: VoteAction | ButtonAction,
  actor: ChannelActor,
): Promise<InteractionOutcome> {
  if (action.kind === 'button' && action.button === 'view-full')
    return showFullRequest(deps, core, action, actor);
  const verb = verbOf(action);
  const command: ReviewCommand = {
    requestId: action.requestId,
    verb,
    actor,
    ...(action.kind === 'vote' && action.seenHash ? { seenHash: action.seenHash } : {}),
  };
  if (verb === 'approve' || verb === 'acknowledge') {
    const outcome = await runReviewCommand(core, command);
    await reply(deps, actor, outcome);
    return slackOutcome(outcome.outcome, false);
  }
  const form: ModalAction = verb === 'deny' ? 'deny' : verb === 'break-glass' ? 'breakglass' : 'modify';
  return openForm(deps, core, action, { ...command, stage: 'check' }, form);
}

/** Deny, Modify, Break glass: check, then open the form with signed metadata. */
async function openForm(
  deps: InteractionDeps,
  core: ReviewCoreDeps,
  action: VoteAction | ButtonAction,
  command: ReviewCommand,
  form: ModalAction,
): Promise<InteractionOutcome> {
  const checked = await runReviewCommand(core, command);
  if (checked.outcome !== 'ready' || !checked.state) {
    await reply(deps, command.actor, checked);
    return slackOutcome(checked.outcome, false);
  }
  const { request, intent, intentHash } = checked.state;
  if (!action.triggerId) {
    await ephemeral(
      deps,
      command.actor.userId,
      command.actor.replyTo ?? request.card?.channel,
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
    intentHash,
    expiresAt: Math.min(expiry, nowSeconds + MODAL_TTL_SECONDS),
    userId: command.actor.userId,
  });
  const view =
    form === 'deny'
      ? denyModal(request, metadata)
      : form === 'breakglass'
        ? breakGlassModal(request, metadata)
        : modifyModal(request, intent, metadata);
  await deps.slack.views.open({ trigger_id: action.triggerId, view });
  return 'form-opened';
}

async function showFullRequest(
  deps: InteractionDeps,
  core: ReviewCoreDeps,
  action: ButtonAction,
  actor: ChannelActor,
): Promise<InteractionOutcome> {
  const state = await reviewState(core, action.requestId);
  if (!state) {
    await ephemeral(
      deps,
      actor.userId,
      actor.replyTo,
      `Countersign has no request ${inlineValue(action.requestId, 140)}.`,
    );
    return 'unknown-request';
  }
  if (!action.triggerId) return 'invalid-payload';
  // Read-only and masked like the card: anyone who can see the card may see it.
  await deps.slack.views.open({
    trigger_id: action.triggerId,
    view: fullRequestModal(state.request, state.intent),
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

/** The form's input block of a field the core names (`reason`, or an editable parameter path). */
const blockOf = (field: string) => (field === REASON_BLOCK ? REASON_BLOCK : `${PARAM_BLOCK}${field}`);

/** A submitted modal: verify its metadata, read it into a command, and let the core check and act. */
async function submit(
  deps: InteractionDeps,
  core: ReviewCoreDeps,
  submission: ViewSubmission,
): Promise<InteractionResult> {
  const nowSeconds = Math.floor(deps.now().getTime() / 1000);
  const checked = verifyMetadata(deps.signingSecret, submission.privateMetadata, nowSeconds);
  const claimedAction = Object.entries(CALLBACK).find(([, id]) => id === submission.callbackId)?.[0];
  let problem: string | undefined;
  if (!checked.ok) problem = checked.reason;
  else if (checked.metadata.userId !== submission.userId) problem = 'this form was opened for someone else';
  else if (claimedAction !== checked.metadata.action) problem = 'the form does not match its metadata';
  const actor: ChannelActor = { channel: SLACK_CHANNEL, userId: submission.userId };
  if (problem || !checked.ok) {
    const claimed = checked.ok ? checked.metadata.requestId : checked.claimed;
    const verb =
      claimedAction === 'breakglass' ? 'break-glass' : claimedAction === 'modify' ? 'modify' : 'deny';
    await refuseUnverified(core, { requestId: claimed, verb, actor }, problem!);
    return formErrors(submission, `Countersign refused this form: ${problem}. Nothing changed.`, 'refused');
  }
  const metadata = checked.metadata;
  const command: ReviewCommand = {
    requestId: metadata.requestId,
    verb: metadata.action === 'breakglass' ? 'break-glass' : metadata.action,
    actor,
    seenHash: metadata.intentHash,
  };
  if (metadata.action === 'modify') {
    // The form's inputs, typed like the values they replace; the core checks what changed.
    const state = await reviewState(core, metadata.requestId);
    if (state?.request.review && state.request.status === 'PENDING') {
      const read = readModification(state.intent, state.request.review, submission.values);
      if (!read.ok) return errorsAnswer(read.errors, 'form-errors');
      command.parameters = read.parameters;
    }
  } else {
    command.reason = submission.values[REASON_BLOCK]?.[REASON_BLOCK] ?? '';
  }
  const outcome = await runReviewCommand(core, command);
  const refusal = outcome.refusal;
  if (refusal) {
    const slack = slackOutcome(outcome.outcome, true);
    if (refusal.field && (refusal.field === REASON_BLOCK || blockOf(refusal.field) in submission.values))
      return errorsAnswer({ [blockOf(refusal.field)]: stripMrkdwn(refusal.message) }, slack);
    return formErrors(submission, stripMrkdwn(refusal.message), slack);
  }
  if (outcome.notice) {
    await ephemeral(deps, actor.userId, outcome.state?.request.card?.channel, outcome.notice);
  }
  return closeForm(slackOutcome(outcome.outcome, true));
}

const stripMrkdwn = (text: string) =>
  text.replace(/<!date\^\d+\^[^|]*\|([^>]*)>/g, '$1').replace(/<@([A-Z0-9]+)>/g, '$1');
