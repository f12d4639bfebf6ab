/**
 * Quota counters in the request table: one item per agent, action class and
 * window, counted with one atomic `ADD` each, so any number of concurrent
 * Evaluate invocations count exactly (each sees its own count: the n-th
 * intent of a window reads n) with no transaction and no read first.
 *
 * Fixed windows, aligned to the epoch (`10/minute` counts from :00 to :59),
 * rather than a sliding window: a sliding log needs an item per intent and a
 * query per check, and the sliding-counter estimate (weighting the previous
 * window) is approximate, so neither is exact under concurrency for one
 * conditional write. The price of fixed windows is a burst of up to twice the
 * limit across a window boundary; the default and any `@rate` are set with
 * that in mind (docs/policies). Each item carries `ttl` (the window's end
 * plus a day) so DynamoDB deletes it after it can no longer be read.
 *
 * The same item remembers the one flood alert of its window: the first
 * Record of an over-quota intent claims it with a conditional write, marks
 * it sent once Slack took the card, and releases it if Slack refused, so a
 * later intent of the same flood tries again.
 *
 * Layout: pk `QUOTA#<agentId>#<class>`, sk `WINDOW#<seconds>#<start epoch s>`.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AppliedQuota } from './rate-limit.js';
import { windowStart } from './rate-limit.js';
import { isConditionFailure, type StoreDeps } from './store.js';

/** Key of one quota window's counter. */
export const quotaKey = (agentId: string, actionClass: string, windowSeconds: number, start: number) => ({
  pk: `QUOTA#${agentId}#${actionClass}`,
  sk: `WINDOW#${windowSeconds}#${start}`,
});

/** A counted quota: the intent's place in its window. */
export interface QuotaCount {
  quota: AppliedQuota;
  /** This intent's count in the window (1 for the first). */
  count: number;
  /** Window start, epoch seconds. */
  windowStart: number;
  key: { pk: string; sk: string };
}

/** Seconds a window's item is kept after the window ends (TTL deletes it). */
const KEEP_AFTER_WINDOW_SECONDS = 86_400;

/**
 * Counts one intent against every quota that applies to it (each window
 * counter is incremented, over quota or not: the quota counts requests that
 * reach the loop). Throws when DynamoDB refuses; the caller fails closed.
 */
export async function countIntent(
  deps: StoreDeps & { now: () => Date },
  subject: { agentId: string; actionClass: string; quotas: readonly AppliedQuota[] },
): Promise<QuotaCount[]> {
  const now = deps.now();
  return Promise.all(
    subject.quotas.map(async (quota) => {
      const start = windowStart(now, quota.windowSeconds);
      const key = quotaKey(subject.agentId, subject.actionClass, quota.windowSeconds, start);
      const out = await deps.ddb.send(
        new UpdateCommand({
          TableName: deps.table,
          Key: key,
          UpdateExpression:
            'ADD #count :one SET #ttl = if_not_exists(#ttl, :ttl), agentId = :agent, actionClass = :class, windowSeconds = :seconds, windowStart = :start',
          ExpressionAttributeNames: { '#count': 'count', '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ':one': 1,
            ':ttl': start + quota.windowSeconds + KEEP_AFTER_WINDOW_SECONDS,
            ':agent': subject.agentId,
            ':class': subject.actionClass,
            ':seconds': quota.windowSeconds,
            ':start': start,
          },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      const count = Number((out.Attributes as { count?: unknown } | undefined)?.count);
      if (!Number.isSafeInteger(count) || count < 1)
        throw new Error(`quota counter ${key.pk} returned no count`);
      return { quota, count, windowStart: start, key };
    }),
  );
}

/** The first quota a set of counts is over (the shortest window first), or undefined. */
export function overQuota(counts: readonly QuotaCount[]): QuotaCount | undefined {
  return counts.find((c) => c.count > c.quota.limit);
}

/**
 * Claims the window's flood alert for a request: true for exactly one
 * claimant per window (or for the same request again, e.g. a retried Record,
 * while the alert is not marked sent).
 */
export async function claimFloodAlert(
  deps: StoreDeps & { now: () => Date },
  key: { pk: string; sk: string },
  requestId: string,
): Promise<boolean> {
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.table,
        Key: key,
        UpdateExpression: 'SET alert = :claim',
        ConditionExpression:
          'attribute_exists(pk) AND (attribute_not_exists(alert) OR (alert.requestId = :me AND attribute_not_exists(alert.ts)))',
        ExpressionAttributeValues: {
          ':claim': { requestId, claimedAt: deps.now().toISOString() },
          ':me': requestId,
        },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** Marks the claimed alert sent (where the card is). */
export async function markFloodAlertSent(
  deps: StoreDeps,
  key: { pk: string; sk: string },
  requestId: string,
  message: { channel: string; ts: string },
): Promise<void> {
  await deps.ddb.send(
    new UpdateCommand({
      TableName: deps.table,
      Key: key,
      UpdateExpression: 'SET alert.ts = :ts, alert.channel = :channel',
      ConditionExpression: 'alert.requestId = :me',
      ExpressionAttributeValues: { ':ts': message.ts, ':channel': message.channel, ':me': requestId },
    }),
  );
}

/** Gives the claim back after Slack refused the card, so the flood's next intent tries again. */
export async function releaseFloodAlert(
  deps: StoreDeps,
  key: { pk: string; sk: string },
  requestId: string,
): Promise<void> {
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.table,
        Key: key,
        UpdateExpression: 'REMOVE alert',
        ConditionExpression: 'alert.requestId = :me AND attribute_not_exists(alert.ts)',
        ExpressionAttributeValues: { ':me': requestId },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
}
