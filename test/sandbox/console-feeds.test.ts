/**
 * What the console reads: live updates over Server-Sent Events (no polling),
 * the request listing from the `byStatus` index (never a table scan, proven
 * by recording every DynamoDB call the server makes), and `/requests/<id>`
 * with the status API's finality rule.
 */
import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { createSandboxServer, type SandboxServer } from '../../sandbox/server.js';
import { makeIntent } from '../support/fixtures.js';
import { decisionFor, eventually, publish, sharedLoop } from '../support/loop.js';

let loop: CountersignLoop;
let server: SandboxServer;

beforeAll(async () => {
  loop = await sharedLoop();
  server = await createSandboxServer(loop, { port: 0 });
});
afterAll(() => server?.close());

/** Reads Server-Sent Events from `/api/updates` until `until` matches one, or fails after `timeoutMs`. */
async function readEvents(
  until: (event: { event: string; data: unknown }) => boolean,
  act: () => Promise<void>,
  timeoutMs = 20_000,
): Promise<{ event: string; data: unknown }[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const res = await fetch(`${server.url}/api/updates`, { signal: controller.signal });
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { event: string; data: unknown }[] = [];
  let buffer = '';
  let acted = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the event stream ended');
      buffer += value;
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        const fields = Object.fromEntries(
          block
            .split('\n')
            .filter((line) => line && !line.startsWith(':'))
            .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
        );
        if (!fields.event) continue;
        const event = { event: fields.event, data: JSON.parse(fields.data ?? 'null') as unknown };
        events.push(event);
        if (event.event === 'ready' && !acted) {
          acted = true;
          await act();
        }
        if (until(event)) return events;
      }
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

describe('GET /api/updates (Server-Sent Events)', () => {
  it('sends a change naming the request after its decision, with nothing polled', async () => {
    const intent = makeIntent({
      environment: 'dev',
      action: 's3:GetObject',
      resource: 'arn:aws:s3:::dev/x.log',
    });
    const events = await readEvents(
      (e) =>
        e.event === 'change' &&
        (e.data as { requestIds: string[]; sources: string[] }).requestIds.includes(intent.intentId) &&
        (e.data as { sources: string[] }).sources.includes('bus') &&
        decisionFor(loop, intent.intentId) !== undefined,
      async () => {
        publish(loop, intent);
      },
    );
    expect(events[0]?.event).toBe('ready');
    expect(decisionFor(loop, intent.intentId)?.detail).toMatchObject({ status: 'APPROVED', automatic: true });
    const change = events.at(-1)!.data as { requestIds: string[]; sources: string[] };
    expect(change.requestIds).toContain(intent.intentId);
  });

  it('the console listens to it instead of polling on a timer', async () => {
    const app = await (await fetch(`${server.url}/console/app.js`)).text();
    expect(app).toContain("new EventSource('/api/updates')");
    expect(app).not.toMatch(/setInterval\(\s*refresh/);
  });
});

describe('GET /requests', () => {
  it('reads the byStatus index and batch gets the items: no Scan', async () => {
    const intent = makeIntent({ environment: 'dev', action: 's3:GetObject', resource: 'arn:aws:s3:::dev/y' });
    publish(loop, intent);
    await eventually(() => decisionFor(loop, intent.intentId));
    const calls: { command: string; index?: string }[] = [];
    const name = `record-calls-${randomUUID()}`;
    loop.aws.ddb.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push({
          command: context.commandName ?? '?',
          index: (args.input as { IndexName?: string }).IndexName,
        });
        return next(args);
      },
      { step: 'initialize', name },
    );
    let listed: { intentId: string; status: string }[];
    try {
      listed = (await (await fetch(`${server.url}/requests`)).json()) as typeof listed;
    } finally {
      loop.aws.ddb.middlewareStack.remove(name);
    }
    expect(listed.find((r) => r.intentId === intent.intentId)?.status).toBe('APPROVED');
    const commands = calls.map((c) => c.command);
    expect(commands).not.toContain('ScanCommand');
    expect(calls.filter((c) => c.command === 'QueryCommand').map((c) => c.index)).toEqual(
      Array(5).fill('byStatus'),
    );
    // The items themselves: BatchGetItem (the document client's BatchGetCommand) and nothing else.
    const others = commands.filter((c) => c !== 'QueryCommand');
    expect(others.length).toBeGreaterThan(0);
    for (const command of others) expect(command).toMatch(/^BatchGet(Item)?Command$/);
  });
});

describe('GET /requests/<id> uses the status API finality rule', () => {
  const base = () => {
    const intentId = `intent-${randomUUID()}`;
    return {
      pk: `REQUEST#${intentId}`,
      sk: 'REQUEST',
      intentId,
      agentId: 'deploy-bot',
      source: 'countersign.agent.deploy-bot',
      intent: makeIntent({ intentId }),
      intentHash: `sha256:${'a'.repeat(64)}`,
      createdAt: new Date().toISOString(),
      approvals: [],
      voterIds: [],
    };
  };
  const decision = (grantId?: string) => ({
    status: 'APPROVED',
    automatic: false,
    reason: 'approved',
    decidedAt: new Date().toISOString(),
    approvers: [],
    policies: ['p'],
    intentHash: `sha256:${'a'.repeat(64)}`,
    ...(grantId
      ? { grant: { grantId, expiresAt: new Date(Date.now() + 60_000).toISOString(), singleUse: true } }
      : {}),
  });
  const put = (item: Record<string, unknown>) =>
    loop.aws.ddb.send(new PutCommand({ TableName: loop.aws.table, Item: item }));
  const view = async (intentId: string) =>
    (await (await fetch(`${server.url}/requests/${intentId}`)).json()) as {
      status: string;
      decision: { status: string; intentId: string } | null;
    };

  it('a click decided it but Record has not finalized it: PENDING, no decision', async () => {
    const item = { ...base(), status: 'APPROVED', decision: decision() };
    await put(item);
    expect(await view(item.intentId)).toMatchObject({ status: 'PENDING', decision: null });
  });

  it('finalized as APPROVED before its grant item exists: PENDING; with the grant: APPROVED', async () => {
    const grantId = `grant-${randomUUID()}`;
    const item = {
      ...base(),
      status: 'APPROVED',
      decision: decision(grantId),
      finalizedAt: new Date().toISOString(),
    };
    await put(item);
    expect(await view(item.intentId)).toMatchObject({ status: 'PENDING', decision: null });
    await put({
      pk: `GRANT#${grantId}`,
      sk: 'GRANT',
      grantId,
      intentId: item.intentId,
      agentId: 'deploy-bot',
      intentHash: item.intentHash,
      issuedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    expect(await view(item.intentId)).toMatchObject({
      status: 'APPROVED',
      decision: { status: 'APPROVED', intentId: item.intentId },
    });
  });
});
