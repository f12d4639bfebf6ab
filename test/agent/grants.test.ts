/**
 * Single-use grants on dynalite: one conditional write decides, so
 * of 20 concurrent consumes exactly one wins; expired and foreign grants are
 * refused without a change; every consume is on the request's audit chain.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeGrant as clientConsume } from '../../client/index.js';
import { consumeForCaller } from '../../lambdas/grant/core.js';
import { type AuditDeps, GENESIS_HASH, hashRecord, readChain } from '../../lambdas/shared/audit.js';
import { consumeGrant, createGrant, getGrant } from '../../lambdas/shared/grants.js';
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
        grant: { grantId, intentId: request.intentId, intentHash: request.intentHash },
      },
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
