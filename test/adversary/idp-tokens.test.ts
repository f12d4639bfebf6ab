/**
 * Attacker goal: approve with a token. The agent publishes an intent through
 * PutEvents, then presents tokens as bearer to the approval API over HTTP
 * (`POST /v1/requests/{id}/decision`, the sandbox's web server running the
 * deployed handler's core over the loop's real workflow): a real token from
 * another OpenID provider, one it signed itself, an unsigned one, and a
 * genuine token of the person it acts for (whose session it may hold). Each
 * case asserts the HTTP refusal and that the request stayed pending; a genuine
 * approver's token then decides, and the decision event names the channel and
 * the sign-in's `amr`.
 */
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalIdp, startLocalIdp } from '../../sandbox/idp.js';
import { signInHeadless } from '../../sandbox/idp-sign-in.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { sandboxWebIdp, startWebServer, type WebServer, webDepsForLoop } from '../../sandbox/web-server.js';
import { DEMO, makeIntent } from '../support/fixtures.js';
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

let loop: CountersignLoop;
let idp: LocalIdp;
let foreign: LocalIdp;
let web: WebServer;

beforeAll(async () => {
  loop = await sharedLoop();
  // The IdP starts after the server (it needs the redirect URI): its settings are read per request.
  web = await startWebServer((origin) => webDepsForLoop(loop, sandboxWebIdp(idp), origin), { port: 0 });
  idp = await startLocalIdp({ redirectUris: [web.redirectUri] });
  foreign = await startLocalIdp({ redirectUris: [web.redirectUri] });
}, 120_000);
afterAll(async () => {
  await web?.close();
  await idp?.close();
  await foreign?.close();
});

/** Presents a bearer token to the approval API, approving what the agent saw. */
async function presentBearer(token: string, requestId: string, intentHash: string) {
  const res = await fetch(`${web.url}/v1/requests/${encodeURIComponent(requestId)}/decision`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ decision: 'approve', intentHash }),
  });
  return { status: res.status, body: (await res.json()) as { error?: string; status?: string } };
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

    expect(await presentBearer(fromForeign.accessToken, intent.intentId, intentHash)).toMatchObject({
      status: 401,
      body: { error: 'wrong-issuer' },
    });
    expect(await presentBearer(selfSigned, intent.intentId, intentHash)).toMatchObject({
      status: 401,
      body: { error: 'unknown-key' },
    });
    expect(await presentBearer(unsigned, intent.intentId, intentHash)).toMatchObject({
      status: 401,
      body: { error: 'malformed' },
    });
    expect(await presentBearer(principal.accessToken, intent.intentId, intentHash)).toMatchObject({
      status: 403,
      body: { error: 'self-on-behalf-of' },
    });
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
    expect(approved.status).toBe(200);
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
