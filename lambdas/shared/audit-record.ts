/**
 * Audit records as data: their shape, hash, S3 key and object-lock settings.
 * No SDK client here, so the archive handler and offline verifiers load only
 * what they use; appending and reading chains live in audit.ts.
 */
import { randomInt } from 'node:crypto';
import type { PutObjectCommandInput } from '@aws-sdk/client-s3';
import type { SignInRef } from '../identity/contract.js';
import { canonicalJson, sha256Base64, sha256Hex } from './canonical.js';

/** `prevHash` of the first record in every request's chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** The state changes that are audited. */
export type AuditKind =
  | 'requested'
  | 'rejected'
  | 'policy-evaluated'
  | 'reviewers-notified'
  | 'card-posted'
  | 'vote'
  | 'refused'
  | 'modified'
  | 'decided'
  | 'expired'
  | 'cancelled'
  | 'announced'
  | 'grant-consumed'
  | 'credentials-issued'
  | 'credentials-failed'
  | 'unapproved-action'
  | 'escalated'
  | 'acknowledged'
  /** Evaluate denied the intent on its agent's request quota (or could not count it). */
  | 'rate-limited'
  /** Record posted (or failed to post) the one flood alert of an over-quota window. */
  | 'flood-alerted';

/** Who caused a state change. */
export type AuditActor =
  | { type: 'agent'; source: string; agentId: string }
  /** `channel`: where the person acted (`slack`, ...), on records the review core writes. */
  | { type: 'human'; slackUserId: string; email?: string; channel?: string; signIn?: SignInRef }
  | { type: 'policy'; policies: string[] }
  | { type: 'system'; component: string };

/** One audit record, as hashed and stored. */
export interface AuditRecord {
  v: 1;
  requestId: string;
  seq: number;
  at: string;
  kind: AuditKind;
  actor: AuditActor;
  intentHash: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** What a caller supplies; the chain fields are filled in here. */
export type AuditEntry = Pick<AuditRecord, 'kind' | 'actor' | 'intentHash' | 'data'>;

/** Where and how audit objects are locked in S3. */
export interface ObjectLockSettings {
  bucket: string;
  /** Days of COMPLIANCE retention set on each object. */
  retentionDays: number;
  /**
   * Also place an Object Lock legal hold on each object (`COUNTERSIGN_AUDIT_LEGAL_HOLD=ON`).
   * @default false
   */
  legalHold?: boolean;
}

/** Name of the table's GSI that lists audit records by the hour they were written. */
export const AUDIT_HOUR_INDEX = 'byAuditHour';

/** Key prefix of audit record objects. */
export const RECORDS_PREFIX = 'records/';

/** Whether `COUNTERSIGN_AUDIT_LEGAL_HOLD` asks writers to place legal holds (`ON` or `true`). */
export function legalHoldFromEnv(env: Record<string, string | undefined> = process.env): boolean {
  const value = env.COUNTERSIGN_AUDIT_LEGAL_HOLD?.trim().toUpperCase();
  return value === 'ON' || value === 'TRUE';
}

/** Hash of a record: SHA-256 hex over the canonical JSON of everything but `hash`. */
export function hashRecord(record: Omit<AuditRecord, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...body } = record;
  return sha256Hex(canonicalJson(body));
}

/** A sequence number as the fixed-width text keys use. */
export const pad = (seq: number) => String(seq).padStart(8, '0');

/** DynamoDB sort key of record `seq`. */
export const auditSortKey = (seq: number) => `AUDIT#${pad(seq)}`;

/**
 * S3 key of a record: `records/<yyyy>/<mm>/<dd>/<requestId>/<seq>.json`, dated by
 * the request's creation so each chain sits under one prefix.
 */
export function auditObjectKey(requestCreatedAt: string, requestId: string, seq: number): string {
  const day = requestCreatedAt.slice(0, 10).split('-').join('/');
  return `records/${day}/${encodeURIComponent(requestId)}/${pad(seq)}.json`;
}

const OBJECT_KEY = /^records\/(\d{4})\/(\d{2})\/(\d{2})\/([^/]+)\/(\d{8})\.json$/;

/**
 * The parts of an audit object key (the inverse of {@link auditObjectKey}), or
 * undefined when the key is not one.
 */
export function parseAuditObjectKey(
  key: string,
): { day: string; requestId: string; seq: number } | undefined {
  const m = OBJECT_KEY.exec(key);
  if (!m) return undefined;
  let requestId: string;
  try {
    requestId = decodeURIComponent(m[4]!);
  } catch {
    return undefined;
  }
  const seq = Number(m[5]);
  if (seq < 1 || encodeURIComponent(requestId) !== m[4]) return undefined;
  return { day: `${m[1]}-${m[2]}-${m[3]}`, requestId, seq };
}

/** The hour bucket (`yyyy-mm-ddThh`) a record falls in, used to list records for digests. */
export const auditHour = (at: string) => at.slice(0, 13);

/**
 * Shards of each hour in the `byAuditHour` index. One index partition takes
 * about 1,000 write units a second; every audit record of an hour under one
 * key would cap a stack near 50 reviewed requests a second (docs/scale.md).
 * Spread over this many keys, the cap is this many times higher. Changing it
 * only moves new records: readers query every shard and the bare hour.
 */
export const AUDIT_HOUR_SHARDS = 8;

/**
 * The `byAuditHour` partition key of a record: its hour and a shard drawn at
 * random (`2026-12-02T17#5`). Random, not derived from the request id: the id
 * is the agent's to choose, and ids picked to share one shard would put a
 * flood's records back in one index partition. No reader needs a request's
 * records together: they query every shard of the hour.
 */
export function auditHourKey(at: string): string {
  return `${auditHour(at)}#${randomInt(AUDIT_HOUR_SHARDS)}`;
}

/**
 * Every `byAuditHour` key an hour's records can be under: each shard, and the
 * bare hour of records written before the index was sharded.
 */
export function auditHourKeys(hour: string): string[] {
  return [hour, ...Array.from({ length: AUDIT_HOUR_SHARDS }, (_, shard) => `${hour}#${shard}`)];
}

/**
 * The PutObject input for an audit or digest object: COMPLIANCE retention
 * counted from `writtenAt`, a legal hold when configured, and a SHA-256
 * checksum that S3 verifies on receipt.
 */
export function auditObjectInput(
  settings: ObjectLockSettings,
  key: string,
  text: string,
  writtenAt: Date,
): PutObjectCommandInput {
  const retainUntil = new Date(writtenAt.getTime() + settings.retentionDays * 86_400_000);
  return {
    Bucket: settings.bucket,
    Key: key,
    Body: text,
    ContentType: 'application/json',
    ChecksumSHA256: sha256Base64(text),
    ObjectLockMode: 'COMPLIANCE',
    ObjectLockRetainUntilDate: retainUntil,
    ...(settings.legalHold ? { ObjectLockLegalHoldStatus: 'ON' as const } : {}),
  };
}
