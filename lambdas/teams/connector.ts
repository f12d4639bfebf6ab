/**
 * The bot's outbound client: the Bot Connector REST calls Countersign makes
 * (create a conversation with the card in the configured Teams channel,
 * update that card's activity in place, reply in its thread), authenticated
 * with the bot's client-credentials token, which is cached until shortly
 * before it expires. The app password lives in Secrets Manager
 * (./teams-secret.ts); the sandbox points the token URL and the service URL
 * at its fake Bot Connector on 127.0.0.1.
 *
 * Only service URLs Countersign stored or was configured with are called:
 * never one an inbound activity names, so a forged activity cannot make the
 * bot send its token elsewhere.
 */
import { ADAPTIVE_CARD_TYPE, type AdaptiveCard } from './adaptive-card.js';
import type { TokenSource } from './client-token.js';

/** The Bot Framework's token scope. */
export const BOT_FRAMEWORK_SCOPE = 'https://api.botframework.com/.default';

/** Where a posted card lives. */
export interface PostedActivity {
  conversationId: string;
  activityId: string;
}

/** The Bot Connector calls the Teams channel makes. */
export interface BotConnector {
  /** Posts a card as a new conversation (thread) in a Teams channel. */
  createCard(
    serviceUrl: string,
    target: { channelId: string; tenantId: string },
    card: AdaptiveCard,
  ): Promise<PostedActivity>;
  /** Replaces a posted card in place (everyone sees the new one). */
  updateCard(serviceUrl: string, posted: PostedActivity, card: AdaptiveCard): Promise<void>;
  /** Replies in the thread of a posted card. */
  reply(
    serviceUrl: string,
    posted: PostedActivity,
    reply: { text: string } | { card: AdaptiveCard },
  ): Promise<string>;
}

/** Options of {@link botConnector}. */
export interface ConnectorOptions {
  /** The bot's client-credentials token for the Bot Framework scope. */
  token: TokenSource;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Per-call timeout. @default 5000 */
  timeoutMs?: number;
}

/** A Bot Connector call that failed. */
export class ConnectorError extends Error {
  override readonly name = 'ConnectorError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Creates the client; its token is cached in the closure (the life of a Lambda container). */
export function botConnector(options: ConnectorOptions): BotConnector {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 5000;
  const token = options.token;

  async function call(
    method: 'POST' | 'PUT',
    url: string,
    payload: unknown,
  ): Promise<Record<string, unknown>> {
    const response = await fetchImpl(url, {
      method,
      headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status === 401) token.forget();
    if (!response.ok)
      throw new ConnectorError(`Bot Connector ${method} answered ${response.status}`, response.status);
    const text = await response.text();
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  }

  const base = (serviceUrl: string) => {
    const url = new URL(serviceUrl);
    if (url.protocol !== 'https:' && url.hostname !== '127.0.0.1')
      throw new ConnectorError(`refusing a non-https service URL ${url.origin}`);
    return serviceUrl.replace(/\/+$/, '');
  };
  const attachment = (card: AdaptiveCard) => ({ contentType: ADAPTIVE_CARD_TYPE, content: card });
  const activityUrl = (serviceUrl: string, posted: PostedActivity) =>
    `${base(serviceUrl)}/v3/conversations/${encodeURIComponent(posted.conversationId)}/activities/${encodeURIComponent(posted.activityId)}`;

  return {
    async createCard(serviceUrl, target, card) {
      const out = await call('POST', `${base(serviceUrl)}/v3/conversations`, {
        isGroup: true,
        channelData: { channel: { id: target.channelId }, tenant: { id: target.tenantId } },
        activity: { type: 'message', summary: card.fallbackText, attachments: [attachment(card)] },
      });
      if (typeof out.id !== 'string' || typeof out.activityId !== 'string')
        throw new ConnectorError('Bot Connector did not return the conversation and activity ids');
      return { conversationId: out.id, activityId: out.activityId };
    },
    async updateCard(serviceUrl, posted, card) {
      await call('PUT', activityUrl(serviceUrl, posted), {
        type: 'message',
        id: posted.activityId,
        attachments: [attachment(card)],
      });
    },
    async reply(serviceUrl, posted, reply) {
      const out = await call('POST', activityUrl(serviceUrl, posted), {
        type: 'message',
        replyToId: posted.activityId,
        ...('text' in reply
          ? { text: reply.text, textFormat: 'plain' }
          : { attachments: [attachment(reply.card)] }),
      });
      return typeof out.id === 'string' ? out.id : '';
    },
  };
}
