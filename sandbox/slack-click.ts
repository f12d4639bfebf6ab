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
  return signed(signingSecret, `payload=${encodeURIComponent(JSON.stringify(payload))}`, now);
}

/** A modal as `views.open` received it (what the fake Slack records). */
export interface OpenedView {
  id: string;
  view: Record<string, unknown>;
}

/**
 * Builds the signed `view_submission` Slack POSTs when `userId` submits a
 * modal, with `inputs` typed into its input blocks (by block id; blocks left
 * out are submitted empty). `private_metadata` and `callback_id` are echoed
 * from the view unless overridden (tests use that to tamper).
 */
export function signedViewSubmission(
  signingSecret: string,
  submission: {
    userId: string;
    view: OpenedView;
    /** Typed values by block id: text inputs take the string, selects the option value. */
    inputs?: Record<string, unknown>;
    privateMetadata?: string;
    callbackId?: string;
  },
  now: Date = new Date(),
): { headers: Record<string, string>; body: string } {
  const { view } = submission.view;
  type InputBlock = { type?: string; block_id?: string; element?: { action_id?: string; type?: string } };
  const values: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const block of (view.blocks ?? []) as InputBlock[]) {
    if (block.type !== 'input' || !block.block_id || !block.element?.action_id) continue;
    const raw = submission.inputs?.[block.block_id];
    const typed = raw === undefined || raw === null || raw === '' ? null : String(raw);
    const type = block.element.type ?? 'plain_text_input';
    values[block.block_id] = {
      [block.element.action_id]: type.endsWith('_select')
        ? { type, selected_option: typed === null ? null : { value: typed } }
        : { type, value: typed },
    };
  }
  const payload = {
    type: 'view_submission',
    team: { id: 'T0COUNTER' },
    user: { id: submission.userId },
    api_app_id: 'A0COUNTERSIGN',
    trigger_id: `trigger-${randomUUID()}`,
    view: {
      id: submission.view.id,
      type: 'modal',
      callback_id: submission.callbackId ?? view.callback_id,
      private_metadata: submission.privateMetadata ?? view.private_metadata ?? '',
      state: { values },
    },
  };
  return signed(signingSecret, `payload=${encodeURIComponent(JSON.stringify(payload))}`, now);
}

/** Headers Slack sends with a form-encoded interaction body, signed with the app's signing secret. */
function signed(
  signingSecret: string,
  body: string,
  now: Date,
): { headers: Record<string, string>; body: string } {
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
