/**
 * Slack's 3-second window: the interaction handler, as deployed, talks to
 * Slack through the answer-window client (about 1 s per request, one retry,
 * a 429 rejected at once) bounded by a per-invocation deadline. A rate-limited
 * or slow Slack gets a prompt answer and changes nothing.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HttpRequest } from '../../lambdas/interaction/payload.js';
import { drain } from '../../lambdas/poster/core.js';
import { listRepaints } from '../../lambdas/shared/card-queue.js';
import {
  answerWindow,
  createPosterSlackClient,
  createSlackClient,
  createWindowSlackClient,
  SLACK_WINDOW_BUDGET_MS,
} from '../../lambdas/shared/slack.js';
import { FAKE_SLACK_TOKEN } from '../../sandbox/fake-slack.js';
import { DEMO } from '../support/fixtures.js';
import { posterDeps } from '../support/poster.js';
import { type Harness, SIGNING_SECRET, startHarness, USERS } from './harness.js';

type Handler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

let h: Harness;
let savedEnv: NodeJS.ProcessEnv;
/** The fake Slack's clock stands still: a bucket emptied here stays empty for the whole test. */
const slackClock = () => 1_000_000;

async function loadHandler(): Promise<Handler> {
  vi.resetModules();
  return ((await import('../../lambdas/interaction/handler.js')) as { handler: Handler }).handler;
}

function event(click: HttpRequest): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': click.headers['x-slack-request-timestamp']!,
      'x-slack-signature': click.headers['x-slack-signature']!,
    },
    body: click.rawBody.toString('base64'),
    isBase64Encoded: true,
    requestContext: {} as APIGatewayProxyEventV2['requestContext'],
  };
}

/** The client's settings, read from the instance (they are private in the library's types). */
const settingsOf = (client: object) => {
  const c = client as { timeout: number; rejectRateLimitedCalls: boolean; retryConfig: { retries: number } };
  return {
    timeout: c.timeout,
    rejectRateLimitedCalls: c.rejectRateLimitedCalls,
    retries: c.retryConfig.retries,
  };
};

const callsOf = (method: string) => h.slack.calls.filter((c) => c.method === method);

beforeAll(async () => {
  h = await startHarness({ slackClock });
  const secretArn = h.fakeAws.setSecret(
    'countersign/slack',
    JSON.stringify({ botToken: FAKE_SLACK_TOKEN, signingSecret: SIGNING_SECRET }),
  );
  savedEnv = { ...process.env };
  Object.assign(process.env, h.aws.env(), h.fakeAws.env(), {
    COUNTERSIGN_AUDIT_RETENTION_DAYS: '1',
    COUNTERSIGN_SLACK_SECRET_ARN: secretArn,
    COUNTERSIGN_SLACK_API_URL: h.slack.url,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
});
afterAll(async () => {
  process.env = savedEnv;
  vi.resetModules();
  await h.close();
});
beforeEach(() => h.reset());

describe('answer-window client', () => {
  it('has its own settings: 1 s timeout, one retry, 429 rejected; the background client keeps waiting out 429s', () => {
    expect(settingsOf(createWindowSlackClient(FAKE_SLACK_TOKEN))).toEqual({
      timeout: 1_000,
      rejectRateLimitedCalls: true,
      retries: 1,
    });
    expect(settingsOf(createSlackClient(FAKE_SLACK_TOKEN))).toMatchObject({ rejectRateLimitedCalls: false });
  });

  it('refuses to start a call once the window is spent, without reaching Slack', async () => {
    // Prepare
    let clock = 0;
    const window = answerWindow(() => clock);
    const client = createWindowSlackClient(FAKE_SLACK_TOKEN, h.slack.url, window);
    window.open(100);
    clock = 100;

    // Act
    const call = client.users.info({ user: USERS.alice });

    // Assess
    await expect(call).rejects.toThrow('answer window is spent');
    expect(callsOf('users.info')).toEqual([]);
    expect(SLACK_WINDOW_BUDGET_MS).toBeLessThan(3_000);
  });
});

describe('interaction handler inside the answer window', () => {
  it('answers a click at once when the identity lookup gets a 429: refused and audited, nothing approved', async () => {
    // Prepare
    const handler = await loadHandler();
    const request = await h.seed();
    h.slack.setRateLimit('users.info', 5, 30);

    // Act
    const started = Date.now();
    const result = await handler(event(h.click(USERS.alice, 'approve', request.intentId)));
    const elapsed = Date.now() - started;

    // Assess: one users.info call (no wait on Retry-After, no retry), a clear ephemeral, nothing changed
    expect(result.statusCode).toBe(200);
    expect(callsOf('users.info').map((c) => c.status)).toEqual([429]);
    expect(elapsed).toBeLessThan(1_500);
    const told = h.slack.sent('chat.postEphemeral', USERS.alice).map((m) => m.text);
    expect(told).toHaveLength(1);
    expect((await h.request(request.intentId))?.status).toBe('PENDING');
    expect(h.fakeAws.tasks.callsOf('SendTaskSuccess', request.taskToken)).toHaveLength(0);
    const chain = await h.verifiedChain(request.intentId);
    expect(chain.at(-1)).toMatchObject({ kind: 'refused', data: { code: 'unresolved' } });
  });

  it('answers a Deny click at once when views.open gets a 429: the clicker is told, nothing changes', async () => {
    // Prepare
    const handler = await loadHandler();
    const request = await h.seed();
    h.slack.setRateLimit('views.open', 5, 30);

    // Act
    const started = Date.now();
    const result = await handler(event(h.click(USERS.alice, 'deny', request.intentId)));
    const elapsed = Date.now() - started;

    // Assess
    expect(result.statusCode).toBe(500);
    expect(callsOf('views.open').map((c) => c.status)).toEqual([429]);
    expect(elapsed).toBeLessThan(1_500);
    expect(h.slack.sent('chat.postEphemeral', USERS.alice)).toHaveLength(1);
    expect(h.slack.views.size).toBe(0);
    expect((await h.request(request.intentId))?.status).toBe('PENDING');
    expect(h.fakeAws.tasks.calls).toEqual([]);
  });

  it('does not hold the answer past the window when every Slack call takes 2 s', async () => {
    // Prepare
    const handler = await loadHandler();
    const request = await h.seed();
    for (const method of [
      'users.info',
      'usergroups.list',
      'usergroups.users.list',
      'chat.update',
      'chat.postEphemeral',
    ])
      h.slack.setDelay(method, 2_000);

    // Act
    const started = Date.now();
    const result = await handler(event(h.click(USERS.alice, 'approve', request.intentId)));
    const elapsed = Date.now() - started;

    // Assess: answered inside Slack's 3 s (generous bound on a shared machine), nothing approved
    expect(elapsed).toBeLessThan(3_000);
    expect(result.statusCode).toBe(200);
    expect(callsOf('users.info')).toHaveLength(2);
    expect((await h.request(request.intentId))?.status).toBe('PENDING');
    expect(h.fakeAws.tasks.callsOf('SendTaskSuccess', request.taskToken)).toHaveLength(0);
  });
});

describe('a card update Slack rate-limits inside the window', () => {
  it('goes to the poster, which repaints the card with the vote once Slack allows it', async () => {
    // Prepare: a two-approver request with its card up, the poster deployed, chat.update over its limit
    process.env.COUNTERSIGN_POSTER_FUNCTION_ARN =
      'arn:aws:lambda:us-east-1:000000000000:function:countersign-poster';
    try {
      const handler = await loadHandler();
      const kicks: string[] = [];
      // The handler's instance of the kick module (loadHandler reset the module registry): kicks recorded.
      const { usePosterKick } = await import('../../lambdas/shared/poster-kick.js');
      usePosterKick(async (reason, channel) => {
        kicks.push(`${reason} ${channel}`);
      });
      const request = await h.seed({ review: { quorum: 2 } });
      h.slack.setRateLimit('chat.update', 1, 2);

      // Act: Alice approves (one of two); her card update gets the 429
      const result = await handler(event(h.click(USERS.alice, 'approve', request.intentId)));

      // Assess: answered, vote counted, the card handed over rather than left stale
      expect(result.statusCode).toBe(200);
      expect(callsOf('chat.update').map((c) => c.status)).toEqual([429]);
      expect((await h.request(request.intentId))?.approvals).toHaveLength(1);
      expect(kicks).toEqual([`repaint ${DEMO.channel}`]);
      expect((await listRepaints(h.deps, DEMO.channel, 10)).map((r) => r.requestId)).toEqual([
        request.intentId,
      ]);

      // Act: the kicked poster runs
      const drained = await drain(
        posterDeps(h.deps, createPosterSlackClient(FAKE_SLACK_TOKEN, h.slack.url)),
        DEMO.channel,
      );

      // Assess: the card now shows Alice's approval
      expect(drained.repainted).toEqual([request.intentId]);
      const repaint = callsOf('chat.update').at(-1)!;
      expect(repaint).toMatchObject({ status: 200, params: { ts: request.card!.ts } });
      expect(JSON.stringify(repaint.params.blocks)).toContain(USERS.alice);
      expect(await listRepaints(h.deps, DEMO.channel, 10)).toEqual([]);
    } finally {
      delete process.env.COUNTERSIGN_POSTER_FUNCTION_ARN;
    }
  });
});

describe("interaction handler against Slack's own rate limits", () => {
  /** Spends the rest of the workspace's users.info bucket, as other clicks and lookups would. */
  async function exhaustUsersInfo() {
    for (let i = 0; i < 100; i++) {
      const response = await fetch(`${h.slack.url}users.info`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${FAKE_SLACK_TOKEN}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: `user=${USERS.bob}`,
      });
      await response.body?.cancel();
      if (response.status === 429) return;
    }
    throw new Error('users.info was never limited');
  }

  it('a lookup over the users.info tier gets the apology at once: no wait on Retry-After, no retry, nothing changed', async () => {
    // Prepare: a cold container, and the tier spent
    const handler = await loadHandler();
    const request = await h.seed();
    await exhaustUsersInfo();
    const before = callsOf('users.info').length;

    // Act
    const result = await handler(event(h.click(USERS.alice, 'approve', request.intentId)));

    // Assess: Slack's clock stands still, so waiting out Retry-After and retrying would show a second 429
    expect(result.statusCode).toBe(200);
    const lookups = callsOf('users.info').slice(before);
    expect(lookups.map((c) => [c.status, c.retryAfter])).toEqual([[429, 1]]);
    expect(h.slack.sent('chat.postEphemeral', USERS.alice)).toHaveLength(1);
    expect((await h.request(request.intentId))?.status).toBe('PENDING');
    expect(h.fakeAws.tasks.callsOf('SendTaskSuccess', request.taskToken)).toHaveLength(0);
    const chain = await h.verifiedChain(request.intentId);
    expect(chain.at(-1)).toMatchObject({ kind: 'refused', data: { code: 'unresolved' } });
  });

  it('a warm container answers a second click from its cache: no lookup reaches Slack, even with the tier spent', async () => {
    // Prepare: one click warms the cache, then the tier is spent
    const handler = await loadHandler();
    // The handler's module instance of the caches (loadHandler reset the module registry)
    const { lookupCacheCounters } = await import('../../lambdas/shared/lookup-cache.js');
    const first = await h.seed();
    const second = await h.seed();
    await handler(event(h.click(USERS.alice, 'approve', first.intentId)));
    expect(h.fakeAws.tasks.callsOf('SendTaskSuccess', first.taskToken)).toHaveLength(1);
    await exhaustUsersInfo();
    const lookupsBefore = h.slack.calls.filter(
      (c) => c.method.startsWith('users') || c.method.startsWith('usergroups'),
    ).length;
    const counted = lookupCacheCounters()['users.info'] ?? { hits: 0, misses: 0 };

    // Act
    const result = await handler(event(h.click(USERS.alice, 'approve', second.intentId)));

    // Assess
    expect(result.statusCode).toBe(200);
    const lookupsAfter = h.slack.calls.filter(
      (c) => c.method.startsWith('users') || c.method.startsWith('usergroups'),
    ).length;
    expect(lookupsAfter).toBe(lookupsBefore);
    expect(h.fakeAws.tasks.callsOf('SendTaskSuccess', second.taskToken)).toHaveLength(1);
    expect(lookupCacheCounters()['users.info']).toEqual({ hits: counted.hits + 1, misses: counted.misses });
  });
});
