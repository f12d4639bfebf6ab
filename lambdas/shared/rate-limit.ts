/**
 * Request quotas: how many intents one agent may send per action class in a
 * window, written in policy as `@rate("10/minute")` and configured as a
 * default (`defaultRateLimit`). This module is the grammar and the arithmetic,
 * pure; the counting is in `lambdas/evaluate/quota.ts`.
 *
 * Syntax: `<N>/<window>`, N a whole number from 1 to 1,000,000, the window
 * `second`, `minute`, `hour` or `day` (plural accepted) or an ISO 8601
 * duration from one second to one day (`PT5M`, `PT1H30M`, `P1D`).
 *
 * Several quotas can apply to one intent (several matching policies): per
 * window length the lowest limit stands, and limits of different window
 * lengths all apply (an intent over any of them is rate limited). That is the
 * strictest reading, whatever order the policies are in.
 */

/** One quota: at most `limit` intents per `windowSeconds`. */
export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

/** A quota that applies to an intent, and where it comes from. */
export interface AppliedQuota extends RateLimit {
  /** The `@rate` policy ids that set it, or {@link DEFAULT_QUOTA_ID}. */
  policies: string[];
  /** How it was written (`10/minute`), for people and the audit trail. */
  text: string;
}

/** The id reported when no policy sets a quota and the configured default applies. */
export const DEFAULT_QUOTA_ID = 'default-quota';

/**
 * The default quota when the configuration names none: 30 intents a minute
 * per agent and action class. Half of what one Slack channel takes (about
 * one message a second), so one looping agent can never take the whole
 * channel, and well above what an agent asks for privileged actions in
 * normal work (an agent that needs more gets a policy with its own `@rate`).
 */
export const BUILT_IN_DEFAULT_RATE = '30/minute';

/** Environment variable of the default quota (config `defaultRateLimit`). */
export const DEFAULT_RATE_ENV = 'COUNTERSIGN_DEFAULT_RATE_LIMIT';

/** Bounds of a quota. */
export const RATE_LIMITS = { maxLimit: 1_000_000, minWindowSeconds: 1, maxWindowSeconds: 86_400 } as const;

const UNITS: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86_400 };
const ISO = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** Seconds of a window written as a unit name or an ISO 8601 duration, or undefined. */
function windowSeconds(text: string): number | undefined {
  const unit = UNITS[text.replace(/s$/, '')];
  if (unit !== undefined && /^[a-z]+$/.test(text)) return unit;
  const m = ISO.exec(text);
  if (!m || text === 'P' || text.endsWith('T') || (!m[1] && !m[2] && !m[3] && !m[4])) return undefined;
  return Number(m[1] ?? 0) * 86_400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
}

/** Reads a rate (`10/minute`, `100/PT5M`): the quota, or what is wrong with it. */
export function parseRate(value: string): { ok: true; rate: RateLimit } | { ok: false; error: string } {
  const usage =
    'write "<N>/<second|minute|hour|day>" or "<N>/<ISO 8601 duration>", e.g. "10/minute" or "100/PT5M"';
  const m = /^(\d{1,7})\/([A-Za-z0-9]{1,20})$/.exec(value);
  if (!m) return { ok: false, error: `"${value}" is not a rate; ${usage}` };
  const limit = Number(m[1]);
  if (limit < 1 || limit > RATE_LIMITS.maxLimit)
    return { ok: false, error: `"${value}": the count must be from 1 to ${RATE_LIMITS.maxLimit}` };
  const seconds = windowSeconds(m[2]!);
  if (seconds === undefined) return { ok: false, error: `"${value}": "${m[2]}" is not a window; ${usage}` };
  if (seconds < RATE_LIMITS.minWindowSeconds || seconds > RATE_LIMITS.maxWindowSeconds)
    return { ok: false, error: `"${value}": the window must be from 1 second to 1 day` };
  return { ok: true, rate: { limit, windowSeconds: seconds } };
}

/** {@link parseRate} that throws, naming where the value came from. */
export function requireRate(value: string, where: string): RateLimit {
  const parsed = parseRate(value);
  if (!parsed.ok) throw new Error(`${where}: ${parsed.error}`);
  return parsed.rate;
}

/** How a quota reads (`10/minute`, `100/300s`). */
export function describeRate({ limit, windowSeconds: s }: RateLimit): string {
  const unit = Object.entries(UNITS).find(([, n]) => n === s)?.[0];
  return unit ? `${limit}/${unit}` : `${limit}/${s}s`;
}

/**
 * The quotas of an intent from the `@rate` policies that match it, strictest
 * per window length (see the module comment); the default when none matches.
 */
export function combineQuotas(
  matched: readonly { id: string; rate: RateLimit }[],
  fallback: RateLimit,
): AppliedQuota[] {
  if (matched.length === 0)
    return [{ ...fallback, policies: [DEFAULT_QUOTA_ID], text: describeRate(fallback) }];
  const byWindow = new Map<number, AppliedQuota>();
  for (const { id, rate } of [...matched].sort((a, b) => a.id.localeCompare(b.id))) {
    const known = byWindow.get(rate.windowSeconds);
    if (!known || rate.limit < known.limit)
      byWindow.set(rate.windowSeconds, { ...rate, policies: [id], text: describeRate(rate) });
    else if (rate.limit === known.limit) known.policies.push(id);
  }
  return [...byWindow.values()].sort((a, b) => a.windowSeconds - b.windowSeconds);
}

/** Start (epoch seconds) of the fixed window that holds `at`. Windows are aligned to the epoch. */
export function windowStart(at: Date, windowSeconds: number): number {
  const seconds = Math.floor(at.getTime() / 1000);
  return seconds - (seconds % windowSeconds);
}

/** The default quota from {@link DEFAULT_RATE_ENV}, or {@link BUILT_IN_DEFAULT_RATE}; throws on a bad value. */
export function defaultRateFromEnv(env: Record<string, string | undefined> = process.env): RateLimit {
  const raw = env[DEFAULT_RATE_ENV];
  return requireRate(raw === undefined || raw === '' ? BUILT_IN_DEFAULT_RATE : raw, DEFAULT_RATE_ENV);
}
