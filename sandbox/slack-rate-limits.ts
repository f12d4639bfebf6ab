/**
 * Slack's Web API rate limits, as the fake Slack enforces them: one table of
 * the methods Countersign calls, each a token bucket (a sustained rate per
 * minute and the burst Slack tolerates on top), and a limiter that answers
 * "accepted" or "wait this many seconds" for a call. Limits are per method and
 * per token (Slack: "per API method per app per workspace"); `chat.postMessage`
 * is limited per channel as well, as Slack documents.
 *
 * Sources (checked against Slack's rate-limit guide and each method's
 * reference page; the figures are Slack's published floors):
 * - Tiers: "Tier 1: 1+ per minute, Tier 2: 20+ per minute, Tier 3: 50+ per
 *   minute, Tier 4: 100+ per minute", docs.slack.dev/apis/web-api/rate-limits.
 * - Posting messages: "1 per second [per channel]. Short bursts >1 allowed",
 *   same page; `chat.postMessage` is a "Special" tier method.
 * - `auth.test`: "Special: allows hundreds of requests per minute", its
 *   reference page.
 * Slack does not publish burst sizes ("occasional bursts", "sporadic bursts
 * are welcome", "generous burst behavior"): the bursts below are this model's
 * choice, half a minute's calls for the tiers and five posts per channel, so
 * a flood is refused within seconds while a few clicks in a row are not.
 *
 * The clock is injected so tests of the limiter are deterministic.
 */

/** One method's limit: a token bucket. */
export interface MethodRateLimit {
  /** Sustained calls per minute. */
  perMinute: number;
  /** Calls accepted at once from a full bucket (the burst Slack tolerates). */
  burst: number;
  /** `channel`: a bucket per token and channel (posting); `token`: one bucket per token. */
  scope: 'token' | 'channel';
}

/** Slack's documented tiers, with this model's bursts (see the module comment). */
export const SLACK_TIERS = {
  /** Tier 2: 20+ per minute, "occasional bursts". */
  tier2: { perMinute: 20, burst: 10, scope: 'token' },
  /** Tier 3: 50+ per minute, "sporadic bursts are welcome". */
  tier3: { perMinute: 50, burst: 25, scope: 'token' },
  /** Tier 4: 100+ per minute, "generous burst behavior". */
  tier4: { perMinute: 100, burst: 50, scope: 'token' },
} as const satisfies Record<string, MethodRateLimit>;

/**
 * The limits of the methods Countersign calls, with the tier each method's
 * reference page states. A method missing here is limited as Tier 3.
 */
export const SLACK_RATE_LIMITS: Readonly<Record<string, MethodRateLimit>> = {
  // Special: 1 message per second per channel, short bursts tolerated (rate-limit guide).
  'chat.postMessage': { perMinute: 60, burst: 5, scope: 'channel' },
  // Tier 3 (chat.update reference page).
  'chat.update': SLACK_TIERS.tier3,
  // Tier 4 (chat.postEphemeral reference page).
  'chat.postEphemeral': SLACK_TIERS.tier4,
  // Tier 4 (views.open and views.update reference pages).
  'views.open': SLACK_TIERS.tier4,
  'views.update': SLACK_TIERS.tier4,
  // Tier 4 (users.info reference page).
  'users.info': SLACK_TIERS.tier4,
  // Tier 3 (users.lookupByEmail reference page).
  'users.lookupByEmail': SLACK_TIERS.tier3,
  // Tier 2 (users.list reference page).
  'users.list': SLACK_TIERS.tier2,
  // Tier 2 (usergroups.list and usergroups.users.list reference pages).
  'usergroups.list': SLACK_TIERS.tier2,
  'usergroups.users.list': SLACK_TIERS.tier2,
  // Tier 3 (conversations.info reference page).
  'conversations.info': SLACK_TIERS.tier3,
  // Special: "hundreds of requests per minute" (auth.test reference page).
  'auth.test': { perMinute: 300, burst: 100, scope: 'token' },
};

/** The limit of a method the table does not name. */
export const DEFAULT_METHOD_RATE_LIMIT: MethodRateLimit = SLACK_TIERS.tier3;

/** A call the limiter considers. */
export interface RateLimitedCall {
  method: string;
  /** The token the call presented: limits are per token (app and workspace). */
  token: string;
  /** The channel, for methods limited per channel. */
  channel?: string;
  /** When the call arrived, in epoch milliseconds. @default the limiter's clock */
  at?: number;
}

/** The limiter's answer. */
export type RateLimitVerdict = { accepted: true } | { accepted: false; retryAfterSeconds: number };

/** What a bench reads: calls refused and accepted. */
export interface RateLimitCounters {
  /** Calls answered 429 by the limits, by method. */
  limited: Record<string, number>;
  /** Calls the limits let through, by method. */
  accepted: Record<string, number>;
  /** Calls the limits let through, by method and then channel (methods limited per channel only). */
  acceptedByChannel: Record<string, Record<string, number>>;
}

/** Token buckets over a limits table. */
export interface RateLimiter {
  /** Takes one call from its bucket, or says how long until the bucket holds one. */
  take(call: RateLimitedCall): RateLimitVerdict;
  /** A copy of the counters. */
  counters(): RateLimitCounters;
  /** Refills every bucket and zeroes the counters. */
  reset(): void;
}

/** Builds a limiter over `table` (the methods it names replace Slack's) reading time from `clock`. */
export function createRateLimiter(
  table: Readonly<Record<string, MethodRateLimit>> = SLACK_RATE_LIMITS,
  clock: () => number = Date.now,
): RateLimiter {
  const limits: Record<string, MethodRateLimit> = { ...SLACK_RATE_LIMITS, ...table };
  for (const [method, limit] of Object.entries(limits)) {
    if (!(limit.perMinute > 0) || !(limit.burst >= 1))
      throw new Error(`rate limit of ${method} needs perMinute > 0 and burst >= 1`);
  }
  const buckets = new Map<string, { tokens: number; at: number }>();
  let counters: RateLimitCounters = { limited: {}, accepted: {}, acceptedByChannel: {} };

  return {
    take({ method, token, channel, at }) {
      const limit = limits[method] ?? DEFAULT_METHOD_RATE_LIMIT;
      const perChannel = limit.scope === 'channel';
      const key = JSON.stringify([method, token, perChannel ? (channel ?? '') : '']);
      const now = at ?? clock();
      const perMs = limit.perMinute / 60_000;
      const bucket = buckets.get(key) ?? { tokens: limit.burst, at: now };
      bucket.tokens = Math.min(limit.burst, bucket.tokens + Math.max(0, now - bucket.at) * perMs);
      bucket.at = now;
      buckets.set(key, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        counters.accepted[method] = (counters.accepted[method] ?? 0) + 1;
        if (perChannel) {
          const byChannel = counters.acceptedByChannel[method] ?? {};
          byChannel[channel ?? ''] = (byChannel[channel ?? ''] ?? 0) + 1;
          counters.acceptedByChannel[method] = byChannel;
        }
        return { accepted: true };
      }
      counters.limited[method] = (counters.limited[method] ?? 0) + 1;
      // Slack's Retry-After is whole seconds: round the wait for one token up.
      return {
        accepted: false,
        retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)),
      };
    },
    counters: () => structuredClone(counters),
    reset() {
      buckets.clear();
      counters = { limited: {}, accepted: {}, acceptedByChannel: {} };
    },
  };
}
