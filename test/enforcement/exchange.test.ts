/**
 * The credential exchange on dynalite and the fake STS (the real STS client
 * over the wire): one approval mints one set of credentials, for the caller's
 * own grant only, scoped to exactly what was approved.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  approvedIntentOf,
  type ExchangeDeps,
  exchangeForCaller,
  parseExecutors,
  SESSION_TAGS,
  SOURCE_IDENTITY,
} from '../../lambdas/grant/exchange.js';
import { readChain } from '../../lambdas/shared/audit.js';
import { consumeGrant, createGrant, getGrant } from '../../lambdas/shared/grants.js';
import { getRequest, type RequestItem } from '../../lambdas/shared/store.js';
import {
  AGENT_SESSION,
  CATALOG,
  decided,
  EXECUTORS,
  OTHER_AGENT_SESSION,
  type Rig,
  startRig,
} from './support.js';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig('exchange');
});
afterAll(() => rig.close());

const exchange = (grantId: string, callerArn = AGENT_SESSION) =>
  exchangeForCaller(rig.deps, { grantId, callerArn });

describe('credential exchange', () => {
  it('mints executor credentials whose session policy is exactly the approved call', async () => {
    // Prepare
    const { request, grantId, decision } = await decided(rig.deps);
    // Act
    const answer = await exchange(grantId);
    // Assess
    expect(answer.statusCode).toBe(200);
    const body = answer.body as { credentials: { accessKeyId: string }; sessionPolicy: unknown };
    const session = rig.sts.sessions.get(body.credentials.accessKeyId);
    expect(session).toBeDefined();
    expect(session!.roleArn).toBe(EXECUTORS['iam-changes']);
    expect(session!.sourceIdentity).toBe(request.intentId);
    expect(session!.tags).toEqual({
      [SESSION_TAGS.agent]: 'deploy-bot',
      [SESSION_TAGS.request]: request.intentId,
    });
    expect(session!.policy).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'CountersignApproved',
          Effect: 'Allow',
          Action: ['iam:AttachRolePolicy'],
          Resource: ['arn:aws:iam::123456789012:role/payments-deployer'],
          Condition: {
            ArnEquals: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess' },
            DateLessThan: { 'aws:CurrentTime': decision.grant!.expiresAt },
          },
        },
      ],
    });
    expect(body.sessionPolicy).toEqual(session!.policy);
    // The grant had 1800 s left: the session lasts that long, no longer.
    expect(session!.durationSeconds).toBe(1800);
    const kinds = (await readChain(rig.deps, request.intentId)).map((r) => r.kind);
    expect(kinds.slice(-2)).toEqual(['grant-consumed', 'credentials-issued']);
    const issued = (await readChain(rig.deps, request.intentId)).at(-1)!;
    expect(issued.data).toMatchObject({
      accessKeyId: body.credentials.accessKeyId,
      sourceIdentity: request.intentId,
    });
    expect(JSON.stringify(issued.data)).not.toContain(session!.secretAccessKey);
  });

  it('scopes the session policy to an approver’s modification, not to what the agent asked', async () => {
    const { grantId } = await decided(rig.deps, {
      parameters: { policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess', roleName: 'payments-deployer' },
    });
    const answer = await exchange(grantId);
    expect(answer.statusCode).toBe(200);
    const key = (answer.body as { credentials: { accessKeyId: string } }).credentials.accessKeyId;
    const policy = rig.sts.sessions.get(key)!.policy!;
    expect(policy.Statement[0]!.Condition!.ArnEquals).toEqual({
      'iam:PolicyARN': 'arn:aws:iam::aws:policy/ReadOnlyAccess',
    });
  });

  it('asks STS for its 900 s minimum when the grant has less left, and the policy still ends at the grant', async () => {
    const { grantId, decision } = await decided(rig.deps, { ttlSeconds: 120 });
    const answer = await exchange(grantId);
    expect(answer.statusCode).toBe(200);
    const key = (answer.body as { credentials: { accessKeyId: string } }).credentials.accessKeyId;
    const session = rig.sts.sessions.get(key)!;
    expect(session.durationSeconds).toBe(900);
    expect(session.policy!.Statement[0]!.Condition!.DateLessThan).toEqual({
      'aws:CurrentTime': decision.grant!.expiresAt,
    });
  });

  it('refuses a second exchange of the same grant (single use), changing nothing', async () => {
    const { grantId, request } = await decided(rig.deps);
    expect((await exchange(grantId)).statusCode).toBe(200);
    const before = await readChain(rig.deps, request.intentId);
    const sessions = rig.sts.sessions.size;
    const again = await exchange(grantId);
    expect(again.statusCode).toBe(409);
    expect(again.body).toMatchObject({ error: 'already_consumed' });
    expect(rig.sts.sessions.size).toBe(sessions);
    expect(await readChain(rig.deps, request.intentId)).toEqual(before);
  });

  it('refuses after expiry (410) without spending the grant', async () => {
    const { grantId } = await decided(rig.deps, { ttlSeconds: 60 });
    const saved = rig.clock.now;
    rig.clock.now = new Date(saved.getTime() + 61_000);
    try {
      const answer = await exchange(grantId);
      expect(answer.statusCode).toBe(410);
      expect((await getGrant(rig.deps, grantId))?.consumedAt).toBeUndefined();
    } finally {
      rig.clock.now = saved;
    }
  });

  it('answers another agent’s exchange exactly like a missing grant, and leaves the grant usable', async () => {
    const { grantId } = await decided(rig.deps);
    const foreign = await exchange(grantId, OTHER_AGENT_SESSION);
    const missing = await exchange('00000000-0000-4000-8000-000000000000', OTHER_AGENT_SESSION);
    expect(foreign).toEqual({
      statusCode: 404,
      body: { error: 'not_found', message: `no grant ${grantId}` },
    });
    expect(missing.statusCode).toBe(404);
    expect((await exchange(grantId)).statusCode).toBe(200);
  });

  it('refuses a caller that is not a registered agent (403)', async () => {
    const { grantId } = await decided(rig.deps);
    const answer = await exchange(grantId, 'arn:aws:sts::123456789012:assumed-role/someone-else/s');
    expect(answer.statusCode).toBe(403);
    expect((await getGrant(rig.deps, grantId))?.consumedAt).toBeUndefined();
  });

  it.each(['DENIED', 'CANCELLED'] as const)(
    'refuses a %s request even when a grant item is left over',
    async (status) => {
      const { grantId } = await decided(rig.deps, { status, staleGrant: true });
      const answer = await exchange(grantId);
      expect(answer.statusCode).toBe(409);
      expect(answer.body).toMatchObject({ error: 'not_approved' });
      expect((await getGrant(rig.deps, grantId))?.consumedAt).toBeUndefined();
    },
  );

  it('gives an action without a catalog entry no credentials, and leaves its grant unspent', async () => {
    const { grantId } = await decided(rig.deps, {
      intent: {
        action: 'data:Export',
        resource: 'arn:aws:rds:eu-west-1:123456789012:cluster:customers-prod',
        parameters: {},
      },
    });
    const answer = await exchange(grantId);
    expect(answer.statusCode).toBe(422);
    expect(answer.body).toMatchObject({ error: 'no_executor' });
    expect((await getGrant(rig.deps, grantId))?.consumedAt).toBeUndefined();
  });

  it('gives an action whose executor is not deployed no credentials', async () => {
    const { grantId } = await decided(rig.deps, {
      intent: { action: 's3:PutBucketPolicy', resource: 'arn:aws:s3:::prod-exports', parameters: {} },
    });
    const answer = await exchange(grantId);
    expect(answer).toMatchObject({ statusCode: 422, body: { error: 'no_executor' } });
  });

  it('fails closed when STS refuses: the grant is spent, the failure audited, no credentials', async () => {
    const { grantId, request } = await decided(rig.deps);
    const answer = await exchangeForCaller(
      {
        ...rig.deps,
        executors: { 'iam-changes': 'arn:aws:iam::123456789012:role/countersign-executor-kms-operations' },
        sts: {
          send: async () => {
            throw Object.assign(new Error('Not authorized'), { name: 'AccessDenied' });
          },
        },
      },
      { grantId, callerArn: AGENT_SESSION },
    );
    expect(answer.statusCode).toBe(502);
    expect(answer.body).not.toHaveProperty('credentials');
    expect((await getGrant(rig.deps, grantId))?.consumedAt).toBeDefined();
    expect((await readChain(rig.deps, request.intentId)).at(-1)).toMatchObject({
      kind: 'credentials-failed',
    });
  });

  it('answers with the credentials, the grant, the role and the session it was scoped to', async () => {
    const { request, grantId, decision } = await decided(rig.deps);
    const answer = await exchange(grantId);
    const body = answer.body as { credentials: { accessKeyId: string } };
    const session = rig.sts.sessions.get(body.credentials.accessKeyId)!;
    expect(answer).toEqual({
      statusCode: 200,
      body: {
        credentials: {
          accessKeyId: session.accessKeyId,
          secretAccessKey: session.secretAccessKey,
          sessionToken: session.sessionToken,
          expiration: session.expiration.toISOString(),
        },
        grant: {
          grantId,
          intentId: request.intentId,
          intentHash: decision.intentHash,
          expiresAt: decision.grant!.expiresAt,
          consumedAt: rig.clock.now.toISOString(),
        },
        roleArn: EXECUTORS['iam-changes'],
        sourceIdentity: request.intentId,
        sessionPolicy: session.policy,
      },
    });
    expect(session.roleSessionName).toBe(`countersign-${grantId}`.slice(0, 64));
    expect((await readChain(rig.deps, request.intentId)).at(-1)).toMatchObject({
      kind: 'credentials-issued',
      actor: { type: 'agent', agentId: 'deploy-bot', source: 'countersign.agent.deploy-bot' },
      intentHash: decision.intentHash,
      data: {
        grantId,
        roleArn: EXECUTORS['iam-changes'],
        durationSeconds: 1800,
        expiration: session.expiration.toISOString(),
      },
    });
  });

  it('asks STS for at most the executor roles’ one hour, however long the grant lives', async () => {
    const { grantId } = await decided(rig.deps, { ttlSeconds: 7200 });
    const answer = await exchange(grantId);
    const key = (answer.body as { credentials: { accessKeyId: string } }).credentials.accessKeyId;
    expect(rig.sts.sessions.get(key)!.durationSeconds).toBe(3600);
  });

  it('refuses a malformed grant id as not found', async () => {
    expect(await exchange('../../etc/passwd')).toEqual({
      statusCode: 404,
      body: { error: 'not_found', message: 'no grant ../../etc/passwd' },
    });
  });

  it('refuses a grant spent by a plain consume, saying when', async () => {
    const { grantId } = await decided(rig.deps);
    const actor = { type: 'agent' as const, agentId: 'deploy-bot', source: 'countersign.agent.deploy-bot' };
    expect(await consumeGrant(rig.deps, grantId, { agentId: 'deploy-bot', actor })).toMatchObject({
      ok: true,
    });
    expect(await exchange(grantId)).toEqual({
      statusCode: 409,
      body: {
        error: 'already_consumed',
        message: `grant ${grantId} was already consumed at ${rig.clock.now.toISOString()}; a grant is single use`,
      },
    });
  });

  it('refuses a grant that names another version of the request than the approved one, unspent', async () => {
    const { request, decision } = await decided(rig.deps);
    const stale = '7d0f4b8e-1c2a-4e3b-9f5d-6a7b8c9d0e1f';
    await createGrant(rig.deps, request, {
      intentHash: 'sha256:a-version-nobody-approved',
      decidedAt: decision.decidedAt,
      grant: { grantId: stale, expiresAt: decision.grant!.expiresAt, singleUse: true },
    });
    expect(await exchange(stale)).toEqual({
      statusCode: 409,
      body: {
        error: 'not_approved',
        message: `grant ${stale} does not name the approved version of ${request.intentId}`,
      },
    });
    expect((await getGrant(rig.deps, stale))?.consumedAt).toBeUndefined();
  });

  it('says which status a request that is not approved has', async () => {
    const { grantId, request } = await decided(rig.deps, { status: 'DENIED', staleGrant: true });
    expect((await exchange(grantId)).body).toEqual({
      error: 'not_approved',
      message: `request ${request.intentId} is DENIED, not APPROVED`,
    });
  });

  it.each([
    ['has a colon', `deploy:${'x'.repeat(20)}`],
    ['is longer than 64 characters', `intent-${'x'.repeat(60)}`],
  ])(
    'gives no credentials, grant unspent, when the intent id %s (no STS SourceIdentity)',
    async (_name, intentId) => {
      const { grantId } = await decided(rig.deps, { intent: { intentId } });
      const answer = await exchange(grantId);
      expect(answer).toMatchObject({ statusCode: 422, body: { error: 'not_scopable' } });
      expect((answer.body as { message: string }).message).toContain(
        `intent id ${intentId} cannot be an STS SourceIdentity`,
      );
      expect((await getGrant(rig.deps, grantId))?.consumedAt).toBeUndefined();
    },
  );

  it('gives no credentials, grant unspent, when no session policy can be scoped to the approval', async () => {
    const { grantId } = await decided(rig.deps, { intent: { parameters: {} } });
    const answer = await exchange(grantId);
    expect(answer).toMatchObject({ statusCode: 422, body: { error: 'not_scopable' } });
    expect((answer.body as { message: string }).message).toMatch(
      /^no credentials can be scoped to this approval \(.+\); the grant stays unspent$/,
    );
    expect((await getGrant(rig.deps, grantId))?.consumedAt).toBeUndefined();
  });

  it('names what is missing: the catalog entry, or the executor it names', async () => {
    const unknown = await decided(rig.deps, {
      intent: {
        action: 'data:Export',
        resource: 'arn:aws:rds:eu-west-1:123456789012:cluster:c',
        parameters: {},
      },
    });
    expect((await exchange(unknown.grantId)).body).toEqual({
      error: 'no_executor',
      message:
        'data:Export has no entry in the enforcement catalog: the grant stays unspent and gives no credentials',
    });
    const undeployed = await decided(rig.deps, {
      intent: { action: 's3:PutBucketPolicy', resource: 'arn:aws:s3:::prod-exports', parameters: {} },
    });
    expect((await exchange(undeployed.grantId)).body).toMatchObject({
      message: expect.stringMatching(
        /^s3:PutBucketPolicy has no deployed executor "[^"]+": the grant stays unspent/,
      ),
    });
  });

  it('fails closed when STS answers without credentials, and audits why', async () => {
    const { grantId, request } = await decided(rig.deps);
    const answer = await exchangeForCaller(
      { ...rig.deps, sts: { send: async () => ({ Credentials: { AccessKeyId: 'ASIAEMPTY' } }) } },
      { grantId, callerArn: AGENT_SESSION },
    );
    expect(answer).toEqual({
      statusCode: 502,
      body: {
        error: 'sts_failed',
        message: `STS refused the executor session; grant ${grantId} is spent (fail closed)`,
      },
    });
    expect((await readChain(rig.deps, request.intentId)).at(-1)).toMatchObject({
      kind: 'credentials-failed',
      data: { grantId, error: 'Error: STS answered without credentials' },
    });
  });

  it('keeps the audited STS error short', async () => {
    const { grantId, request } = await decided(rig.deps);
    await exchangeForCaller(
      {
        ...rig.deps,
        sts: {
          send: async () => {
            throw Object.assign(new Error('x'.repeat(2000)), { name: 'AccessDenied' });
          },
        },
      },
      { grantId, callerArn: AGENT_SESSION },
    );
    const failed = (await readChain(rig.deps, request.intentId)).at(-1)!;
    expect(failed.data.error).toBe(`AccessDenied: ${'x'.repeat(2000)}`.slice(0, 500));
  });
});

describe('credential exchange, edges', () => {
  const AGENT = { type: 'agent' as const, agentId: 'deploy-bot', source: 'countersign.agent.deploy-bot' };
  /** An STS that answers every AssumeRole with `credentials` (and remembers nothing). */
  const stsAnswering = (credentials: Record<string, unknown> | undefined): ExchangeDeps => ({
    ...rig.deps,
    sts: { send: async () => ({ Credentials: credentials }) },
  });

  it('refuses at the instant the grant expires (410, saying when), without spending it', async () => {
    const { grantId, decision } = await decided(rig.deps, { ttlSeconds: 60 });
    const saved = rig.clock.now;
    rig.clock.now = new Date(decision.grant!.expiresAt);
    try {
      expect(await exchange(grantId)).toEqual({
        statusCode: 410,
        body: { error: 'expired', message: `grant ${grantId} expired at ${decision.grant!.expiresAt}` },
      });
      expect((await getGrant(rig.deps, grantId))?.consumedAt).toBeUndefined();
    } finally {
      rig.clock.now = saved;
    }
  });

  it('answers from the grant’s own state first: spent before expired, expired before the request', async () => {
    const spent = await decided(rig.deps, { ttlSeconds: 60 });
    const consumedAt = rig.clock.now.toISOString();
    expect(
      await consumeGrant(rig.deps, spent.grantId, { agentId: 'deploy-bot', actor: AGENT }),
    ).toMatchObject({
      ok: true,
    });
    const denied = await decided(rig.deps, { status: 'DENIED', staleGrant: true, ttlSeconds: 60 });
    const saved = rig.clock.now;
    // Both grants expire at this very instant.
    rig.clock.now = new Date(saved.getTime() + 60_000);
    try {
      expect(await exchange(spent.grantId)).toEqual({
        statusCode: 409,
        body: {
          error: 'already_consumed',
          message: `grant ${spent.grantId} was already consumed at ${consumedAt}; a grant is single use`,
        },
      });
      expect(await exchange(denied.grantId)).toMatchObject({ statusCode: 410, body: { error: 'expired' } });
    } finally {
      rig.clock.now = saved;
    }
  });

  it('answers another agent’s grant as missing even when it is spent or expired (no existence oracle)', async () => {
    const spent = await decided(rig.deps);
    expect(
      await consumeGrant(rig.deps, spent.grantId, { agentId: 'deploy-bot', actor: AGENT }),
    ).toMatchObject({
      ok: true,
    });
    const expiring = await decided(rig.deps, { ttlSeconds: 60 });
    const saved = rig.clock.now;
    rig.clock.now = new Date(saved.getTime() + 120_000);
    try {
      for (const { grantId } of [spent, expiring]) {
        expect(await exchange(grantId, OTHER_AGENT_SESSION)).toEqual({
          statusCode: 404,
          body: { error: 'not_found', message: `no grant ${grantId}` },
        });
      }
    } finally {
      rig.clock.now = saved;
    }
  });

  it('refuses a malformed grant id without reading the table', async () => {
    let calls = 0;
    const counted: ExchangeDeps = {
      ...rig.deps,
      ddb: {
        send: (command: never) => {
          calls += 1;
          return rig.aws.ddb.send(command);
        },
      } as unknown as typeof rig.aws.ddb,
    };
    const answer = await exchangeForCaller(counted, { grantId: 'grant/../x', callerArn: AGENT_SESSION });
    expect(answer).toEqual({ statusCode: 404, body: { error: 'not_found', message: 'no grant grant/../x' } });
    expect(calls).toBe(0);
  });

  it('refuses a grant whose request is gone from the table as not approved, unspent', async () => {
    const { decision } = await decided(rig.deps);
    const orphan = randomUUID();
    const intentId = `intent-${randomUUID()}`;
    await createGrant(
      rig.deps,
      { intentId, agentId: 'deploy-bot' },
      {
        intentHash: decision.intentHash,
        decidedAt: decision.decidedAt,
        grant: { grantId: orphan, expiresAt: decision.grant!.expiresAt, singleUse: true },
      },
    );
    expect(await exchange(orphan)).toEqual({
      statusCode: 409,
      body: { error: 'not_approved', message: `request ${intentId} is unknown, not APPROVED` },
    });
    expect((await getGrant(rig.deps, orphan))?.consumedAt).toBeUndefined();
  });

  it('answers an exchange that loses the consume to a concurrent one like a spent grant, minting nothing', async () => {
    const { grantId, request } = await decided(rig.deps);
    let raced = false;
    // Another exchange of the same grant writes between this one's checks and its consume.
    const racing: ExchangeDeps = {
      ...rig.deps,
      ddb: {
        send: async (command: never) => {
          if ((command as object).constructor.name === 'UpdateCommand' && !raced) {
            raced = true;
            expect(
              await consumeGrant(rig.deps, grantId, { agentId: 'deploy-bot', actor: AGENT }),
            ).toMatchObject({
              ok: true,
            });
          }
          return rig.aws.ddb.send(command);
        },
      } as unknown as typeof rig.aws.ddb,
    };
    const sessions = rig.sts.sessions.size;
    const answer = await exchangeForCaller(racing, { grantId, callerArn: AGENT_SESSION });
    expect(raced).toBe(true);
    expect(answer).toEqual({
      statusCode: 409,
      body: {
        error: 'already_consumed',
        message: `grant ${grantId} was already consumed at ${rig.clock.now.toISOString()}; a grant is single use`,
      },
    });
    expect(rig.sts.sessions.size).toBe(sessions);
    const kinds = (await readChain(rig.deps, request.intentId)).map((r) => r.kind);
    expect(kinds.filter((k) => k === 'grant-consumed')).toHaveLength(1);
    expect(kinds).not.toContain('credentials-issued');
  });

  it('never asks for a session that outlasts the grant: the seconds left are rounded down', async () => {
    const { grantId } = await decided(rig.deps, { ttlSeconds: 1800 });
    const saved = rig.clock.now;
    rig.clock.now = new Date(saved.getTime() + 400);
    try {
      const answer = await exchange(grantId);
      const key = (answer.body as { credentials: { accessKeyId: string } }).credentials.accessKeyId;
      expect(rig.sts.sessions.get(key)!.durationSeconds).toBe(1799);
    } finally {
      rig.clock.now = saved;
    }
  });

  it('accepts an intent id of 64 characters as the SourceIdentity, and refuses one of 65', async () => {
    const longest = `intent-${'x'.repeat(57)}`;
    const ok = await decided(rig.deps, { intent: { intentId: longest } });
    const answer = await exchange(ok.grantId);
    expect(answer.statusCode).toBe(200);
    expect((answer.body as { sourceIdentity: string }).sourceIdentity).toBe(longest);
    const over = await decided(rig.deps, { intent: { intentId: `${longest}x` } });
    expect(await exchange(over.grantId)).toMatchObject({ statusCode: 422, body: { error: 'not_scopable' } });
  });

  it('names the session after the grant, cut to the 64 characters STS allows', async () => {
    const { request, decision } = await decided(rig.deps);
    const longGrantId = `g${'0123456789'.repeat(9)}`;
    await createGrant(rig.deps, request, {
      intentHash: decision.intentHash,
      decidedAt: decision.decidedAt,
      grant: { grantId: longGrantId, expiresAt: decision.grant!.expiresAt, singleUse: true },
    });
    const answer = await exchange(longGrantId);
    expect(answer.statusCode).toBe(200);
    const key = (answer.body as { credentials: { accessKeyId: string } }).credentials.accessKeyId;
    expect(rig.sts.sessions.get(key)!.roleSessionName).toBe(`countersign-${longGrantId}`.slice(0, 64));
  });

  it('treats an executor named like a property every object has as not deployed', async () => {
    const { grantId } = await decided(rig.deps);
    const entry = CATALOG.actions['iam:AttachRolePolicy']!;
    const catalog = {
      ...CATALOG,
      actions: { ...CATALOG.actions, 'iam:AttachRolePolicy': { ...entry, executor: 'constructor' } },
    };
    const answer = await exchangeForCaller({ ...rig.deps, catalog }, { grantId, callerArn: AGENT_SESSION });
    expect(answer).toEqual({
      statusCode: 422,
      body: {
        error: 'no_executor',
        message:
          'iam:AttachRolePolicy has no deployed executor "constructor": the grant stays unspent and gives no credentials',
      },
    });
    expect((await getGrant(rig.deps, grantId))?.consumedAt).toBeUndefined();
  });

  it.each([
    ['no credentials at all', undefined],
    ['no access key id', { SecretAccessKey: 'secret', SessionToken: 'token' }],
    ['no secret key', { AccessKeyId: 'ASIAPART', SessionToken: 'token' }],
    ['no session token', { AccessKeyId: 'ASIAPART', SecretAccessKey: 'secret' }],
  ])('fails closed when STS answers with %s', async (_name, credentials) => {
    const { grantId, request } = await decided(rig.deps);
    const answer = await exchangeForCaller(stsAnswering(credentials), { grantId, callerArn: AGENT_SESSION });
    expect(answer).toMatchObject({ statusCode: 502, body: { error: 'sts_failed' } });
    expect((await readChain(rig.deps, request.intentId)).at(-1)).toMatchObject({
      kind: 'credentials-failed',
      data: { error: 'Error: STS answered without credentials' },
    });
  });

  it('hands out credentials STS gave without an expiration, saying none', async () => {
    const { grantId, request } = await decided(rig.deps);
    const answer = await exchangeForCaller(
      stsAnswering({ AccessKeyId: 'ASIANOEXPIRY', SecretAccessKey: 'secret', SessionToken: 'token' }),
      { grantId, callerArn: AGENT_SESSION },
    );
    expect(answer.statusCode).toBe(200);
    expect((answer.body as { credentials: unknown }).credentials).toEqual({
      accessKeyId: 'ASIANOEXPIRY',
      secretAccessKey: 'secret',
      sessionToken: 'token',
      expiration: undefined,
    });
    const issued = (await readChain(rig.deps, request.intentId)).at(-1)!;
    expect(issued.kind).toBe('credentials-issued');
    expect(issued.data).not.toHaveProperty('expiration');
  });
});

describe('the approved intent of a request', () => {
  const stored = async (parameters?: Record<string, unknown>): Promise<RequestItem> => {
    const { request } = await decided(rig.deps, parameters ? { parameters } : {});
    return (await getRequest(rig.deps, request.intentId))!;
  };

  it('is the agent’s intent when the approver changed nothing', async () => {
    const request = await stored();
    expect(approvedIntentOf(request)).toEqual(request.intent);
  });

  it('carries the approver’s parameters in place of the agent’s', async () => {
    const parameters = { policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess', roleName: 'payments-deployer' };
    const request = await stored(parameters);
    expect(approvedIntentOf(request)).toEqual({ ...request.intent, parameters });
  });

  it('is none for a request that is not approved, has no decision or no intent', async () => {
    const request = await stored();
    expect(approvedIntentOf({ ...request, status: 'DENIED' })).toBeUndefined();
    expect(approvedIntentOf({ ...request, decision: undefined })).toBeUndefined();
    expect(approvedIntentOf({ ...request, intent: undefined as never })).toBeUndefined();
  });
});

describe('SOURCE_IDENTITY', () => {
  it('accepts what STS accepts as a SourceIdentity: 2 to 64 of letters, digits and _+=,.@-', () => {
    for (const ok of ['ab', 'a'.repeat(64), 'intent_1+=,.@-x', 'A9'])
      expect(SOURCE_IDENTITY.test(ok)).toBe(true);
    for (const bad of ['a', 'a'.repeat(65), 'intent:1', 'a/b', 'a b', 'ab\n', ''])
      expect(SOURCE_IDENTITY.test(bad)).toBe(false);
  });
});

describe('COUNTERSIGN_EXECUTORS', () => {
  it('reads an object of executor name to role ARN; nothing set means no executors', () => {
    expect(parseExecutors(JSON.stringify(EXECUTORS))).toEqual(EXECUTORS);
    expect(parseExecutors(undefined)).toEqual({});
    expect(parseExecutors('  ')).toEqual({});
  });

  it.each([
    ['an array', '[]', /must be an object/],
    ['null', 'null', /must be an object/],
    ['a string', '"arn:aws:iam::123456789012:role/x"', /must be an object/],
    ['a user ARN', '{"iam-changes":"arn:aws:iam::123456789012:user/x"}', /iam-changes is not a role ARN/],
    ['a short account', '{"iam-changes":"arn:aws:iam::1234:role/x"}', /iam-changes is not a role ARN/],
    ['text before the ARN', '{"x":"see arn:aws:iam::123456789012:role/x"}', /x is not a role ARN/],
    ['a number', '{"x":42}', /x is not a role ARN/],
    ['a list holding an ARN', '{"x":["arn:aws:iam::123456789012:role/x"]}', /x is not a role ARN/],
  ])('refuses %s at cold start', (_name, text, message) => {
    expect(() => parseExecutors(text)).toThrow(message);
  });
});
