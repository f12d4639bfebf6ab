/**
 * Slack request authentication. The Function URL has no auth of its own: the
 * Slack signature is the authentication, so everything here fails closed.
 *
 * Slack signs `v0:<X-Slack-Request-Timestamp>:<raw body>` with HMAC-SHA256
 * under the app's signing secret and sends `v0=<hex>` as `X-Slack-Signature`.
 * A request is accepted when the signature matches (constant-time compare),
 * the timestamp is within {@link MAX_SKEW_SECONDS} of now in either direction,
 * and the (timestamp, signature) pair has not been seen before.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ReviewCoreDeps } from '../review-core/contract.js';
import { claimOnce } from '../review-core/replay.js';
import { sha256Hex } from '../shared/canonical.js';

/** Largest accepted |now − timestamp|, in seconds. */
export const MAX_SKEW_SECONDS = 300;

/** Outcome of {@link verifySlackSignature}. */
export type SignatureCheck =
  | { ok: true; timestamp: number; signature: string }
  | { ok: false; reason: string };

/** The inputs of a signature check; header values as received. */
export interface SignatureInput {
  rawBody: Uint8Array;
  timestamp: string | undefined;
  signature: string | undefined;
  signingSecret: string;
  nowSeconds: number;
}

const TIMESTAMP = /^\d{1,12}$/;
const SIGNATURE = /^v0=[0-9a-f]{64}$/;

/** The `v0=<hex>` signature Slack would send for this body and timestamp. */
export function signSlackRequest(
  signingSecret: string,
  timestamp: string | number,
  rawBody: Uint8Array | string,
): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${timestamp}:`);
  hmac.update(rawBody);
  return `v0=${hmac.digest('hex')}`;
}

/** Checks the signature and the timestamp window (not replays: see {@link claimSignature}). */
export function verifySlackSignature(input: SignatureInput): SignatureCheck {
  const { timestamp, signature } = input;
  if (!input.signingSecret) return { ok: false, reason: 'no signing secret configured' };
  if (timestamp === undefined || signature === undefined)
    return { ok: false, reason: 'missing Slack signature headers' };
  if (!TIMESTAMP.test(timestamp)) return { ok: false, reason: 'malformed X-Slack-Request-Timestamp' };
  const ts = Number(timestamp);
  if (Math.abs(input.nowSeconds - ts) > MAX_SKEW_SECONDS) {
    return {
      ok: false,
      reason: `timestamp is ${input.nowSeconds - ts} s from now (limit ${MAX_SKEW_SECONDS} s)`,
    };
  }
  if (!SIGNATURE.test(signature)) return { ok: false, reason: 'malformed X-Slack-Signature' };
  const expected = Buffer.from(signSlackRequest(input.signingSecret, timestamp, input.rawBody));
  const received = Buffer.from(signature);
  // Both are `v0=` + 64 hex characters here; the length check keeps timingSafeEqual from throwing regardless.
  // Stryker disable next-line ConditionalExpression: the signature pattern above already makes both lengths 67
  if (expected.length !== received.length || !timingSafeEqual(expected, received)) {
    return { ok: false, reason: 'signature does not match' };
  }
  return { ok: true, timestamp: ts, signature };
}

/** Replay-guard key of a (timestamp, signature) pair. */
export const replayGuardKey = (timestamp: number, signature: string) => ({
  pk: `SLACKSIG#${sha256Hex(`${timestamp}:${signature}`)}`,
  sk: 'SLACKSIG' as const,
});

/**
 * Records a verified (timestamp, signature) pair with a conditional put;
 * returns false when it was already recorded (a replay). The item expires by
 * TTL once the timestamp has left the skew window, after which the timestamp
 * check alone rejects the pair.
 */
export async function claimSignature(
  deps: Pick<ReviewCoreDeps, 'ddb' | 'table'>,
  check: { timestamp: number; signature: string },
): Promise<boolean> {
  return claimOnce(
    deps,
    replayGuardKey(check.timestamp, check.signature),
    check.timestamp + 2 * MAX_SKEW_SECONDS + 60,
  );
}
