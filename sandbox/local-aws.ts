/**
 * Local AWS for tests and the sandbox: dynalite (DynamoDB, in-process) and s3rver (S3, temp
 * directory), both on 127.0.0.1 with random ports, with the Countersign table
 * and audit bucket created exactly as docs/architecture.md describes. DynamoDB
 * is reached through {@link LocalTableStream}, which gives the table the
 * stream dynalite lacks; {@link archiveAuditRecords} subscribes the archive
 * core to it, so audit records reach the bucket as they do on AWS.
 *
 * S3 addressing: handlers build their S3 clients from the SDK's standard
 * variables (`AWS_ENDPOINT_URL_S3`), and SDK v3 has no environment variable for
 * `forcePathStyle`. It needs none here: the S3 endpoint rules switch to
 * path-style addressing by themselves when the custom endpoint's host is an IP
 * address (virtual-host style cannot work on an IP). So every endpoint this
 * module hands out uses `127.0.0.1`, never `localhost`; with `localhost` the
 * SDK would address `http://<bucket>.localhost:<port>/`. Tests' own clients set
 * `forcePathStyle: true` explicitly anyway. `AWS_REQUEST_CHECKSUM_CALCULATION=
 * WHEN_REQUIRED` is the environment form of the other s3rver quirk.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { archiveBatch } from '../lambdas/archive/core.js';
import { AUDIT_HOUR_INDEX } from '../lambdas/shared/audit-record.js';
import { REQUEST_STATUS_INDEX } from '../lambdas/shared/store.js';
import { LocalTableStream } from './local-stream.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './sandbox-info.js';

// dynalite and s3rver ship no types; these are the few members used here.
type DynaliteFactory = (options: {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}) => Server;
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  resetOnClose?: boolean;
}) => S3rverInstance;

const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as DynaliteFactory;
const S3rver = require('s3rver') as S3rverClass;
allowS3rverContinuationTokens(require('node:crypto') as typeof import('node:crypto'));

/**
 * s3rver seals a ListObjectsV2 continuation token with single DES, which the
 * OpenSSL 3 of current Node no longer provides: any listing of more than 1,000
 * keys (a page and a token) answers 500 `InternalError`. The token only has to
 * round-trip inside s3rver, so where DES is missing its `des` calls get
 * AES-128-CBC, with s3rver's 8-byte key and IV doubled. Nothing else in the
 * process asks for DES.
 */
function allowS3rverContinuationTokens(crypto: typeof import('node:crypto')): void {
  try {
    crypto.createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
    return;
  } catch {
    // DES is unavailable: substitute below.
  }
  type Factory = (algorithm: string, key: Buffer, iv: Buffer, ...rest: unknown[]) => unknown;
  const substitute = (original: Factory): Factory =>
    function (this: unknown, algorithm, key, iv, ...rest) {
      return algorithm === 'des'
        ? original.call(this, 'aes-128-cbc', Buffer.concat([key, key]), Buffer.concat([iv, iv]))
        : original.call(this, algorithm, key, iv, ...rest);
    };
  const writable = crypto as unknown as Record<'createCipheriv' | 'createDecipheriv', Factory>;
  writable.createCipheriv = substitute(writable.createCipheriv);
  writable.createDecipheriv = substitute(writable.createDecipheriv);
}

export { LOCAL_CREDENTIALS, LOCAL_REGION };

/** A running local AWS. */
export interface LocalAws {
  ddb: DynamoDBDocumentClient;
  s3: S3Client;
  table: string;
  bucket: string;
  /** The table's stream (every PutItem), for consumers such as the archive handler. */
  stream: LocalTableStream;
  endpoints: { dynamodb: string; s3: string };
  /** Environment for code that builds its own SDK clients (handlers). */
  env(): Record<string, string>;
  close(): Promise<void>;
}

/** Options for {@link startLocalAws}. */
export interface LocalAwsOptions {
  /** @default 'countersign-test' */
  table?: string;
  /** @default 'countersign-audit-test' */
  bucket?: string;
  /**
   * Keep DynamoDB and S3 data in `<dataDir>/dynamodb` and `<dataDir>/s3`
   * across restarts. @default - in memory and a temporary directory, removed on close
   */
  dataDir?: string;
}

/** Creates the Countersign table: pk/sk strings, GSIs byAuditHour (auditHour/auditSort) and byStatus (status/createdAt, keys only), on-demand. */
export async function createCountersignTable(client: DynamoDBClient, table: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'auditHour', AttributeType: 'S' },
        { AttributeName: 'auditSort', AttributeType: 'S' },
        { AttributeName: 'status', AttributeType: 'S' },
        { AttributeName: 'createdAt', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: AUDIT_HOUR_INDEX,
          KeySchema: [
            { AttributeName: 'auditHour', KeyType: 'HASH' },
            { AttributeName: 'auditSort', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: REQUEST_STATUS_INDEX,
          KeySchema: [
            { AttributeName: 'status', KeyType: 'HASH' },
            { AttributeName: 'createdAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    }),
  );
}

/**
 * A table persisted by an earlier version lacks the byStatus index, and
 * dynalite cannot add an index to a table: copy its items out, create the
 * table again with every index and put them back (a one-time local migration).
 */
async function addMissingIndexes(client: DynamoDBClient, table: string): Promise<void> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
  if (Table?.GlobalSecondaryIndexes?.some((i) => i.IndexName === REQUEST_STATUS_INDEX)) return;
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const out = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  await client.send(new DeleteTableCommand({ TableName: table }));
  await createCountersignTable(client, table);
  for (let i = 0; i < items.length; i += 25) {
    let requests = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    while (requests.length) {
      const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
      requests = (out.UnprocessedItems?.[table] ?? []) as typeof requests;
    }
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** Starts dynalite and s3rver, creates the table and bucket, and returns clients for them. */
export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const table = options.table ?? 'countersign-test';
  const bucket = options.bucket ?? 'countersign-audit-test';

  const persistent = options.dataDir !== undefined;
  if (persistent) await mkdir(join(options.dataDir!, 's3'), { recursive: true });
  const dynamoServer = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(persistent ? { path: join(options.dataDir!, 'dynamodb') } : {}),
  });
  const dynamoPort = await listen(dynamoServer);
  const stream = await LocalTableStream.start(`http://127.0.0.1:${dynamoPort}`, table, LOCAL_REGION);
  const directory = persistent
    ? join(options.dataDir!, 's3')
    : await mkdtemp(join(tmpdir(), 'countersign-s3rver-'));
  const s3rver = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    resetOnClose: !persistent,
  });
  const s3Address = await s3rver.run();

  const endpoints = {
    dynamodb: stream.url,
    s3: `http://127.0.0.1:${s3Address.port}`,
  };
  const rawDdb = new DynamoDBClient({
    endpoint: endpoints.dynamodb,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const ddb = DynamoDBDocumentClient.from(rawDdb, { marshallOptions: { removeUndefinedValues: true } });
  const s3 = new S3Client({
    endpoint: endpoints.s3,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    await createCountersignTable(rawDdb, table);
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceInUseException') throw error; // persisted from an earlier run
    await addMissingIndexes(rawDdb, table);
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
  }

  return {
    ddb,
    s3,
    table,
    bucket,
    stream,
    endpoints,
    env: () => ({
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_ENDPOINT_URL_S3: endpoints.s3,
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      COUNTERSIGN_TABLE_NAME: table,
      COUNTERSIGN_AUDIT_BUCKET: bucket,
    }),
    close: async () => {
      await stream.close();
      ddb.destroy();
      s3.destroy();
      await s3rver.close();
      await new Promise<void>((resolve) => dynamoServer.close(() => resolve()));
      if (!persistent) await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * Archives every audit record appended from now on to the local bucket, with
 * the archive handler's core, as the stack's stream subscription does. Wait
 * for `aws.stream.drained()` before reading objects.
 */
export function archiveAuditRecords(aws: LocalAws, retentionDays = 1): void {
  aws.stream.subscribe((event) => archiveBatch({ s3: aws.s3, bucket: aws.bucket, retentionDays }, event));
}
