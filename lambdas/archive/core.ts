/**
 * Archive: puts every new audit record, as the table's stream delivers it, in
 * the Object Lock bucket: one object per record, the exact canonical text that
 * was hashed, under COMPLIANCE retention counted from the record's own time.
 *
 * - Idempotent. A stream redelivers after a failure, so each put is conditional
 *   (`If-None-Match: *`): an object that is already there is compared by its
 *   SHA-256 checksum instead of being written again (Object Lock buckets are
 *   versioned; a blind re-put would add a version).
 * - Fail loud, never skip. A record that cannot be archived, or whose row is
 *   malformed (its text does not hash to its stored hash, or its key is not
 *   its own), is reported as a batch item failure: the stream retries it and,
 *   when retries run out, its batch goes to the alarmed on-failure queue.
 */
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { AttributeValue, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import {
  type AuditRecord,
  auditObjectInput,
  hashRecord,
  type ObjectLockSettings,
  parseAuditObjectKey,
} from '../shared/audit-record.js';
import { canonicalJson, sha256Base64 } from '../shared/canonical.js';
import { isPreconditionFailed } from '../shared/s3.js';

/** Dependencies of the archive handler. */
export interface ArchiveDeps extends ObjectLockSettings {
  s3: S3Client;
  /** Reports a record that could not be archived. */
  error?: (message: string, details: Record<string, unknown>) => void;
  /** Called once for each record this invocation put in the bucket (not for one already there). */
  archived?: (item: ArchivableRecord) => void;
}

/** An audit row as the stream carries it, checked. */
export interface ArchivableRecord {
  key: string;
  text: string;
  record: AuditRecord;
}

/** What became of one stream record. */
export type ArchiveOutcome = 'archived' | 'already-archived' | 'skipped';

const text = (image: Record<string, AttributeValue> | undefined, name: string) => image?.[name]?.S;

/**
 * The audit record a stream record carries, or undefined when it carries none
 * (another item type, or not an insert). Throws when it is an audit row that
 * cannot be trusted to archive as is.
 */
export function archivableRecord(streamRecord: DynamoDBRecord): ArchivableRecord | undefined {
  const image = streamRecord.dynamodb?.NewImage;
  if (streamRecord.eventName !== 'INSERT' || !text(image, 'sk')?.startsWith('AUDIT#')) return undefined;
  return archivableRow({
    objectKey: text(image, 'objectKey'),
    record: text(image, 'record'),
    hash: text(image, 'hash'),
  });
}

/**
 * Checks an audit row's stored attributes (`objectKey`, `record`, `hash`),
 * from the stream or read from the table, and returns what to archive.
 * Throws when the row cannot be trusted to archive as is.
 */
export function archivableRow(row: {
  objectKey?: unknown;
  record?: unknown;
  hash?: unknown;
}): ArchivableRecord {
  const key = row.objectKey;
  const body = row.record;
  if (typeof key !== 'string' || !key || typeof body !== 'string' || !body)
    throw new Error('audit row without objectKey or record');
  const record = JSON.parse(body) as AuditRecord;
  if (canonicalJson(record) !== body) throw new Error('audit row text is not canonical JSON');
  if (hashRecord(record) !== record.hash || row.hash !== record.hash)
    throw new Error('audit row text does not hash to its stored hash');
  const parsed = parseAuditObjectKey(key);
  if (!parsed || parsed.requestId !== record.requestId || parsed.seq !== record.seq)
    throw new Error(`audit row object key ${key} is not the key of ${record.requestId}#${record.seq}`);
  return { key, text: body, record };
}

/** Puts one record's object unless it is there; an existing object must have the same checksum. */
export async function archiveOne(deps: ArchiveDeps, item: ArchivableRecord): Promise<ArchiveOutcome> {
  const input = auditObjectInput(deps, item.key, item.text, new Date(item.record.at));
  try {
    await deps.s3.send(new PutObjectCommand({ ...input, IfNoneMatch: '*' }));
    return 'archived';
  } catch (error) {
    if (!isPreconditionFailed(error)) throw error;
  }
  const head = await deps.s3.send(
    new HeadObjectCommand({ Bucket: deps.bucket, Key: item.key, ChecksumMode: 'ENABLED' }),
  );
  if (head.ChecksumSHA256 !== sha256Base64(item.text)) {
    throw new Error(`${item.key} already exists with different content`);
  }
  return 'already-archived';
}

/**
 * Archives a stream batch, records in parallel. Reports the earliest record
 * that failed (the stream resumes from there; records after it are archived
 * again idempotently).
 */
export async function archiveBatch(
  deps: ArchiveDeps,
  event: DynamoDBStreamEvent,
): Promise<DynamoDBBatchResponse> {
  const results = await Promise.allSettled(
    event.Records.map(async (streamRecord) => {
      const item = archivableRecord(streamRecord);
      const outcome = item ? await archiveOne(deps, item) : 'skipped';
      if (item && outcome === 'archived') deps.archived?.(item);
      return outcome;
    }),
  );
  const failed = results.findIndex((r) => r.status === 'rejected');
  if (failed === -1) return { batchItemFailures: [] };
  const streamRecord = event.Records[failed]!;
  deps.error?.('audit record not archived', {
    sequenceNumber: streamRecord.dynamodb?.SequenceNumber,
    key: text(streamRecord.dynamodb?.NewImage, 'objectKey'),
    error: String((results[failed] as PromiseRejectedResult).reason),
  });
  return { batchItemFailures: [{ itemIdentifier: streamRecord.dynamodb?.SequenceNumber ?? '' }] };
}
