/**
 * Builds a Slack `block_actions` interaction request exactly as Slack sends it
 * for a click on a review card button: form-encoded `payload`, signed with the
 * app's signing secret. Used by the sandbox console and the tests.
 */
import { randomUUID } from 'node:crypto';
import { signSlackRequest } from '../lambdas/interaction/signature.js';

/** A click on a card button. */
export interface Click {
  /** Slack user id of the clicker. */
  userId: string;
  /** `approve` or `deny` (the button's action_id). */
  actionId: string;
  /** The button's value: the request id. */
  requestId: string;
  channel?: string;
  messageTs?: string;
}

/** The signed HTTP request Slack would POST to the interactivity URL. */
export function signedClick(
  signingSecret: string,
  click: Click,
  now: Date = new Date(),
): { headers: Record<string, string>; body: string } {
  const payload = {
    type: 'block_actions',
    user: { id: click.userId },
    api_app_id: 'A0COUNTERSIGN',
    trigger_id: `trigger-${randomUUID()}`,
    channel: { id: click.channel ?? 'C0APPROVAL' },
    container: {
      type: 'message',
      channel_id: click.channel ?? 'C0APPROVAL',
      message_ts: click.messageTs ?? '0',
    },
    actions: [{ type: 'button', block_id: 'review', action_id: click.actionId, value: click.requestId }],
  };
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const timestamp = String(Math.floor(now.getTime() / 1000));
  return {
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signSlackRequest(signingSecret, timestamp, body),
    },
    body,
  };
}
