/**
 * The Teams channel: one Bot Connector activity in, one review command to the
 * review core (../review-core/), Teams' answer out. It decides nothing.
 *
 * verify the Bot Framework token (./inbound-token.ts) -> parse the Universal
 * Action (./activity.ts) -> same tenant -> ReviewCommand (the activity id is
 * its idempotency key: a replayed activity is applied once) ->
 * `runReviewCommand` -> the new card in the invoke's answer, for the person
 * who clicked (with a refusal or a notice on top); every card of the request,
 * in Teams and Slack, is repainted by the core through the notifiers.
 *
 * Teams wants the new card in the click's HTTP answer (Slack acks and updates
 * later), so the core's synchronous outcome is rendered here.
 */

import { PARAM_BLOCK, readModification } from '../interaction/modals.js';
import type {
  ActorResolver,
  ChannelActor,
  ReviewCommand,
  ReviewCoreDeps,
  ReviewNotifier,
  ReviewOutcome,
  ReviewOutcomeCode,
} from '../review-core/contract.js';
import { APOLOGY, describeError, reviewState, runReviewCommand } from '../review-core/dispatch.js';
import { everyChannel } from '../review-core/notifiers.js';
import { type CardAction, claimedServiceUrl, parseActivity } from './activity.js';
import { ADAPTIVE_CARD_TYPE, type AdaptiveCard, messageCard, renderAdaptiveCard } from './adaptive-card.js';
import type { BotConnector } from './connector.js';
import { TEAMS_CHANNEL, teamsVoterId } from './directory.js';
import type { InboundVerifier } from './inbound-token.js';
import { TEAMS_STYLE, teamsNotifier } from './teams-notifier.js';

/** Dependencies of {@link handleTeamsActivity}: the core's, plus Teams. */
export interface TeamsDeps extends Omit<ReviewCoreDeps, 'resolveActor' | 'notifier' | 'style'> {
  verifier: InboundVerifier;
  /** Entra object id -> person (Microsoft Graph). */
  resolveActor: ActorResolver;
  connector: () => Promise<BotConnector>;
  /** The Entra tenant the bot serves: activities from any other tenant are refused. */
  tenantId: string;
  /** The other channels' notifiers (Slack), so a vote here repaints the cards there too. */
  otherChannels?: ReviewNotifier[];
}

/** An HTTP request as the handler gets it. */
export interface TeamsHttpRequest {
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
}

/** What happened, one word per case; the handler emits a metric per outcome. */
export type TeamsOutcome =
  | 'token-rejected'
  | 'invalid-activity'
  | 'ignored'
  | 'wrong-tenant'
  | 'shown'
  | 'form-errors'
  | ReviewOutcomeCode;

/** The HTTP answer and the outcome. */
export interface TeamsResult {
  statusCode: number;
  body: string;
  contentType: string;
  outcome: TeamsOutcome;
  /** The refusal code of a rejected token or a refused command (logs, metrics, tests). */
  code?: string;
}

/** The content type of a Universal Action's error answer. */
export const ERROR_TYPE = 'application/vnd.microsoft.error';

const json = (body: unknown, outcome: TeamsOutcome, code?: string): TeamsResult => ({
  statusCode: 200,
  contentType: 'application/json',
  body: JSON.stringify(body),
  outcome,
  ...(code ? { code } : {}),
});

/** The invoke answer that shows `card` in place of the clicked one, for the person who clicked. */
const cardAnswer = (card: AdaptiveCard, outcome: TeamsOutcome, code?: string) =>
  json({ statusCode: 200, type: ADAPTIVE_CARD_TYPE, value: card }, outcome, code);

/** The invoke answer of an error Teams shows as such. */
const errorAnswer = (status: number, message: string, outcome: TeamsOutcome, code?: string) =>
  json(
    {
      statusCode: status,
      type: ERROR_TYPE,
      value: { code: status >= 500 ? 'InternalError' : 'BadRequest', message },
    },
    outcome,
    code,
  );

/** The core's dependencies with this channel's resolver, notifiers and style. */
function coreDeps(deps: TeamsDeps): ReviewCoreDeps {
  return {
    ...deps,
    resolveActor: deps.resolveActor,
    notifier: everyChannel(teamsNotifier(deps), ...(deps.otherChannels ?? [])),
    style: TEAMS_STYLE,
  };
}

/** Handles one request to the bot's messaging endpoint. Never throws. */
export async function handleTeamsActivity(deps: TeamsDeps, http: TeamsHttpRequest): Promise<TeamsResult> {
  const body = http.rawBody.toString('utf8');
  const check = await deps.verifier.verify(http.headers.authorization, claimedServiceUrl(body));
  if (!check.ok) {
    deps.logger.warn('Teams activity rejected', { code: check.code, reason: check.reason });
    return {
      statusCode: 401,
      body: 'invalid Bot Framework token',
      contentType: 'text/plain; charset=utf-8',
      outcome: 'token-rejected',
      code: check.code,
    };
  }
  const activity = parseActivity(body);
  if (activity.kind === 'invalid') {
    deps.logger.warn('invalid Teams activity', { reason: activity.reason });
    return {
      statusCode: 400,
      body: activity.reason,
      contentType: 'text/plain; charset=utf-8',
      outcome: 'invalid-activity',
    };
  }
  if (activity.kind === 'ignored')
    return { statusCode: 200, body: '', contentType: 'text/plain; charset=utf-8', outcome: 'ignored' };
  if (activity.tenantId !== deps.tenantId) {
    deps.logger.warn('Teams activity from another tenant refused', { tenant: activity.tenantId });
    return errorAnswer(403, 'Countersign serves another organisation; nothing changed.', 'wrong-tenant');
  }
  const core = coreDeps(deps);
  try {
    return await act(core, activity);
  } catch (error) {
    deps.logger.error('Teams activity failed; nothing was approved', { error: describeError(error) });
    return errorAnswer(500, APOLOGY, 'error');
  }
}

async function act(core: ReviewCoreDeps, action: CardAction): Promise<TeamsResult> {
  // The Entra object id is who the person is; without one (a guest of another directory, a bot) they resolve to nobody.
  const actor: ChannelActor = {
    channel: TEAMS_CHANNEL,
    userId: action.from.aadObjectId ?? action.from.id,
    replyTo: action.conversationId,
  };
  if (action.verb === 'refresh' || action.verb === 'view') {
    const state = await reviewState(core, action.requestId);
    if (!state) return cardAnswer(messageCard('Countersign has no such request.'), 'unknown-request');
    // Each person's own view: whether their approval (from this channel) is already counted.
    const mine = state.request.approvals.find((a) => a.slackUserId === teamsVoterId(actor.userId));
    const full = action.verb === 'view';
    const notice = mine && !full ? { notice: `You approved this request at ${mine.at}.` } : {};
    return cardAnswer(renderAdaptiveCard(state.request, { full, ...notice }), 'shown');
  }
  const command: ReviewCommand = {
    requestId: action.requestId,
    verb: action.verb,
    actor,
    ...(action.seenHash ? { seenHash: action.seenHash } : {}),
    // Teams sends each activity once; the same activity again is a replay and is applied once.
    ...(action.activityId ? { idempotency: action.activityId } : {}),
  };
  if (action.verb === 'deny') command.reason = action.reason ?? '';
  if (action.verb === 'modify') {
    const state = await reviewState(core, action.requestId);
    if (state?.request.review && state.request.status === 'PENDING') {
      const values = Object.fromEntries(
        Object.entries(action.inputs).map(([path, text]) => [`${PARAM_BLOCK}${path}`, { value: text }]),
      );
      const read = readModification(state.intent, state.request.review, values);
      if (!read.ok) {
        const message = Object.entries(read.errors)
          .map(
            ([block, error]) =>
              `${block.startsWith(PARAM_BLOCK) ? block.slice(PARAM_BLOCK.length) : 'form'}: ${error}`,
          )
          .join(' ');
        return cardAnswer(
          renderAdaptiveCard(state.request, { refusal: message }),
          'form-errors',
          'invalid-input',
        );
      }
      command.parameters = read.parameters;
    }
  }
  const outcome = await runReviewCommand(core, command);
  return answer(outcome);
}

/** The card the person who acted sees: the request as it stands, with what the core said on top. */
function answer(outcome: ReviewOutcome): TeamsResult {
  const code = outcome.refusal?.code;
  if (outcome.outcome === 'error') return errorAnswer(500, APOLOGY, 'error', code);
  const request = outcome.state?.request;
  if (!request?.intent) {
    const text = outcome.refusal?.message ?? outcome.notice ?? 'Countersign has no such request.';
    return cardAnswer(messageCard(text), outcome.outcome, code);
  }
  const card = renderAdaptiveCard(request, {
    ...(outcome.refusal ? { refusal: outcome.refusal.message } : {}),
    ...(outcome.notice ? { notice: outcome.notice } : {}),
  });
  return cardAnswer(card, outcome.outcome, code);
}
