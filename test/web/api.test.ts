/**
 * The approval API with real signed tokens (an RS256 key of the test issuer,
 * verified with jose): who may list, read and decide, and that every refusal
 * (no token, forged, wrong audience, expired, stale hash, bad input,
 * self-approval) is answered with its status and changes nothing.
 */
import { generateKeyPair } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readChain } from '../../lambdas/shared/audit.js';
import { getRequest, type RequestItem } from '../../lambdas/shared/store.js';
import { handleWeb } from '../../lambdas/web/core.js';
import { type SeedOptions, seedPendingRequest } from '../support/fixtures.js';
import { CLIENT_ID, type Person, startWebCore, webRequest } from './support.js';

let env: Awaited<ReturnType<typeof startWebCore>>;
beforeAll(async () => {
  env = await startWebCore();
});
afterAll(async () => env.close());
beforeEach(() => env.fakeAws.tasks.reset());

async function seed(options: SeedOptions = {}): Promise<RequestItem> {
  const request = await seedPendingRequest({ ...env.deps.core }, options);
  env.fakeAws.tasks.register(request.taskToken!);
  return request;
}
const stored = async (id: string) => (await getRequest(env.deps.core, id))!;

async function call(
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const [pathname, query] = path.split('?');
  const answer = await handleWeb(
    env.deps,
    webRequest({
      method,
      path: pathname!,
      query: new URLSearchParams(query ?? ''),
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
  return { ...answer, json: answer.body ? JSON.parse(answer.body) : undefined };
}
const token = (person: Person, claims = {}) => env.issuer.sign(person, claims);
const decide = async (person: Person, request: RequestItem, body: Record<string, unknown>) =>
  call('POST', `/v1/requests/${request.intentId}/decision`, await token(person), {
    intentHash: request.intentHash,
    ...body,
  });

describe('approval API: tokens', () => {
  it('answers 401 with a clear reason for a missing, malformed, forged, expired or misaddressed token', async () => {
    // Prepare
    const { privateKey: otherKey } = await generateKeyPair('RS256');
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const cases: [string, Record<string, string>, string][] = [
      ['missing', {}, 'missing'],
      ['not a bearer', { authorization: 'Basic YWxpY2U6cHc=' }, 'malformed'],
      ['not a JWT', bearer('abc.def'), 'malformed'],
      ['forged', bearer(await env.issuer.sign('alice', {}, otherKey)), 'bad-signature'],
      ['expired', bearer(await token('alice', { exp: Math.floor(Date.now() / 1000) - 3600 })), 'expired'],
      ['ID token for the inbox', bearer(await token('alice', { aud: CLIENT_ID })), 'wrong-audience'],
      ['other issuer', bearer(await token('alice', { iss: 'https://evil.example' })), 'wrong-issuer'],
    ];
    for (const [name, headers, code] of cases) {
      // Act
      const answer = await call('GET', '/v1/requests?status=PENDING', undefined, undefined, headers);
      // Assess
      expect(answer.statusCode, name).toBe(401);
      expect(answer.json.error, name).toBe(code);
      expect(answer.json.message, name).toMatch(/token|Authorization/);
      expect(answer.headers['www-authenticate'], name).toMatch(/^Bearer /);
    }
  });

  it('changes nothing for a decision sent with a forged token', async () => {
    // Prepare
    const request = await seed();
    const { privateKey: otherKey } = await generateKeyPair('RS256');
    // Act
    const answer = await call(
      'POST',
      `/v1/requests/${request.intentId}/decision`,
      await env.issuer.sign('alice', {}, otherKey),
      { decision: 'approve', intentHash: request.intentHash },
    );
    // Assess
    expect(answer.statusCode).toBe(401);
    expect((await stored(request.intentId)).approvals).toHaveLength(0);
    expect((await readChain(env.deps.core, request.intentId)).map((r) => r.kind)).toEqual([
      'requested',
      'reviewers-notified',
    ]);
  });
});

describe('approval API: requests and decisions', () => {
  it('lists the pending requests the caller may decide and shows one without its task token', async () => {
    // Prepare
    const request = await seed();
    // Act
    const alice = await call('GET', '/v1/requests?status=PENDING', await token('alice'));
    const carol = await call('GET', '/v1/requests?status=PENDING', await token('carol'));
    const one = await call('GET', `/v1/requests/${request.intentId}`, await token('alice'));
    const dave = await call('GET', `/v1/requests/${request.intentId}`, await token('dave'));
    // Assess
    expect(alice.json.requests.map((r: { id: string }) => r.id)).toContain(request.intentId);
    expect(carol.json.requests.map((r: { id: string }) => r.id)).not.toContain(request.intentId);
    expect(one.statusCode).toBe(200);
    expect(one.json).toMatchObject({
      id: request.intentId,
      status: 'PENDING',
      intentHash: request.intentHash,
    });
    expect(one.body).not.toContain(request.taskToken!);
    expect(dave.statusCode).toBe(404);
  });

  it('refuses an unknown status filter with 400', async () => {
    // Act
    const answer = await call('GET', '/v1/requests?status=ANY', await token('alice'));
    // Assess
    expect(answer.statusCode).toBe(400);
    expect(answer.json.fields).toHaveProperty('status');
  });

  it('approves the version named by its hash: 200, decided, audited with channel api', async () => {
    // Prepare
    const request = await seed();
    // Act
    const answer = await decide('alice', request, { decision: 'approve' });
    // Assess
    expect(answer.statusCode).toBe(200);
    expect(answer.json.outcome).toBe('approved');
    expect((await stored(request.intentId)).status).toBe('APPROVED');
    const vote = (await readChain(env.deps.core, request.intentId)).find((r) => r.kind === 'vote');
    expect(vote?.actor).toMatchObject({ channel: 'api', email: 'alice@example.com' });
  });

  it('answers 409 for a stale intent hash and changes nothing but the audit of the refusal', async () => {
    // Prepare
    const request = await seed();
    // Act
    const answer = await call('POST', `/v1/requests/${request.intentId}/decision`, await token('alice'), {
      decision: 'approve',
      intentHash: `sha256:${'a'.repeat(64)}`,
    });
    // Assess
    expect(answer.statusCode).toBe(409);
    expect(answer.json.error).toBe('stale-form');
    const after = await stored(request.intentId);
    expect(after.status).toBe('PENDING');
    expect(after.approvals).toHaveLength(0);
  });

  it('answers 403 for self-approval by the owner and by the human the agent acts for', async () => {
    // Prepare
    const request = await seed();
    // Act
    const erin = await decide('erin', request, { decision: 'approve' });
    const carol = await decide('carol', request, { decision: 'approve' });
    // Assess
    expect(erin.statusCode).toBe(403);
    expect(erin.json.error).toBe('self-owner');
    expect(carol.statusCode).toBe(403);
    expect(carol.json.error).toBe('self-on-behalf-of');
    expect((await stored(request.intentId)).status).toBe('PENDING');
  });

  it('answers 400 for bad input and changes nothing', async () => {
    // Prepare
    const request = await seed();
    const bodies: unknown[] = [
      { decision: 'approve' },
      { decision: 'maybe', intentHash: request.intentHash },
      { decision: 'deny', intentHash: request.intentHash },
      { decision: 'approve', intentHash: request.intentHash, extra: true },
      '{"decision":"approve","decision":"deny"}',
      '{not json',
    ];
    for (const body of bodies) {
      // Act
      const answer = await call(
        'POST',
        `/v1/requests/${request.intentId}/decision`,
        await token('alice'),
        body,
      );
      // Assess
      expect(answer.statusCode, JSON.stringify(body)).toBe(400);
      expect(answer.json.error).toBe('invalid-input');
    }
    expect((await stored(request.intentId)).approvals).toHaveLength(0);
  });

  it('answers 409 to a decision on a decided request, naming who decided', async () => {
    // Prepare
    const request = await seed();
    await decide('alice', request, { decision: 'approve' });
    // Act
    const late = await decide('bob', request, { decision: 'deny', reason: 'too late' });
    // Assess
    expect(late.statusCode).toBe(409);
    expect(late.json.error).toBe('late');
    expect(late.json.message).toContain('already approved');
  });

  it('applies an Idempotency-Key once', async () => {
    // Prepare
    const request = await seed({ review: { quorum: 2 } });
    const bearer = await token('alice');
    const body = { decision: 'approve', intentHash: request.intentHash };
    // Act
    const first = await call('POST', `/v1/requests/${request.intentId}/decision`, bearer, body, {
      'idempotency-key': 'k-1',
    });
    const again = await call('POST', `/v1/requests/${request.intentId}/decision`, bearer, body, {
      'idempotency-key': 'k-1',
    });
    // Assess
    expect(first.json.outcome).toBe('voted');
    expect(again.statusCode).toBe(409);
    expect(again.json.error).toBe('replayed');
    expect((await stored(request.intentId)).approvals).toHaveLength(1);
  });
});
