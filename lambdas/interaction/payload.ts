/**
 * From a Function URL event to a typed interaction: the raw body (bytes, as
 * signed), lower-cased headers, and the payload Slack posts as the form field
 * `payload`:
 * - `block_actions`: a click on a review card button. Approve / Deny are
 *   votes (Deny opens the reason form); Modify, Break glass, View full request
 *   and Acknowledge are buttons; anything else is ignored.
 * - `view_submission`: a submitted Countersign modal (deny reason, modified
 *   parameters, break-glass reason), with its `private_metadata` and the
 *   values of its inputs. `view_closed` and other types are ignored.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod/mini';
import { parseButtonValue } from '../shared/card.js';
import { intentSchema } from '../shared/intent.js';
import { parseStrictJson } from '../shared/strict-json.js';

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
  /** For Approve: the start of the intent hash the clicked card showed. */
  seenHash?: string;
  actionId: string;
  /** The clicking Slack user id. */
  userId: string;
  /** Channel and message the click came from, when Slack says. */
  channel?: string;
  messageTs?: string;
  triggerId?: string;
}

/** Buttons that are not votes, by the `action_id` prefix that selects them. */
export const BUTTONS = {
  modify: 'modify',
  breakglass: 'breakglass',
  'view-full': 'view_full',
  acknowledge: 'acknowledge',
} as const;
export type ButtonName = keyof typeof BUTTONS;

/** A click on a card button that is not a vote. */
export interface ButtonAction extends Omit<VoteAction, 'kind' | 'vote'> {
  kind: 'button';
  button: ButtonName;
}

/** A submitted modal. */
export interface ViewSubmission {
  kind: 'submission';
  userId: string;
  viewId?: string;
  /** `callback_id` of the view (`countersign.deny`, ...): informational, the signed metadata decides. */
  callbackId: string;
  /** The view's `private_metadata`, unverified. */
  privateMetadata: string;
  /** Input values by block id then action id (text inputs: the typed text; empty inputs: undefined). */
  values: Record<string, Record<string, string | undefined>>;
}

/** What a request body holds. */
export type Interaction =
  | VoteAction
  | ButtonAction
  | ViewSubmission
  | { kind: 'ignored'; reason: string }
  | { kind: 'invalid'; reason: string };

const viewSubmissionSchema = z.object({
  type: z.literal('view_submission'),
  user: z.object({ id: z.string().check(z.minLength(1)) }),
  view: z.object({
    id: z.optional(z.string()),
    callback_id: z.optional(z.string()),
    private_metadata: z.optional(z.string()),
    state: z.optional(
      z.object({
        values: z.record(
          z.string(),
          z.record(
            z.string(),
            z.object({
              type: z.optional(z.string()),
              value: z.optional(z.nullable(z.string())),
              selected_option: z.optional(z.nullable(z.object({ value: z.string() }))),
            }),
          ),
        ),
      }),
    ),
  }),
});

function parseSubmission(json: unknown): Interaction {
  const parsed = viewSubmissionSchema.safeParse(json);
  if (!parsed.success)
    return {
      kind: 'invalid',
      reason: `payload is not a Slack view submission: ${parsed.error.issues[0]?.message}`,
    };
  const { user, view } = parsed.data;
  const values: ViewSubmission['values'] = {};
  for (const [blockId, actions] of Object.entries(view.state?.values ?? {})) {
    values[blockId] = {};
    for (const [actionId, input] of Object.entries(actions)) {
      const value = input.value ?? input.selected_option?.value ?? undefined;
      values[blockId][actionId] = value === null ? undefined : value;
    }
  }
  return {
    kind: 'submission',
    userId: user.id,
    ...(view.id ? { viewId: view.id } : {}),
    callbackId: view.callback_id ?? '',
    privateMetadata: view.private_metadata ?? '',
    values,
  };
}

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
  // Strict: a payload whose duplicate keys two parsers would read differently is not Slack's.
  const strict = parseStrictJson(field, { maxDepth: 64 });
  if (!strict.ok) return { kind: 'invalid', reason: `payload is not JSON Slack sends: ${strict.reason}` };
  const json = strict.value;
  const parsed = blockActionsSchema.safeParse(json);
  if (!parsed.success)
    return {
      kind: 'invalid',
      reason: `payload is not a Slack interaction: ${parsed.error.issues[0]?.message}`,
    };
  const payload = parsed.data;
  if (payload.type === 'view_submission') return parseSubmission(json);
  if (payload.type !== 'block_actions')
    return { kind: 'ignored', reason: `interaction type ${payload.type}` };
  const action = payload.actions?.[0];
  if (!action) return { kind: 'invalid', reason: 'block_actions payload has no action' };
  const vote = action.action_id.startsWith('approve')
    ? 'approve'
    : action.action_id.startsWith('deny')
      ? 'deny'
      : undefined;
  const button = (Object.entries(BUTTONS) as [ButtonName, string][]).find(([, prefix]) =>
    action.action_id.startsWith(prefix),
  )?.[0];
  if (!vote && !button) return { kind: 'ignored', reason: `action ${action.action_id}` };
  const { requestId, seenHash } = parseButtonValue(action.value ?? '');
  if (
    !intentSchema.shape.intentId.safeParse(requestId).success ||
    (seenHash !== undefined && !/^[0-9a-f]+$/.test(seenHash))
  ) {
    return { kind: 'invalid', reason: 'button value is not a request id' };
  }
  return {
    ...(vote ? { kind: 'vote' as const, vote } : { kind: 'button' as const, button: button! }),
    requestId,
    ...(vote === 'approve' && seenHash ? { seenHash } : {}),
    actionId: action.action_id,
    userId: payload.user.id,
    channel: payload.channel?.id ?? payload.container?.channel_id,
    messageTs: payload.container?.message_ts ?? payload.message?.ts,
    triggerId: payload.trigger_id,
  };
}
