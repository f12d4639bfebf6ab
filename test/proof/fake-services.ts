/**
 * Wire-compatible stand-ins for the two AWS APIs the handlers call that no
 * local server offers: KMS `Sign` (AWS JSON 1.1, signs with a local P-256 key)
 * and EventBridge Scheduler `CreateSchedule` (REST JSON, `POST /schedules/{Name}`).
 * They answer in AWS's shapes so the handlers run their real code paths while
 * the call recorder watches; signatures are not what the proof checks.
 */
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running fake, with the environment that points SDK clients at it. */
export interface FakeServices {
  url: string;
  /** Schedules created, by name. */
  schedules: Map<string, Record<string, unknown>>;
  env(): Record<string, string>;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

function reply(res: ServerResponse, status: number, json: unknown, type = 'application/json') {
  res.writeHead(status, { 'content-type': type, 'x-amzn-requestid': randomUUID() });
  res.end(JSON.stringify(json));
}

/** Starts the fake on 127.0.0.1, on a random port. */
export async function startFakeServices(region = 'us-east-1'): Promise<FakeServices> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const schedules = new Map<string, Record<string, unknown>>();
  const server = createServer((req, res) => {
    void (async () => {
      const input = await body(req);
      const target = String(req.headers['x-amz-target'] ?? '');
      if (target === 'TrentService.Sign') {
        const message = Buffer.from(String(input.Message ?? ''), 'base64');
        return reply(
          res,
          200,
          {
            KeyId: input.KeyId,
            Signature: sign('sha256', message, { key: privateKey, dsaEncoding: 'der' }).toString('base64'),
            SigningAlgorithm: input.SigningAlgorithm,
          },
          'application/x-amz-json-1.1',
        );
      }
      const schedule = /^\/schedules\/([^/?]+)/.exec(req.url ?? '');
      if (req.method === 'POST' && schedule) {
        const name = decodeURIComponent(schedule[1]!);
        schedules.set(name, input);
        return reply(res, 200, {
          ScheduleArn: `arn:aws:scheduler:${region}:000000000000:schedule/${String(input.GroupName)}/${name}`,
        });
      }
      reply(res, 400, { __type: 'UnknownOperationException', message: `not faked: ${target || req.url}` });
    })().catch((error: unknown) => reply(res, 500, { __type: 'InternalFailure', message: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    schedules,
    env: () => ({ AWS_ENDPOINT_URL_KMS: url, AWS_ENDPOINT_URL_SCHEDULER: url }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
