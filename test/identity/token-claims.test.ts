/**
 * The OIDC token verifier against tokens minted here and keys served from
 * 127.0.0.1, for what a real IdP will not issue on request: every accepted
 * algorithm, each claim the sign-in is built from (subject, email and its
 * verification, name, amr, acr, auth_time), nonce and authorized party, the
 * discovery document's checks, and each refusal code. Real sign-ins through
 * the local OpenID provider are in token-verifier.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CompactSign, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TokenRefusalCode } from '../../lambdas/identity/contract.js';
import {
  createTokenVerifier,
  discoverJwksUri,
  TOKEN_ALGORITHMS,
  type TokenVerifierConfig,
} from '../../lambdas/identity/token-verifier.js';

const CLIENT = 'web-client';
const API = 'https://approvals.example.com';
const NOW = new Date('2026-06-01T12:00:00Z');
const NOW_S = NOW.getTime() / 1000;

type Alg = (typeof TOKEN_ALGORITHMS)[number];
type Key = {
  kid: string;
  alg: string;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  jwk: JWK;
};
async function newKey(alg: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `kid-${alg}-${Math.random().toString(36).slice(2)}`;
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** The IdP's discovery document and key set, as served. */
const idp = {
  url: '',
  keys: [] as Key[],
  discovery: undefined as unknown,
  discoveryStatus: 200,
  redirect: false,
  discoveryFetches: 0,
};
let server: Server;
let rs256: Key;

beforeAll(async () => {
  rs256 = await newKey('RS256');
  server = createServer((req, res) => {
    if (req.url === '/hang') return; // never answers
    if (req.url === '/broken-jwks') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: 'none' }));
      return;
    }
    if (req.url === '/.well-known/openid-configuration') {
      idp.discoveryFetches++;
      if (idp.redirect) {
        res.writeHead(302, { location: `${idp.url}/elsewhere` });
        res.end();
        return;
      }
      res.writeHead(idp.discoveryStatus, { 'content-type': 'application/json' });
      res.end(JSON.stringify(idp.discovery ?? { issuer: idp.url, jwks_uri: `${idp.url}/jwks` }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: idp.keys.map((k) => k.jwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  idp.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  idp.keys = [rs256];
  idp.discovery = undefined;
  idp.discoveryStatus = 200;
  idp.redirect = false;
  idp.discoveryFetches = 0;
});

const config = (extra: Partial<TokenVerifierConfig> = {}): TokenVerifierConfig => ({
  issuer: idp.url,
  clientId: CLIENT,
  apiAudience: API,
  clockToleranceSeconds: 60,
  ...extra,
});

function verifier(extra: Partial<TokenVerifierConfig> = {}, timeoutMs?: number) {
  return createTokenVerifier(config(extra), {
    now: () => NOW,
    ...(timeoutMs ? { timeoutMs } : {}),
    groups: {
      groupsOf: async ({ claims }) => (Array.isArray(claims.groups) ? (claims.groups as string[]) : []),
    },
    emailRules: { subaddressDomains: ['*'], punycodeDomains: [] },
  });
}

interface Mint {
  key?: Key;
  claims?: Record<string, unknown>;
  audience?: string | string[];
  issuer?: string;
  /** Seconds relative to NOW; null leaves the claim out. */
  iat?: number | null;
  exp?: number | null;
  subject?: string | null;
  /** Extra protected-header parameters (to size a token). */
  header?: Record<string, string>;
}

async function token(mint: Mint = {}): Promise<string> {
  const key = mint.key ?? rs256;
  const claims = {
    email: 'Alice+web@Example.com',
    email_verified: true,
    ...(mint.claims ?? {}),
  };
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ ...mint.header, alg: key.alg, kid: key.kid })
    .setIssuer(mint.issuer ?? idp.url)
    .setAudience(mint.audience ?? API);
  if (mint.subject !== null) jwt = jwt.setSubject(mint.subject ?? 'sub-alice');
  if (mint.iat !== null) jwt = jwt.setIssuedAt(NOW_S + (mint.iat ?? -10));
  if (mint.exp !== null) jwt = jwt.setExpirationTime(NOW_S + (mint.exp ?? 600));
  return jwt.sign(key.privateKey);
}

async function refusal(promise: Promise<unknown>): Promise<{ code: TokenRefusalCode; message: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the token was accepted').toBeDefined();
  expect((error as Error).name).toBe('TokenRefused');
  return error as { code: TokenRefusalCode; message: string };
}

describe('createTokenVerifier: algorithms', () => {
  it('accepts exactly the asymmetric algorithms it lists', () => {
    expect(TOKEN_ALGORITHMS).toEqual([
      'RS256',
      'RS384',
      'RS512',
      'PS256',
      'PS384',
      'PS512',
      'ES256',
      'ES384',
      'EdDSA',
    ]);
  });

  it.each(TOKEN_ALGORITHMS.map((alg) => [alg]))('verifies a token signed with %s', async (alg: Alg) => {
    // Prepare
    const key = await newKey(alg === 'EdDSA' ? 'Ed25519' : alg);
    key.alg = alg;
    key.jwk.alg = alg;
    idp.keys = [key];

    // Act
    const signIn = await verifier({ jwksUri: `${idp.url}/jwks` }).verifyAccessToken(await token({ key }));

    // Assess
    expect(signIn.subject).toBe('sub-alice');
  });

  it('refuses ES512, which it does not list, as malformed', async () => {
    // Prepare
    const key = await newKey('ES512');
    idp.keys = [key];

    // Act
    const refused = await refusal(
      verifier({ jwksUri: `${idp.url}/jwks` }).verifyAccessToken(await token({ key })),
    );

    // Assess
    expect(refused).toMatchObject({
      code: 'malformed',
      message: 'the token is signed with an algorithm Countersign does not accept',
    });
  });
});

describe('createTokenVerifier: the sign-in', () => {
  it('builds the sign-in from the verified claims only', async () => {
    // Act
    const signIn = await verifier().verifyAccessToken(
      await token({
        claims: {
          name: 'Alice Adams',
          groups: ['sre'],
          amr: ['pwd', 7, 'mfa'],
          acr: 'urn:mfa',
          auth_time: NOW_S - 30,
        },
      }),
    );

    // Assess
    expect(signIn).toEqual({
      issuer: idp.url,
      subject: 'sub-alice',
      email: 'alice@example.com',
      emailVerified: true,
      name: 'Alice Adams',
      groups: ['sre'],
      amr: ['pwd', 'mfa'],
      acr: 'urn:mfa',
      authTime: NOW_S - 30,
      via: 'bearer',
    });
  });

  it('leaves out what the token does not say, and reads a single amr string as one method', async () => {
    // Act
    const signIn = await verifier().verifyAccessToken(
      await token({ claims: { name: '', amr: 'pwd', acr: 3 } }),
    );

    // Assess
    expect(signIn).toEqual({
      issuer: idp.url,
      subject: 'sub-alice',
      email: 'alice@example.com',
      emailVerified: true,
      groups: [],
      amr: ['pwd'],
      via: 'bearer',
    });
  });

  it('reads no methods from an amr that is neither a string nor a list, and cuts a long name to 200', async () => {
    // Act
    const signIn = await verifier().verifyAccessToken(
      await token({ claims: { amr: { pwd: true }, name: 'n'.repeat(300) } }),
    );

    // Assess
    expect(signIn.amr).toEqual([]);
    expect(signIn.name).toBe('n'.repeat(200));
  });

  it.each([
    ['no subject', { subject: null }, 'missing-claim'],
    ['an empty subject', { subject: '' }, 'missing-claim'],
    ['no email', { claims: { email: undefined } }, 'missing-claim'],
    ['an unverified email', { claims: { email_verified: false } }, 'unverified-email'],
    ['an email verified as the string "true"', { claims: { email_verified: 'true' } }, 'unverified-email'],
    ['a lookalike email', { claims: { email: 'c\u0430rol@example.com' } }, 'unverified-email'],
    ['an auth_time that is text', { claims: { auth_time: 'yesterday' } }, 'malformed'],
    ['no expiry', { exp: null }, 'missing-claim'],
    ['no issued-at time', { iat: null }, 'missing-claim'],
  ] as const)('refuses a token with %s (%s)', async (_name, mint, code) => {
    // Act
    const refused = await refusal(verifier().verifyAccessToken(await token(mint as Mint)));

    // Assess
    expect(refused.code).toBe(code);
  });

  it('names the missing claim and the reasons for email refusals', async () => {
    // Act
    const noExp = await refusal(verifier().verifyAccessToken(await token({ exp: null })));
    const noEmail = await refusal(
      verifier().verifyAccessToken(await token({ claims: { email: undefined } })),
    );
    const lookalike = await refusal(
      verifier().verifyAccessToken(await token({ claims: { email: 'c\u0430rol@example.com' } })),
    );
    const authTime = await refusal(verifier().verifyAccessToken(await token({ claims: { auth_time: 'x' } })));

    // Assess
    expect(noExp.message).toBe('the token has no "exp" claim');
    expect(noEmail.message).toBe('the token has no "email" claim: it names no person');
    expect(lookalike.message).toMatch(/^the token's email is not acceptable as an identity: ./);
    expect(authTime.message).toBe('the token\'s "auth_time" is not a time');
  });
});

describe('createTokenVerifier: times', () => {
  it.each([
    ['issued in the future within the tolerance', { iat: 50 }, true],
    ['issued in the future beyond the tolerance', { iat: 70 }, false],
    ['expired within the tolerance', { iat: -3600, exp: -50 }, true],
    ['expired beyond the tolerance', { iat: -3600, exp: -70 }, false],
  ])('a token %s', async (_name, mint, accepted) => {
    // Act
    const outcome = await verifier()
      .verifyAccessToken(await token(mint))
      .then(
        () => 'accepted',
        (e: { code: string }) => e.code,
      );

    // Assess
    expect(outcome).toBe(accepted ? 'accepted' : 'exp' in mint ? 'expired' : 'not-yet-valid');
  });

  it('says which time claim is in the future', async () => {
    // Act
    const refused = await refusal(verifier().verifyAccessToken(await token({ iat: 3600, exp: 7200 })));

    // Assess
    expect(refused.message).toBe('the token is not valid yet ("iat" is in the future)');
  });
});

describe('createTokenVerifier: ID tokens', () => {
  it('binds an ID token to the nonce of the sign-in this deployment started', async () => {
    // Prepare
    const idToken = await token({ audience: CLIENT, claims: { nonce: 'n-1' } });

    // Act
    const signIn = await verifier().verifyIdToken(idToken, { nonce: 'n-1' });
    const other = await refusal(verifier().verifyIdToken(idToken, { nonce: 'n-2' }));
    const none = await refusal(verifier().verifyIdToken(idToken, { nonce: '' }));

    // Assess
    expect(signIn.via).toBe('session');
    expect(other).toMatchObject({
      code: 'wrong-nonce',
      message: 'the token was issued for another sign-in (nonce mismatch)',
    });
    expect(none).toMatchObject({
      code: 'wrong-nonce',
      message: 'no nonce was expected: the sign-in was not started here',
    });
  });

  it('refuses an ID token for several clients unless this client is its authorized party', async () => {
    // Prepare
    const shared = (azp?: string) =>
      token({ audience: [CLIENT, 'other-client'], claims: { nonce: 'n', ...(azp ? { azp } : {}) } });

    // Act
    const ours = await verifier().verifyIdToken(await shared(CLIENT), { nonce: 'n' });
    const theirs = await refusal(verifier().verifyIdToken(await shared('other-client'), { nonce: 'n' }));
    const single = await verifier().verifyIdToken(
      await token({ audience: [CLIENT], claims: { nonce: 'n', azp: 'other-client' } }),
      { nonce: 'n' },
    );

    // Assess
    expect(ours.subject).toBe('sub-alice');
    expect(theirs).toMatchObject({
      code: 'wrong-audience',
      message: `the token's authorized party is not ${CLIENT}`,
    });
    expect(single.subject).toBe('sub-alice');
  });

  it('refuses an access token as an ID token, and every API token where no API audience is configured', async () => {
    // Act
    const asId = await refusal(verifier().verifyIdToken(await token(), { nonce: 'n' }));
    const noApi = await refusal(verifier({ apiAudience: undefined }).verifyAccessToken(await token()));

    // Assess
    expect(asId).toMatchObject({ code: 'wrong-audience', message: `the token is not for ${CLIENT}` });
    expect(noApi).toMatchObject({
      code: 'wrong-audience',
      message: 'this deployment accepts no API tokens (no apiAudience configured)',
    });
  });
});

describe('createTokenVerifier: token shape', () => {
  it.each([
    ['an empty token', '', 'missing', 'no token was presented'],
    [
      'a token longer than any IdP issues',
      `a.${'b'.repeat(16_384)}.c`,
      'malformed',
      'the token is longer than any IdP issues',
    ],
    ['text that is not a JWT', 'not-a-jwt', 'malformed', 'the token is not a signed JWT'],
  ])('refuses %s', async (_name, presented, code, message) => {
    // Act
    const refused = await refusal(verifier().verifyAccessToken(presented));

    // Assess
    expect(refused).toMatchObject({ code, message });
  });

  it('refuses a token from another issuer before fetching any key, naming both issuers', async () => {
    // Act
    const refused = await refusal(
      verifier().verifyAccessToken(await token({ issuer: 'https://evil.example' })),
    );

    // Assess
    expect(refused).toMatchObject({
      code: 'wrong-issuer',
      message: `the token was issued by "https://evil.example", not by ${idp.url}`,
    });
    expect(idp.discoveryFetches).toBe(0);
  });

  it('accepts a token of exactly 16,384 characters as far as its length goes', async () => {
    // Prepare: a valid token padded with a claim until it is exactly at the limit. A base64url
    // segment is never 4k+1 characters long, so the header gets a pad too: the issuer's port (and
    // so the payload's length) differs from run to run.
    let exact = '';
    for (const header of ['', 'p', 'pp', 'ppp']) {
      const sized = (pad: number) => token({ header: { pad: header }, claims: { pad: 'p'.repeat(pad) } });
      const base = (await sized(0)).length;
      for (let pad = Math.max(0, Math.floor(((16_384 - base) * 3) / 4) - 8); ; pad++) {
        const candidate = await sized(pad);
        if (candidate.length === 16_384) exact = candidate;
        if (candidate.length >= 16_384) break;
      }
      if (exact) break;
    }
    expect(exact).toHaveLength(16_384);

    // Act
    const signIn = await verifier().verifyAccessToken(exact);

    // Assess
    expect(signIn.subject).toBe('sub-alice');
  });
});

describe('createTokenVerifier: refusals a real IdP will not produce on request', () => {
  it('refuses a token valid only later (nbf), naming the claim', async () => {
    // Act
    const refused = await refusal(
      verifier().verifyAccessToken(await token({ claims: { nbf: NOW_S + 600 } })),
    );

    // Assess
    expect(refused).toMatchObject({
      code: 'not-yet-valid',
      message: 'the token is not valid yet ("nbf" is in the future)',
    });
  });

  it('refuses an iat that is not a time as malformed', async () => {
    // Act
    const refused = await refusal(
      verifier().verifyAccessToken(await token({ iat: null, claims: { iat: 'x' } })),
    );

    // Assess
    expect(refused).toMatchObject({ code: 'malformed', message: 'the token\'s "iat" claim is invalid' });
  });

  it('accepts a token issued exactly at the edge of the clock tolerance', async () => {
    // Act
    const signIn = await verifier().verifyAccessToken(await token({ iat: 60 }));

    // Assess
    expect(signIn.subject).toBe('sub-alice');
  });

  it('names why a key or signature does not verify', async () => {
    // Prepare
    const stranger = await newKey('RS256');
    const [header, payload] = (await token()).split('.');
    const [, , foreignSignature] = (await token({ key: { ...stranger, kid: rs256.kid } })).split('.');

    // Act
    const unknown = await refusal(verifier().verifyAccessToken(await token({ key: stranger })));
    const forged = await refusal(verifier().verifyAccessToken(`${header}.${payload}.${foreignSignature}`));

    // Assess
    expect(unknown).toMatchObject({
      code: 'unknown-key',
      message: 'the token is signed with a key the identity provider does not publish',
    });
    expect(forged).toMatchObject({ code: 'bad-signature', message: "the token's signature does not verify" });
  });

  it('refuses a token whose header is not JSON before asking for any key', async () => {
    // Prepare
    const [, payload, signature] = (await token()).split('.');

    // Act
    const refused = await refusal(verifier().verifyAccessToken(`bm90IGpzb24.${payload}.${signature}`));

    // Assess
    expect(refused).toMatchObject({ code: 'malformed', message: 'the token is not a signed JWT' });
    expect(idp.discoveryFetches).toBe(0);
  });

  it('refuses an auth_time too large to be a time', async () => {
    // Prepare: JSON's 1e400 reads as Infinity, which no JSON serialiser writes.
    const body = `{"iss":${JSON.stringify(idp.url)},"aud":"${API}","sub":"sub-alice","iat":${NOW_S},"exp":${NOW_S + 600},"email":"alice@example.com","email_verified":true,"auth_time":1e400}`;
    const jws = await new CompactSign(new TextEncoder().encode(body))
      .setProtectedHeader({ alg: 'RS256', kid: rs256.kid })
      .sign(rs256.privateKey);

    // Act
    const refused = await refusal(verifier().verifyAccessToken(jws));

    // Assess
    expect(refused).toMatchObject({ code: 'malformed', message: 'the token\'s "auth_time" is not a time' });
  });

  it('compares the email under the rules it is given', async () => {
    // Prepare
    const keepTags = createTokenVerifier(config(), {
      now: () => NOW,
      groups: { groupsOf: async () => [] },
      emailRules: { subaddressDomains: [], punycodeDomains: [] },
    });

    // Act
    const signIn = await keepTags.verifyAccessToken(await token());

    // Assess
    expect(signIn.email).toBe('alice+web@example.com');
  });

  it.each([
    ['a key set that is not one', '/broken-jwks', undefined],
    ['a key set host that does not answer', '/hang', 200],
  ])('refuses while the IdP serves %s, as unavailable', async (_name, path, timeoutMs) => {
    // Act
    const refused = await refusal(
      verifier({ jwksUri: `${idp.url}${path}` }, timeoutMs).verifyAccessToken(await token()),
    );

    // Assess
    expect(refused.code).toBe('unavailable');
    expect(refused.message).toMatch(/^the identity provider's keys could not be read: ./);
  });

  it('refuses while the key set host cannot be reached, as unavailable', async () => {
    // Act
    const refused = await refusal(
      verifier({ jwksUri: 'http://127.0.0.1:9/jwks' }).verifyAccessToken(await token()),
    );

    // Assess
    expect(refused.code).toBe('unavailable');
  });

  it('refuses while discovery does not answer, within its time limit', async () => {
    // Act
    const refused = await refusal(discoverJwksUri(`${idp.url}/hang`, 200));

    // Assess
    expect(refused.code).toBe('unavailable');
  });
});

describe('discoverJwksUri', () => {
  it("reads the key set's address from the issuer's discovery document, with or without a trailing slash", async () => {
    // Act
    const plain = await discoverJwksUri(idp.url);
    idp.discovery = { issuer: `${idp.url}/`, jwks_uri: `${idp.url}/jwks` };
    const slash = await discoverJwksUri(`${idp.url}/`);

    // Assess
    expect(plain.href).toBe(`${idp.url}/jwks`);
    expect(slash.href).toBe(`${idp.url}/jwks`);
  });

  it.each([
    ['an error status', () => (idp.discoveryStatus = 500), /could not be read: HTTP 500$/],
    ['a redirect', () => (idp.redirect = true), /could not be read: /],
    [
      'another issuer',
      () => (idp.discovery = { issuer: 'https://evil.example', jwks_uri: 'https://evil.example/k' }),
      /names issuer "https:\/\/evil\.example", not /,
    ],
    ['no jwks_uri', () => (idp.discovery = { issuer: idp.url }), /names no jwks_uri$/],
    [
      'a jwks_uri that is no URL',
      () => (idp.discovery = { issuer: idp.url, jwks_uri: 'not a url' }),
      /names no jwks_uri$/,
    ],
    [
      'a jwks_uri that is a list',
      () => (idp.discovery = { issuer: idp.url, jwks_uri: [`${idp.url}/jwks`] }),
      /names no jwks_uri$/,
    ],
  ])('refuses a discovery document with %s as unavailable', async (_name, arrange, message) => {
    // Prepare
    arrange();

    // Act
    const refused = await refusal(discoverJwksUri(idp.url));

    // Assess
    expect(refused.code).toBe('unavailable');
    expect(refused.message).toMatch(message);
  });

  it('a verifier retries discovery on the next token after a failure', async () => {
    // Prepare
    const v = verifier();
    idp.discoveryStatus = 503;

    // Act
    const down = await refusal(v.verifyAccessToken(await token()));
    idp.discoveryStatus = 200;
    const up = await v.verifyAccessToken(await token());
    await v.verifyAccessToken(await token());

    // Assess
    expect(down.code).toBe('unavailable');
    expect(up.subject).toBe('sub-alice');
    expect(idp.discoveryFetches).toBe(2);
  });
});
