/**
 * The approval API with real tokens from the local OpenID provider
 * (oidc-provider, signed in headlessly) verified by the deployment's token
 * verifier: an approver decides; a missing, forged or misaddressed token, a
 * stale hash and a self-approval are refused with their status and change
 * nothing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signInResolver } from '../../lambdas/identity/actor-resolver.js';
import { createTokenVerifier } from '../../lambdas/identity/token-verifier.js';
import { getRequest, type RequestItem } from '../../lambdas/shared/store.js';
import { handleWeb } from '../../lambdas/web/core.js';
import { type LocalIdp, startLocalIdp } from '../../sandbox/idp.js';
import { signInHeadless } from '../../sandbox/idp-sign-in.js';
import { seedPendingRequest } from '../support/fixtures.js';
import { ORIGIN, startWebCore, webRequest } from './support.js';

let env: Awaited<ReturnType<typeof startWebCore>>;
let idp: LocalIdp;

beforeAll(async () => {
  env = await startWebCore();
  idp = await startLocalIdp({ redirectUris: [`${ORIGIN}/callback`] });
  env.deps.core.resolveActor = signInResolver({ issuer: idp.issuer });
  env.deps.verifier = createTokenVerifier({
    issuer: idp.issuer,
    clientId: idp.web.clientId,
    apiAudience: idp.apiAudience,
    clockToleranceSeconds: 60,
  });
}, 60_000);
afterAll(async () => {
  await idp.close();
  await env.close();
});
beforeEach(() => env.fakeAws.tasks.reset());

async function seed(): Promise<RequestItem> {
  const request = await seedPendingRequest(env.deps.core);
  env.fakeAws.tasks.register(request.taskToken!);
  return request;
}

async function decide(
  request: RequestItem,
  authorization: string | undefined,
  intentHash = request.intentHash,
) {
  const answer = await handleWeb(
    env.deps,
    webRequest({
      method: 'POST',
      path: `/v1/requests/${request.intentId}/decision`,
      headers: {
        'content-type': 'application/json',
        ...(authorization ? { authorization } : {}),
      },
      body: JSON.stringify({ decision: 'approve', intentHash }),
    }),
  );
  return { status: answer.statusCode, body: JSON.parse(answer.body) as { error?: string; outcome?: string } };
}

describe('approval API with tokens from the local OpenID provider', () => {
  it('lets an approver approve with an access token for the API', async () => {
    // Prepare
    const request = await seed();
    const alice = await signInHeadless(idp, { person: 'alice@example.com', mfa: true });
    // Act
    const answer = await decide(request, `Bearer ${alice.accessToken}`);
    // Assess
    expect(answer).toMatchObject({ status: 200, body: { outcome: 'approved' } });
    expect((await getRequest(env.deps.core, request.intentId))?.decision?.decidedBy?.email).toBe(
      'alice@example.com',
    );
  });

  it('refuses no token, a forged one and an ID token (another audience) with 401, changing nothing', async () => {
    // Prepare
    const request = await seed();
    const alice = await signInHeadless(idp, { person: 'alice@example.com' });
    const [header, payload] = alice.accessToken.split('.');
    const elevated = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(payload!, 'base64url').toString()),
        email: 'bob@example.com',
      }),
    ).toString('base64url');
    const forged = `${header}.${elevated}.${alice.accessToken.split('.')[2]}`;
    // Act
    const none = await decide(request, undefined);
    const bad = await decide(request, `Bearer ${forged}`);
    const id = await decide(request, `Bearer ${alice.idToken}`);
    // Assess
    expect(none).toMatchObject({ status: 401, body: { error: 'missing' } });
    expect(bad.status).toBe(401);
    expect(bad.body.error).toBe('bad-signature');
    expect(id).toMatchObject({ status: 401, body: { error: 'wrong-audience' } });
    expect((await getRequest(env.deps.core, request.intentId))?.approvals).toHaveLength(0);
  });

  it('refuses a stale hash with 409 and the human the agent acts for with 403', async () => {
    // Prepare
    const request = await seed();
    const alice = await signInHeadless(idp, { person: 'alice@example.com' });
    const carol = await signInHeadless(idp, { person: 'carol@example.com', mfa: true });
    // Act
    const stale = await decide(request, `Bearer ${alice.accessToken}`, `sha256:${'f'.repeat(64)}`);
    const self = await decide(request, `Bearer ${carol.accessToken}`);
    // Assess
    expect(stale).toMatchObject({ status: 409, body: { error: 'stale-form' } });
    expect(self).toMatchObject({ status: 403, body: { error: 'self-on-behalf-of' } });
    expect((await getRequest(env.deps.core, request.intentId))?.status).toBe('PENDING');
  });
});
