/**
 * The card queue: review cards wait here, one DynamoDB partition per Slack
 * channel, until the poster (lambdas/poster) posts them at the channel's
 * pace. Review enqueues; the poster drains under a lease; Record removes the
 * entry of a request decided while it waited. Single-item conditional writes
 * only (the table's local emulator has no transactions).
 *
 * Items (pk `CARDQUEUE#<channel>`):
 * - entry:   sk {@link queueSortKey} (`ITEM#...`), one per queued request
 * - counter: sk `AGENT#<sha256(agentId)>`, `queued` = the agent's entries waiting
 * - lease:   sk `LEASE`, the one drainer (`holder`, `until` epoch ms) and its token bucket
 * - backlog: sk `BACKLOG`, where the channel's one "queue" message lives
 * - repaint: sk `REPAINT#<requestId>`, a card whose update Slack rate-limited
 *   inside the answer window; the poster repaints it from the request as it
 *   then stands (the interaction handler cannot wait out a `Retry-After`)
 *
 * Order (the sort key, read front to back):
 *   `ITEM#<rank, 6 digits>#<urgency, 1 digit>#<expiresAt>#<enqueuedAt>#<requestId>`
 * 1. rank: 1 + how many entries the agent already had waiting when this one
 *    was enqueued. Each agent's first waiting request has rank 1, its second
 *    rank 2, ...: ranks interleave agents, so one agent's backlog never
 *    starves another agent's first request. Rank comes before urgency
 *    because urgency follows from what the agent asks for (an agent flooding
 *    step-up actions must not jump another agent's review).
 * 2. urgency: 0 for plans that need a step-up sign-in or several approvers,
 *    1 otherwise: the most consequential review of a rank goes first.
 * 3. expiresAt: the review that expires soonest goes first.
 * 4. enqueuedAt, then the request id: oldest first, and a total order.
 */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { sha256Hex } from './canonical.js';
import { isConditionFailure, type RequestItem, type StoreDeps } from './store.js';

/** Where a queued card waits (stored on the request as `queued`). */
export interface QueuedCard {
  /** Slack channel id the card goes to. */
  channel: string;
  /** Sort key of its queue entry. */
  sk: string;
}

/** One queued card, as the poster reads it. */
export interface QueueEntry {
  pk: string;
  sk: string;
  requestId: string;
  agentId: string;
  enqueuedAt: string;
  expiresAt?: string;
  /** Hash of the agent id: its counter item's key. */
  agentKey: string;
}

/** The lease of a channel's drainer, and the token bucket it carries between drainers. */
export interface Lease {
  holder?: string;
  /** Epoch ms after which another poster may take over. */
  until: number;
  /** Tokens left in the bucket when the last holder released it. */
  tokens?: number;
  /** Epoch ms the bucket was last refilled. */
  refilledAt?: number;
  /** Epoch ms before which Slack asked not to post (a 429's Retry-After). */
  notBefore?: number;
}

/** Where the channel's "queue" message lives. */
export interface BacklogMessage {
  channel: string;
  ts: string;
  /** False once it says the queue is clear. */
  open: boolean;
  /** Epoch ms of its last update. */
  updatedAt: number;
}

export const queuePartition = (channel: string) => `CARDQUEUE#${channel}`;
const ENTRY_PREFIX = 'ITEM#';
const REPAINT_PREFIX = 'REPAINT#';
const agentKeyOf = (agentId: string) => sha256Hex(agentId).slice(0, 32);

/** 0 for a step-up or multi-approver plan, 1 otherwise. */
export function urgencyOf(request: Pick<RequestItem, 'review'>): 0 | 1 {
  return request.review?.stepUp || (request.review?.quorum ?? 1) > 1 ? 0 : 1;
}

/** The queue entry's sort key; see the module comment for what each part means. */
export function queueSortKey(entry: {
  rank: number;
  urgency: 0 | 1;
  expiresAt?: string;
  enqueuedAt: string;
  requestId: string;
}): string {
  const rank = String(Math.min(Math.max(1, Math.trunc(entry.rank)), 999_999)).padStart(6, '0');
  // No expiry sorts after every real one.
  const expires = entry.expiresAt ?? '9999-12-31T23:59:59.999Z';
  return `${ENTRY_PREFIX}${rank}#${entry.urgency}#${expires}#${entry.enqueuedAt}#${entry.requestId}`;
}

/**
 * Enqueues a request's card: counts the agent's waiting entries up by one (its
 * rank) and writes the entry. Returns where it waits; the caller stores that on
 * the request so that a retried Review does not enqueue it again.
 */
export async function enqueueCard(
  deps: StoreDeps & { now: () => Date },
  channel: string,
  request: Pick<RequestItem, 'intentId' | 'agentId' | 'expiresAt' | 'review'>,
): Promise<QueuedCard> {
  const pk = queuePartition(channel);
  const agentKey = agentKeyOf(request.agentId);
  const counted = await deps.ddb.send(
    new UpdateCommand({
      TableName: deps.table,
      Key: { pk, sk: `AGENT#${agentKey}` },
      UpdateExpression: 'ADD queued :one',
      ExpressionAttributeValues: { ':one': 1 },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  const rank = Number(counted.Attributes?.queued ?? 1);
  const enqueuedAt = deps.now().toISOString();
  const sk = queueSortKey({
    rank,
    urgency: urgencyOf(request),
    expiresAt: request.expiresAt,
    enqueuedAt,
    requestId: request.intentId,
  });
  await deps.ddb.send(
    new PutCommand({
      TableName: deps.table,
      Item: {
        pk,
        sk,
        requestId: request.intentId,
        agentId: request.agentId,
        agentKey,
        enqueuedAt,
        ...(request.expiresAt ? { expiresAt: request.expiresAt } : {}),
      },
    }),
  );
  return { channel, sk };
}

/** Removes a queue entry (posted, skipped or decided) and counts its agent down; false when it was gone. */
export async function dequeueCard(deps: StoreDeps, queued: QueuedCard): Promise<boolean> {
  const pk = queuePartition(queued.channel);
  let removed: Record<string, unknown> | undefined;
  try {
    const out = await deps.ddb.send(
      new DeleteCommand({
        TableName: deps.table,
        Key: { pk, sk: queued.sk },
        ConditionExpression: 'attribute_exists(pk)',
        ReturnValues: 'ALL_OLD',
      }),
    );
    removed = out.Attributes;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
  const agentKey = removed?.agentKey;
  if (typeof agentKey === 'string') {
    try {
      await deps.ddb.send(
        new UpdateCommand({
          TableName: deps.table,
          Key: { pk, sk: `AGENT#${agentKey}` },
          UpdateExpression: 'ADD queued :minus',
          ConditionExpression: 'queued > :zero',
          ExpressionAttributeValues: { ':minus': -1, ':zero': 0 },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
  return true;
}

/** The entries waiting in a channel, in posting order: all of them, or the first `limit`. */
export async function listQueue(deps: StoreDeps, channel: string, limit?: number): Promise<QueueEntry[]> {
  const entries: QueueEntry[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await deps.ddb.send(
      new QueryCommand({
        TableName: deps.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': queuePartition(channel), ':prefix': ENTRY_PREFIX },
        ConsistentRead: true,
        ExclusiveStartKey: start,
        ...(limit !== undefined ? { Limit: limit - entries.length } : {}),
      }),
    );
    entries.push(...((out.Items ?? []) as QueueEntry[]));
    start = out.LastEvaluatedKey;
  } while (start && (limit === undefined || entries.length < limit));
  return entries;
}

/**
 * Takes the channel's lease for `ms` when it is free, expired or already
 * ours; returns the lease (with the bucket the last holder left) or
 * undefined when another poster holds it.
 */
export async function acquireLease(
  deps: StoreDeps,
  channel: string,
  holder: string,
  nowMs: number,
  ms: number,
): Promise<Lease | undefined> {
  try {
    const out = await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.table,
        Key: { pk: queuePartition(channel), sk: 'LEASE' },
        UpdateExpression: 'SET holder = :me, #until = :until',
        ConditionExpression: 'attribute_not_exists(pk) OR #until < :now OR holder = :me',
        ExpressionAttributeNames: { '#until': 'until' },
        ExpressionAttributeValues: { ':me': holder, ':until': nowMs + ms, ':now': nowMs },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return out.Attributes as Lease;
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}

/** Extends our lease; false when it was lost (expired and taken): the caller stops at once. */
export async function renewLease(
  deps: StoreDeps,
  channel: string,
  holder: string,
  nowMs: number,
  ms: number,
): Promise<boolean> {
  return (await acquireLease(deps, channel, holder, nowMs, ms)) !== undefined;
}

/** Releases our lease, leaving the bucket (and any Retry-After) for the next drainer. */
export async function releaseLease(
  deps: StoreDeps,
  channel: string,
  holder: string,
  bucket: { tokens: number; refilledAt: number; notBefore?: number },
): Promise<void> {
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.table,
        Key: { pk: queuePartition(channel), sk: 'LEASE' },
        UpdateExpression:
          'SET #until = :zero, tokens = :tokens, refilledAt = :at, notBefore = :nb REMOVE holder',
        ConditionExpression: 'holder = :me',
        ExpressionAttributeNames: { '#until': 'until' },
        ExpressionAttributeValues: {
          ':zero': 0,
          ':me': holder,
          ':tokens': bucket.tokens,
          ':at': bucket.refilledAt,
          ':nb': bucket.notBefore ?? 0,
        },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
}

/** Reads the channel's lease (or undefined when no poster ever ran there). */
export const readLease = (deps: StoreDeps, channel: string) => readQueueItem<Lease>(deps, channel, 'LEASE');

/** The channel's "queue" message, when one was ever posted. */
export const readBacklogMessage = (deps: StoreDeps, channel: string) =>
  readQueueItem<BacklogMessage>(deps, channel, 'BACKLOG');

async function readQueueItem<T>(deps: StoreDeps, channel: string, sk: string): Promise<T | undefined> {
  const out = await deps.ddb.send(
    new GetCommand({ TableName: deps.table, Key: { pk: queuePartition(channel), sk }, ConsistentRead: true }),
  );
  return out.Item as T | undefined;
}

/** Stores where the channel's "queue" message lives and whether it still shows a backlog. */
export async function writeBacklogMessage(
  deps: StoreDeps,
  channel: string,
  message: BacklogMessage,
): Promise<void> {
  await deps.ddb.send(
    new PutCommand({
      TableName: deps.table,
      Item: { pk: queuePartition(channel), sk: 'BACKLOG', ...message },
    }),
  );
}

/** A card waiting to be repainted (see the module comment). */
export interface RepaintEntry {
  sk: string;
  requestId: string;
  /** When it was asked for; a later request for the same card replaces it. */
  queuedAt: string;
  /** The request's status then: the note is shown only while the status is unchanged. */
  status: string;
  /** A context line the repaint shows (e.g. why a late answer changed nothing). */
  note?: string;
}

/**
 * Asks the poster to repaint a card whose update was rate limited. One item per
 * card: a newer ask replaces an older one, and the repaint reads the request
 * when it runs, so it shows the latest state whatever happened meanwhile.
 */
export async function queueRepaint(
  deps: StoreDeps & { now: () => Date },
  request: Pick<RequestItem, 'intentId' | 'status'> & { card: { channel: string } },
  note?: string,
): Promise<void> {
  await deps.ddb.send(
    new PutCommand({
      TableName: deps.table,
      Item: {
        pk: queuePartition(request.card.channel),
        sk: `${REPAINT_PREFIX}${request.intentId}`,
        requestId: request.intentId,
        queuedAt: deps.now().toISOString(),
        status: request.status,
        ...(note ? { note } : {}),
      },
    }),
  );
}

/** The cards waiting to be repainted in a channel, at most `limit`. */
export async function listRepaints(deps: StoreDeps, channel: string, limit: number): Promise<RepaintEntry[]> {
  const out = await deps.ddb.send(
    new QueryCommand({
      TableName: deps.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': queuePartition(channel), ':prefix': REPAINT_PREFIX },
      ConsistentRead: true,
      Limit: limit,
    }),
  );
  return (out.Items ?? []) as RepaintEntry[];
}

/** Removes a repaint once done, unless a newer ask replaced it meanwhile (that one stays). */
export async function dequeueRepaint(
  deps: StoreDeps,
  channel: string,
  entry: RepaintEntry,
): Promise<boolean> {
  try {
    await deps.ddb.send(
      new DeleteCommand({
        TableName: deps.table,
        Key: { pk: queuePartition(channel), sk: entry.sk },
        ConditionExpression: 'queuedAt = :at',
        ExpressionAttributeValues: { ':at': entry.queuedAt },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}
