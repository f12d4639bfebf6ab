/**
 * From a Function URL event to a typed interaction: the raw body (bytes, as
 * signed), lower-cased headers, and the `block_actions` payload Slack posts as
 * the form field `payload`. Only Approve / Deny clicks on a review card are
 * votes; every other interaction is ignored.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod/mini';
import { intentSchema } from '../shared/intent.js';

/** The HTTP request as the core sees it. */
export interface HttpRequest {
  /** Header names lower-cased. */
  headers: Record<string, string | undefined>;
  /** The body exactly as received (what Slack signed). */
  rawBody: Buffer;
}

/** Extracts the raw body (decoding base64) and lower-cases header names. */
export function toHttpRequest(
  event: Pick<APIGatewayProxyEventV2, 'headers' | 'body' | 'isBase64Encoded'>,
): HttpRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  const body = event.body ?? '';
  return { headers, rawBody: Buffer.from(body, event.isBase64Encoded ? 'base64' : 'utf8') };
}

/** A click on Approve or Deny. */
export interface VoteAction {
  kind: 'vote';
  vote: 'approve' | 'deny';
  /** The request (intent) id carried by the button: never a task token. */
  requestId: string;
  actionId: string;
  /** The clicking Slack user id. */
  userId: string;
  /** Channel and message the click came from, when Slack says. */
  channel?: string;
  messageTs?: string;
  triggerId?: string;
}

/** What a request body holds. */
export type Interaction =
  | VoteAction
  | { kind: 'ignored'; reason: string }
  | { kind: 'invalid'; reason: string };

const blockActionsSchema = z.object({
  type: z.string(),
  trigger_id: z.optional(z.string()),
  user: z.object({ id: z.string().check(z.minLength(1)) }),
  channel: z.optional(z.object({ id: z.string() })),
  container: z.optional(z.object({ channel_id: z.optional(z.string()), message_ts: z.optional(z.string()) })),
  message: z.optional(z.object({ ts: z.optional(z.string()) })),
  actions: z.optional(z.array(z.object({ action_id: z.string(), value: z.optional(z.string()) }))),
});

/** Parses a form-encoded interaction body. */
export function parseInteraction(rawBody: string): Interaction {
  const field = new URLSearchParams(rawBody).get('payload');
  if (field === null) return { kind: 'invalid', reason: 'body has no payload field' };
  let json: unknown;
  try {
    json = JSON.parse(field);
  } catch {
    return { kind: 'invalid', reason: 'payload is not JSON' };
  }
  const parsed = blockActionsSchema.safeParse(json);
  if (!parsed.success)
    return {
      kind: 'invalid',
      reason: `payload is not a Slack interaction: ${parsed.error.issues[0]?.message}`,
    };
  const payload = parsed.data;
  if (payload.type !== 'block_actions')
    return { kind: 'ignored', reason: `interaction type ${payload.type}` };
  const action = payload.actions?.[0];
  if (!action) return { kind: 'invalid', reason: 'block_actions payload has no action' };
  const vote = action.action_id.startsWith('approve')
    ? 'approve'
    : action.action_id.startsWith('deny')
      ? 'deny'
      : undefined;
  if (!vote) return { kind: 'ignored', reason: `action ${action.action_id}` };
  if (!action.value || !intentSchema.shape.intentId.safeParse(action.value).success) {
    return { kind: 'invalid', reason: 'button value is not a request id' };
  }
  return {
    kind: 'vote',
    vote,
    requestId: action.value,
    actionId: action.action_id,
    userId: payload.user.id,
    channel: payload.channel?.id ?? payload.container?.channel_id,
    messageTs: payload.container?.message_ts ?? payload.message?.ts,
    triggerId: payload.trigger_id,
  };
}
