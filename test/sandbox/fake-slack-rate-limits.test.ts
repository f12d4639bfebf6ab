/**
 * The fake Slack enforces Slack's documented rate limits: per-method tiers per
 * token, the per-channel posting limit with its short burst, HTTP 429 with a
 * `Retry-After` computed from the bucket, counters a bench reads, and an off
 * switch. Time comes from an injected clock: nothing here sleeps.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  FAKE_SLACK_TOKEN,
  loadDirectory,
  type RunningFakeSlack,
  startFakeSlack,
} from '../../sandbox/fake-slack.js';
import { createRateLimiter, SLACK_RATE_LIMITS, SLACK_TIERS } from '../../sandbox/slack-rate-limits.js';

let clock = 1_000_000;
const now = () => clock;

/** One raw Web API call, as a Slack client sends it. */
async function call(slack: RunningFakeSlack, method: string, params: Record<string, string> = {}) {
  const response = await fetch(`${slack.url}${method}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${FAKE_SLACK_TOKEN}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(params).toString(),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as { ok: boolean; error?: string },
  };
}

const post = (slack: RunningFakeSlack, channel: string, text = 'card') =>
  call(slack, 'chat.postMessage', { channel, text });

describe('the rate-limited fake Slack', () => {
  let slack: RunningFakeSlack;
  beforeAll(async () => {
    slack = await startFakeSlack({ directory: loadDirectory(), clock: now });
  });
  afterAll(async () => {
    await slack.close();
  });
  beforeEach(() => {
    slack.reset();
  });

  it('is on by default: a tier-2 method takes its burst, then answers 429 with Retry-After from the bucket', async () => {
    // Prepare
    const burst = SLACK_TIERS.tier2.burst;

    // Act
    const answers = [];
    for (let i = 0; i < burst + 1; i++)
      answers.push(await call(slack, 'usergroups.users.list', { usergroup: 'S0NONE' }));

    // Assess: the burst reaches the method (which answers its own error), the next is refused
    expect(answers.slice(0, burst).map((a) => a.status)).toEqual(Array(burst).fill(200));
    const refused = answers.at(-1)!;
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ ok: false, error: 'ratelimited' });
    // 20 a minute: one call every 3 s
    expect(refused.retryAfter).toBe('3');
    const recorded = slack.calls.at(-1)!;
    expect(recorded).toMatchObject({
      method: 'usergroups.users.list',
      status: 429,
      error: 'ratelimited',
      at: clock,
      retryAfter: 3,
    });
  });

  it('accepts the call again once Retry-After has passed, and not before', async () => {
    // Prepare
    for (let i = 0; i < SLACK_TIERS.tier2.burst; i++) await call(slack, 'usergroups.list');
    const refused = await call(slack, 'usergroups.list');

    // Act
    clock += Number(refused.retryAfter) * 1000 - 1;
    const early = await call(slack, 'usergroups.list');
    clock += 1 + Number(early.retryAfter) * 1000;
    const onTime = await call(slack, 'usergroups.list');

    // Assess
    expect(refused.status).toBe(429);
    expect(early.status).toBe(429);
    expect(onTime.status).toBe(200);
  });

  it('limits chat.postMessage per channel: a short burst, then one a second, other channels unaffected', async () => {
    // Prepare
    const burst = SLACK_RATE_LIMITS['chat.postMessage']!.burst;

    // Act
    const first = [];
    for (let i = 0; i < burst + 1; i++) first.push(await post(slack, 'C0APPROVAL'));
    const elsewhere = await post(slack, 'C0OTHER');
    clock += 1_000;
    const afterOneSecond = [await post(slack, 'C0APPROVAL'), await post(slack, 'C0APPROVAL')];

    // Assess
    expect(first.map((a) => a.status)).toEqual([...Array(burst).fill(200), 429]);
    expect(first.at(-1)!.retryAfter).toBe('1');
    expect(elsewhere.status).toBe(200);
    expect(afterOneSecond.map((a) => a.status)).toEqual([200, 429]);
    expect(slack.sent('chat.postMessage').filter((m) => m.channel === 'C0APPROVAL')).toHaveLength(burst + 1);
  });

  it('never accepts more than one post a second per channel plus the burst, however hard it is pushed', async () => {
    // Act: ten attempts a second for a simulated minute
    for (let i = 0; i < 600; i++) {
      await post(slack, 'C0APPROVAL');
      clock += 100;
    }

    // Assess
    const { accepted, limited, acceptedByChannel } = slack.rateLimitCounters();
    const allowed = 60 + SLACK_RATE_LIMITS['chat.postMessage']!.burst;
    expect(accepted['chat.postMessage']).toBeLessThanOrEqual(allowed);
    expect(accepted['chat.postMessage']).toBeGreaterThanOrEqual(allowed - 1);
    expect(acceptedByChannel['chat.postMessage']).toEqual({ C0APPROVAL: accepted['chat.postMessage'] });
    expect(limited['chat.postMessage']).toBe(600 - accepted['chat.postMessage']!);
  });

  it('counts accepted calls by method and channel and 429s by method; reset refills and zeroes', async () => {
    // Prepare
    const tried = SLACK_TIERS.tier4.burst + 3;
    for (let i = 0; i < tried; i++) await call(slack, 'users.info', { user: 'U0ALICE01' });
    await post(slack, 'C0APPROVAL');
    await post(slack, 'C0OTHER');

    // Act
    const counted = slack.rateLimitCounters();
    slack.reset();
    const afterReset = await call(slack, 'users.info', { user: 'U0ALICE01' });

    // Assess
    expect(counted).toEqual({
      accepted: { 'users.info': SLACK_TIERS.tier4.burst, 'chat.postMessage': 2 },
      limited: { 'users.info': 3 },
      acceptedByChannel: { 'chat.postMessage': { C0APPROVAL: 1, C0OTHER: 1 } },
    });
    expect(afterReset.status).toBe(200);
    expect(slack.rateLimitCounters().accepted).toEqual({ 'users.info': 1 });
  });

  it('does not spend the bucket on calls with a wrong token', async () => {
    // Act
    for (let i = 0; i < SLACK_TIERS.tier4.burst + 5; i++) {
      await fetch(`${slack.url}users.info`, {
        method: 'POST',
        headers: {
          authorization: 'Bearer xoxb-someone-else',
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'user=U0ALICE01',
      });
    }
    const mine = await call(slack, 'users.info', { user: 'U0ALICE01' });

    // Assess
    expect(slack.calls.slice(0, -1).every((c) => c.error === 'invalid_auth')).toBe(true);
    expect(mine.status).toBe(200);
  });

  it('keeps setRateLimit for forced 429s, whatever the buckets hold', async () => {
    // Prepare
    slack.setRateLimit('auth.test', 1, 7);

    // Act
    const forced = await call(slack, 'auth.test');
    const next = await call(slack, 'auth.test');

    // Assess
    expect(forced).toMatchObject({ status: 429, retryAfter: '7' });
    expect(next.status).toBe(200);
  });
});

describe('switching the limits off or replacing them', () => {
  it('rateLimits: false accepts any rate', async () => {
    // Prepare
    const slack = await startFakeSlack({ directory: loadDirectory(), clock: now, rateLimits: false });
    try {
      // Act
      const answers = [];
      for (let i = 0; i < 40; i++) answers.push((await post(slack, 'C0APPROVAL')).status);

      // Assess
      expect(answers.every((s) => s === 200)).toBe(true);
      expect(slack.rateLimitCounters()).toEqual({ accepted: {}, limited: {}, acceptedByChannel: {} });
    } finally {
      await slack.close();
    }
  });

  it('a custom table replaces the limits of the methods it names', async () => {
    // Prepare
    const slack = await startFakeSlack({
      directory: loadDirectory(),
      clock: now,
      rateLimits: { 'auth.test': { perMinute: 6, burst: 1, scope: 'token' } },
    });
    try {
      // Act
      const answers = [await call(slack, 'auth.test'), await call(slack, 'auth.test')];

      // Assess: one call every 10 s
      expect(answers.map((a) => a.status)).toEqual([200, 429]);
      expect(answers[1]!.retryAfter).toBe('10');
    } finally {
      await slack.close();
    }
  });
});

describe('the limiter', () => {
  it('keeps one bucket per token: one app exhausting a method leaves another untouched', () => {
    // Prepare
    let t = 0;
    const limiter = createRateLimiter(SLACK_RATE_LIMITS, () => t);
    const burst = SLACK_TIERS.tier3.burst;

    // Act
    const a = Array.from({ length: burst + 1 }, () => limiter.take({ method: 'chat.update', token: 'A' }));
    const b = limiter.take({ method: 'chat.update', token: 'B' });

    // Assess: 50 a minute is one every 1.2 s, told as 2 whole seconds
    expect(a.slice(0, burst).every((v) => v.accepted)).toBe(true);
    expect(a.at(-1)).toEqual({ accepted: false, retryAfterSeconds: 2 });
    expect(b).toEqual({ accepted: true });
    t += 1_200;
    expect(limiter.take({ method: 'chat.update', token: 'A' })).toEqual({ accepted: true });
  });

  it('limits a method it does not name as Tier 3 and refuses a table with no rate', () => {
    // Prepare
    const limiter = createRateLimiter({}, () => 0);

    // Act
    const verdicts = Array.from({ length: SLACK_TIERS.tier3.burst + 1 }, () =>
      limiter.take({ method: 'conversations.members', token: 'A' }),
    );

    // Assess
    expect(verdicts.filter((v) => v.accepted)).toHaveLength(SLACK_TIERS.tier3.burst);
    expect(() => createRateLimiter({ 'chat.update': { perMinute: 0, burst: 1, scope: 'token' } })).toThrow(
      /chat.update/,
    );
  });

  it('names every method Countersign calls, with its documented tier', () => {
    expect(SLACK_RATE_LIMITS).toMatchObject({
      'chat.postMessage': { perMinute: 60, scope: 'channel' },
      'chat.update': SLACK_TIERS.tier3,
      'chat.postEphemeral': SLACK_TIERS.tier4,
      'views.open': SLACK_TIERS.tier4,
      'views.update': SLACK_TIERS.tier4,
      'users.info': SLACK_TIERS.tier4,
      'users.lookupByEmail': SLACK_TIERS.tier3,
      'usergroups.list': SLACK_TIERS.tier2,
      'usergroups.users.list': SLACK_TIERS.tier2,
      'conversations.info': SLACK_TIERS.tier3,
      'auth.test': { scope: 'token' },
    });
  });
});
