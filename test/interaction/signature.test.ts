/**
 * Slack signature matrix: every rejection is a 401 that changes nothing (no
 * vote, no audit record, no task callback, no Slack message).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toHttpRequest } from '../../lambdas/interaction/payload.js';
import {
  MAX_SKEW_SECONDS,
  signSlackRequest,
  verifySlackSignature,
} from '../../lambdas/interaction/signature.js';
import type { RequestItem } from '../../lambdas/shared/store.js';
import { type Harness, SIGNING_SECRET, startHarness, USERS } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  h.reset();
});

const NOW = new Date('2026-06-01T12:00:00Z');
const NOW_S = NOW.getTime() / 1000;

async function assertNothingChanged(request: RequestItem) {
  const stored = await h.request(request.intentId);
  expect(stored?.status).toBe('PENDING');
  expect(stored?.approvals).toEqual([]);
  expect((await h.verifiedChain(request.intentId)).map((r) => r.kind)).toEqual([
    'requested',
    'reviewers-notified',
  ]);
  expect(h.fakeAws.tasks.calls).toEqual([]);
  expect(h.slack.messages).toEqual([]);
}

describe('verifySlackSignature', () => {
  const body = Buffer.from('payload=%7B%7D');
  const sign = (ts: number) => signSlackRequest(SIGNING_SECRET, ts, body);
  const check = (timestamp: string | undefined, signature: string | undefined, rawBody = body) =>
    verifySlackSignature({ rawBody, timestamp, signature, signingSecret: SIGNING_SECRET, nowSeconds: NOW_S });

  it.each([
    ['valid', String(NOW_S), sign(NOW_S), true],
    [
      'valid at the edge of the window (past)',
      String(NOW_S - MAX_SKEW_SECONDS),
      sign(NOW_S - MAX_SKEW_SECONDS),
      true,
    ],
    [
      'valid at the edge of the window (future)',
      String(NOW_S + MAX_SKEW_SECONDS),
      sign(NOW_S + MAX_SKEW_SECONDS),
      true,
    ],
    ['stale', String(NOW_S - MAX_SKEW_SECONDS - 1), sign(NOW_S - MAX_SKEW_SECONDS - 1), false],
    ['future', String(NOW_S + MAX_SKEW_SECONDS + 1), sign(NOW_S + MAX_SKEW_SECONDS + 1), false],
    ['bad signature', String(NOW_S), `v0=${'0'.repeat(64)}`, false],
    ['signature of another timestamp', String(NOW_S), sign(NOW_S - 1), false],
    ['short signature', String(NOW_S), 'v0=abc', false],
    ['v1 signature', String(NOW_S), sign(NOW_S).replace('v0=', 'v1='), false],
    ['malformed timestamp', `${NOW_S}.5`, sign(NOW_S), false],
    ['missing timestamp', undefined, sign(NOW_S), false],
    ['missing signature', String(NOW_S), undefined, false],
  ])('%s', (_name, timestamp, signature, ok) => {
    // Act
    const result = check(timestamp, signature);

    // Assess
    expect(result.ok).toBe(ok);
  });

  it('rejects an altered body', () => {
    // Act
    const result = check(String(NOW_S), sign(NOW_S), Buffer.from('payload=%7B%7D&x=1'));

    // Assess
    expect(result).toEqual({ ok: false, reason: 'signature does not match' });
  });

  it('rejects every signature when no signing secret is configured', () => {
    // Act
    const result = verifySlackSignature({
      rawBody: body,
      timestamp: String(NOW_S),
      signature: signSlackRequest('', NOW_S, body),
      signingSecret: '',
      nowSeconds: NOW_S,
    });

    // Assess
    expect(result.ok).toBe(false);
  });
});

describe('interaction endpoint', () => {
  it('accepts a valid signature', async () => {
    // Prepare
    h.setNow(NOW);
    const request = await h.seed();

    // Act
    const result = await h.send(h.click(USERS.alice, 'approve', request.intentId));

    // Assess
    expect(result.statusCode).toBe(200);
    expect((await h.request(request.intentId))?.status).toBe('APPROVED');
  });

  it.each([
    ['bad signature', { 'x-slack-signature': `v0=${'a'.repeat(64)}` }],
    ['stale timestamp', { stale: true }],
    ['future timestamp', { future: true }],
    ['missing timestamp header', { 'x-slack-request-timestamp': undefined }],
    ['missing signature header', { 'x-slack-signature': undefined }],
  ])('rejects a %s with 401 and changes nothing', async (_name, change) => {
    // Prepare
    h.setNow(NOW);
    const request = await h.seed();
    h.reset();
    const offset =
      'stale' in change ? -(MAX_SKEW_SECONDS + 1) : 'future' in change ? MAX_SKEW_SECONDS + 1 : 0;
    h.setNow(new Date(NOW.getTime() + offset * 1000));
    const click = h.click(USERS.alice, 'approve', request.intentId);
    h.setNow(NOW);
    if (!('stale' in change) && !('future' in change)) Object.assign(click.headers, change);

    // Act
    const result = await h.send(click);

    // Assess
    expect(result).toMatchObject({ statusCode: 401, outcome: 'signature-rejected' });
    await assertNothingChanged(request);
  });

  it('rejects an altered body with 401 and changes nothing', async () => {
    // Prepare
    h.setNow(NOW);
    const request = await h.seed();
    const other = await h.seed();
    h.reset();
    h.setNow(NOW);
    const click = h.click(USERS.alice, 'approve', request.intentId);
    const altered = click.rawBody.toString('utf8').replace(request.intentId, other.intentId);

    // Act
    const result = await h.send({ ...click, rawBody: Buffer.from(altered) });

    // Assess
    expect(result).toMatchObject({ statusCode: 401, outcome: 'signature-rejected' });
    await assertNothingChanged(request);
    await assertNothingChanged(other);
  });

  it('rejects a replay of a valid request with 401 and changes nothing more', async () => {
    // Prepare
    h.setNow(NOW);
    const request = await h.seed({ review: { quorum: 2 } });
    const click = h.click(USERS.alice, 'approve', request.intentId);
    const first = await h.send(click);
    const chainAfterFirst = await h.verifiedChain(request.intentId);

    // Act
    const replay = await h.send(click);

    // Assess
    expect(first.outcome).toBe('voted');
    expect(replay).toMatchObject({ statusCode: 401, outcome: 'replayed' });
    expect(await h.verifiedChain(request.intentId)).toHaveLength(chainAfterFirst.length);
    expect((await h.request(request.intentId))?.approvals).toHaveLength(1);
  });

  it('verifies the signature over the decoded bytes of a base64 Function URL body', async () => {
    // Prepare
    h.setNow(NOW);
    const request = await h.seed();
    const click = h.click(USERS.alice, 'approve', request.intentId);
    const event = {
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Slack-Request-Timestamp': click.headers['x-slack-request-timestamp'],
        'X-Slack-Signature': click.headers['x-slack-signature'],
      },
      body: click.rawBody.toString('base64'),
      isBase64Encoded: true,
    };

    // Act
    const result = await h.send(toHttpRequest(event));
    const undecoded = await h.send(toHttpRequest({ ...event, isBase64Encoded: false }));

    // Assess
    expect(result.outcome).toBe('approved');
    expect(undecoded).toMatchObject({ statusCode: 401, outcome: 'signature-rejected' });
  });

  it('answers a signed but malformed payload with 400 and changes nothing', async () => {
    // Prepare
    h.setNow(NOW);
    const body = Buffer.from('payload=not-json');
    const ts = String(NOW_S);

    // Act
    const result = await h.send({
      headers: {
        'x-slack-request-timestamp': ts,
        'x-slack-signature': signSlackRequest(SIGNING_SECRET, ts, body),
      },
      rawBody: body,
    });

    // Assess
    expect(result).toMatchObject({ statusCode: 400, outcome: 'invalid-payload' });
    expect(h.slack.messages).toEqual([]);
  });
});
