/**
 * `countersign audit archive --missing`: puts in the bucket every audit row of
 * the table whose record object is absent — what remains to do after a stream
 * batch went to the archive dead-letter queue. Rows are listed hour by hour
 * from the `byAuditHour` index (no table scan), the bucket is listed once per
 * creation day the rows name, and each missing object is written by the
 * archive core (`archiveOne`), so it is byte for byte, and lock for lock, the
 * object the stream would have written. Idempotent: a second run finds every
 * object and writes nothing.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  type ArchivableRecord,
  type ArchiveDeps,
  archivableRow,
  archiveOne,
} from '../lambdas/archive/core.js';
import { auditRowsBetween } from '../lambdas/digest/core.js';

/** Dependencies of {@link archiveMissing}. */
export interface ArchiveMissingDeps extends ArchiveDeps {
  ddb: DynamoDBDocumentClient;
  table: string;
}

/** What a run found and did. */
export interface ArchiveMissingResult {
  /** Audit rows written in [from, to). */
  rowCount: number;
  /** Keys whose objects were missing and are now written. */
  archived: string[];
  /** Rows that could not be archived: the key (or row id) and why. */
  failed: { key: string; error: string }[];
}

/** Every audit row whose `at` is in [from, to), read as the digest reads a period. */
async function auditRows(
  deps: Pick<ArchiveMissingDeps, 'ddb' | 'table'>,
  from: Date,
  to: Date,
): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const row of auditRowsBetween(deps, from, to)) rows.push(row);
  return rows;
}

/** Every key under `prefix`. */
async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<Set<string>> {
  const keys = new Set<string>();
  let token: string | undefined;
  do {
    const out = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of out.Contents ?? []) if (object.Key) keys.add(object.Key);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** The day prefix of a record key: `records/<yyyy>/<mm>/<dd>/`. */
const dayPrefix = (key: string) => `${key.split('/').slice(0, 4).join('/')}/`;

/**
 * Archives every audit row written in [from, to) whose object is not in the
 * bucket. A row that fails its checks (text not canonical, hash or key not
 * its own) or its write is reported in `failed` and the others still run.
 */
export async function archiveMissing(
  deps: ArchiveMissingDeps,
  range: { from: Date; to: Date },
): Promise<ArchiveMissingResult> {
  const rows = await auditRows(deps, range.from, range.to);
  const failed: ArchiveMissingResult['failed'] = [];
  const checked: ArchivableRecord[] = [];
  for (const row of rows) {
    try {
      checked.push(archivableRow(row));
    } catch (error) {
      const id = typeof row.objectKey === 'string' ? row.objectKey : `${String(row.pk)} ${String(row.sk)}`;
      failed.push({ key: id, error: (error as Error).message });
    }
  }
  const listed = new Map<string, Set<string>>();
  for (const prefix of new Set(checked.map((item) => dayPrefix(item.key))))
    listed.set(prefix, await listKeys(deps.s3, deps.bucket, prefix));
  const archived: string[] = [];
  for (const item of checked) {
    if (listed.get(dayPrefix(item.key))?.has(item.key)) continue;
    try {
      if ((await archiveOne(deps, item)) === 'archived') archived.push(item.key);
    } catch (error) {
      failed.push({ key: item.key, error: (error as Error).message });
    }
  }
  return { rowCount: rows.length, archived: archived.sort(), failed };
}
