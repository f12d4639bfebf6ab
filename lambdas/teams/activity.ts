/**
 * Parsing of the activities the Bot Connector posts to the bot's messaging
 * endpoint. Only Universal Actions matter to a review: an `invoke` named
 * `adaptiveCard/action` whose `value.action` is an `Action.Execute` with one
 * of the card's verbs and the card's data (plus the inputs of the card the
 * person filled in, which Teams merges into `data`). Everything an activity
 * carries is untrusted until the token verified it, and even then the ids are
 * only the channel's: the review core resolves who the person is.
 */
import * as z from 'zod/mini';

/** The card's verbs: the review verbs, `view` (the full request) and `refresh` (the per-user view). */
export const CARD_VERBS = ['approve', 'deny', 'modify', 'view', 'refresh'] as const;
/** One of {@link CARD_VERBS}. */
export type CardVerb = (typeof CARD_VERBS)[number];

/** The invoke name of a Universal Action. */
export const ACTION_INVOKE = 'adaptiveCard/action';
/** Longest request id or input value accepted from a card. */
const MAX_VALUE = 4000;

const text = (max = MAX_VALUE) => z.string().check(z.maxLength(max));

const activitySchema = z.object({
  type: text(64),
  name: z.optional(text(128)),
  id: z.optional(text(512)),
  serviceUrl: text(2048),
  channelId: z.optional(text(64)),
  from: z.object({ id: text(512), name: z.optional(text(512)), aadObjectId: z.optional(text(64)) }),
  conversation: z.object({ id: text(1024), tenantId: z.optional(text(64)) }),
  channelData: z.optional(z.object({ tenant: z.optional(z.object({ id: text(64) })) })),
  replyToId: z.optional(text(512)),
  value: z.optional(z.unknown()),
});

const actionSchema = z.object({
  action: z.object({
    type: text(64),
    verb: text(64),
    data: z.optional(z.record(z.string(), z.unknown())),
  }),
  trigger: z.optional(text(32)),
});

/** A card action a person took, as the channel knows them. */
export interface CardAction {
  kind: 'action';
  verb: CardVerb;
  /** The request the card is for. */
  requestId: string;
  /** The hash prefix the card's Approve carried (the version the person saw). */
  seenHash?: string;
  /** Deny: the reason typed into the card. */
  reason?: string;
  /** Modify: the card's inputs (`param:<path>` → text). */
  inputs: Record<string, string>;
  /** The person: Teams user id, Entra object id and the tenant the activity came from. */
  from: { id: string; aadObjectId?: string; name?: string };
  tenantId?: string;
  serviceUrl: string;
  conversationId: string;
  /** The activity (card message) the action was taken on. */
  replyToId?: string;
  /** The invoke activity's own id: unique per click, the command's idempotency key. */
  activityId?: string;
}

/** What an activity is to the bot. */
export type ParsedActivity =
  | CardAction
  /** An activity the bot does not act on (a message, a conversation update): answered 200, nothing done. */
  | { kind: 'ignored'; type: string }
  | { kind: 'invalid'; reason: string };

/** Input ids of the card's modify form: `param:<dot path>`. */
export const PARAM_INPUT = 'param:';
/** Input id of the deny form's reason. */
export const REASON_INPUT = 'reason';

/** Parses an activity's JSON body (already authenticated by its token). Never throws. */
export function parseActivity(body: string): ParsedActivity {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { kind: 'invalid', reason: 'the activity is not JSON' };
  }
  const activity = activitySchema.safeParse(json);
  if (!activity.success) return { kind: 'invalid', reason: 'the activity is not a Bot Framework activity' };
  const a = activity.data;
  if (a.type !== 'invoke' || a.name !== ACTION_INVOKE) return { kind: 'ignored', type: a.type };
  const value = actionSchema.safeParse(a.value);
  if (!value.success || value.data.action.type !== 'Action.Execute')
    return { kind: 'invalid', reason: 'the invoke carries no Action.Execute' };
  const { verb, data = {} } = value.data.action;
  if (!(CARD_VERBS as readonly string[]).includes(verb))
    return { kind: 'invalid', reason: 'the action has an unknown verb' };
  if (verb !== 'view' && verb !== 'refresh' && !a.id)
    return { kind: 'invalid', reason: 'the invoke has no activity id' };
  const requestId = data.requestId;
  if (typeof requestId !== 'string' || requestId.length === 0 || requestId.length > 200)
    return { kind: 'invalid', reason: 'the action names no request' };
  const inputs: Record<string, string> = {};
  for (const [key, input] of Object.entries(data)) {
    if (!key.startsWith(PARAM_INPUT)) continue;
    if (typeof input !== 'string' || input.length > MAX_VALUE)
      return { kind: 'invalid', reason: 'a card input is not text' };
    inputs[key.slice(PARAM_INPUT.length)] = input;
  }
  const reason = data[REASON_INPUT];
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_VALUE))
    return { kind: 'invalid', reason: 'the reason is not text' };
  const seenHash = data.seenHash;
  if (seenHash !== undefined && (typeof seenHash !== 'string' || !/^[0-9a-f]{1,64}$/.test(seenHash)))
    return { kind: 'invalid', reason: 'the card version is malformed' };
  return {
    kind: 'action',
    verb: verb as CardVerb,
    requestId,
    ...(typeof seenHash === 'string' ? { seenHash } : {}),
    ...(typeof reason === 'string' ? { reason } : {}),
    inputs,
    from: {
      id: a.from.id,
      ...(a.from.aadObjectId ? { aadObjectId: a.from.aadObjectId } : {}),
      ...(a.from.name ? { name: a.from.name } : {}),
    },
    ...((a.channelData?.tenant?.id ?? a.conversation.tenantId)
      ? { tenantId: a.channelData?.tenant?.id ?? a.conversation.tenantId }
      : {}),
    serviceUrl: a.serviceUrl,
    conversationId: a.conversation.id,
    ...(a.replyToId ? { replyToId: a.replyToId } : {}),
    ...(a.id ? { activityId: a.id } : {}),
  };
}

/** The `serviceUrl` an activity claims, read before its token is verified (to compare with the token's claim). */
export function claimedServiceUrl(body: string): string | undefined {
  try {
    const url = (JSON.parse(body) as { serviceUrl?: unknown }).serviceUrl;
    return typeof url === 'string' ? url : undefined;
  } catch {
    return undefined;
  }
}
