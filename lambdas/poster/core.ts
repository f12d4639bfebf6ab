/**
 * The poster: drains one Slack channel's card queue at the channel's pace.
 * Review enqueues a card and kicks the poster; a schedule (the sweep) kicks
 * it every minute too, so a card whose poster crashed is posted anyway.
 *
 * - One drainer per channel: a lease with an expiry, taken by a conditional
 *   write and renewed before every card. A kick that finds it held returns.
 * - Pace: a token bucket (token-bucket.ts), carried on the lease between
 *   drainers. A 429 empties it for `Retry-After`; the poster waits when that
 *   fits in its time budget and otherwise leaves the card for the next run.
 * - Posting a card: re-reads the request; one that is no longer PENDING, or
 *   already has a card (a re-run after a crash), leaves the queue without a
 *   post. Otherwise `chat.postMessage`, the card's location on the request
 *   (`updatePending(... { card })`), a `card-posted` audit record, then the
 *   entry leaves the queue. A card Slack refuses fails its review at once
 *   (the workflow denies it, audited, as when Review posted it): a card nobody can see must not wait
 *   for its expiry in silence.
 * - Backlog: above the threshold, one "queue" message (queue-message.ts)
 *   replaces the wall of cards and is updated in place; only each agent's
 *   first waiting request still gets a card. Below it, cards flow again and
 *   the message says so.
 * - Repaints: a card update Slack rate-limited inside a click's answer window
 *   is queued for the poster (card-queue.ts), which repaints the card from
 *   the request as it then stands, a few per round between posts and waiting
 *   out `chat.update`'s own Retry-After, so a card never stays stale.
 * - Before its time runs out, with cards still to post, it kicks itself again.
 */
import type { WebClient } from '@slack/web-api';
import { type AuditDeps, appendAudit } from '../shared/audit.js';
import { renderCard } from '../shared/card.js';
import {
  acquireLease,
  type BacklogMessage,
  dequeueCard,
  dequeueRepaint,
  listQueue,
  listRepaints,
  type QueueEntry,
  readBacklogMessage,
  releaseLease,
  renewLease,
  writeBacklogMessage,
} from '../shared/card-queue.js';
import { isSlackRateLimited } from '../shared/slack.js';
import { currentHash, getRequest, type RequestItem, updatePending } from '../shared/store.js';
import { queueClearMessage, queueMessage, summarize } from './queue-message.js';
import { type Pace, TokenBucket } from './token-bucket.js';

/** Shortest gap between two updates of the queue message (chat.update has its own tier). */
export const QUEUE_MESSAGE_INTERVAL_MS = 5_000;
/** Time kept back at the end of an invocation: the last post and the lease release must fit. */
export const BUDGET_MARGIN_MS = 8_000;
/** Repaints done between two cards at most, so repaints never hold back a review card for long. */
export const REPAINTS_PER_ROUND = 5;

/** Dependencies of {@link drain}. */
export interface PosterDeps extends AuditDeps {
  slack: () => Promise<Pick<WebClient, 'chat'>>;
  pace: Pace;
  /** More waiting than this shows the queue message instead of every card. */
  backlogThreshold: number;
  /** How long a drainer's lease lasts without renewal (ms). */
  leaseMs: number;
  /** Identifies this drainer on the lease (one per invocation). */
  holder: string;
  /** Milliseconds left in this invocation. */
  remainingMs: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Runs the poster again for the channel, soon and elsewhere (an async self-invoke; a timer locally). */
  kickAgain: (channel: string) => Promise<void>;
  /** Fails a review whose card cannot be posted (SendTaskFailure with the stored token). */
  failReview: (request: RequestItem, reason: string) => Promise<void>;
  /** The web inbox the queue message links to, when there is one. */
  webInboxUrl?: string;
  warn?: (message: string, extra?: Record<string, unknown>) => void;
}

/** What one drain did. */
export interface DrainResult {
  outcome: 'drained' | 'busy' | 'lease-lost' | 'budget' | 'rate-limited' | 'slack-unreachable';
  posted: string[];
  /** Requests that left the queue without a post (decided, or carded already). */
  skipped: string[];
  /** Requests whose review failed because Slack refused their card. */
  failed: string[];
  /** Requests whose card was repainted after a rate-limited update. */
  repainted: string[];
  /** Entries still waiting when it stopped. */
  left: number;
}

/** The rank part of an entry's sort key (see card-queue.ts). */
export const rankOf = (entry: Pick<QueueEntry, 'sk'>) => Number(entry.sk.split('#')[1]);

/** The entries to post next: all of them, or above the threshold only each agent's first. */
export function postable(entries: readonly QueueEntry[], threshold: number): QueueEntry[] {
  return entries.length > threshold ? entries.filter((e) => rankOf(e) === 1) : [...entries];
}

/**
 * The head of the queue: enough to choose the next card and to tell whether
 * the backlog is over the threshold. Entries sort by rank first, so every
 * agent's first waiting request (rank 1) comes before any second one; a
 * backlog of thousands is not read whole for each card.
 */
const queueHead = (deps: PosterDeps, channel: string) => listQueue(deps, channel, deps.backlogThreshold + 1);

const isPlatformError = (error: unknown): error is { data?: { error?: string } } =>
  (error as { code?: string })?.code === 'slack_webapi_platform_error';

/** Drains the channel's queue as far as its pace and this invocation's time allow. */
export async function drain(deps: PosterDeps, channel: string): Promise<DrainResult> {
  const result: DrainResult = {
    outcome: 'drained',
    posted: [],
    skipped: [],
    failed: [],
    repainted: [],
    left: 0,
  };
  const clock = () => deps.now().getTime();
  for (;;) {
    const lease = await acquireLease(deps, channel, deps.holder, clock(), deps.leaseMs);
    if (!lease) return { ...result, outcome: result.posted.length ? result.outcome : 'busy' };
    const bucket = new TokenBucket(deps.pace, clock, {
      ...(lease.tokens !== undefined ? { tokens: lease.tokens } : {}),
      ...(lease.refilledAt !== undefined ? { refilledAt: lease.refilledAt } : {}),
      notBefore: lease.notBefore ?? 0,
    });
    let stop: DrainResult['outcome'] | undefined;
    try {
      stop = await drainHeld(deps, channel, bucket, result);
    } finally {
      await releaseLease(deps, channel, deps.holder, bucket.snapshot());
    }
    if (stop !== 'drained') {
      result.outcome = stop;
      break;
    }
    // A card enqueued while we held the lease was kicked in vain: look once more after releasing.
    const after = postable(await queueHead(deps, channel), deps.backlogThreshold);
    if (after.length === 0 && (await listRepaints(deps, channel, 1)).length === 0) break;
    if (deps.remainingMs() < BUDGET_MARGIN_MS) {
      result.outcome = 'budget';
      break;
    }
  }
  result.left = (await listQueue(deps, channel)).length;
  if (result.outcome === 'budget' && result.left > 0) await deps.kickAgain(channel);
  return result;
}

/** The drain loop while the lease is ours; returns why it stopped. */
async function drainHeld(
  deps: PosterDeps,
  channel: string,
  bucket: TokenBucket,
  result: DrainResult,
): Promise<DrainResult['outcome']> {
  const clock = () => deps.now().getTime();
  // Only the lease holder writes the queue message, so it is read once per hold.
  let shown = await readBacklogMessage(deps, channel);
  // chat.update's own Retry-After: repaints wait until then, cards do not.
  let repaintNotBefore = 0;
  for (;;) {
    if (deps.remainingMs() < BUDGET_MARGIN_MS) return 'budget';
    if (!(await renewLease(deps, channel, deps.holder, clock(), deps.leaseMs))) return 'lease-lost';
    // While chat.update must wait, the repaints wait with it (and are still there).
    let repaintsLeft = true;
    if (clock() >= repaintNotBefore) {
      const repaint = await repaintCards(deps, channel, result);
      repaintsLeft = repaint.left;
      if (repaint.retryAfterMs !== undefined) repaintNotBefore = clock() + repaint.retryAfterMs;
    }
    const entries = await queueHead(deps, channel);
    shown = await showBacklog(deps, channel, entries, shown);
    const next = postable(entries, deps.backlogThreshold)[0];
    if (!next) {
      if (!repaintsLeft) return 'drained';
      const wait = Math.max(0, repaintNotBefore - clock());
      if (wait > deps.remainingMs() - BUDGET_MARGIN_MS) return 'rate-limited';
      if (wait > 0) await deps.sleep(wait);
      continue;
    }

    const request = await getRequest(deps, next.requestId);
    if (request?.status !== 'PENDING' || request.card) {
      await dequeueCard(deps, { channel, sk: next.sk });
      result.skipped.push(next.requestId);
      continue;
    }
    const wait = bucket.waitMs();
    if (wait > 0) {
      if (wait > deps.remainingMs() - BUDGET_MARGIN_MS) return 'rate-limited';
      // Wait, then read the queue again: a more deserving card may have arrived meanwhile.
      await deps.sleep(wait);
      continue;
    }
    bucket.take();
    const card = renderCard(request);
    let posted: Awaited<ReturnType<WebClient['chat']['postMessage']>>;
    try {
      posted = await (await deps.slack()).chat.postMessage({ channel, text: card.text, blocks: card.blocks });
    } catch (error) {
      if (isSlackRateLimited(error)) {
        bucket.rateLimited(error.retryAfter);
        continue;
      }
      if (!isPlatformError(error)) {
        deps.warn?.('Slack unreachable; the card stays queued', { channel, error: String(error) });
        return 'slack-unreachable';
      }
      posted = { ok: false, error: error.data?.error ?? 'refused' };
    }
    if (!posted.ok || !posted.ts || !posted.channel) {
      // Slack's refusals (channel_not_found, invalid_blocks, ...) answer the same card the same way
      // again; 5xx and network errors were retried by the client already. Fail closed now.
      deps.warn?.('Slack refused a review card', { requestId: next.requestId, error: posted.error });
      await deps.failReview(request, `Slack did not accept the card: ${posted.error}`);
      await dequeueCard(deps, { channel, sk: next.sk });
      result.failed.push(next.requestId);
      continue;
    }
    await recordPosted(deps, request, { channel: posted.channel, ts: posted.ts }, next);
    await dequeueCard(deps, { channel, sk: next.sk });
    result.posted.push(next.requestId);
  }
}

/**
 * Repaints up to {@link REPAINTS_PER_ROUND} cards whose update was rate
 * limited, each from its request as it stands now (the queued note only
 * while the status is the one it was written for). A 429 stops the round and
 * says how long `chat.update` must wait; any other refusal (the message was
 * deleted, say) is logged and the repaint dropped: nothing else can show it.
 */
async function repaintCards(
  deps: PosterDeps,
  channel: string,
  result: DrainResult,
): Promise<{ left: boolean; retryAfterMs?: number }> {
  const waiting = await listRepaints(deps, channel, REPAINTS_PER_ROUND + 1);
  for (const entry of waiting.slice(0, REPAINTS_PER_ROUND)) {
    const request = await getRequest(deps, entry.requestId);
    if (request?.card) {
      const note = entry.note && request.status === entry.status ? { note: entry.note } : {};
      const card = renderCard(request, note);
      try {
        await (await deps.slack()).chat.update({ ...request.card, text: card.text, blocks: card.blocks });
        result.repainted.push(entry.requestId);
      } catch (error) {
        if (isSlackRateLimited(error)) return { left: true, retryAfterMs: error.retryAfter * 1000 };
        deps.warn?.('could not repaint a card', { requestId: entry.requestId, error: String(error) });
      }
    }
    await dequeueRepaint(deps, channel, entry);
  }
  return { left: waiting.length > REPAINTS_PER_ROUND };
}

/** Stores and audits a posted card; a request decided meanwhile gets its card repainted as decided. */
async function recordPosted(
  deps: PosterDeps,
  request: RequestItem,
  location: { channel: string; ts: string },
  entry: QueueEntry,
): Promise<void> {
  if (!(await updatePending(deps, request.intentId, { card: location }))) {
    // Decided while the card was on its way: Record found no card to repaint, so show the decision here.
    const now = await getRequest(deps, request.intentId);
    if (now) {
      const card = renderCard({ ...now, card: location });
      try {
        await (await deps.slack()).chat.update({ ...location, text: card.text, blocks: card.blocks });
      } catch (error) {
        deps.warn?.('could not repaint a card posted after its decision', {
          requestId: request.intentId,
          error: String(error),
        });
      }
    }
  }
  await appendAudit(
    deps,
    { requestId: request.intentId, createdAt: request.createdAt },
    {
      kind: 'card-posted',
      actor: { type: 'system', component: 'poster' },
      intentHash: currentHash(request),
      data: {
        channel: location.channel,
        ts: location.ts,
        queuedAt: entry.enqueuedAt,
        waitedMs: Math.max(0, deps.now().getTime() - Date.parse(entry.enqueuedAt)),
      },
    },
  );
}

/** Keeps the channel's queue message in step with the backlog. */
/** Returns the message as it now stands. */
async function showBacklog(
  deps: PosterDeps,
  channel: string,
  entries: readonly QueueEntry[],
  shown: BacklogMessage | undefined,
): Promise<BacklogMessage | undefined> {
  const over = entries.length > deps.backlogThreshold;
  const nowMs = deps.now().getTime();
  if (!over && !shown?.open) return shown;
  if (over && shown?.open && nowMs - shown.updatedAt < QUEUE_MESSAGE_INTERVAL_MS) return shown;
  // `entries` is the queue's head; the message counts the whole backlog.
  const message = over
    ? queueMessage(summarize(await listQueue(deps, channel), nowMs), deps.backlogThreshold, deps.webInboxUrl)
    : queueClearMessage(entries.length);
  try {
    const slack = await deps.slack();
    if (shown?.open) {
      await slack.chat.update({ channel: shown.channel, ts: shown.ts, ...message });
      const updated = { ...shown, open: over, updatedAt: nowMs };
      await writeBacklogMessage(deps, channel, updated);
      return updated;
    }
    const posted = await slack.chat.postMessage({ channel, ...message, unfurl_links: false });
    if (!posted.ok || !posted.ts) return shown;
    const opened = { channel: posted.channel ?? channel, ts: posted.ts, open: true, updatedAt: nowMs };
    await writeBacklogMessage(deps, channel, opened);
    return opened;
  } catch (error) {
    // The queue message is a courtesy; the cards and the inbox are what count.
    deps.warn?.('could not update the queue message', { channel, error: String(error) });
    return shown;
  }
}
