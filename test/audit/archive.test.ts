/**
 * The archive path: handlers append audit rows to DynamoDB; the table's
 * stream hands each new row to the archive core, which puts it in the bucket.
 * Runs on dynalite behind the local stream and s3rver; the conditional-put
 * cases use a small in-memory S3, because s3rver ignores `If-None-Match` on
 * PUT and returns no checksums.
 */
import { randomUUID } from 'node:crypto';
import {
  GetObjectCommand,
  type HeadObjectCommand,
  type HeadObjectCommandInput,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { FilterCriteria } from 'aws-cdk-lib/aws-lambda';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ArchiveDeps, archiveBatch } from '../../lambdas/archive/core.js';
import { type AuditDeps, appendAudit, auditObjectKey } from '../../lambdas/shared/audit.js';
import { canonicalJson, sha256Base64 } from '../../lambdas/shared/canonical.js';
import { ARCHIVE_FILTER } from '../../lib/audit-archiver.js';
import { archiveAuditRecords, type LocalAws, startLocalAws } from '../support/local-aws.js';

let aws: LocalAws;
let deps: AuditDeps;
/** Every stream record the table produced, as a consumer without filters sees it. */
const streamed: DynamoDBRecord[] = [];

beforeAll(async () => {
  aws = await startLocalAws({ table: 'countersign-archive-test', bucket: 'countersign-archive-test' });
  archiveAuditRecords(aws);
  aws.stream.subscribe(async (event) => {
    streamed.push(...event.Records);
    return { batchItemFailures: [] };
  });
  deps = { ddb: aws.ddb, table: aws.table, now: () => new Date() };
});
afterAll(() => aws.close());

const newRequest = () => ({ requestId: `req-${randomUUID()}`, createdAt: new Date().toISOString() });

async function appendThree(request: { requestId: string; createdAt: string }) {
  const records = [];
  for (const kind of ['requested', 'policy-evaluated', 'decided'] as const) {
    records.push(
      await appendAudit(deps, request, {
        kind,
        actor: { type: 'system', component: 'test' },
        intentHash: 'a'.repeat(64),
        data: { kind },
      }),
    );
  }
  return records;
}

async function objectText(key: string): Promise<string | undefined> {
  try {
    const got = await aws.s3.send(new GetObjectCommand({ Bucket: aws.bucket, Key: key }));
    return await got.Body!.transformToString('utf8');
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

/** The stream records the table produced for a request's audit rows. */
const auditRowsOf = (requestId: string) =>
  streamed.filter((r) => r.dynamodb?.NewImage?.pk?.S === `REQUEST#${requestId}`);

describe('through the table stream', () => {
  it('every appended record is archived byte for byte, under its own key', async () => {
    // Prepare
    const request = newRequest();

    // Act
    const records = await appendThree(request);
    await aws.stream.drained();

    // Assess
    for (const record of records) {
      expect(await objectText(auditObjectKey(request.createdAt, request.requestId, record.seq))).toBe(
        canonicalJson(record),
      );
    }
  });

  it('streams each PutItem as INSERT or, when it replaced an item, MODIFY; callers see the answer they asked for', async () => {
    const pk = `REQUEST#stream-${randomUUID()}`;
    const first = await aws.ddb.send(new PutCommand({ TableName: aws.table, Item: { pk, sk: 'X', n: 1 } }));
    const second = await aws.ddb.send(
      new PutCommand({ TableName: aws.table, Item: { pk, sk: 'X', n: 2 }, ReturnValues: 'ALL_OLD' }),
    );
    await aws.stream.drained();

    expect(first.Attributes).toBeUndefined();
    expect(second.Attributes).toEqual({ pk, sk: 'X', n: 1 });
    const events = streamed.filter((r) => r.dynamodb?.Keys?.pk?.S === pk);
    expect(events.map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY']);
    expect(events[1]!.dynamodb).toMatchObject({
      Keys: { pk: { S: pk }, sk: { S: 'X' } },
      NewImage: { n: { N: '2' } },
      StreamViewType: 'NEW_IMAGE',
    });
    expect(Number(events[1]!.dynamodb!.SequenceNumber)).toBeGreaterThan(
      Number(events[0]!.dynamodb!.SequenceNumber),
    );
  });

  it('applies the stack’s event filter: only inserts of audit rows reach the archiver', async () => {
    // Prepare: the filter exactly as the stack synthesizes it.
    const pattern = JSON.parse(FilterCriteria.filter(ARCHIVE_FILTER).pattern as string) as Record<
      string,
      unknown
    >;
    const seen: DynamoDBRecord[] = [];
    aws.stream.subscribe(
      async (event) => {
        seen.push(...event.Records);
        return { batchItemFailures: [] };
      },
      { filters: [pattern] },
    );
    const request = newRequest();

    // Act: one audit row, one request row (not audit), one replaced audit-like row (MODIFY).
    await appendThree(request);
    await aws.ddb.send(
      new PutCommand({ TableName: aws.table, Item: { pk: `REQUEST#${request.requestId}`, sk: 'REQUEST' } }),
    );
    const pk = `REQUEST#m-${randomUUID()}`;
    await aws.ddb.send(new PutCommand({ TableName: aws.table, Item: { pk, sk: 'AUDIT#00000001' } }));
    await aws.ddb.send(
      new PutCommand({ TableName: aws.table, Item: { pk, sk: 'AUDIT#00000001', again: true } }),
    );
    await aws.stream.drained();

    // Assess
    const relevant = seen.filter((r) =>
      [`REQUEST#${request.requestId}`, pk].includes(r.dynamodb!.Keys!.pk!.S!),
    );
    expect(relevant.map((r) => [r.eventName, r.dynamodb!.Keys!.sk!.S])).toEqual([
      ['INSERT', 'AUDIT#00000001'],
      ['INSERT', 'AUDIT#00000002'],
      ['INSERT', 'AUDIT#00000003'],
      ['INSERT', 'AUDIT#00000001'],
    ]);
  });
});

describe('stream delivery (as an event source mapping)', () => {
  it('retries a batch whose consumer throws, then moves on; gives it up after its retries', async () => {
    // Prepare
    let calls = 0;
    aws.stream.subscribe(
      async (event) => {
        if (!event.Records.some((r) => r.dynamodb?.Keys?.pk?.S?.startsWith('REQUEST#flaky-')))
          return undefined;
        calls += 1;
        if (calls < 3) throw new Error('S3 is having a moment');
        return undefined;
      },
      { retryAttempts: 5, retryPauseMs: 1 },
    );
    aws.stream.subscribe(
      async (event) => {
        if (event.Records.some((r) => r.dynamodb?.Keys?.pk?.S?.startsWith('REQUEST#doomed-'))) {
          throw new Error('never works');
        }
        return undefined;
      },
      { retryAttempts: 2, retryPauseMs: 1 },
    );
    const failuresBefore = aws.stream.failures.length;

    // Act
    await aws.ddb.send(
      new PutCommand({ TableName: aws.table, Item: { pk: `REQUEST#flaky-${randomUUID()}`, sk: 'X' } }),
    );
    await aws.stream.drained();
    await aws.ddb.send(
      new PutCommand({ TableName: aws.table, Item: { pk: `REQUEST#doomed-${randomUUID()}`, sk: 'X' } }),
    );
    await aws.stream.drained();

    // Assess
    expect(calls).toBe(3);
    const failures = aws.stream.failures.slice(failuresBefore);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ error: 'never works' });
    expect(failures[0]!.records[0]!.dynamodb!.Keys!.pk!.S).toMatch(/^REQUEST#doomed-/);
  });
});

/** An in-memory S3 with conditional puts and SHA-256 checksums, as S3 has them. */
function conditionalS3() {
  const objects = new Map<string, string>();
  const puts: string[] = [];
  const s3 = {
    async send(command: PutObjectCommand | HeadObjectCommand) {
      if (command instanceof PutObjectCommand) {
        const input = command.input as PutObjectCommandInput;
        if (input.IfNoneMatch === '*' && objects.has(input.Key!)) {
          throw Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
            name: 'PreconditionFailed',
            $metadata: { httpStatusCode: 412 },
          });
        }
        if (input.ChecksumSHA256 !== sha256Base64(String(input.Body))) throw new Error('BadDigest');
        objects.set(input.Key!, String(input.Body));
        puts.push(input.Key!);
        return {};
      }
      const input = command.input as HeadObjectCommandInput;
      const text = objects.get(input.Key!);
      if (text === undefined) throw Object.assign(new Error('NotFound'), { name: 'NotFound' });
      return { ChecksumSHA256: input.ChecksumMode === 'ENABLED' ? sha256Base64(text) : undefined };
    },
  };
  return { objects, puts, s3: s3 as unknown as S3Client };
}

describe('archiveBatch', () => {
  let s3: ReturnType<typeof conditionalS3>;
  let archive: ArchiveDeps;
  const errors: Record<string, unknown>[] = [];
  beforeEach(() => {
    s3 = conditionalS3();
    errors.length = 0;
    archive = { s3: s3.s3, bucket: 'b', retentionDays: 7, error: (_m, d) => errors.push(d) };
  });

  /** The real stream records of three freshly appended rows. */
  async function rowsOfNewRequest() {
    const request = newRequest();
    await appendThree(request);
    await aws.stream.drained();
    return { request, rows: auditRowsOf(request.requestId) };
  }

  it('a redelivered record is recognised by its checksum, not written twice', async () => {
    const { rows } = await rowsOfNewRequest();
    const event: DynamoDBStreamEvent = { Records: rows };

    expect(await archiveBatch(archive, event)).toEqual({ batchItemFailures: [] });
    expect(await archiveBatch(archive, event)).toEqual({ batchItemFailures: [] });

    expect(s3.puts).toHaveLength(3);
    expect(errors).toEqual([]);
  });

  it('locks each object for the retention days from the record’s own time', async () => {
    const { rows } = await rowsOfNewRequest();
    const seen: PutObjectCommandInput[] = [];
    const spy = {
      send: (command: PutObjectCommand) => {
        seen.push(command.input);
        return s3.s3.send(command);
      },
    } as unknown as S3Client;
    await archiveBatch({ ...archive, s3: spy }, { Records: rows.slice(0, 1) });
    const record = JSON.parse(rows[0]!.dynamodb!.NewImage!.record!.S!) as { at: string };
    expect(seen[0]).toMatchObject({
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: new Date(Date.parse(record.at) + 7 * 86_400_000),
      IfNoneMatch: '*',
    });
  });

  it('an object already there with other content is a failure, reported at that record', async () => {
    const { request, rows } = await rowsOfNewRequest();
    s3.objects.set(auditObjectKey(request.createdAt, request.requestId, 2), '{"forged":true}');

    const answer = await archiveBatch(archive, { Records: rows });

    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: rows[1]!.dynamodb!.SequenceNumber }]);
    expect(errors[0]).toMatchObject({ error: expect.stringContaining('different content') });
  });

  it('a row whose text does not hash to its hash, or whose key is not its own, is never archived', async () => {
    const { rows } = await rowsOfNewRequest();
    const tampered = structuredClone(rows);
    const image = tampered[0]!.dynamodb!.NewImage!;
    image.record = { S: image.record!.S!.replace('"requested"', '"vote"') };
    const misplaced = structuredClone(rows);
    misplaced[2]!.dynamodb!.NewImage!.objectKey = { S: 'records/2020/01/01/someone-else/00000001.json' };

    const first = await archiveBatch(archive, { Records: tampered });
    const second = await archiveBatch(conditionalArchive(), { Records: misplaced });

    expect(first.batchItemFailures).toEqual([{ itemIdentifier: rows[0]!.dynamodb!.SequenceNumber }]);
    expect(s3.puts).toHaveLength(2); // the two good rows; never the tampered one
    expect(errors[0]).toMatchObject({ error: expect.stringContaining('does not hash') });
    expect(second.batchItemFailures).toEqual([{ itemIdentifier: rows[2]!.dynamodb!.SequenceNumber }]);
  });

  it('reports the earliest failed record when several fail, and skips what is not an audit insert', async () => {
    const { rows } = await rowsOfNewRequest();
    const broken = structuredClone(rows);
    for (const row of broken.slice(1)) row.dynamodb!.NewImage!.hash = { S: 'f'.repeat(64) };
    const notAudit: DynamoDBRecord = {
      eventName: 'INSERT',
      dynamodb: { NewImage: { sk: { S: 'REQUEST' } } },
    };

    const answer = await archiveBatch(archive, { Records: [notAudit, ...broken] });

    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: rows[1]!.dynamodb!.SequenceNumber }]);
    expect(s3.puts).toHaveLength(1);
  });

  function conditionalArchive(): ArchiveDeps {
    return { ...archive, s3: conditionalS3().s3 };
  }
});
