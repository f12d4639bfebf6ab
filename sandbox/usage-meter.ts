/**
 * Counts what a sandbox run would be billed for on AWS, at the boundaries
 * where the calls happen, so the cost bench multiplies measured units by
 * prices instead of guessing them:
 *
 * - every AWS SDK call any client in the process makes (a middleware added to
 *   each client's stack on its first `send`), by service and operation, with
 *   DynamoDB read and write request units taken from the `ConsumedCapacity`
 *   the local table returns (the meter asks for it) plus the writes the
 *   table's global secondary indexes take, which the local table does not
 *   report;
 * - Lambda invocations and their measured duration, by function (the loop
 *   wraps each handler it runs);
 * - Step Functions state transitions (each state entered, each retry), from
 *   the local workflow's execution events;
 * - EventBridge entries put on the bus (billed per 64 KB chunk);
 * - EventBridge Scheduler schedules created and fired;
 * - bytes the handlers write to stdout/stderr (what Lambda ships to
 *   CloudWatch Logs), and the EMF metric lines among them.
 *
 * One meter is active per process (SDK clients are patched once, globally).
 */
import { Client } from '@smithy/core/client';

type Json = Record<string, unknown>;

/** A global secondary index, as the cost of a write to it depends on its keys and projection. */
export interface MeteredIndex {
  name: string;
  /** Its key attribute names (hash, then range). */
  keys: string[];
  projection: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
}

/** Reads that consume a read unit (or half, eventually consistent) even when they find nothing. */
const MINIMUM_READ_OPERATIONS = new Set(['GetItem', 'Query', 'Scan']);

/** DynamoDB operations that accept `ReturnConsumedCapacity`. */
const CAPACITY_OPERATIONS = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
]);
const WRITE_OPERATIONS = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
]);

/** One Lambda function's measured invocations. */
export interface FunctionUsage {
  invocations: number;
  errors: number;
  /** Sum of the measured durations, in ms (each rounded up to 1 ms, as Lambda bills). */
  billedMs: number;
}

/** What the meter counted; every figure is a total since the last {@link UsageMeter.reset}. */
export interface UsageSnapshot {
  /** SDK calls by `Service.Operation` (e.g. `DynamoDB.PutItem`, `S3.PutObject`). */
  calls: Record<string, number>;
  /** SDK calls that ended in an error, by `Service.Operation`. */
  failedCalls: Record<string, number>;
  dynamodb: { readUnits: number; writeUnits: number; indexWriteUnits: number };
  lambda: Record<string, FunctionUsage>;
  stateTransitions: number;
  /** Execution history events (what a log level of ALL writes to CloudWatch Logs). */
  executionEvents: number;
  executions: number;
  /** EventBridge entries put, counted in 64 KB chunks, by source. */
  busEntries: Record<string, number>;
  schedulesCreated: number;
  schedulesFired: number;
  /** Bytes written to stdout/stderr while capturing (the handlers' log lines). */
  logBytes: number;
  logLines: number;
  /** EMF lines seen, and the distinct metrics (namespace, name, dimensions) they define. */
  emfLines: number;
  metrics: string[];
}

const EVENT_CHUNK_BYTES = 64 * 1024;
const METERED = Symbol.for('countersign.usage-meter');
let active: UsageMeter | undefined;
/** The SDK's own `send`, while it is patched. */
let originalSend: typeof Client.prototype.send | undefined;

/** Counts billable units; see the module comment. */
export class UsageMeter {
  private snapshot: UsageSnapshot = UsageMeter.empty();
  private readonly metricSet = new Set<string>();
  private restoreOutput: (() => void) | undefined;

  /**
   * @param indexes the table's global secondary indexes (their writes are counted from the items written)
   */
  constructor(public indexes: readonly MeteredIndex[] = []) {}

  private static empty(): UsageSnapshot {
    return {
      calls: {},
      failedCalls: {},
      dynamodb: { readUnits: 0, writeUnits: 0, indexWriteUnits: 0 },
      lambda: {},
      stateTransitions: 0,
      executionEvents: 0,
      executions: 0,
      busEntries: {},
      schedulesCreated: 0,
      schedulesFired: 0,
      logBytes: 0,
      logLines: 0,
      emfLines: 0,
      metrics: [],
    };
  }

  /** Makes this the meter every SDK client in the process reports to (patches clients once). */
  install(): this {
    active = this;
    if (!originalSend) {
      const send = Client.prototype.send;
      originalSend = send;
      Client.prototype.send = function meteredSend(
        this: Client<never, never, never, never>,
        ...args: unknown[]
      ) {
        addMeterMiddleware(this);
        return (send as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof Client.prototype.send;
    }
    return this;
  }

  /**
   * Stops counting SDK calls and output and gives the SDK its own `send` back
   * (clients that got the middleware keep it, inert while no meter is active).
   */
  uninstall(): void {
    if (active === this) {
      active = undefined;
      if (originalSend) Client.prototype.send = originalSend;
      originalSend = undefined;
    }
    this.stopCapturingOutput();
  }

  /** Zeroes every counter (e.g. after a warm-up). */
  reset(): void {
    this.snapshot = UsageMeter.empty();
    this.metricSet.clear();
  }

  /** A copy of the counters. */
  read(): UsageSnapshot {
    return structuredClone({ ...this.snapshot, metrics: [...this.metricSet].sort() });
  }

  /** Records one SDK call (the middleware calls it; tests may too). */
  recordCall(
    service: string,
    operation: string,
    input: Json,
    output: Json | undefined,
    failed: boolean,
  ): void {
    const key = `${service}.${operation}`;
    add(this.snapshot.calls, key, 1);
    if (failed) add(this.snapshot.failedCalls, key, 1);
    if (service === 'DynamoDB') this.recordCapacity(operation, input, output, failed);
  }

  private recordCapacity(operation: string, input: Json, output: Json | undefined, failed: boolean): void {
    if (!CAPACITY_OPERATIONS.has(operation)) return;
    const write = WRITE_OPERATIONS.has(operation);
    const consumed = output?.ConsumedCapacity as
      | { CapacityUnits?: number }
      | { CapacityUnits?: number }[]
      | undefined;
    let units = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []).reduce(
      (sum, c) => sum + (c.CapacityUnits ?? 0),
      0,
    );
    if (operation === 'BatchWriteItem' && units === 0) units = batchWriteUnits(input);
    // A failed conditional write still consumes write capacity (at least one unit); a failed read, none.
    if (failed && write) units = Math.max(units, 1);
    // A read that finds nothing still costs one read of 4 KB (DynamoDB's read and write operations
    // page); the local table reports 0 for it.
    if (!failed && MINIMUM_READ_OPERATIONS.has(operation))
      units = Math.max(units, input.ConsistentRead === true ? 1 : 0.5);
    if (write) {
      this.snapshot.dynamodb.writeUnits += units;
      const index = failed ? 0 : this.indexWriteUnits(operation, input, units);
      this.snapshot.dynamodb.indexWriteUnits += index;
    } else {
      this.snapshot.dynamodb.readUnits += units;
    }
  }

  /**
   * Writes a table write causes in its indexes (the local table reports only
   * the table's): an item put with every key of an index adds an index entry
   * (the item's size for an ALL projection, one unit for KEYS_ONLY); an update
   * naming an index key moves the entry (a delete and a put); a delete removes
   * it. Updates that name no index key are counted as free: whether the item
   * is in an ALL index is not in the request.
   */
  private indexWriteUnits(operation: string, input: Json, tableUnits: number): number {
    let units = 0;
    for (const index of this.indexes) {
      const size = index.projection === 'KEYS_ONLY' ? 1 : Math.max(1, tableUnits);
      if (operation === 'PutItem') {
        const item = (input.Item ?? {}) as Json;
        if (index.keys.every((k) => k in item)) units += size;
      } else if (operation === 'UpdateItem') {
        const names = Object.values((input.ExpressionAttributeNames ?? {}) as Record<string, string>);
        const expression = String(input.UpdateExpression ?? '');
        const touched = index.keys.some(
          (k) => names.includes(k) || new RegExp(`\\b${k}\\b`).test(expression),
        );
        if (touched) units += 2 * size;
      } else if (operation === 'DeleteItem') {
        // The item's index entry goes too; whether it had one is unknown: count it.
        units += size;
      }
    }
    return units;
  }

  /** Wraps a Lambda handler so each invocation is counted with its duration. */
  wrap<H extends (...args: never[]) => Promise<unknown>>(functionName: string, handler: H): H {
    return (async (...args: Parameters<H>) => {
      const lambda = this.snapshot.lambda;
      const usage = lambda[functionName] ?? { invocations: 0, errors: 0, billedMs: 0 };
      lambda[functionName] = usage;
      const t0 = performance.now();
      try {
        return await handler(...args);
      } catch (error) {
        usage.errors++;
        throw error;
      } finally {
        usage.invocations++;
        usage.billedMs += Math.max(1, Math.ceil(performance.now() - t0));
      }
    }) as H;
  }

  /** Counts one execution event of the local workflow (state entered, retried, ...). */
  executionEvent(type: string): void {
    this.snapshot.executionEvents++;
    if (type === 'StateEntered' || type === 'StateRetried') this.snapshot.stateTransitions++;
    if (type === 'ExecutionStarted') this.snapshot.executions++;
  }

  /** Counts entries put on a bus (each 64 KB of an entry is one billed event). */
  busEntry(source: string, detailBytes: number): void {
    add(this.snapshot.busEntries, source, Math.max(1, Math.ceil(detailBytes / EVENT_CHUNK_BYTES)));
  }

  /** Counts a schedule created, or fired. */
  schedule(what: 'created' | 'fired'): void {
    if (what === 'created') this.snapshot.schedulesCreated++;
    else this.snapshot.schedulesFired++;
  }

  /**
   * Counts (and holds back) everything written to stdout and stderr until
   * {@link stopCapturingOutput}: in a Lambda each line goes to CloudWatch Logs.
   */
  captureOutput(): void {
    if (this.restoreOutput) return;
    const streams = [process.stdout, process.stderr];
    const originals = streams.map((s) => s.write);
    for (const stream of streams) {
      stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        this.countOutput(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
        callback?.();
        return true;
      }) as typeof stream.write;
    }
    this.restoreOutput = () => {
      streams.forEach((s, i) => {
        s.write = originals[i]!;
      });
    };
  }

  /** Restores stdout and stderr. */
  stopCapturingOutput(): void {
    this.restoreOutput?.();
    this.restoreOutput = undefined;
  }

  /** Counts output as log bytes and lines; EMF lines also define metrics. */
  countOutput(text: string): void {
    this.snapshot.logBytes += Buffer.byteLength(text);
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      this.snapshot.logLines++;
      const metrics = emfMetrics(line);
      if (metrics === undefined) continue;
      this.snapshot.emfLines++;
      for (const m of metrics) this.metricSet.add(m);
    }
  }
}

/**
 * The metrics an EMF log line defines, each as `namespace/name{dim=value,...}`
 * (one billed custom metric per distinct string), or undefined when the line
 * is not EMF.
 */
export function emfMetrics(line: string): string[] | undefined {
  if (!line.includes('"_aws"')) return undefined;
  let record: Json;
  try {
    record = JSON.parse(line) as Json;
  } catch {
    return undefined;
  }
  const aws = record._aws as { CloudWatchMetrics?: unknown } | undefined;
  if (!aws || !Array.isArray(aws.CloudWatchMetrics)) return undefined;
  const out: string[] = [];
  for (const directive of aws.CloudWatchMetrics as {
    Namespace?: string;
    Dimensions?: string[][];
    Metrics?: { Name?: string }[];
  }[]) {
    const dimensionSets = directive.Dimensions?.length ? directive.Dimensions : [[]];
    for (const metric of directive.Metrics ?? []) {
      for (const set of dimensionSets) {
        const dims = set.map((d) => `${d}=${String(record[d])}`).join(',');
        out.push(`${directive.Namespace}/${metric.Name}{${dims}}`);
      }
    }
  }
  return out;
}

function add(counts: Record<string, number>, key: string, n: number): void {
  counts[key] = (counts[key] ?? 0) + n;
}

/** Write units of a BatchWriteItem (the local table reports none): one per KB of each item put, one per delete. */
function batchWriteUnits(input: Json): number {
  let units = 0;
  for (const requests of Object.values((input.RequestItems ?? {}) as Record<string, Json[]>)) {
    for (const request of requests) {
      const put = request.PutRequest as { Item?: unknown } | undefined;
      units += put ? Math.max(1, Math.ceil(Buffer.byteLength(JSON.stringify(put.Item ?? {})) / 1024)) : 1;
    }
  }
  return units;
}

/** Adds the meter's middleware to a client's stack, once. */
function addMeterMiddleware(client: Client<never, never, never, never>): void {
  const stack = client.middlewareStack as unknown as Record<symbol, boolean> & {
    add: (middleware: unknown, options: Json) => void;
  };
  if (stack[METERED]) return;
  stack[METERED] = true;
  stack.add(
    (
      next: (args: { input: Json }) => Promise<{ output: Json }>,
      context: { clientName?: string; commandName?: string },
    ) =>
      async (args: { input: Json }) => {
        const meter = active;
        const service = (context.clientName ?? 'Unknown').replace(/Client$/, '');
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        if (!meter) return next(args);
        if (
          service === 'DynamoDB' &&
          CAPACITY_OPERATIONS.has(operation) &&
          !args.input.ReturnConsumedCapacity
        )
          args = { ...args, input: { ...args.input, ReturnConsumedCapacity: 'TOTAL' } };
        try {
          const result = await next(args);
          meter.recordCall(service, operation, args.input, result.output, false);
          return result;
        } catch (error) {
          meter.recordCall(service, operation, args.input, undefined, true);
          throw error;
        }
      },
    { step: 'initialize', priority: 'high', name: 'countersignUsageMeter' },
  );
}
