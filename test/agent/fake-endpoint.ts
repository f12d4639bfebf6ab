/**
 * A tiny local endpoint for client tests: EventBridge PutEvents over the AWS
 * JSON 1.1 protocol (so an unmodified EventBridgeClient talks to it) with
 * injectable per-entry failures, and the status API's
 * `GET /requests/<intentId>` / `POST /grants/<grantId>/consume` answering from
 * programmable tables. It counts what was delivered, per intent id.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An entry as PutEvents receives it. */
export interface ReceivedEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
}

/** Decides whether an entry fails on this attempt: an error code, or undefined to accept it. */
export type FailurePlan = (entry: ReceivedEntry, attempt: number) => string | undefined;

/** A recorded HTTP request to the status API. */
export interface StatusCall {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  at: number;
}

/** A running fake endpoint. */
export interface FakeEndpoint {
  url: string;
  /** Accepted entries, in order. */
  delivered: ReceivedEntry[];
  /** PutEvents calls, each with the intent ids it carried. */
  calls: string[][];
  /** Status API calls. */
  statusCalls: StatusCall[];
  /** Accepted deliveries per intent id. */
  deliveriesOf(intentId: string): number;
  /** Sets what `GET /requests/<id>` answers: a body (200), or a function of the poll number. */
  setStatus(intentId: string, answer: (poll: number) => { status: number; body: unknown }): void;
  /** Sets what `POST /grants/<id>/consume` answers. */
  setConsume(grantId: string, answer: () => { status: number; body: unknown }): void;
  /** A whole-call error for the next PutEvents calls (`__type`, HTTP status). */
  failNextCalls(count: number, type: string, httpStatus: number, message?: string): void;
  close(): Promise<void>;
}

const intentIdOf = (entry: ReceivedEntry) => {
  try {
    return String((JSON.parse(entry.Detail ?? '{}') as { intentId?: unknown }).intentId);
  } catch {
    return 'unparseable';
  }
};

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the fake on 127.0.0.1 (random port). `failures` decides per-entry failures. */
export async function startFakeEndpoint(
  options: { failures?: FailurePlan; busName?: string } = {},
): Promise<FakeEndpoint> {
  const busName = options.busName ?? 'countersign';
  const delivered: ReceivedEntry[] = [];
  const calls: string[][] = [];
  const statusCalls: StatusCall[] = [];
  const attempts = new Map<string, number>();
  const statuses = new Map<string, (poll: number) => { status: number; body: unknown }>();
  const polls = new Map<string, number>();
  const consumes = new Map<string, () => { status: number; body: unknown }>();
  let callFailures: { count: number; type: string; httpStatus: number; message: string } | undefined;

  const server: Server = createServer((req, res) => {
    void (async () => {
      const text = await body(req);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const json = (status: number, value: unknown, type = 'application/json') => {
        res.writeHead(status, { 'content-type': type });
        res.end(JSON.stringify(value));
      };
      if (req.method === 'POST' && req.headers['x-amz-target'] === 'AWSEvents.PutEvents') {
        if (callFailures && callFailures.count > 0) {
          callFailures.count--;
          json(
            callFailures.httpStatus,
            { __type: callFailures.type, message: callFailures.message },
            'application/x-amz-json-1.1',
          );
          return;
        }
        const request = JSON.parse(text) as { Entries: ReceivedEntry[] };
        calls.push(request.Entries.map(intentIdOf));
        const results = request.Entries.map((entry) => {
          const bus = entry.EventBusName ?? 'default';
          if (bus !== busName)
            return { ErrorCode: 'InvalidArgument', ErrorMessage: `Event bus ${bus} does not exist.` };
          const id = intentIdOf(entry);
          const attempt = (attempts.get(id) ?? 0) + 1;
          attempts.set(id, attempt);
          const code = options.failures?.(entry, attempt);
          if (code) return { ErrorCode: code, ErrorMessage: `injected ${code}` };
          delivered.push(entry);
          return { EventId: randomUUID() };
        });
        json(
          200,
          { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results },
          'application/x-amz-json-1.1',
        );
        return;
      }
      statusCalls.push({
        method: req.method ?? 'GET',
        path: url.pathname,
        headers: req.headers,
        at: Date.now(),
      });
      const request = /^\/requests\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && request) {
        const id = decodeURIComponent(request[1]!);
        const poll = (polls.get(id) ?? 0) + 1;
        polls.set(id, poll);
        const answer = statuses.get(id)?.(poll) ?? {
          status: 404,
          body: { error: 'not_found', message: `no request ${id}` },
        };
        json(answer.status, answer.body);
        return;
      }
      const consume = /^\/grants\/([^/]+)\/consume$/.exec(url.pathname);
      if (req.method === 'POST' && consume) {
        const answer = consumes.get(decodeURIComponent(consume[1]!))?.() ?? {
          status: 404,
          body: { error: 'not_found', message: 'no grant' },
        };
        json(answer.status, answer.body);
        return;
      }
      json(404, { error: 'bad_request', message: `no route for ${req.method} ${url.pathname}` });
    })().catch((error: unknown) => {
      res.writeHead(500);
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    delivered,
    calls,
    statusCalls,
    deliveriesOf: (intentId) => delivered.filter((e) => intentIdOf(e) === intentId).length,
    setStatus: (intentId, answer) => statuses.set(intentId, answer),
    setConsume: (grantId, answer) => consumes.set(grantId, answer),
    failNextCalls: (count, type, httpStatus, message = `injected ${type}`) => {
      callFailures = { count, type, httpStatus, message };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Static test credentials (the fake accepts any signature). */
export const TEST_CREDENTIALS = async () => ({
  accessKeyId: 'AKIDAGENTTEST',
  secretAccessKey: 'agent-test-secret',
});
