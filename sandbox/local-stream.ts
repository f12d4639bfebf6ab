/**
 * A DynamoDB stream for the local table. dynalite has no streams, so this is a
 * wire-level proxy in front of it: every request passes through unchanged, and
 * each successful `PutItem` on the table becomes a stream record (INSERT, or
 * MODIFY when it replaced an item), with the keys and the new image, delivered
 * in order to the subscribed consumers the way Lambda's event source mapping
 * delivers them:
 *
 * - records that no filter pattern matches are dropped (Lambda event filtering,
 *   with the same pattern language as the bus, so the synthesized
 *   `FilterCriteria` apply unchanged);
 * - batches of up to `batchSize`; a thrown error retries the batch, a
 *   `batchItemFailures` answer retries from the first failed record;
 * - after `retryAttempts` retries the batch is given up and kept in
 *   {@link LocalTableStream.failures} (the on-failure destination).
 *
 * Only `PutItem` is streamed: it is the only way Countersign writes the items
 * streams carry (audit records). UpdateItem and DeleteItem pass through unstreamed.
 */
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import type {
  AttributeValue,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
  StreamRecord,
} from 'aws-lambda';
import { matchesPattern } from './event-pattern.js';

/** Receives stream batches: a Lambda handler for DynamoDB streams. */
export type StreamConsumer = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | undefined>;

/** How a consumer is fed, as an event source mapping configures it. */
export interface StreamSubscription {
  /** Lambda event filter patterns; a record is delivered when any matches. @default - every record */
  filters?: Record<string, unknown>[];
  /** @default 100 */
  batchSize?: number;
  /** Retries of a failing batch before it is given up. @default 3 */
  retryAttempts?: number;
  /** Pause between retries, in ms. @default 20 */
  retryPauseMs?: number;
}

/** A batch a consumer never processed (what would go to the on-failure destination). */
export interface StreamFailure {
  records: DynamoDBRecord[];
  error: string;
}

interface Subscriber extends Required<Omit<StreamSubscription, 'filters'>> {
  consumer: StreamConsumer;
  filters?: Record<string, unknown>[];
  queue: DynamoDBRecord[];
  running?: Promise<void>;
}

const PUT_ITEM = 'DynamoDB_20120810.PutItem';

/** The proxy and its consumers. */
export class LocalTableStream {
  /** Batches given up after their retries, in order. */
  readonly failures: StreamFailure[] = [];
  private readonly subscribers: Subscriber[] = [];
  private sequence = 0;

  private constructor(
    private readonly server: Server,
    /** dynalite's URL, where requests go on to. */
    private readonly target: string,
    /** The table whose writes are streamed. */
    private readonly table: string,
    /** Endpoint to give DynamoDB clients instead of dynalite's. */
    readonly url: string,
    readonly streamArn: string,
  ) {}

  /** Starts the proxy in front of `target` (dynalite's URL), streaming writes to `table`. */
  static async start(target: string, table: string, region = 'us-east-1'): Promise<LocalTableStream> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const streamArn = `arn:aws:dynamodb:${region}:000000000000:table/${table}/stream/local`;
    const stream = new LocalTableStream(server, target, table, url, streamArn);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        stream
          .forward(req.method ?? 'POST', req.url ?? '/', req.headers, Buffer.concat(chunks))
          .then(({ status, headers, body }) => {
            res.writeHead(status, headers);
            res.end(body);
          })
          .catch((error: Error) => {
            res.writeHead(502, { 'content-type': 'text/plain' });
            res.end(error.message);
          });
      });
    });
    return stream;
  }

  /** Feeds `consumer` every later record that passes `subscription.filters`. */
  subscribe(consumer: StreamConsumer, subscription: StreamSubscription = {}): void {
    this.subscribers.push({
      consumer,
      filters: subscription.filters,
      batchSize: subscription.batchSize ?? 100,
      retryAttempts: subscription.retryAttempts ?? 3,
      retryPauseMs: subscription.retryPauseMs ?? 20,
      queue: [],
    });
  }

  /** Resolves when every record so far has been delivered (or given up). */
  async drained(): Promise<void> {
    while (this.subscribers.some((s) => s.running)) {
      await Promise.all(this.subscribers.map((s) => s.running));
    }
  }

  /** Stops the proxy (after delivering what is queued). */
  async close(): Promise<void> {
    await this.drained();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async forward(
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }> {
    const put = headers['x-amz-target'] === PUT_ITEM ? parsePut(body, this.table) : undefined;
    // Ask for the replaced item (to tell INSERT from MODIFY) when the caller did not.
    const send =
      put && !put.ReturnValues ? Buffer.from(JSON.stringify({ ...put, ReturnValues: 'ALL_OLD' })) : body;
    const response = await relay(
      this.target,
      method,
      path,
      { ...headers, 'content-length': String(send.length) },
      send,
    );
    if (!put || response.status !== 200) return response;
    const answer = JSON.parse(response.body.toString('utf8')) as { Attributes?: unknown };
    this.publish(put.Item, answer.Attributes === undefined ? 'INSERT' : 'MODIFY');
    if (put.ReturnValues) return response;
    const { Attributes: _replaced, ...rest } = answer;
    const rewritten = Buffer.from(JSON.stringify(rest));
    return {
      status: response.status,
      headers: {
        ...response.headers,
        'content-length': String(rewritten.length),
        'x-amz-crc32': String(crc32(rewritten)),
      },
      body: rewritten,
    };
  }

  private publish(item: Record<string, AttributeValue>, eventName: 'INSERT' | 'MODIFY'): void {
    this.sequence += 1;
    const change: StreamRecord = {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      Keys: { pk: item.pk!, sk: item.sk! },
      NewImage: item,
      SequenceNumber: String(this.sequence).padStart(21, '0'),
      SizeBytes: JSON.stringify(item).length,
      StreamViewType: 'NEW_IMAGE',
    };
    const record: DynamoDBRecord = {
      eventID: randomUUID().replaceAll('-', ''),
      eventName,
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: this.streamArn.split(':')[3]!,
      dynamodb: change,
      eventSourceARN: this.streamArn,
    };
    for (const subscriber of this.subscribers) {
      if (subscriber.filters && !subscriber.filters.some((f) => matchesPattern(f, record))) continue;
      subscriber.queue.push(record);
      subscriber.running ??= this.pump(subscriber).finally(() => {
        subscriber.running = undefined;
      });
    }
  }

  /** Delivers a subscriber's queue in order, batch by batch, as a shard's poller does. */
  private async pump(subscriber: Subscriber): Promise<void> {
    while (subscriber.queue.length > 0) {
      let batch = subscriber.queue.splice(0, subscriber.batchSize);
      let lastError = '';
      for (let attempt = 0; batch.length > 0; attempt++) {
        if (attempt > subscriber.retryAttempts) {
          this.failures.push({ records: batch, error: lastError });
          break;
        }
        if (attempt > 0) await new Promise((r) => setTimeout(r, subscriber.retryPauseMs));
        try {
          const answer = await subscriber.consumer({ Records: batch });
          const failed = answer?.batchItemFailures?.[0]?.itemIdentifier;
          if (failed === undefined) break;
          const from = batch.findIndex((r) => r.dynamodb?.SequenceNumber === failed);
          lastError = `batch item failure at ${failed}`;
          batch = from === -1 ? batch : batch.slice(from);
        } catch (error) {
          lastError = (error as Error).message;
        }
      }
    }
  }
}

/** A PutItem request on `table`, or undefined for anything else. */
function parsePut(
  body: Buffer,
  table: string,
): { TableName: string; Item: Record<string, AttributeValue>; ReturnValues?: string } | undefined {
  try {
    const request = JSON.parse(body.toString('utf8')) as {
      TableName?: string;
      Item?: Record<string, AttributeValue>;
      ReturnValues?: string;
    };
    return request.TableName === table && request.Item
      ? { ...request, TableName: table, Item: request.Item }
      : undefined;
  } catch {
    return undefined;
  }
}

function relay(
  target: string,
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
  body: Buffer,
): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, target), { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 500,
          headers: Object.fromEntries(
            Object.entries(res.headers).filter((e): e is [string, string | string[]] => e[1] !== undefined),
          ),
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
