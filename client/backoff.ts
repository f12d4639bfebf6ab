/** Exponential backoff with full jitter, bounded, with injectable clock and randomness for tests. */

/** Backoff settings. */
export interface BackoffOptions {
  /**
   * Attempts in all, the first included.
   * @default 6
   */
  maxAttempts?: number;
  /**
   * Base delay in ms: attempt n waits a random time in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))].
   * @default 100
   */
  baseDelayMs?: number;
  /**
   * Cap of one delay, in ms.
   * @default 5000
   */
  maxDelayMs?: number;
}

/** Clock and randomness, injectable. */
export interface Timing {
  /** @default setTimeout-based */
  sleep?: (ms: number) => Promise<void>;
  /** @default Math.random */
  random?: () => number;
  /** @default Date.now */
  now?: () => number;
}

export const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The delay before retry number `retry` (1 = first retry), full jitter. */
export function backoffDelay(
  retry: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
) {
  const base = options.baseDelayMs ?? 100;
  const cap = options.maxDelayMs ?? 5000;
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}
