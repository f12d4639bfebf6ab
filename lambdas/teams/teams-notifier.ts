/**
 * The review core's notifier in Teams' words: every Teams card sent for a
 * request is rebuilt from its state and put over the old activity, so
 * everyone sees who decided, when and why; reminders and escalations are
 * replies in the card's thread.
 */
import type {
  CoreLogger,
  MessageStyle,
  RequestItem,
  ReviewNotifier,
  SentMessage,
} from '../review-core/contract.js';
import { PLAIN_STYLE } from '../review-core/contract.js';
import { renderAdaptiveCard } from './adaptive-card.js';
import type { BotConnector } from './connector.js';
import { TEAMS_CHANNEL } from './directory.js';

/** People by their id, times in ISO, agent text as a JSON string literal (the card renders no markdown). */
export const TEAMS_STYLE: MessageStyle = PLAIN_STYLE;

/** The Teams messages of a request. */
export const teamsMessages = (request: Pick<RequestItem, 'messages'>): SentMessage[] =>
  (request.messages ?? []).filter((m) => m.channel === TEAMS_CHANNEL && m.serviceUrl);

/** The core's notifier over the Bot Connector. */
export function teamsNotifier(deps: {
  connector: () => Promise<BotConnector>;
  logger: CoreLogger;
}): ReviewNotifier {
  return {
    async requestChanged(request, note) {
      const messages = teamsMessages(request);
      if (messages.length === 0 || !request.intent) return;
      const card = renderAdaptiveCard(request, note ? { note } : {});
      for (const message of messages) {
        try {
          const connector = await deps.connector();
          await connector.updateCard(
            message.serviceUrl!,
            { conversationId: message.conversationId, activityId: message.messageId },
            card,
          );
        } catch (error) {
          // The decision stands; a stale card is cosmetic and the next update repaints it.
          deps.logger.warn('Teams card update failed', {
            requestId: request.intentId,
            error: (error as Error).message,
          });
        }
      }
    },
    // The post-hoc review item of a break-glass approval is posted in Slack.
    postHocAcknowledged: async () => {},
  };
}

/** Replies in the thread of every Teams card of a request (a reminder, an escalation). Throws on failure. */
export async function replyInThreads(
  connector: BotConnector,
  request: Pick<RequestItem, 'messages'>,
  text: string,
): Promise<number> {
  let sent = 0;
  for (const message of teamsMessages(request)) {
    await connector.reply(
      message.serviceUrl!,
      { conversationId: message.conversationId, activityId: message.messageId },
      { text },
    );
    sent += 1;
  }
  return sent;
}

/** Posts review cards in the configured Teams channel (the Review task's Teams poster). */
export function teamsPoster(teams: {
  connector: () => Promise<BotConnector>;
  serviceUrl: string;
  channelId: string;
  tenantId: string;
}): {
  post(request: RequestItem): Promise<SentMessage>;
  repaint(request: RequestItem, message: SentMessage): Promise<void>;
} {
  return {
    async post(request) {
      const connector = await teams.connector();
      const posted = await connector.createCard(
        teams.serviceUrl,
        { channelId: teams.channelId, tenantId: teams.tenantId },
        renderAdaptiveCard(request),
      );
      return {
        channel: TEAMS_CHANNEL,
        conversationId: posted.conversationId,
        messageId: posted.activityId,
        serviceUrl: teams.serviceUrl,
      };
    },
    async repaint(request, message) {
      const connector = await teams.connector();
      await connector.updateCard(
        message.serviceUrl ?? teams.serviceUrl,
        { conversationId: message.conversationId, activityId: message.messageId },
        renderAdaptiveCard(request),
      );
    },
  };
}
