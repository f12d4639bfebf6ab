/**
 * The review core's notifier in Slack's words: repaint the review card
 * (`chat.update`), mark a break-glass approval's post-hoc review item (posted
 * by Record) acknowledged; and the ephemeral answer to the one person who acted.
 */
import type { WebClient } from '@slack/web-api';
import type { CoreLogger, MessageStyle, RequestItem, ReviewNotifier } from '../review-core/contract.js';
import { inlineValue } from '../shared/agent-text.js';
import { mention, renderCard, slackTime } from '../shared/card.js';
import { isSlackRateLimited } from '../shared/slack.js';

/** The Slack methods the notifier uses. */
export type NotifierSlack = Pick<WebClient, 'chat' | 'users' | 'usergroups'>;

/** What the notifier needs. */
export interface NotifierDeps {
  slack: NotifierSlack;
  logger: CoreLogger;
  /**
   * Hands a card whose update Slack rate-limited to the poster, which waits
   * out the Retry-After this handler cannot (it answers within Slack's 3 s).
   */
  repaintLater?: (
    request: RequestItem & { card: { channel: string; ts: string } },
    note?: string,
  ) => Promise<void>;
}

/** People as mentions, times as Slack dates (shown in each reader's time zone). */
export const SLACK_STYLE: MessageStyle = { person: mention, time: slackTime, value: inlineValue };

/** The core's notifier over Slack. */
export function slackNotifier(deps: NotifierDeps): ReviewNotifier {
  return {
    requestChanged: (request, note) => updateCard(deps, request, note),
    async postHocAcknowledged(request, by) {
      if (!request.postHoc) return;
      try {
        await deps.slack.chat.update({
          channel: request.postHoc.channel,
          ts: request.postHoc.ts,
          text: `Post-hoc review of ${inlineValue(request.intentId)} acknowledged`,
          blocks: [
            {
              type: 'section',
              text: {
                type: 'mrkdwn',
                text: `:white_check_mark: *Post-hoc review acknowledged* by ${mention(by.slackUserId)} at ${slackTime(by.at)} — break-glass approval of ${inlineValue(request.intentId)} by ${mention(request.decision?.decidedBy?.slackUserId ?? '')}.`,
              },
            },
          ],
        });
      } catch (error) {
        deps.logger.warn('post-hoc review item update failed', { error: (error as Error).message });
      }
    },
  };
}

/** Repaints the review card from the request's state. */
async function updateCard(deps: NotifierDeps, request: RequestItem, note?: string): Promise<void> {
  const where = request.card;
  if (!where) return;
  const card = renderCard(request, note ? { note } : {});
  try {
    await deps.slack.chat.update({
      channel: where.channel,
      ts: where.ts,
      text: card.text,
      blocks: card.blocks,
    });
  } catch (error) {
    // The decision stands whatever the card shows. A rate-limited update goes to the poster, which
    // can wait; any other failure is logged and the next update repaints the card.
    if (isSlackRateLimited(error) && deps.repaintLater)
      return handOver(deps.repaintLater, deps.logger, { ...request, card: where }, note);
    deps.logger.warn('card update failed', { requestId: request.intentId, error: (error as Error).message });
  }
}

/** Hands a rate-limited card update to the poster; a failed hand-over is logged (the card stays stale). */
async function handOver(
  repaintLater: NonNullable<NotifierDeps['repaintLater']>,
  logger: CoreLogger,
  request: RequestItem & { card: { channel: string; ts: string } },
  note: string | undefined,
): Promise<void> {
  try {
    await repaintLater(request, note);
    logger.warn('card update rate limited; the poster repaints it', { requestId: request.intentId });
  } catch (error) {
    logger.warn('card update rate limited and not handed to the poster', {
      requestId: request.intentId,
      error: (error as Error).message,
    });
  }
}

/** Tells one person something only they see, in the channel they clicked in (else the card's). */
export async function ephemeral(
  deps: { slack: NotifierSlack; logger: CoreLogger },
  user: string,
  channel: string | undefined,
  text: string,
): Promise<void> {
  if (!channel) return;
  try {
    await deps.slack.chat.postEphemeral({ channel, user, text });
  } catch (error) {
    deps.logger.warn('ephemeral message failed', { user, error: (error as Error).message });
  }
}
