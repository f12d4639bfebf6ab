/**
 * The background Slack client waits out Slack's 429s: never sooner than
 * `Retry-After`, with a jitter so callers refused together do not retry
 * together, within a time budget that ends inside the handler's timeout (then
 * the 429 goes back to the library, whose bounded retries end the call).
 * The fake Slack's clock moves only when the client sleeps: nothing here waits.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { retryAfterFetch, SLACK_RATE_LIMIT_BUDGET_MS, SLACK_TIMEOUT_MS } from '../../lambdas/shared/slack.js';
import {
  FAKE_SLACK_TOKEN,
  loadDirectory,
  type RunningFakeSlack,
  startFakeSlack,
} from '../../sandbox/fake-slack.js';
import { SLACK_RATE_LIMITS } from '../../sandbox/slack-rate-limits.js';

let slack: RunningFakeSlack;
let clock = 5_000_000;
const slept: number[] = [];
const sleep = async (ms: number) => {
  slept.push(ms);
  clock += ms;
};

beforeAll(async () => {
  slack = await startFakeSlack({ directory: loadDirectory(), clock: () => clock });
});
afterAll(() => slack.close());
beforeEach(() => {
  slack.reset();
  slept.length = 0;
});

const post = (send: typeof fetch, text: string) =>
  send(`${slack.url}chat.postMessage`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${FAKE_SLACK_TOKEN}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ channel: 'C0APPROVAL', text }).toString(),
    signal: AbortSignal.timeout(SLACK_TIMEOUT_MS),
  });

describe('retryAfterFetch', () => {
  it('a card over the channel limit waits Retry-After plus jitter, then goes through once', async () => {
    // Prepare: the channel's burst spent
    const send = retryAfterFetch({ sleep, random: () => 0.5, jitterMs: 1_000 });
    for (let i = 0; i < SLACK_RATE_LIMITS['chat.postMessage']!.burst; i++) await post(send, `burst ${i}`);

    // Act
    const response = await post(send, 'the one over the limit');

    // Assess
    expect(response.status).toBe(200);
    expect(slept).toEqual([1_500]);
    const calls = slack.calls.filter((c) => c.params.text === 'the one over the limit');
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(calls[0]!.retryAfter! * 1000);
    expect(slack.sent('chat.postMessage').filter((m) => m.text === 'the one over the limit')).toHaveLength(1);
  });

  it('gives the 429 back once the next wait would not fit the budget', async () => {
    // Prepare: Slack keeps refusing for longer than the budget
    slack.setRateLimit('chat.postMessage', 100, 7);
    const send = retryAfterFetch({ sleep, random: () => 0 });

    // Act
    const response = await post(send, 'refused');

    // Assess
    expect(response.status).toBe(429);
    expect(slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(SLACK_RATE_LIMIT_BUDGET_MS);
    expect(slept).toEqual([7_000, 7_000]);
    expect(slack.sent('chat.postMessage')).toEqual([]);
  });

  it('passes any other answer through untouched', async () => {
    // Act
    const send = retryAfterFetch({ sleep });
    const response = await send(`${slack.url}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: 'Bearer xoxb-wrong', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'channel=C0APPROVAL&text=x',
    });

    // Assess
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: false, error: 'invalid_auth' });
    expect(slept).toEqual([]);
  });
});
