/**
 * Audit digests: the signed, hourly, chained listing of every audit record
 * written in one UTC hour, in the manner of CloudTrail digest files. Shared by
 * the digest Lambda (which writes them) and `countersign audit verify` (which
 * checks them), so both agree byte for byte on what is signed.
 *
 * Format (`digests/<yyyy>/<mm>/<dd>/<hh>.json`, canonical JSON, RFC 8785):
 * ```
 * { v: 1, periodStart, periodEnd,                  // [start, end), one UTC hour
 *   records: [{ requestId, seq, key, hash }],      // sorted by requestId, then seq
 *   recordCount,
 *   previousDigest: { key, hash, signature } | null,
 *   keyId, algorithm: 'ECDSA_SHA_256', signedAt,
 *   digestHash,                                     // sha256 hex of the signing input
 *   signature }                                     // base64 DER ECDSA P-256 signature
 * ```
 *
 * Signing input: the canonical JSON of the digest without `digestHash` and
 * `signature`. `digestHash` is SHA-256 hex of those bytes, and `signature` is an
 * ECDSA P-256 / SHA-256 signature over the same bytes. KMS receives the
 * 32-byte SHA-256 with `MessageType: 'DIGEST'` (RAW messages are limited to
 * 4096 bytes, and a busy hour's digest is larger); that is exactly the
 * signature `ECDSA_SHA_256` over the full message, so any ECDSA verifier
 * (`openssl dgst -sha256 -verify`, node:crypto) checks it against the signing
 * input with the key's public half.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as ecdsaSign,
  verify as ecdsaVerify,
  type KeyObject,
} from 'node:crypto';
import { type KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { canonicalJson, sha256Hex } from './canonical.js';

/** Format version of a digest. */
export const DIGEST_VERSION = 1 as const;
/** The only signing algorithm: KMS `ECDSA_SHA_256` with an ECC_NIST_P256 key. */
export const DIGEST_ALGORITHM = 'ECDSA_SHA_256' as const;
/** Length of every digest period. */
export const DIGEST_PERIOD_MS = 3_600_000;
/** Key prefix of digest objects. */
export const DIGESTS_PREFIX = 'digests/';

/** One record as a digest lists it. */
export interface DigestRecordRef {
  requestId: string;
  seq: number;
  /** S3 key of the record object. */
  key: string;
  /** The record's `hash`. */
  hash: string;
}

/** How a digest points at the one before it. */
export interface DigestLink {
  key: string;
  /** `digestHash` of the previous digest (recomputed from its content). */
  hash: string;
  /** `signature` of the previous digest. */
  signature: string;
}

/** Everything a digest signs. */
export interface DigestBody {
  v: typeof DIGEST_VERSION;
  periodStart: string;
  periodEnd: string;
  records: DigestRecordRef[];
  recordCount: number;
  previousDigest: DigestLink | null;
  keyId: string;
  algorithm: typeof DIGEST_ALGORITHM;
  signedAt: string;
}

/** A signed digest as stored. */
export interface Digest extends DigestBody {
  digestHash: string;
  signature: string;
}

/** Something that signs digests: KMS in AWS, a local P-256 key in tests and the sandbox. */
export interface DigestSigner {
  /** Recorded in every digest it signs (the KMS key ARN, or `local:<fingerprint>`). */
  keyId: string;
  /** Returns a DER-encoded ECDSA P-256 signature over SHA-256 of `message`. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** Start of the UTC hour containing `at`. */
export function hourStart(at: Date): Date {
  return new Date(Math.floor(at.getTime() / DIGEST_PERIOD_MS) * DIGEST_PERIOD_MS);
}

/** ISO time without milliseconds noise: `2025-01-01T10:00:00.000Z`. */
const iso = (at: Date) => at.toISOString();

/** S3 key of the digest for the period starting at `periodStart`: `digests/<yyyy>/<mm>/<dd>/<hh>.json`. */
export function digestObjectKey(periodStart: Date): string {
  const s = iso(periodStart);
  return `${DIGESTS_PREFIX}${s.slice(0, 4)}/${s.slice(5, 7)}/${s.slice(8, 10)}/${s.slice(11, 13)}.json`;
}

const DIGEST_KEY = /^digests\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\.json$/;

/** The period start a digest key names, or undefined when the key is not a digest key. */
export function parseDigestObjectKey(key: string): Date | undefined {
  const m = DIGEST_KEY.exec(key);
  if (!m) return undefined;
  const at = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:00:00.000Z`);
  return Number.isNaN(at.getTime()) || digestObjectKey(at) !== key ? undefined : at;
}

/** Key prefix of one UTC day's digests. */
export function digestDayPrefix(day: Date): string {
  const s = iso(day);
  return `${DIGESTS_PREFIX}${s.slice(0, 4)}/${s.slice(5, 7)}/${s.slice(8, 10)}/`;
}

/** Deterministic order of a digest's records: requestId (UTF-16 code units), then seq. */
export function compareRecordRefs(a: Pick<DigestRecordRef, 'requestId' | 'seq'>, b: typeof a): number {
  if (a.requestId !== b.requestId) return a.requestId < b.requestId ? -1 : 1;
  return a.seq - b.seq;
}

/** The bytes a digest's signature covers: canonical JSON without `digestHash` and `signature`. */
export function digestSigningInput(digest: DigestBody | Digest): string {
  const { digestHash: _h, signature: _s, ...body } = digest as Digest;
  return canonicalJson(body);
}

/** `digestHash` of a digest: SHA-256 hex over its signing input. */
export function computeDigestHash(digest: DigestBody | Digest): string {
  return sha256Hex(digestSigningInput(digest));
}

/** Signs a digest body and returns the digest to store. */
export async function signDigest(body: DigestBody, signer: DigestSigner): Promise<Digest> {
  const input = Buffer.from(digestSigningInput(body), 'utf8');
  const signature = Buffer.from(await signer.sign(input)).toString('base64');
  return { ...body, digestHash: sha256Hex(input), signature };
}

/** The stored form of a digest: canonical JSON. */
export const serializeDigest = (digest: Digest): string => canonicalJson(digest);

/** The link a digest gets to its predecessor. */
export function linkTo(key: string, previous: Digest): DigestLink {
  return { key, hash: computeDigestHash(previous), signature: previous.signature };
}

/**
 * A signer backed by KMS `Sign` (ECDSA_SHA_256, MessageType DIGEST: KMS gets the
 * SHA-256 of the signing input, which is what ECDSA signs anyway).
 */
export function kmsSigner(kms: Pick<KMSClient, 'send'>, keyId: string): DigestSigner {
  return {
    keyId,
    async sign(message) {
      const out = await kms.send(
        new SignCommand({
          KeyId: keyId,
          Message: createHash('sha256').update(message).digest(),
          MessageType: 'DIGEST',
          SigningAlgorithm: DIGEST_ALGORITHM,
        }),
      );
      if (!out.Signature) throw new Error(`KMS returned no signature for key ${keyId}`);
      return out.Signature;
    },
  };
}

/** A signer over a local P-256 private key (PEM text or KeyObject): tests and the sandbox. */
export function localSigner(privateKey: KeyObject | string, keyId?: string): DigestSigner {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  assertP256(key, 'signing key');
  return {
    keyId: keyId ?? `local:${publicKeyFingerprint(createPublicKey(key))}`,
    sign: async (message) => ecdsaSign('sha256', message, { key, dsaEncoding: 'der' }),
  };
}

/** SHA-256 hex of a public key's DER SubjectPublicKeyInfo: how a key is named in reports. */
export function publicKeyFingerprint(key: KeyObject): string {
  return sha256Hex(key.export({ type: 'spki', format: 'der' }));
}

function assertP256(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(
      `${what} is not an ECC NIST P-256 key (got ${key.asymmetricKeyType ?? 'unknown'}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''})`,
    );
  }
}

const BASE64 = /^[A-Za-z0-9+/\s]+=*\s*$/;

/**
 * Loads a digest verification key from what an auditor has at hand: a PEM
 * `PUBLIC KEY`, the base64 DER that `aws kms get-public-key --query PublicKey
 * --output text` prints, that command's whole JSON output, or raw DER bytes.
 * Throws a readable error for anything else or for a key that is not P-256.
 */
export function loadPublicKey(data: string | Uint8Array): KeyObject {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  const text = bytes.toString('utf8').trim();
  let key: KeyObject;
  try {
    if (text.includes('-----BEGIN')) {
      if (text.includes('PRIVATE KEY')) throw new Error('this is a private key; give the public key');
      key = createPublicKey(text);
    } else if (text.startsWith('{')) {
      const parsed = JSON.parse(text) as { PublicKey?: unknown };
      if (typeof parsed.PublicKey !== 'string') throw new Error('JSON has no "PublicKey" field');
      key = createPublicKey({ key: Buffer.from(parsed.PublicKey, 'base64'), format: 'der', type: 'spki' });
    } else if (text.length > 0 && BASE64.test(text)) {
      key = createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
    } else {
      key = createPublicKey({ key: bytes, format: 'der', type: 'spki' });
    }
  } catch (error) {
    throw new Error(`not a public key (PEM, base64 DER SPKI or DER): ${(error as Error).message}`);
  }
  assertP256(key, 'public key');
  return key;
}

/** Loads a local signing key from PEM (PKCS#8 or SEC1); throws a readable error otherwise. */
export function loadPrivateKey(pem: string | Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(typeof pem === 'string' ? pem : Buffer.from(pem));
  } catch (error) {
    throw new Error(`not a PEM private key: ${(error as Error).message}`);
  }
  assertP256(key, 'signing key');
  return key;
}

/** True when the digest's signature verifies, over its signing input, with any of `keys`. */
export function verifyDigestSignature(
  digest: Digest,
  keys: readonly KeyObject[],
  signingInput?: string,
): boolean {
  if (typeof digest.signature !== 'string' || digest.signature.length === 0) return false;
  const input = Buffer.from(signingInput ?? digestSigningInput(digest), 'utf8');
  const signature = Buffer.from(digest.signature, 'base64');
  return keys.some((key) => {
    try {
      return ecdsaVerify('sha256', input, { key, dsaEncoding: 'der' }, signature);
    } catch {
      return false;
    }
  });
}
