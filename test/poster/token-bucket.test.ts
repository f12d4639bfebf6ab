/**
 * The channel's pace as a token bucket over an injected clock: a burst goes
 * out back to back, then one card per 1/rate seconds; a 429 holds everything
 * for its Retry-After; a pace that could never post is refused.
 */
import { describe, expect, it } from 'vitest';
import { paceProblem, TokenBucket } from '../../lambdas/poster/token-bucket.js';

const clockAt = (start = 1_000_000) => {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

describe('token bucket', () => {
  it('lets a full burst out at once, then one card a second at 1/s', () => {
    // Prepare
    const clock = clockAt();
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 3 }, clock.now);
    // Act
    const burst = [bucket.take(), bucket.take(), bucket.take(), bucket.take()];
    // Assess
    expect(burst).toEqual([true, true, true, false]);
    expect(bucket.waitMs()).toBe(1000);
    clock.advance(999);
    expect(bucket.take()).toBe(false);
    clock.advance(1);
    expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
  });

  it('never holds more than the burst, however long it was idle', () => {
    const clock = clockAt();
    const bucket = new TokenBucket({ ratePerSecond: 2, burst: 2 }, clock.now, { tokens: 0 });
    clock.advance(60_000);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
    expect(bucket.waitMs()).toBe(500);
  });

  it('counts posts per window: 10 s at 1/s with a burst of 3 posts 13 cards, not more', () => {
    const clock = clockAt();
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 3 }, clock.now);
    let posted = 0;
    for (let t = 0; t <= 10_000; t += 100) {
      while (bucket.take()) posted++;
      clock.advance(100);
    }
    expect(posted).toBe(3 + 10);
  });

  it('a 429 empties the bucket and holds it for Retry-After, then refills from empty', () => {
    const clock = clockAt();
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 3 }, clock.now);
    bucket.rateLimited(7);
    expect(bucket.take()).toBe(false);
    expect(bucket.waitMs()).toBe(7000);
    clock.advance(7000);
    // The hold is over but the bucket is empty: the first token needs a second of refill.
    expect(bucket.waitMs()).toBe(1000);
    clock.advance(1000);
    expect(bucket.take()).toBe(true);
  });

  it('a nonsense Retry-After holds for one second, not zero and not forever', () => {
    const clock = clockAt();
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1 }, clock.now);
    bucket.rateLimited(Number.NaN);
    expect(bucket.waitMs()).toBe(1000);
  });

  it('carries its state to the next drainer (a re-invoked poster does not burst again)', () => {
    const clock = clockAt();
    const first = new TokenBucket({ ratePerSecond: 1, burst: 3 }, clock.now);
    first.take();
    first.take();
    first.take();
    const next = new TokenBucket({ ratePerSecond: 1, burst: 3 }, clock.now, first.snapshot());
    expect(next.take()).toBe(false);
    // A refill time in the future (a skewed clock elsewhere) cannot withhold tokens for longer.
    const skewed = new TokenBucket({ ratePerSecond: 1, burst: 1 }, clock.now, {
      tokens: 1,
      refilledAt: clock.now() + 3_600_000,
    });
    expect(skewed.take()).toBe(true);
  });

  it('refuses a pace that could never post', () => {
    expect(paceProblem({ ratePerSecond: 0, burst: 1 })).toMatch(/ratePerSecond/);
    expect(paceProblem({ ratePerSecond: 1, burst: 0 })).toMatch(/burst/);
    expect(paceProblem({ ratePerSecond: 1, burst: 1.5 })).toMatch(/burst/);
    expect(paceProblem({ ratePerSecond: 1, burst: 3 })).toBeUndefined();
    expect(() => new TokenBucket({ ratePerSecond: Number.NaN, burst: 1 }, Date.now)).toThrow(/refused/);
  });
});
