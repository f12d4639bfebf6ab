/**
 * The pace of one Slack channel: a token bucket. Slack allows about one
 * `chat.postMessage` a second per channel and tolerates short bursts, so the
 * bucket holds `burst` tokens and refills `ratePerSecond` of them a second;
 * posting a card takes one. A 429 empties the bucket and holds it until the
 * `Retry-After` has passed. Pure: the clock is passed in, so tests drive it.
 */

const EPSILON = 1e-9;

/** How fast a channel may be posted to. */
export interface Pace {
  /** Tokens added a second (cards a second, sustained). */
  ratePerSecond: number;
  /** Most tokens held (cards that may go out back to back). */
  burst: number;
}

/** The bucket's state, as carried between drainers on the channel's lease. */
export interface BucketState {
  tokens: number;
  /** Epoch ms of the last refill. */
  refilledAt: number;
  /** Epoch ms before which nothing may be posted (a 429's Retry-After), 0 when none. */
  notBefore: number;
}

/** Refuses a pace that could never post or never wait. */
export function paceProblem(pace: Pace): string | undefined {
  if (!(Number.isFinite(pace.ratePerSecond) && pace.ratePerSecond > 0))
    return `ratePerSecond must be a positive number, got ${pace.ratePerSecond}`;
  if (!(Number.isInteger(pace.burst) && pace.burst >= 1))
    return `burst must be a whole number of at least 1, got ${pace.burst}`;
  return undefined;
}

/** A token bucket over an injected clock (epoch ms). */
export class TokenBucket {
  private state: BucketState;

  constructor(
    readonly pace: Pace,
    private readonly clock: () => number,
    initial?: Partial<BucketState>,
  ) {
    const problem = paceProblem(pace);
    if (problem) throw new Error(`card pace refused: ${problem}`);
    const now = clock();
    this.state = {
      tokens: Math.min(pace.burst, Math.max(0, initial?.tokens ?? pace.burst)),
      // A refill time in the future (a skewed clock) would withhold tokens: never later than now or a 429's hold.
      refilledAt: Math.min(initial?.refilledAt ?? now, Math.max(now, initial?.notBefore ?? 0)),
      notBefore: initial?.notBefore ?? 0,
    };
  }

  private refill(now: number): void {
    // Before a 429's hold ends the bucket stays empty: refilling starts when the hold does.
    if (now <= this.state.refilledAt) return;
    const elapsed = now - this.state.refilledAt;
    this.state.tokens = Math.min(
      this.pace.burst,
      this.state.tokens + (elapsed / 1000) * this.pace.ratePerSecond,
    );
    this.state.refilledAt = now;
  }

  /** Milliseconds until a token may be taken (0: now). */
  waitMs(): number {
    const now = this.clock();
    this.refill(now);
    const held = Math.max(0, this.state.notBefore - now);
    // A hair below one token is floating-point dust from many small refills, not a missing token.
    const missing =
      this.state.tokens >= 1 - EPSILON ? 0 : ((1 - this.state.tokens) / this.pace.ratePerSecond) * 1000;
    return Math.ceil(Math.max(held, missing));
  }

  /** Takes a token when one is there; false (nothing taken) otherwise. */
  take(): boolean {
    if (this.waitMs() > 0) return false;
    this.state.tokens = Math.max(0, this.state.tokens - 1);
    return true;
  }

  /** Slack answered 429: nothing more until `retryAfterSeconds` have passed, then refill from empty. */
  rateLimited(retryAfterSeconds: number): void {
    const now = this.clock();
    const seconds = Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0 ? retryAfterSeconds : 1;
    this.state.tokens = 0;
    this.state.notBefore = now + seconds * 1000;
    this.state.refilledAt = this.state.notBefore;
  }

  /** The state to hand to the next drainer. */
  snapshot(): BucketState {
    this.refill(Math.max(this.clock(), this.state.refilledAt));
    return { ...this.state };
  }
}
