/**
 * The credential exchange on dynalite and the fake STS (the real STS client
 * over the wire): one approval mints one set of credentials, for the caller's
 * own grant only, scoped to exactly what was approved.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchangeForCaller, SESSION_TAGS } from '../../lambdas/grant/exchange.js';
import { readChain } from '../../lambdas/shared/audit.js';
import { getGrant } from '../../lambdas/shared/grants.js';
import { AGENT_SESSION, decided, EXECUTORS, OTHER_AGENT_SESSION, type Rig, startRig } from './support.js';

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
});
