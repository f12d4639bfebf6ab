/**
 * The cost bench's counting machinery: a known sequence of calls against the
 * local table and bucket, handler invocations, workflow events, bus entries
 * and log lines gives the known units. The bench's figures themselves are
 * never asserted (they are measured, on a noisy machine).
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalAws, startLocalAws } from '../../sandbox/local-aws.js';
import { emfMetrics, UsageMeter } from '../../sandbox/usage-meter.js';

const INDEXES = [
  { name: 'byAuditHour', keys: ['auditHour', 'auditSort'], projection: 'ALL' as const },
  { name: 'byStatus', keys: ['status', 'createdAt'], projection: 'KEYS_ONLY' as const },
];

describe('usage meter', () => {
  let aws: LocalAws;
  const meter = new UsageMeter(INDEXES);

  beforeAll(async () => {
    aws = await startLocalAws();
    meter.install();
  });
  afterAll(async () => {
    meter.uninstall();
    await aws?.close();
  });

  it('counts DynamoDB calls with the units the table consumed and the index writes they cause', async () => {
    meter.reset();
    // 1 KB or less, carrying byStatus's keys: one table unit and one KEYS_ONLY index unit.
    await aws.ddb.send(
      new PutCommand({
        TableName: aws.table,
        Item: { pk: 'REQUEST#m1', sk: 'REQUEST', status: 'PENDING', createdAt: '2026-01-01T00:00:00Z' },
      }),
    );
    // About 2.5 KB with byAuditHour's keys (ALL projection): three table units, three index units.
    await aws.ddb.send(
      new PutCommand({
        TableName: aws.table,
        Item: { pk: 'AUDIT#m1', sk: 'AUDIT#1', auditHour: 'h', auditSort: 's', body: 'x'.repeat(2500) },
      }),
    );
    // An update that moves the byStatus entry: a delete and a put in the index.
    await aws.ddb.send(
      new UpdateCommand({
        TableName: aws.table,
        Key: { pk: 'REQUEST#m1', sk: 'REQUEST' },
        UpdateExpression: 'SET #s = :s',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': 'APPROVED' },
      }),
    );
    // An eventually consistent read of a small item: half a unit; a strongly consistent one: one.
    await aws.ddb.send(new GetCommand({ TableName: aws.table, Key: { pk: 'REQUEST#m1', sk: 'REQUEST' } }));
    await aws.ddb.send(
      new GetCommand({
        TableName: aws.table,
        Key: { pk: 'REQUEST#m1', sk: 'REQUEST' },
        ConsistentRead: true,
      }),
    );
    // Reads that find nothing still cost: a missing item and an empty query, half a unit each
    // eventually consistent, one strongly consistent.
    await aws.ddb.send(new GetCommand({ TableName: aws.table, Key: { pk: 'REQUEST#none', sk: 'REQUEST' } }));
    await aws.ddb.send(
      new QueryCommand({
        TableName: aws.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': 'REQUEST#none' },
      }),
    );
    await aws.ddb.send(
      new QueryCommand({
        TableName: aws.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': 'REQUEST#none' },
        ConsistentRead: true,
      }),
    );
    // A failed conditional write still consumes a write unit, and writes no index.
    await expect(
      aws.ddb.send(
        new PutCommand({
          TableName: aws.table,
          Item: { pk: 'REQUEST#m1', sk: 'REQUEST', status: 'PENDING', createdAt: 'x' },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    ).rejects.toThrow(/conditional/i);

    const usage = meter.read();
    expect(usage.calls).toEqual({
      'DynamoDB.PutItem': 3,
      'DynamoDB.UpdateItem': 1,
      'DynamoDB.GetItem': 3,
      'DynamoDB.Query': 2,
    });
    expect(usage.failedCalls).toEqual({ 'DynamoDB.PutItem': 1 });
    expect(usage.dynamodb).toEqual({
      writeUnits: 1 + 3 + 1 + 1,
      indexWriteUnits: 1 + 3 + 2,
      readUnits: 0.5 + 1 + 0.5 + 0.5 + 1,
    });
  });

  it('counts S3 calls by operation', async () => {
    meter.reset();
    await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: 'a.json', Body: '{}' }));
    const got = await aws.s3.send(new GetObjectCommand({ Bucket: aws.bucket, Key: 'a.json' }));
    await got.Body?.transformToString();
    expect(meter.read().calls).toEqual({ 'S3.PutObject': 1, 'S3.GetObject': 1 });
  });

  it('leaves the caller’s own ReturnConsumedCapacity alone and counts nothing once uninstalled', async () => {
    meter.reset();
    const out = await aws.ddb.send(
      new GetCommand({
        TableName: aws.table,
        Key: { pk: 'REQUEST#m1', sk: 'REQUEST' },
        ReturnConsumedCapacity: 'INDEXES',
      }),
    );
    expect(out.ConsumedCapacity?.Table?.CapacityUnits).toBe(0.5);
    meter.uninstall();
    await aws.ddb.send(new GetCommand({ TableName: aws.table, Key: { pk: 'REQUEST#m1', sk: 'REQUEST' } }));
    meter.install();
    expect(meter.read().calls).toEqual({ 'DynamoDB.GetItem': 1 });
  });

  it('counts handler invocations, errors and billed milliseconds', async () => {
    meter.reset();
    const ok = meter.wrap('evaluate', async (n: number) => n + 1);
    const failing = meter.wrap('evaluate', async () => {
      throw new Error('boom');
    });
    expect(await ok(1)).toBe(2);
    await expect(failing()).rejects.toThrow('boom');
    const usage = meter.read().lambda.evaluate!;
    expect(usage.invocations).toBe(2);
    expect(usage.errors).toBe(1);
    expect(usage.billedMs).toBeGreaterThanOrEqual(2); // at least 1 ms each, as Lambda bills
  });

  it('counts state transitions (states entered and retries), executions, bus chunks and schedules', () => {
    meter.reset();
    for (const type of ['ExecutionStarted', 'StateEntered', 'StateExited', 'StateRetried', 'StateEntered'])
      meter.executionEvent(type);
    meter.busEntry('countersign.agent.deploy-bot', 100);
    meter.busEntry('countersign', 64 * 1024 + 1);
    meter.schedule('created');
    meter.schedule('fired');
    const usage = meter.read();
    expect(usage.stateTransitions).toBe(3);
    expect(usage.executionEvents).toBe(5);
    expect(usage.executions).toBe(1);
    expect(usage.busEntries).toEqual({ 'countersign.agent.deploy-bot': 1, countersign: 2 });
    expect([usage.schedulesCreated, usage.schedulesFired]).toEqual([1, 1]);
  });

  it('counts log bytes and lines, and the distinct metrics of EMF lines', () => {
    meter.reset();
    const emf = (agent: string) =>
      JSON.stringify({
        _aws: {
          Timestamp: 0,
          CloudWatchMetrics: [
            {
              Namespace: 'Countersign',
              Dimensions: [['service', 'Agent']],
              Metrics: [{ Name: 'IntentsReceived' }],
            },
          ],
        },
        service: 'countersign',
        Agent: agent,
        IntentsReceived: 1,
      });
    const text = `{"level":"INFO","message":"hello"}\n${emf('a')}\n${emf('a')}\n${emf('b')}\n`;
    meter.countOutput(text);
    const usage = meter.read();
    expect(usage.logBytes).toBe(Buffer.byteLength(text));
    expect(usage.logLines).toBe(4);
    expect(usage.emfLines).toBe(3);
    expect(usage.metrics).toEqual([
      'Countersign/IntentsReceived{service=countersign,Agent=a}',
      'Countersign/IntentsReceived{service=countersign,Agent=b}',
    ]);
  });

  it('reads no metrics from lines that are not EMF', () => {
    expect(emfMetrics('{"level":"INFO","message":"_aws in text"}')).toBeUndefined();
    expect(emfMetrics('not json "_aws"')).toBeUndefined();
    expect(emfMetrics('{"_aws":{}}')).toBeUndefined();
  });
});
