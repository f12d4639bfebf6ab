/**
 * What the web channel's tests share: an issuer that signs real JWTs with its
 * own key and a {@link TokenVerifier} over jose that checks them (signature
 * against the issuer's key set, issuer, audience, expiry, nonce), a review
 * core on dynalite and the fake Step Functions task API, and sessions as the
 * inbox seals them.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from 'jose';
import { signInResolver } from '../../lambdas/identity/actor-resolver.js';
import { type SignIn, TokenRefused, type TokenVerifier } from '../../lambdas/identity/contract.js';
import { type ReviewCoreDeps, SILENT_NOTIFIER } from '../../lambdas/review-core/contract.js';
import type { WebDeps } from '../../lambdas/web/contract.js';
import type { WebRequest } from '../../lambdas/web/http.js';
import { newSession, SESSION_COOKIE, sealSession } from '../../lambdas/web/session.js';
import type { SignInFlow } from '../../lambdas/web/sign-in.js';
import { type RunningFakeAws, startFakeAws } from '../../sandbox/fake-aws.js';
import { captureLogger } from '../interaction/harness.js';
import { DEMO } from '../support/fixtures.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type LocalAws, startLocalAws } from '../support/local-aws.js';

export const ISSUER = 'https://idp.test.example';
export const CLIENT_ID = 'countersign-inbox';
export const API_AUDIENCE = 'https://countersign.test.example/api';
export const ORIGIN = 'https://inbox.test.example';
export const SESSION_KEY = 'test-session-key-0123456789abcdef0123456789';

/** The people of the tests, as the IdP knows them. */
export const PEOPLE = {
  alice: { email: 'alice@example.com', groups: [DEMO.approverGroup] },
  bob: { email: 'bob@example.com', groups: [DEMO.approverGroup] },
  carol: { email: DEMO.onBehalfOf, groups: [DEMO.approverGroup] },
  erin: { email: DEMO.owner, groups: [DEMO.approverGroup] },
  dave: { email: 'dave@example.com', groups: [] },
} as const;
export type Person = keyof typeof PEOPLE;

/** An issuer with its own signing key, and a verifier that trusts only it. */
export async function testIssuer() {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const jwks = createLocalJWKSet({ keys: [jwk] });
  const nowSeconds = () => Math.floor(Date.now() / 1000);

  /** A token for a person, with any claim overridden. */
  const sign = (person: Person, claims: JWTPayload & Record<string, unknown> = {}, key = privateKey) =>
    new SignJWT({
      email: PEOPLE[person].email,
      email_verified: true,
      groups: [...PEOPLE[person].groups],
      amr: ['pwd'],
      auth_time: nowSeconds(),
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(typeof claims.iss === 'string' ? claims.iss : ISSUER)
      .setAudience((claims.aud as string | undefined) ?? API_AUDIENCE)
      .setSubject(`sub-${person}`)
      .setIssuedAt()
      .setExpirationTime(typeof claims.exp === 'number' ? claims.exp : nowSeconds() + 600)
      .sign(key);

  const verify = async (
    token: string,
    audience: string,
    via: SignIn['via'],
    nonce?: string,
  ): Promise<SignIn> => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, { issuer: ISSUER, audience, clockTolerance: 60 }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new TokenRefused('expired', 'the token has expired');
      if (error instanceof joseErrors.JWSSignatureVerificationFailed)
        throw new TokenRefused('bad-signature', 'the token signature does not verify');
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud')
        throw new TokenRefused('wrong-audience', 'the token is not for this API');
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'iss')
        throw new TokenRefused('wrong-issuer', 'the token is from another issuer');
      throw new TokenRefused('malformed', 'the token is not a valid JWT');
    }
    if (nonce !== undefined && payload.nonce !== nonce)
      throw new TokenRefused('wrong-nonce', 'the nonce differs');
    if (typeof payload.email !== 'string') throw new TokenRefused('missing-claim', 'the token has no email');
    return {
      issuer: ISSUER,
      subject: payload.sub!,
      email: payload.email,
      emailVerified: payload.email_verified === true,
      groups: Array.isArray(payload.groups) ? (payload.groups as string[]) : [],
      amr: Array.isArray(payload.amr) ? (payload.amr as string[]) : [],
      ...(typeof payload.acr === 'string' ? { acr: payload.acr } : {}),
      ...(typeof payload.auth_time === 'number' ? { authTime: payload.auth_time } : {}),
      via,
    };
  };
  const verifier: TokenVerifier = {
    verifyIdToken: (token, { nonce }) => verify(token, CLIENT_ID, 'session', nonce),
    verifyAccessToken: (token) => verify(token, API_AUDIENCE, 'bearer'),
  };
  return { sign, verifier };
}

/** The sign-in a person's session carries (as the verifier would have made it). */
export function signInOf(person: Person, extra: Partial<SignIn> = {}): SignIn {
  return {
    issuer: ISSUER,
    subject: `sub-${person}`,
    email: PEOPLE[person].email,
    emailVerified: true,
    groups: [...PEOPLE[person].groups],
    amr: ['pwd'],
    authTime: Math.floor(Date.now() / 1000),
    via: 'session',
    ...extra,
  };
}

/** A signed session for a person: its cookie header and its anti-forgery token. */
export function sessionFor(person: Person, extra: Partial<SignIn> = {}) {
  const session = newSession(signInOf(person, extra), Math.floor(Date.now() / 1000));
  return { cookie: `${SESSION_COOKIE}=${sealSession(SESSION_KEY, session)}`, csrf: session.csrf, session };
}

/** A web request with defaults. */
export function webRequest(partial: Partial<WebRequest> & { path: string }): WebRequest {
  return {
    method: 'GET',
    query: new URLSearchParams(),
    headers: {},
    cookies: [],
    body: '',
    ...partial,
  };
}

/** A form POST from the inbox's own page. */
export function formPost(path: string, cookie: string, fields: Record<string, string>): WebRequest {
  return webRequest({
    method: 'POST',
    path,
    headers: {
      origin: ORIGIN,
      'sec-fetch-site': 'same-origin',
      'content-type': 'application/x-www-form-urlencoded',
    },
    cookies: [cookie],
    body: new URLSearchParams(fields).toString(),
  });
}

/** A sign-in flow that must not be used (tests that never sign in through the IdP). */
export const NO_SIGN_IN: SignInFlow = {
  start: async () => {
    throw new Error('no IdP in this test');
  },
  finish: async () => {
    throw new Error('no IdP in this test');
  },
};

/** A review core on dynalite and the fake task API, resolving actors from their sign-in. */
export async function startWebCore() {
  const aws: LocalAws = await startLocalAws();
  const fakeAws: RunningFakeAws = await startFakeAws();
  const sfn = new SFNClient({ endpoint: fakeAws.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const logger = captureLogger();
  const core: ReviewCoreDeps = {
    ddb: aws.ddb,
    table: aws.table,
    sfn,
    logger,
    now: () => new Date(),
    resolveActor: signInResolver({ issuer: ISSUER }),
    notifier: SILENT_NOTIFIER,
  };
  const issuer = await testIssuer();
  const deps: WebDeps = {
    core,
    verifier: issuer.verifier,
    signIn: NO_SIGN_IN,
    sessionKey: SESSION_KEY,
    origin: ORIGIN,
  };
  return {
    aws,
    fakeAws,
    deps,
    issuer,
    logger,
    close: async () => {
      sfn.destroy();
      await fakeAws.close();
      await aws.close();
    },
  };
}
