/**
 * Single-use grants on dynalite: one conditional write decides, so
 * of 20 concurrent consumes exactly one wins; expired and foreign grants are
 * refused without a change; every consume is on the request's audit chain.
 */
import { randomUUID } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeGrant as clientConsume } from '../../client/index.js';
import { consumeForCaller } from '../../lambdas/grant/core.js';
import {
  type AuditDeps,
  auditSortKey,
  GENESIS_HASH,
  hashRecord,
  readChain,
} from '../../lambdas/shared/audit.js';
import {
  consumeGrant,
  createGrant,
  explainRefusal,
  GRANT_RETENTION_SECONDS,
  type GrantItem,
  getGrant,
} from '../../lambdas/shared/grants.js';
import { finalize, type RequestDecision, type RequestItem } from '../../lambdas/shared/store.js';
import { parseAgentRoles } from '../../lambdas/status/caller.js';
import { seedPendingRequest } from '../support/fixtures.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';
import { type FakeEndpoint, startFakeEndpoint, TEST_CREDENTIALS } from './fake-endpoint.js';

const AGENT = { type: 'agent' as const, agentId: 'deploy-bot', source: 'countersign.agent.deploy-bot' };
const ROLE_ARN = 'arn:aws:iam::123456789012:role/deploy-bot-agent';
const SESSION_ARN = 'arn:aws:sts::123456789012:assumed-role/deploy-bot-agent/session-1';
const OTHER_SESSION_ARN = 'arn:aws:sts::123456789012:assumed-role/report-bot-agent/session-9';

let aws: LocalAws;
let deps: AuditDeps;
let clock = new Date('2026-03-01T12:00:00.000Z');

beforeAll(async () => {
  aws = await startLocalAws({ table: 'countersign-grants', bucket: 'countersign-grants-audit' });
  deps = {
    ddb: aws.ddb,
    table: aws.table,
    now: () => clock,
  };
});
afterAll(() => aws.close());

/** An approved request with its grant, as Record leaves it. */
async function approvedWithGrant(ttlSeconds = 900): Promise<{ request: RequestItem; grantId: string }> {
  const request = await seedPendingRequest(deps);
  const grantId = randomUUID();
  const decision: RequestDecision = {
    status: 'APPROVED',
    automatic: false,
    reason: 'approved by reviewers',
    decidedAt: clock.toISOString(),
    approvers: [],
    policies: ['default-review'],
    intentHash: request.intentHash,
    grant: {
      grantId,
      expiresAt: new Date(clock.getTime() + ttlSeconds * 1000).toISOString(),
      singleUse: true,
    },
  };
  expect((await finalize(deps, request.intentId, decision)).won).toBe(true);
  expect(await createGrant(deps, request, decision)).toBe('created');
  return { request, grantId };
}

describe('grant items', () => {
  it('are created once per approval (a retried Record leaves the item alone)', async () => {
    const { request, grantId } = await approvedWithGrant();
    const grant = await getGrant(deps, grantId);
    expect(grant).toMatchObject({
      pk: `GRANT#${grantId}`,
      sk: 'GRANT',
      intentId: request.intentId,
      agentId: 'deploy-bot',
      intentHash: request.intentHash,
    });
    expect(grant?.consumedAt).toBeUndefined();
    expect(grant!.ttl).toBeGreaterThan(Date.parse(grant!.expiresAt) / 1000);
    const again = await createGrant(deps, request, {
      intentHash: 'sha256:other',
      decidedAt: clock.toISOString(),
      grant: { grantId, expiresAt: '2099-01-01T00:00:00.000Z', singleUse: true },
    });
    expect(again).toBe('exists');
    expect((await getGrant(deps, grantId))?.expiresAt).toBe(grant!.expiresAt);
  });
});

describe('grant items, retention and absence', () => {
  it('stay in the table 30 days past expiry (TTL), so a late consume is told the grant expired', async () => {
    const { grantId } = await approvedWithGrant(900);
    const grant = (await getGrant(deps, grantId))!;
    expect(GRANT_RETENTION_SECONDS).toBe(30 * 24 * 60 * 60);
    expect(grant.ttl).toBe(Math.floor(Date.parse(grant.expiresAt) / 1000) + GRANT_RETENTION_SECONDS);
    expect(grant).toMatchObject({ grantId, issuedAt: clock.toISOString() });
  });

  it('are not created for a decision that carries no grant', async () => {
    const request = await seedPendingRequest(deps);
    expect(
      await createGrant(deps, request, { intentHash: request.intentHash, decidedAt: clock.toISOString() }),
    ).toBe('none');
  });
});

describe('consuming a grant', () => {
  it('20 concurrent consumes: exactly one succeeds, the rest are told it was already consumed; one audit record', async () => {
    // Prepare
    const { request, grantId } = await approvedWithGrant();
    // Act
    const results = await Promise.all(
      Array.from({ length: 20 }, () => consumeGrant(deps, grantId, { agentId: 'deploy-bot', actor: AGENT })),
    );
    // Assess
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    for (const r of results.filter((x) => !x.ok))
      expect(r).toMatchObject({ ok: false, reason: 'already-consumed' });
    const chain = await readChain(deps, request.intentId);
    const consumed = chain.filter((r) => r.kind === 'grant-consumed');
    expect(consumed).toHaveLength(1);
    expect(consumed[0]).toMatchObject({
      actor: AGENT,
      intentHash: request.intentHash,
      data: expect.objectContaining({ grantId, consumedBy: 'agent:deploy-bot' }),
    });
    chain.forEach((record, i) => {
      expect(record.prevHash).toBe(i === 0 ? GENESIS_HASH : chain[i - 1]!.hash);
      expect(record.hash).toBe(hashRecord(record));
    });
    expect((await getGrant(deps, grantId))?.consumedAt).toBe(clock.toISOString());
  });

  it('a consume after expiry fails and changes nothing', async () => {
    const { request, grantId } = await approvedWithGrant(60);
    const before = await readChain(deps, request.intentId);
    clock = new Date(clock.getTime() + 60_000);
    try {
      const result = await consumeGrant(deps, grantId, { agentId: 'deploy-bot', actor: AGENT });
      expect(result).toMatchObject({
        ok: false,
        reason: 'expired',
        message: expect.stringMatching(/expired at/),
      });
      expect((await getGrant(deps, grantId))?.consumedAt).toBeUndefined();
      expect(await readChain(deps, request.intentId)).toHaveLength(before.length);
    } finally {
      clock = new Date('2026-03-01T12:00:00.000Z');
    }
  });

  it("another agent's grant cannot be consumed (and is reported like a missing one by the API)", async () => {
    const { grantId } = await approvedWithGrant();
    const result = await consumeGrant(deps, grantId, {
      agentId: 'report-bot',
      actor: { type: 'agent', agentId: 'report-bot', source: 'countersign.agent.report-bot' },
    });
    expect(result).toMatchObject({ ok: false, reason: 'not-yours', message: `no grant ${grantId}` });
    expect((await getGrant(deps, grantId))?.consumedAt).toBeUndefined();
  });

  it('an unknown or malformed grant id is not found', async () => {
    expect(await consumeGrant(deps, randomUUID(), { actor: AGENT })).toMatchObject({
      ok: false,
      reason: 'not-found',
    });
    expect(await consumeGrant(deps, '../x', { actor: AGENT })).toMatchObject({
      ok: false,
      reason: 'not-found',
    });
  });
});

describe('who consumed a grant', () => {
  it.each([
    [
      'a person, by email',
      { type: 'human' as const, slackUserId: 'U1', email: 'ops@example.com' },
      'human:ops@example.com',
    ],
    ['a person without an email, by user id', { type: 'human' as const, slackUserId: 'U2' }, 'human:U2'],
    ['a component', { type: 'system' as const, component: 'sandbox' }, 'system:sandbox'],
    ['policy', { type: 'policy' as const, policies: ['auto'] }, 'policy'],
  ])('is recorded on the grant and in the audit record: %s', async (_name, actor, consumedBy) => {
    const { request, grantId } = await approvedWithGrant();
    const result = await consumeGrant(deps, grantId, { actor });
    expect(result).toMatchObject({ ok: true, grant: { consumedBy, consumedAt: clock.toISOString() } });
    expect((await getGrant(deps, grantId))?.consumedBy).toBe(consumedBy);
    const record = (await readChain(deps, request.intentId)).at(-1);
    expect(record).toMatchObject({
      kind: 'grant-consumed',
      actor,
      data: { grantId, consumedBy, consumedAt: clock.toISOString() },
    });
  });

  it('without an owner check, any caller with table access spends it once (sandbox and tests)', async () => {
    const { grantId } = await approvedWithGrant();
    const system = { actor: { type: 'system' as const, component: 'sandbox' } };
    expect(await consumeGrant(deps, grantId, system)).toMatchObject({ ok: true });
    expect(await consumeGrant(deps, grantId, system)).toMatchObject({
      ok: false,
      reason: 'already-consumed',
      message: expect.stringMatching(/was already consumed at .*; a grant is single use/),
    });
  });

  it('an agent asking for a grant that does not exist is told it is not found, not that it is not theirs', async () => {
    const grantId = randomUUID();
    expect(await consumeGrant(deps, grantId, { agentId: 'deploy-bot', actor: AGENT })).toEqual({
      ok: false,
      reason: 'not-found',
      message: `no grant ${grantId}`,
    });
  });
});

describe('a table that fails', () => {
  it('is an error for Record and for a consume, never "exists" or a refusal', async () => {
    const broken = { ...deps, table: 'countersign-no-such-table' };
    const request = await seedPendingRequest(deps);
    const decision = {
      intentHash: request.intentHash,
      decidedAt: clock.toISOString(),
      grant: { grantId: randomUUID(), expiresAt: '2099-01-01T00:00:00.000Z', singleUse: true as const },
    };
    await expect(createGrant(broken, request, decision)).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    await expect(consumeGrant(broken, randomUUID(), { actor: AGENT })).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});

describe('explaining a refused consume from the grant as read back', () => {
  const NOW = '2026-03-01T12:00:00.000Z';
  const grant = (fields: Partial<GrantItem> = {}): GrantItem => ({
    pk: 'GRANT#grant-0001',
    sk: 'GRANT',
    grantId: 'grant-0001',
    intentId: 'intent-0001',
    agentId: 'deploy-bot',
    intentHash: 'sha256:approved',
    issuedAt: '2026-03-01T11:00:00.000Z',
    expiresAt: '2026-03-01T12:15:00.000Z',
    ttl: 1_775_000_000,
    ...fields,
  });

  it('no item is not found, for an agent and for a caller without an owner check', () => {
    for (const consumer of [{ agentId: 'deploy-bot' }, {}]) {
      expect(explainRefusal(undefined, 'grant-0001', consumer, NOW)).toEqual({
        ok: false,
        reason: 'not-found',
        message: 'no grant grant-0001',
      });
    }
  });

  it("another agent's grant reads like a missing one and reveals nothing of the item", () => {
    const item = grant({ consumedAt: '2026-03-01T11:30:00.000Z' });
    expect(explainRefusal(item, 'grant-0001', { agentId: 'report-bot' }, NOW)).toEqual({
      ok: false,
      reason: 'not-yours',
      message: 'no grant grant-0001',
    });
  });

  it('without an owner check, whose grant it is does not matter: a spent one is already consumed', () => {
    const item = grant({ agentId: 'report-bot', consumedAt: '2026-03-01T11:30:00.000Z' });
    expect(explainRefusal(item, 'grant-0001', {}, NOW)).toEqual({
      ok: false,
      reason: 'already-consumed',
      message: 'grant grant-0001 was already consumed at 2026-03-01T11:30:00.000Z; a grant is single use',
      grant: item,
    });
  });

  it('a spent grant is already consumed even after it expired, saying when it was spent', () => {
    const item = grant({ consumedAt: '2026-03-01T11:30:00.000Z', expiresAt: '2026-03-01T11:45:00.000Z' });
    expect(explainRefusal(item, 'grant-0001', { agentId: 'deploy-bot' }, NOW)).toMatchObject({
      reason: 'already-consumed',
      message: expect.stringContaining('already consumed at 2026-03-01T11:30:00.000Z'),
    });
  });

  it.each([
    ['at the very instant it expires', NOW],
    ['after it expired', '2026-03-01T11:59:59.999Z'],
  ])('an unspent grant is expired %s', (_name, expiresAt) => {
    const item = grant({ expiresAt });
    expect(explainRefusal(item, 'grant-0001', { agentId: 'deploy-bot' }, NOW)).toEqual({
      ok: false,
      reason: 'expired',
      message: `grant grant-0001 expired at ${expiresAt}`,
      grant: item,
    });
  });

  it('an item that still looks consumable (changed since the write) is refused, never let through', () => {
    const item = grant({ expiresAt: '2026-03-01T12:00:00.001Z' });
    expect(explainRefusal(item, 'grant-0001', { agentId: 'deploy-bot' }, NOW)).toEqual({
      ok: false,
      reason: 'already-consumed',
      message: 'grant grant-0001 could not be consumed',
      grant: item,
    });
  });
});

describe('reading and writing grants against the table', () => {
  /** The real table, with every command sent to it recorded. */
  const recorded = (fail?: (command: { constructor: { name: string } }) => Error | undefined) => {
    const commands: { name: string; input: Record<string, unknown> }[] = [];
    const ddb = {
      send: (command: never) => {
        const c = command as { constructor: { name: string }; input: Record<string, unknown> };
        commands.push({ name: c.constructor.name, input: c.input });
        const error = fail?.(c);
        return error ? Promise.reject(error) : aws.ddb.send(command);
      },
    } as typeof aws.ddb;
    return { deps: { ...deps, ddb }, commands };
  };

  it('a grant is read strongly consistent, so a refusal is explained from the item the write left', async () => {
    const { grantId } = await approvedWithGrant();
    const table = recorded();
    await consumeGrant(table.deps, grantId, { agentId: 'report-bot', actor: AGENT });
    const reads = table.commands.filter(
      (c) => c.name === 'GetCommand' && (c.input.Key as { pk: string }).pk === `GRANT#${grantId}`,
    );
    expect(reads).toHaveLength(1);
    expect(reads[0]!.input.ConsistentRead).toBe(true);
  });

  it('a consume whose write fails for another reason (throttled) is an error, not a refusal, and spends nothing', async () => {
    const { grantId } = await approvedWithGrant();
    const throttled = Object.assign(new Error('Rate of requests exceeds the allowed throughput'), {
      name: 'ProvisionedThroughputExceededException',
    });
    const table = recorded((c) => (c.constructor.name === 'UpdateCommand' ? throttled : undefined));
    await expect(consumeGrant(table.deps, grantId, { agentId: 'deploy-bot', actor: AGENT })).rejects.toBe(
      throttled,
    );
    expect((await getGrant(deps, grantId))?.consumedAt).toBeUndefined();
  });
});

describe('where a consume is filed in the audit archive', () => {
  /** The S3 key the archive will give the last record of a chain. */
  const lastObjectKey = async (requestId: string) => {
    const last = (await readChain(deps, requestId)).at(-1)!;
    const out = await aws.ddb.send(
      new GetCommand({
        TableName: aws.table,
        Key: { pk: `REQUEST#${requestId}`, sk: auditSortKey(last.seq) },
      }),
    );
    return { kind: last.kind, objectKey: out.Item?.objectKey as string };
  };

  it('under the day its request was created, even when the grant was issued on a later day', async () => {
    const saved = clock;
    try {
      clock = new Date('2026-02-27T23:50:00.000Z');
      const request = await seedPendingRequest(deps);
      clock = new Date('2026-02-28T00:10:00.000Z');
      const grantId = randomUUID();
      const decision: RequestDecision = {
        status: 'APPROVED',
        automatic: false,
        reason: 'approved by reviewers',
        decidedAt: clock.toISOString(),
        approvers: [],
        policies: ['default-review'],
        intentHash: request.intentHash,
        grant: { grantId, expiresAt: '2026-02-28T00:25:00.000Z', singleUse: true },
      };
      expect((await finalize(deps, request.intentId, decision)).won).toBe(true);
      await createGrant(deps, request, decision);
      expect(await consumeGrant(deps, grantId, { actor: AGENT })).toMatchObject({ ok: true });
      const filed = await lastObjectKey(request.intentId);
      expect(filed.kind).toBe('grant-consumed');
      expect(filed.objectKey.startsWith(`records/2026/02/27/${request.intentId}/`)).toBe(true);
    } finally {
      clock = saved;
    }
  });

  it('under the day the grant was issued when its request is no longer in the table', async () => {
    const intentId = `intent-${randomUUID()}`;
    const grantId = randomUUID();
    await createGrant(
      deps,
      { intentId, agentId: 'deploy-bot' },
      {
        intentHash: 'sha256:approved',
        decidedAt: '2026-02-20T09:00:00.000Z',
        grant: { grantId, expiresAt: '2099-01-01T00:00:00.000Z', singleUse: true },
      },
    );
    expect(await consumeGrant(deps, grantId, { agentId: 'deploy-bot', actor: AGENT })).toMatchObject({
      ok: true,
    });
    expect(await lastObjectKey(intentId)).toEqual({
      kind: 'grant-consumed',
      objectKey: `records/2026/02/20/${intentId}/00000001.json`,
    });
  });
});

describe('grant ids', () => {
  /** The real table, with every request counted. */
  const counted = () => {
    let calls = 0;
    const ddb = {
      send: (command: never) => {
        calls += 1;
        return aws.ddb.send(command);
      },
    } as typeof aws.ddb;
    return { deps: { ...deps, ddb }, calls: () => calls };
  };

  it.each([
    ['too short', 'abcdefg'],
    ['too long', `a${'b'.repeat(128)}`],
    ['a leading dash', '-abcdefgh'],
    ['a path', 'abcdefgh/../other'],
    ['a trailing newline', 'abcdefgh\n'],
    ['a leading space', ' abcdefgh'],
  ])('%s is refused as not found without touching the table', async (_name, grantId) => {
    const table = counted();
    expect(await consumeGrant(table.deps, grantId, { actor: AGENT })).toEqual({
      ok: false,
      reason: 'not-found',
      message: `no grant ${grantId}`,
    });
    expect(table.calls()).toBe(0);
  });

  it.each([
    ['the shortest', 'abcdefgh'],
    ['the longest', `a${'b'.repeat(127)}`],
    ['a UUID', '0b6f4f2e-3c1d-4e8a-9b7c-2d5e6f7a8b9c'],
  ])('%s well-formed id is looked up', async (_name, grantId) => {
    const table = counted();
    expect(await consumeGrant(table.deps, grantId, { actor: AGENT })).toMatchObject({ reason: 'not-found' });
    expect(table.calls()).toBeGreaterThan(0);
  });
});

describe('grant API core (POST /grants/{grantId}/consume)', () => {
  const apiDeps = () => ({
    ...deps,
    agentRoles: parseAgentRoles(JSON.stringify([{ roleArn: ROLE_ARN, agentId: 'deploy-bot' }])),
  });

  it('200 for the owner, then 409; 404 for another role; 403 for an unregistered caller; 410 after expiry', async () => {
    const { grantId, request } = await approvedWithGrant();
    const withOther = {
      ...apiDeps(),
      agentRoles: parseAgentRoles(
        JSON.stringify({
          [ROLE_ARN]: 'deploy-bot',
          'arn:aws:iam::123456789012:role/report-bot-agent': 'report-bot',
        }),
      ),
    };
    expect(await consumeForCaller(withOther, { grantId, callerArn: OTHER_SESSION_ARN })).toMatchObject({
      statusCode: 404,
      body: { error: 'not_found' },
    });
    expect(
      await consumeForCaller(apiDeps(), {
        grantId,
        callerArn: 'arn:aws:sts::123456789012:assumed-role/admin/x',
      }),
    ).toMatchObject({ statusCode: 403, body: { error: 'forbidden' } });
    const first = await consumeForCaller(apiDeps(), { grantId, callerArn: SESSION_ARN });
    expect(first).toMatchObject({
      statusCode: 200,
      body: {
        consumed: true,
        grant: {
          grantId,
          intentId: request.intentId,
          intentHash: request.intentHash,
          expiresAt: (await getGrant(deps, grantId))?.expiresAt,
          consumedAt: clock.toISOString(),
        },
      },
    });
    // The consume is audited as the calling agent, with the source its events carry.
    expect((await readChain(deps, request.intentId)).at(-1)).toMatchObject({
      kind: 'grant-consumed',
      actor: AGENT,
      data: { grantId, consumedBy: 'agent:deploy-bot' },
    });
    expect(await consumeForCaller(apiDeps(), { grantId, callerArn: SESSION_ARN })).toMatchObject({
      statusCode: 409,
      body: { error: 'already_consumed' },
    });
    const late = await approvedWithGrant(1);
    clock = new Date(clock.getTime() + 5_000);
    try {
      expect(
        await consumeForCaller(apiDeps(), { grantId: late.grantId, callerArn: SESSION_ARN }),
      ).toMatchObject({
        statusCode: 410,
        body: { error: 'expired' },
      });
    } finally {
      clock = new Date('2026-03-01T12:00:00.000Z');
    }
  });
});

describe('client consumeGrant', () => {
  let endpoint: FakeEndpoint;
  beforeAll(async () => {
    endpoint = await startFakeEndpoint();
  });
  afterAll(() => endpoint.close());

  it('direct (sandbox/tests): the same single write; a second consume fails', async () => {
    const { grantId, request } = await approvedWithGrant();
    const direct = { ddb: aws.ddb, table: aws.table, now: () => clock };
    const first = await clientConsume(grantId, { agentId: 'deploy-bot', direct });
    expect(first).toMatchObject({
      ok: true,
      grant: { grantId, intentId: request.intentId, consumedAt: clock.toISOString() },
    });
    expect(await clientConsume(grantId, { agentId: 'deploy-bot', direct })).toMatchObject({
      ok: false,
      reason: 'already-consumed',
    });
  });

  it('through the API: 200, 409, 410, 404 map to results; a missing endpoint is an error', async () => {
    const target = { statusUrl: endpoint.url, credentials: TEST_CREDENTIALS };
    endpoint.setConsume('grant-ok-000001', () => ({
      status: 200,
      body: {
        consumed: true,
        grant: {
          grantId: 'grant-ok-000001',
          intentId: 'i',
          intentHash: 'h',
          expiresAt: 'e',
          consumedAt: 'c',
        },
      },
    }));
    endpoint.setConsume('grant-used-0001', () => ({
      status: 409,
      body: { error: 'already_consumed', message: 'used' },
    }));
    endpoint.setConsume('grant-late-0001', () => ({
      status: 410,
      body: { error: 'expired', message: 'late' },
    }));
    expect(await clientConsume('grant-ok-000001', target)).toMatchObject({
      ok: true,
      grant: { grantId: 'grant-ok-000001' },
    });
    expect(await clientConsume('grant-used-0001', target)).toEqual({
      ok: false,
      reason: 'already-consumed',
      message: 'used',
    });
    expect(await clientConsume('grant-late-0001', target)).toEqual({
      ok: false,
      reason: 'expired',
      message: 'late',
    });
    expect(await clientConsume('grant-none-0001', target)).toMatchObject({ ok: false, reason: 'not-found' });
    const consumeCall = endpoint.statusCalls.find((c) => c.path === '/grants/grant-ok-000001/consume');
    expect(consumeCall?.method).toBe('POST');
    expect(String(consumeCall?.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 /);
    const noRoute = await clientConsume('x-grant-000001', {
      statusUrl: `${endpoint.url}/elsewhere`,
      credentials: TEST_CREDENTIALS,
    }).catch((e: unknown) => e);
    expect((noRoute as Error).message).toMatch(/no grant endpoint/);
  });
});
