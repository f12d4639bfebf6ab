/** `countersign request | status | wait | grant consume` against a local PutEvents + status endpoint. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CliIo, main } from '../../cli/main.js';
import { intentHash } from '../../lambdas/shared/canonical.js';
import { makeIntent } from '../support/fixtures.js';
import { type FakeEndpoint, startFakeEndpoint } from './fake-endpoint.js';

let endpoint: FakeEndpoint;
const saved: Record<string, string | undefined> = {};
const ENV_KEYS = [
  'AWS_ENDPOINT_URL_EVENTBRIDGE',
  'AWS_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'COUNTERSIGN_STATUS_URL',
  'COUNTERSIGN_AGENT_ID',
  'COUNTERSIGN_TABLE_NAME',
];

function capture(cwd = process.cwd()): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { out: (l) => stdout.push(l), err: (l) => stderr.push(l), cwd, stdout, stderr };
}

beforeAll(async () => {
  endpoint = await startFakeEndpoint();
  for (const key of ENV_KEYS) saved[key] = process.env[key];
});
afterEach(() => {
  for (const key of ENV_KEYS) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});
afterAll(() => endpoint.close());

function pointAtEndpoint() {
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_EVENTBRIDGE: endpoint.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDCLITEST',
    AWS_SECRET_ACCESS_KEY: 'cli-test-secret',
    COUNTERSIGN_STATUS_URL: endpoint.url,
  });
  delete process.env.COUNTERSIGN_TABLE_NAME;
}

const FLAGS = [
  '--action',
  'iam:AttachRolePolicy',
  '--resource',
  'arn:aws:iam::123456789012:role/payments-deployer',
  '--environment',
  'prod',
  '--justification',
  'INC-4211 read access',
  '--param',
  'roleName=payments-deployer',
  '--param',
  'durationHours:=4',
  '--model',
  'claude-sonnet-4',
  '--session',
  'session-1',
  '--on-behalf-of',
  'carol@example.com',
  '--owner',
  'erin@example.com',
];

describe('countersign request', () => {
  it('publishes from flags through AWS_ENDPOINT_URL_EVENTBRIDGE and prints the intent id', async () => {
    pointAtEndpoint();
    const io = capture();
    const code = await main(['request', ...FLAGS, '--agent', 'deploy-bot'], io);
    expect(code, io.stderr.join('\n')).toBe(0);
    const printed = JSON.parse(io.stdout[0]!);
    expect(endpoint.deliveriesOf(printed.intentId)).toBe(1);
    const detail = JSON.parse(endpoint.delivered.at(-1)!.Detail!);
    expect(detail.parameters).toEqual({ roleName: 'payments-deployer', durationHours: 4 });
    expect(endpoint.delivered.at(-1)!.Source).toBe('countersign.agent.deploy-bot');
  });

  it('publishes from --file and waits: exit 0 on APPROVED, 1 on DENIED', async () => {
    pointAtEndpoint();
    const dir = await mkdtemp(join(tmpdir(), 'countersign-cli-'));
    for (const [status, expected] of [
      ['APPROVED', 0],
      ['DENIED', 1],
    ] as const) {
      const intent = makeIntent();
      await writeFile(join(dir, 'intent.json'), JSON.stringify(intent));
      endpoint.setStatus(intent.intentId, () => ({
        status: 200,
        body: {
          intentId: intent.intentId,
          status,
          decision: {
            intentId: intent.intentId,
            agentId: 'deploy-bot',
            status,
            reason: 'because',
            // The decision names what was published: the CLI refuses one bound to anything else.
            intentHash: intentHash(intent),
          },
        },
      }));
      const io = capture(dir);
      const code = await main(
        ['request', '--file', 'intent.json', '--agent', 'deploy-bot', '--wait', '--timeout', '5'],
        io,
      );
      expect(code, io.stderr.join('\n')).toBe(expected);
      expect(JSON.parse(io.stdout.join('\n'))).toMatchObject({ status });
    }
  });

  it('a validation failure names the field (exit 1) and sends nothing', async () => {
    pointAtEndpoint();
    const before = endpoint.calls.length;
    const io = capture();
    const flags = FLAGS.map((f) => (f === 'erin@example.com' ? 'erin-at-example' : f));
    expect(await main(['request', ...flags, '--agent', 'deploy-bot'], io)).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/agent\.owner/);
    expect(endpoint.calls.length).toBe(before);
  });

  it('an oversized intent is refused before sending (exit 1)', async () => {
    pointAtEndpoint();
    const io = capture();
    const big = [...FLAGS, '--param', `blob=${'x'.repeat(300 * 1024)}`];
    expect(await main(['request', ...big, '--agent', 'deploy-bot'], io)).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/refused before sending/);
  });

  it('an unknown bus is named (exit 1)', async () => {
    pointAtEndpoint();
    const io = capture();
    expect(await main(['request', ...FLAGS, '--agent', 'deploy-bot', '--bus', 'nope'], io)).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/event bus "nope" does not exist/);
  });

  it('usage errors exit 2: no agent, bad --param, --wait without a status URL', async () => {
    pointAtEndpoint();
    delete process.env.COUNTERSIGN_AGENT_ID;
    expect(await main(['request', ...FLAGS], capture())).toBe(2);
    expect(await main(['request', '--action', 'a:b', '--param', 'novalue', '--agent', 'x'], capture())).toBe(
      2,
    );
    delete process.env.COUNTERSIGN_STATUS_URL;
    const io = capture();
    expect(await main(['request', ...FLAGS, '--agent', 'deploy-bot', '--wait'], io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/COUNTERSIGN_STATUS_URL/);
    expect(await main(['request', '--nonsense'], capture())).toBe(2);
  });
});

describe('countersign status | wait | grant consume', () => {
  it('status prints the request (0) or says it is not found (1)', async () => {
    pointAtEndpoint();
    endpoint.setStatus('intent-cli-00001', () => ({
      status: 200,
      body: { intentId: 'intent-cli-00001', status: 'PENDING', decision: null, grant: null },
    }));
    const io = capture();
    expect(await main(['status', 'intent-cli-00001'], io)).toBe(0);
    expect(JSON.parse(io.stdout.join('\n'))).toMatchObject({ status: 'PENDING' });
    expect(await main(['status', 'intent-cli-00404'], capture())).toBe(1);
    expect(await main(['status'], capture())).toBe(2);
  });

  it('wait exits 1 when nothing is decided in time', async () => {
    pointAtEndpoint();
    endpoint.setStatus('intent-cli-00002', () => ({
      status: 200,
      body: { status: 'PENDING', decision: null },
    }));
    const io = capture();
    expect(await main(['wait', 'intent-cli-00002', '--timeout', '0.3'], io)).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/no decision for intent-cli-00002/);
  });

  it('grant consume: 0 when consumed, 1 when refused, 2 on bad usage', async () => {
    pointAtEndpoint();
    let used = false;
    endpoint.setConsume('grant-cli-000001', () => {
      if (used) return { status: 409, body: { error: 'already_consumed', message: 'already consumed' } };
      used = true;
      return {
        status: 200,
        body: {
          consumed: true,
          grant: {
            grantId: 'grant-cli-000001',
            intentId: 'i',
            intentHash: 'h',
            expiresAt: 'e',
            consumedAt: 'c',
          },
        },
      };
    });
    expect(await main(['grant', 'consume', 'grant-cli-000001'], capture())).toBe(0);
    const io = capture();
    expect(await main(['grant', 'consume', 'grant-cli-000001'], io)).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/refused \(already-consumed\)/);
    expect(await main(['grant', 'spend', 'x'], capture())).toBe(2);
  });
});
