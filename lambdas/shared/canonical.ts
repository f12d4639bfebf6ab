/**
 * Deterministic JSON (RFC 8785, JSON Canonicalization Scheme) and the hashes
 * built on it. Every hash in Countersign — intent hashes, audit record hashes,
 * digest hashes — is SHA-256 over this form, so anyone can recompute it with
 * any JCS implementation.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Intent } from './intent.js';

/** RFC 8785 canonical JSON of a value; throws on values JSON cannot represent. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no canonical JSON form');
  return text;
}

/** Lower-case hex SHA-256 of a UTF-8 string or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Base64 SHA-256, the form S3's `ChecksumSHA256` takes. */
export function sha256Base64(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('base64');
}

/**
 * Hash of an intent: SHA-256 over the canonical JSON of the detail, prefixed
 * `sha256:`. Two intents with the same content hash equally whatever their key
 * order; a modified intent hashes differently.
 */
export function intentHash(intent: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(intent))}`;
}

/**
 * The hash an approval is bound to: {@link intentHash} of the intent with its
 * `parameters` replaced by the approved ones when an approver modified them.
 * This is what `decision.intentHash` holds, and what an agent must recompute
 * over the intent it is about to execute.
 */
export function approvedIntentHash(intent: Intent, approvedParameters?: Record<string, unknown>): string {
  return intentHash(approvedParameters ? { ...intent, parameters: approvedParameters } : intent);
}
