/**
 * The Slack signature check and replay guard on their own (no handler): the
 * exact shape of the headers Slack sends, the base string Slack signs, the
 * reasons logged for each refusal, and the replay guard's keys and expiry in
 * DynamoDB (dynalite). The endpoint's 401s are in signature.test.ts.
 */
import { createHmac } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  claimSignature,
  MAX_SKEW_SECONDS,
  replayGuardKey,
  signSlackRequest,
  verifySlackSignature,
} from '../../lambdas/interaction/signature.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';

const SECRET = 'signing-secret-for-the-check';
const NOW_S = 1_780_315_200;
const body = Buffer.from('payload=%7B%22type%22%3A%22block_actions%22%7D');

const check = (timestamp: string | undefined, signature: string | undefined, nowSeconds = NOW_S) =>
  verifySlackSignature({ rawBody: body, timestamp, signature, signingSecret: SECRET, nowSeconds });

describe('signSlackRequest', () => {
  it("signs Slack's base string v0:<timestamp>:<body> with HMAC-SHA256 under the signing secret", () => {
    // Prepare
    const expected = createHmac('sha256', SECRET)
      .update(`v0:${NOW_S}:${body.toString('utf8')}`)
      .digest('hex');

    // Act
    const signature = signSlackRequest(SECRET, NOW_S, body);

    // Assess
    expect(signature).toBe(`v0=${expected}`);
    expect(signSlackRequest(SECRET, String(NOW_S), body.toString('utf8'))).toBe(signature);
  });
});

describe('verifySlackSignature', () => {
  it('accepts a signed request and reports its timestamp as a number', () => {
    // Prepare
    const signature = signSlackRequest(SECRET, NOW_S, body);

    // Act
    const result = check(String(NOW_S), signature);

    // Assess
    expect(result).toEqual({ ok: true, timestamp: NOW_S, signature });
  });

  it.each([
    ['a leading space', ` ${NOW_S}`],
    ['a trailing space', `${NOW_S} `],
    ['a sign', `+${NOW_S}`],
    ['leading zeros beyond twelve digits', `000${NOW_S}`],
    ['letters before the digits', `x${NOW_S}`],
    ['letters after the digits', `${NOW_S}x`],
    ['an exponent', '1.78e9'],
    ['nothing', ''],
  ])('refuses a timestamp with %s even when the signature covers it', (_name, timestamp) => {
    // Act: the attacker signs exactly what it sends (as if it held the secret for that string)
    const result = check(timestamp, signSlackRequest(SECRET, timestamp, body));

    // Assess
    expect(result).toEqual({ ok: false, reason: 'malformed X-Slack-Request-Timestamp' });
  });

  it('accepts a twelve-digit timestamp shape (then judges its skew)', () => {
    // Act
    const result = check('000000000001', signSlackRequest(SECRET, '000000000001', body));

    // Assess
    expect(result).toEqual({ ok: false, reason: `timestamp is ${NOW_S - 1} s from now (limit 300 s)` });
  });

  it.each([
    ['past', -MAX_SKEW_SECONDS],
    ['future', MAX_SKEW_SECONDS],
  ])('accepts a timestamp exactly at the edge of the window (%s)', (_name, offset) => {
    // Prepare
    const ts = NOW_S + offset;

    // Act
    const result = check(String(ts), signSlackRequest(SECRET, ts, body));

    // Assess
    expect(result).toMatchObject({ ok: true, timestamp: ts });
  });

  it.each([
    ['past', -(MAX_SKEW_SECONDS + 1), `timestamp is ${MAX_SKEW_SECONDS + 1} s from now (limit 300 s)`],
    ['future', MAX_SKEW_SECONDS + 1, `timestamp is -${MAX_SKEW_SECONDS + 1} s from now (limit 300 s)`],
  ])('says how far a %s timestamp is outside the window', (_name, offset, reason) => {
    // Prepare
    const ts = NOW_S + offset;

    // Act
    const result = check(String(ts), signSlackRequest(SECRET, ts, body));

    // Assess
    expect(result).toEqual({ ok: false, reason });
  });

  it.each([
    ['a prefix', (s: string) => `x${s}`],
    ['a suffix', (s: string) => `${s}0`],
    ['upper-case hex', (s: string) => s.toUpperCase().replace('V0=', 'v0=')],
    ['no scheme', (s: string) => s.slice(3)],
  ])('refuses a signature with %s as malformed before comparing it', (_name, change) => {
    // Prepare
    const signature = change(signSlackRequest(SECRET, NOW_S, body));

    // Act
    const result = check(String(NOW_S), signature);

    // Assess
    expect(result).toEqual({ ok: false, reason: 'malformed X-Slack-Signature' });
  });

  it.each([
    ['no timestamp header', undefined, 'v0=abc'],
    ['no signature header', String(NOW_S), undefined],
    ['neither header', undefined, undefined],
  ])('refuses a request with %s', (_name, timestamp, signature) => {
    // Act
    const result = check(timestamp, signature);

    // Assess
    expect(result).toEqual({ ok: false, reason: 'missing Slack signature headers' });
  });

  it('refuses everything when no signing secret is configured', () => {
    // Act
    const result = verifySlackSignature({
      rawBody: body,
      timestamp: String(NOW_S),
      signature: signSlackRequest('', NOW_S, body),
      signingSecret: '',
      nowSeconds: NOW_S,
    });

    // Assess
    expect(result).toEqual({ ok: false, reason: 'no signing secret configured' });
  });

  it('refuses a well-formed signature under another secret', () => {
    // Act
    const result = check(String(NOW_S), signSlackRequest('another-secret', NOW_S, body));

    // Assess
    expect(result).toEqual({ ok: false, reason: 'signature does not match' });
  });
});

describe('claimSignature (replay guard)', () => {
  let aws: LocalAws;
  beforeAll(async () => {
    aws = await startLocalAws();
  });
  afterAll(async () => {
    await aws.close();
  });

  it('a pair is claimed once; a replay of it is refused', async () => {
    // Prepare
    const pair = { timestamp: NOW_S, signature: signSlackRequest(SECRET, NOW_S, 'first') };

    // Act
    const first = await claimSignature(aws, pair);
    const replay = await claimSignature(aws, pair);

    // Assess
    expect([first, replay]).toEqual([true, false]);
  });

  it('a table that cannot be written is an error, never read as a replay', async () => {
    // Prepare: a table that does not exist (as a deleted or unreachable one answers)
    const pair = { timestamp: NOW_S, signature: signSlackRequest(SECRET, NOW_S, 'no-table') };

    // Act and assess: the caller sees the failure (the handler answers 500, nothing approved), not "replayed"
    await expect(claimSignature({ ...aws, table: 'countersign-no-such-table' }, pair)).rejects.toThrow(
      /non-existent table|not found/i,
    );
    expect(await claimSignature(aws, pair)).toBe(true);
  });

  it('two requests in the same second are both claimed: the key covers the signature', async () => {
    // Act
    const a = await claimSignature(aws, {
      timestamp: NOW_S + 1,
      signature: signSlackRequest(SECRET, NOW_S, 'a'),
    });
    const b = await claimSignature(aws, {
      timestamp: NOW_S + 1,
      signature: signSlackRequest(SECRET, NOW_S, 'b'),
    });

    // Assess
    expect([a, b]).toEqual([true, true]);
  });

  it('the same signature at another timestamp is another claim', async () => {
    // Prepare
    const signature = signSlackRequest(SECRET, NOW_S, 'same');

    // Act
    const a = await claimSignature(aws, { timestamp: NOW_S + 2, signature });
    const b = await claimSignature(aws, { timestamp: NOW_S + 3, signature });

    // Assess
    expect([a, b]).toEqual([true, true]);
  });

  it('the claim expires (TTL) only after the timestamp has left the skew window', async () => {
    // Prepare
    const pair = { timestamp: NOW_S + 4, signature: signSlackRequest(SECRET, NOW_S, 'ttl') };
    await claimSignature(aws, pair);

    // Act
    const key = replayGuardKey(pair.timestamp, pair.signature);
    const { Item } = await aws.ddb.send(new GetCommand({ TableName: aws.table, Key: key }));

    // Assess
    expect(key).toEqual({ pk: expect.stringMatching(/^SLACKSIG#[0-9a-f]{64}$/), sk: 'SLACKSIG' });
    expect(Item?.ttl).toBe(pair.timestamp + 2 * MAX_SKEW_SECONDS + 60);
  });
});
