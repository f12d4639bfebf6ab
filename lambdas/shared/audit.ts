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
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  type AuditEntry,
  type AuditRecord,
  auditHourKey,
  auditObjectKey,
  auditSortKey,
  GENESIS_HASH,
  hashRecord,
  pad,
} from './audit-record.js';
import { canonicalJson } from './canonical.js';
import { isConditionFailure, type StoreDeps } from './store.js';

export * from './audit-record.js';

/** Dependencies for appending audit records. */
export interface AuditDeps extends StoreDeps {
  now: () => Date;
}

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
            auditHour: auditHourKey(at),
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
