/**
 * Attacker goal: approve with a token. The agent publishes an intent through
 * PutEvents, then presents tokens as the approval API's bearer: a real token
 * from another OpenID provider, one it signed itself, an unsigned one, and a
 * genuine token of the person it acts for (whose session it may hold). The
 * API's path is the one exercised here: the token verifier, then the review
 * core as the `api` channel, over the sandbox loop's real workflow. Each case
 * asserts the refusal and that the request stayed pending; a genuine
 * approver's token then decides, and the decision event names the channel and
 * the sign-in's `amr`.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInResolver } from '../../lambdas/identity/actor-resolver.js';
import type { SignIn } from '../../lambdas/identity/contract.js';
import { createTokenVerifier } from '../../lambdas/identity/token-verifier.js';
import { SILENT_NOTIFIER } from '../../lambdas/review-core/contract.js';
import { runReviewCommand } from '../../lambdas/review-core/dispatch.js';
import { reviewCoreFromEnv } from '../../lambdas/review-core/environment.js';
import { type LocalIdp, startLocalIdp } from '../../sandbox/idp.js';
import { signInHeadless } from '../../sandbox/idp-sign-in.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { captureLogger } from '../interaction/harness.js';
import { DEMO, makeIntent } from '../support/fixtures.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../support/local-aws.js';
import {
  decisionFor,
  eventually,
  newIntentId,
  publish,
  request,
  reviewOpen,
  sharedLoop,
  verifiedChain,
} from '../support/loop.js';

const REDIRECT = 'http://127.0.0.1:9/callback';
let loop: CountersignLoop;
let idp: LocalIdp;
let foreign: LocalIdp;
let sfn: SFNClient;

beforeAll(async () => {
  loop = await sharedLoop();
  idp = await startLocalIdp({ redirectUris: [REDIRECT] });
  foreign = await startLocalIdp({ redirectUris: [REDIRECT] });
  sfn = new SFNClient({ endpoint: loop.fakeAws.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
});
afterAll(async () => {
  sfn.destroy();
  await idp.close();
  await foreign.close();
});

/** The approval API's path for one bearer token: verify, then the core as the `api` channel. */
async function presentBearer(token: string, requestId: string, seenHash: string) {
  const verifier = createTokenVerifier({
    issuer: idp.issuer,
    clientId: idp.web.clientId,
    apiAudience: idp.apiAudience,
    clockToleranceSeconds: 60,
  });
  let signIn: SignIn;
  try {
    signIn = await verifier.verifyAccessToken(token);
  } catch (error) {
    return { refusedToken: (error as { code: string }).code };
  }
  const outcome = await runReviewCommand(
    {
      ...reviewCoreFromEnv(),
      sfn,
      logger: captureLogger(),
      notifier: SILENT_NOTIFIER,
      resolveActor: signInResolver({ issuer: idp.issuer }),
    },
    { requestId, verb: 'approve', seenHash, actor: { channel: 'api', userId: signIn.email, signIn } },
  );
  return { outcome };
}

describe('tokens an agent can get hold of', () => {
  it('another issuer, its own key, no signature, or the person it acts for: refused, nothing approved; a real approver decides', async () => {
    const intent = makeIntent({ intentId: newIntentId() });
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    const { intentHash } = (await request(loop, intent.intentId))!;

    const fromForeign = await signInHeadless(foreign, { person: 'alice@example.com', mfa: true });
    const genuine = await signInHeadless(idp, { person: 'bob@example.com', mfa: true });
    const { privateKey } = await generateKeyPair('RS256');
    const selfSigned = await new SignJWT({
      ...decodeJwt(genuine.accessToken),
      sub: 'sandbox-alice',
      email: 'alice@example.com',
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'agent-key' })
      .sign(privateKey);
    const [, body] = genuine.accessToken.split('.');
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${body}.`;
    const principal = await signInHeadless(idp, { person: DEMO.onBehalfOf, mfa: true });

    expect(await presentBearer(fromForeign.accessToken, intent.intentId, intentHash)).toEqual({
      refusedToken: 'wrong-issuer',
    });
    expect(await presentBearer(selfSigned, intent.intentId, intentHash)).toEqual({
      refusedToken: 'unknown-key',
    });
    expect(await presentBearer(unsigned, intent.intentId, intentHash)).toEqual({ refusedToken: 'malformed' });
    const asPrincipal = await presentBearer(principal.accessToken, intent.intentId, intentHash);
    expect(asPrincipal.outcome).toMatchObject({ outcome: 'refused', refusal: { code: 'self-on-behalf-of' } });
    expect(await request(loop, intent.intentId)).toMatchObject({ status: 'PENDING', approvals: [] });
    const refusal = (await verifiedChain(loop, intent.intentId)).filter((r) => r.kind === 'refused').at(-1);
    expect(refusal).toMatchObject({
      actor: {
        channel: 'api',
        email: DEMO.onBehalfOf,
        signIn: { subject: 'sandbox-carol', issuer: idp.issuer },
      },
      data: { code: 'self-on-behalf-of' },
    });

    const approved = await presentBearer(genuine.accessToken, intent.intentId, intentHash);
    expect(approved.outcome).toMatchObject({ outcome: 'approved' });
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail.status).toBe('APPROVED');
    expect(decision.detail.approvers).toEqual([
      expect.objectContaining({
        email: 'bob@example.com',
        channel: 'api',
        signIn: expect.objectContaining({ issuer: idp.issuer, subject: 'sandbox-bob', amr: ['pwd', 'mfa'] }),
      }),
    ]);
  });
});
