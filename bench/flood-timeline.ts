/**
 * Where a flooded request's time went, read from its own audit chain: when
 * Evaluate recorded it (`requested`), when its card was queued and when the
 * poster posted it (`card-posted` carries `queuedAt`). The flood bench splits
 * a non-flooding agent's first-card latency with it into the sandbox's
 * processing lag (publish → evaluated: one process runs every handler and
 * local AWS server) and the card queue's wait (queued → posted: what the
 * queue's order and pace decide), and measures a channel's posting rate over
 * the time cards were actually waiting rather than first to last card.
 */
import type { AuditRecord } from '../lambdas/shared/audit-record.js';

/** Epoch-ms moments of one request, as far as it got. */
export interface Timeline {
  publishedAt: number;
  /** Evaluate's `requested` record. */
  evaluatedAt?: number;
  /** The card queue entry's `enqueuedAt` (from `card-posted`). */
  queuedAt?: number;
  /** The poster's `card-posted` record. */
  postedAt?: number;
  /** The channel the card went to. */
  channel?: string;
}

const epoch = (text: unknown) => {
  const ms = typeof text === 'string' ? Date.parse(text) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
};

/** The timeline of one request from its chain (the first `requested` and the first `card-posted`). */
export function timelineOf(publishedAt: number, chain: readonly AuditRecord[]): Timeline {
  const timeline: Timeline = { publishedAt };
  const requested = chain.find((r) => r.kind === 'requested');
  const posted = chain.find((r) => r.kind === 'card-posted');
  const evaluatedAt = epoch(requested?.at);
  if (evaluatedAt !== undefined) timeline.evaluatedAt = evaluatedAt;
  const postedAt = epoch(posted?.at);
  const queuedAt = epoch(posted?.data.queuedAt);
  if (postedAt !== undefined && queuedAt !== undefined) {
    timeline.postedAt = postedAt;
    timeline.queuedAt = queuedAt;
    if (typeof posted?.data.channel === 'string') timeline.channel = posted.data.channel;
  }
  return timeline;
}

/** Milliseconds from one moment to another of each timeline that has both. */
export function spans(
  timelines: readonly Timeline[],
  from: keyof Omit<Timeline, 'channel'>,
  to: keyof Omit<Timeline, 'channel'>,
): number[] {
  const out: number[] = [];
  for (const t of timelines) {
    const a = t[from];
    const b = t[to];
    if (a !== undefined && b !== undefined) out.push(b - a);
  }
  return out;
}

/** Seconds covered by the union of the intervals (overlaps counted once). */
export function busySeconds(intervals: readonly { from: number; to: number }[]): number {
  const sorted = intervals.filter((i) => i.to > i.from).sort((a, b) => a.from - b.from);
  let total = 0;
  let end = Number.NEGATIVE_INFINITY;
  for (const { from, to } of sorted) {
    if (to <= end) continue;
    total += to - Math.max(from, end);
    end = to;
  }
  return total / 1000;
}

/**
 * Cards per second of one channel while it had a card waiting: cards posted
 * over the union of their [queued, posted] intervals. A channel that is idle
 * because nothing is queued is not slow; one that leaves queued cards waiting
 * while the rate allows a post is.
 */
export function busyRate(timelines: readonly Timeline[]): {
  cards: number;
  busySeconds: number;
  perSecond: number;
} {
  const carded = timelines.filter((t) => t.queuedAt !== undefined && t.postedAt !== undefined);
  const seconds = busySeconds(carded.map((t) => ({ from: t.queuedAt!, to: t.postedAt! })));
  return { cards: carded.length, busySeconds: seconds, perSecond: seconds > 0 ? carded.length / seconds : 0 };
}
