/**
 * The audit trail: every state change of a request is one record, hash-chained
 * to the record before it in the same request. Writers append it to DynamoDB
 * (for queries), in one conditional write; the table's stream hands every new
 * record to the archive handler, which puts it in S3 under Object Lock
 * COMPLIANCE retention (for proof). So a record can never exist in S3 without
 * DynamoDB, nor stay only in DynamoDB when S3 fails for a while: the stream
 * retries until it is archived, and dead-letters (alarmed) if it never can be.
 *
 * A record's `hash` is SHA-256 over the RFC 8785 canonical JSON of the record
 * without its `hash` field. `prevHash` of the first record is {@link GENESIS_HASH}.
 * Sequence numbers are claimed with a conditional put, so two writers can never
 * both append record n: the loser re-reads the head and retries.
 */
import type { PutObjectCommandInput } from '@aws-sdk/client-s3';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { canonicalJson, sha256Base64, sha256Hex } from './canonical.js';
import { isConditionFailure, type StoreDeps } from './store.js';

/** `prevHash` of the first record in every request's chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** The state changes that are audited. */
export type AuditKind =
  | 'requested'
  | 'rejected'
  | 'policy-evaluated'
  | 'reviewers-notified'
  | 'vote'
  | 'refused'
  | 'modified'
  | 'decided'
  | 'expired'
  | 'cancelled'
  | 'announced'
  | 'grant-consumed'
  | 'escalated'
  | 'acknowledged';

/** Who caused a state change. */
export type AuditActor =
  | { type: 'agent'; source: string; agentId: string }
  | { type: 'human'; slackUserId: string; email?: string }
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

/** Dependencies for appending audit records. */
export interface AuditDeps extends StoreDeps {
  now: () => Date;
}

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

const pad = (seq: number) => String(seq).padStart(8, '0');

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

/** Reads a request's chain, oldest first. */
export async function readChain({ ddb, table }: StoreDeps, requestId: string): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': `REQUEST#${requestId}`, ':prefix': 'AUDIT#' },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) records.push(JSON.parse(item.record as string) as AuditRecord);
    start = out.LastEvaluatedKey;
  } while (start);
  return records;
}

async function readHead(
  { ddb, table }: StoreDeps,
  requestId: string,
): Promise<{ seq: number; hash: string }> {
  const out = await ddb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `REQUEST#${requestId}`, ':prefix': 'AUDIT#' },
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    }),
  );
  const last = out.Items?.[0];
  return last ? { seq: last.seq as number, hash: last.hash as string } : { seq: 0, hash: GENESIS_HASH };
}

/**
 * Appends one record to a request's chain: claims the next sequence number
 * with one conditional put of the record (its canonical text, hash and S3
 * key). The archive handler writes the S3 object from the table's stream.
 * Throws when the write fails (callers fail closed).
 */
export async function appendAudit(
  deps: AuditDeps,
  request: { requestId: string; createdAt: string },
  entry: AuditEntry,
): Promise<AuditRecord> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const head = await readHead(deps, request.requestId);
    const at = deps.now().toISOString();
    const body: Omit<AuditRecord, 'hash'> = {
      v: 1,
      requestId: request.requestId,
      seq: head.seq + 1,
      at,
      kind: entry.kind,
      actor: entry.actor,
      intentHash: entry.intentHash,
      data: entry.data,
      prevHash: head.hash,
    };
    const record: AuditRecord = { ...body, hash: hashRecord(body) };
    const text = canonicalJson(record);
    const key = auditObjectKey(request.createdAt, request.requestId, record.seq);
    try {
      await deps.ddb.send(
        new PutCommand({
          TableName: deps.table,
          Item: {
            pk: `REQUEST#${request.requestId}`,
            sk: auditSortKey(record.seq),
            seq: record.seq,
            kind: record.kind,
            at,
            hash: record.hash,
            record: text,
            objectKey: key,
            auditHour: auditHour(at),
            auditSort: `${at}#${request.requestId}#${pad(record.seq)}`,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) continue; // another writer took this seq; re-read the head
      throw error;
    }
    return record;
  }
  throw new Error(`audit chain of ${request.requestId} is too contended to append`);
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
