/**
 * The Teams channel's inbound authentication, on the verifier itself: tokens
 * minted here and checked against OpenID metadata and a key set served from
 * 127.0.0.1, so every claim, algorithm, header shape and metadata failure can
 * be tried. Each refusal carries the stable code the handler logs and answers
 * 401 with; only a token the Bot Framework would send for this bot and this
 * activity's serviceUrl passes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BOT_FRAMEWORK_ISSUER,
  botFrameworkVerifier,
  CLOCK_TOLERANCE_SECONDS,
  KEYS_MAX_AGE_MS,
  normalServiceUrl,
} from '../../lambdas/teams/inbound-token.js';

const APP_ID = '00000000-0000-4000-8000-0000000000b0';
const SERVICE_URL = 'https://smba.trafficmanager.net/amer/';
const NOW_S = Date.UTC(2026, 5, 1, 12) / 1000;

type Key = { kid: string; privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey']; jwk: JWK };
async function newKey(alg: 'RS256' | 'RS384' | 'RS512' | 'PS256' = 'RS256'): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `kid-${Math.random().toString(36).slice(2)}`;
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, use: 'sig' } };
}

/** A Bot Framework metadata host: what it serves and how often it was asked. */
const host = {
  url: '',
  keys: [] as Key[],
  metadataStatus: 200,
  metadataBody: undefined as unknown,
  metadataFetches: 0,
  keyFetches: 0,
};
let server: Server;
let rsa: Key;

beforeAll(async () => {
  rsa = await newKey();
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/hang') return; // never answers
    if (req.url === '/metadata') {
      host.metadataFetches++;
      res.statusCode = host.metadataStatus;
      res.end(
        JSON.stringify(host.metadataBody ?? { issuer: BOT_FRAMEWORK_ISSUER, jwks_uri: `${host.url}/keys` }),
      );
      return;
    }
    host.keyFetches++;
    res.end(JSON.stringify({ keys: host.keys.map((k) => k.jwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  host.keys = [rsa];
  host.metadataStatus = 200;
  host.metadataBody = undefined;
  host.metadataFetches = 0;
  host.keyFetches = 0;
});

interface Mint {
  key?: Key;
  alg?: string;
  issuer?: string;
  audience?: string;
  serviceurl?: string | null;
  /** Seconds relative to NOW_S; null leaves the claim out. */
  exp?: number | null;
  iat?: number | null;
  nbf?: number;
}

async function token(mint: Mint = {}): Promise<string> {
  const key = mint.key ?? rsa;
  const claims: Record<string, unknown> = {};
  if (mint.serviceurl !== null) claims.serviceurl = mint.serviceurl ?? SERVICE_URL;
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: mint.alg ?? 'RS256', kid: key.kid, typ: 'JWT' })
    .setIssuer(mint.issuer ?? 'https://api.botframework.com')
    .setAudience(mint.audience ?? APP_ID);
  if (mint.exp !== null) jwt = jwt.setExpirationTime(NOW_S + (mint.exp ?? 3600));
  if (mint.iat !== null) jwt = jwt.setIssuedAt(NOW_S + (mint.iat ?? -60));
  if (mint.nbf !== undefined) jwt = jwt.setNotBefore(NOW_S + mint.nbf);
  return jwt.sign(key.privateKey);
}

function verifier(
  extra: { issuer?: string; refetchCooldownMs?: number; fetch?: typeof fetch; metadataUrl?: string } = {},
) {
  return botFrameworkVerifier({
    appId: APP_ID,
    metadataUrl: `${host.url}/metadata`,
    nowSeconds: () => NOW_S,
    ...extra,
  });
}

describe('botFrameworkVerifier: what passes', () => {
  it("accepts the Bot Framework's token for this bot and this activity's serviceUrl, returning its claims", async () => {
    // Act
    const check = await verifier().verify(`Bearer ${await token()}`, SERVICE_URL);

    // Assess
    expect(check).toMatchObject({ ok: true, claims: { aud: APP_ID, serviceurl: SERVICE_URL } });
  });

  it.each([
    ['the app id URI as audience', { audience: `api://${APP_ID}` }],
    ['an expiry within the clock skew', { exp: -(CLOCK_TOLERANCE_SECONDS - 20), iat: -3600 }],
    ['a not-before within the clock skew', { nbf: CLOCK_TOLERANCE_SECONDS - 20 }],
  ] as const)('accepts %s', async (_name, mint) => {
    // Act
    const check = await verifier().verify(`Bearer ${await token(mint)}`, SERVICE_URL);

    // Assess
    expect(check.ok).toBe(true);
  });

  it.each(['RS384', 'RS512'] as const)('accepts a token signed with %s', async (alg) => {
    // Prepare
    const key = await newKey(alg);
    host.keys = [rsa, key];

    // Act
    const check = await verifier().verify(`Bearer ${await token({ key, alg })}`, SERVICE_URL);

    // Assess
    expect(check.ok).toBe(true);
  });

  it('compares serviceUrls case-insensitively, ignoring surrounding spaces and trailing slashes', async () => {
    // Act
    const check = await verifier().verify(
      `Bearer ${await token({ serviceurl: 'HTTPS://SMBA.trafficmanager.net/amer' })}`,
      ' https://smba.trafficmanager.net/AMER/// ',
    );

    // Assess
    expect(check.ok).toBe(true);
    expect(normalServiceUrl(' HTTPS://Example.net/x// ')).toBe('https://example.net/x');
  });

  it('reads the metadata once for many activities', async () => {
    // Prepare
    const v = verifier();

    // Act
    for (let i = 0; i < 3; i++)
      expect((await v.verify(`Bearer ${await token()}`, SERVICE_URL)).ok).toBe(true);

    // Assess
    expect(host.metadataFetches).toBe(1);
    expect(host.keyFetches).toBe(1);
  });

  it('checks expiry against the real clock when none is injected', async () => {
    // Prepare: a token that expired long before the real now, but is valid at NOW_S.
    const real = botFrameworkVerifier({ appId: APP_ID, metadataUrl: `${host.url}/metadata` });
    const old = await new SignJWT({ serviceurl: SERVICE_URL })
      .setProtectedHeader({ alg: 'RS256', kid: rsa.kid })
      .setIssuer(BOT_FRAMEWORK_ISSUER)
      .setAudience(APP_ID)
      .setIssuedAt(1_000_000_000)
      .setExpirationTime(1_000_003_600)
      .sign(rsa.privateKey);

    // Act
    const check = await real.verify(`Bearer ${old}`, SERVICE_URL);
    const fresh = await real.verify(
      `Bearer ${await new SignJWT({ serviceurl: SERVICE_URL })
        .setProtectedHeader({ alg: 'RS256', kid: rsa.kid })
        .setIssuer(BOT_FRAMEWORK_ISSUER)
        .setAudience(APP_ID)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(rsa.privateKey)}`,
      SERVICE_URL,
    );

    // Assess
    expect(check).toMatchObject({ ok: false, code: 'expired' });
    expect(fresh.ok).toBe(true);
  });
});

describe('botFrameworkVerifier: what is refused', () => {
  it.each([
    ['an empty header', '', 'missing'],
    ['a Basic header', 'Basic dXNlcjpwYXNz', 'malformed'],
    ['a token that is not a JWT', 'Bearer not-a-jwt', 'malformed'],
    ['a lower-case scheme', 'bearer a.b.c', 'malformed'],
  ] as const)('%s: %s', async (_name, authorization, code) => {
    // Act
    const check = await verifier().verify(authorization, SERVICE_URL);

    // Assess
    expect(check).toMatchObject({ ok: false, code });
  });

  it('refuses a request without an Authorization header, saying so', async () => {
    // Act
    const check = await verifier().verify(undefined, SERVICE_URL);

    // Assess
    expect(check).toEqual({ ok: false, code: 'missing', reason: 'no Authorization header' });
  });

  it("gives jose's own reason for a refused token", async () => {
    // Act
    const check = await verifier().verify(`Bearer ${await token({ exp: -3600, iat: -7200 })}`, SERVICE_URL);

    // Assess
    expect(check).toEqual({ ok: false, code: 'expired', reason: '"exp" claim timestamp check failed' });
  });

  it('refuses a serviceurl claim that is not text, saying the token was not issued for this activity', async () => {
    // Prepare
    const jwt = await new SignJWT({ serviceurl: 42 })
      .setProtectedHeader({ alg: 'RS256', kid: rsa.kid })
      .setIssuer('https://api.botframework.com')
      .setAudience(APP_ID)
      .setIssuedAt(NOW_S - 60)
      .setExpirationTime(NOW_S + 3600)
      .sign(rsa.privateKey);

    // Act
    const check = await verifier().verify(`Bearer ${jwt}`, SERVICE_URL);

    // Assess
    expect(check).toEqual({
      ok: false,
      code: 'service-url-mismatch',
      reason: 'the token was not issued for the serviceUrl of this activity',
    });
  });

  it.each([
    ['text before the scheme', (jwt: string) => `Basic x, Bearer ${jwt}`],
    ['text after the token', (jwt: string) => `Bearer ${jwt} trailing`],
    ['a fourth segment', (jwt: string) => `Bearer ${jwt}.extra`],
  ])('refuses a valid token with %s as malformed, without reading the metadata', async (_name, wrap) => {
    // Act
    const check = await verifier().verify(wrap(await token()), SERVICE_URL);

    // Assess
    expect(check).toEqual({ ok: false, code: 'malformed', reason: 'Authorization is not a Bearer JWT' });
    expect(host.metadataFetches).toBe(0);
  });

  it.each([
    ['another issuer', { issuer: 'https://sts.windows.net/evil/' }, 'wrong-issuer'],
    ['another bot', { audience: 'another-app-id' }, 'wrong-audience'],
    ['an expiry beyond the clock skew', { exp: -(CLOCK_TOLERANCE_SECONDS + 20), iat: -3600 }, 'expired'],
    ['a not-before beyond the clock skew', { nbf: CLOCK_TOLERANCE_SECONDS + 20 }, 'not-yet-valid'],
    ['no expiry', { exp: null }, 'malformed'],
    ['no serviceurl claim', { serviceurl: null }, 'service-url-mismatch'],
    ['another serviceurl', { serviceurl: 'https://smba.trafficmanager.net/emea/' }, 'service-url-mismatch'],
  ] as const)('refuses %s (%s)', async (_name, mint, code) => {
    // Act
    const check = await verifier().verify(`Bearer ${await token(mint)}`, SERVICE_URL);

    // Assess
    expect(check).toMatchObject({ ok: false, code });
  });

  it('refuses a token without an issued-at time as malformed', async () => {
    // Act
    const check = await verifier().verify(`Bearer ${await token({ iat: null })}`, SERVICE_URL);

    // Assess
    expect(check).toMatchObject({ ok: false, code: 'malformed', reason: 'missing required "iat" claim' });
  });

  it('refuses a JWT-shaped header that is no signed JWT as malformed', async () => {
    // Act
    const check = await verifier().verify('Bearer a.b.c', SERVICE_URL);

    // Assess
    expect(check).toMatchObject({ ok: false, code: 'malformed' });
  });

  it('refuses an activity that names no serviceUrl', async () => {
    // Act
    const check = await verifier().verify(`Bearer ${await token()}`, undefined);

    // Assess
    expect(check).toMatchObject({ ok: false, code: 'service-url-mismatch' });
  });

  it('refuses a published key used with an algorithm the Bot Framework does not use (PS256)', async () => {
    // Prepare
    const key = await newKey('PS256');
    host.keys = [rsa, key];

    // Act
    const check = await verifier().verify(`Bearer ${await token({ key, alg: 'PS256' })}`, SERVICE_URL);

    // Assess
    expect(check).toMatchObject({ ok: false, code: 'bad-signature' });
  });

  it('refuses a token whose signature was tampered with', async () => {
    // Prepare
    const [header, payload, signature] = (await token()).split('.');
    const flipped = `${signature!.startsWith('A') ? 'B' : 'A'}${signature!.slice(1)}`;

    // Act
    const check = await verifier().verify(`Bearer ${header}.${payload}.${flipped}`, SERVICE_URL);

    // Assess
    expect(check).toMatchObject({ ok: false, code: 'bad-signature' });
  });

  it('refuses a token signed by a key the metadata does not publish', async () => {
    // Act
    const check = await verifier().verify(`Bearer ${await token({ key: await newKey() })}`, SERVICE_URL);

    // Assess
    expect(check).toMatchObject({ ok: false, code: 'unknown-key' });
  });

  it('refuses a token from an issuer other than the configured one', async () => {
    // Act
    const check = await verifier({ issuer: 'https://api.botframework.us' }).verify(
      `Bearer ${await token()}`,
      SERVICE_URL,
    );

    // Assess
    expect(check).toMatchObject({ ok: false, code: 'wrong-issuer' });
  });
});

describe('botFrameworkVerifier: the metadata and keys', () => {
  it('refuses while the metadata answers an error, and reads it again on the next activity', async () => {
    // Prepare
    const v = verifier();
    host.metadataStatus = 503;

    // Act
    const down = await v.verify(`Bearer ${await token()}`, SERVICE_URL);
    host.metadataStatus = 200;
    const up = await v.verify(`Bearer ${await token()}`, SERVICE_URL);

    // Assess
    expect(down).toEqual({ ok: false, code: 'metadata-unavailable', reason: 'OpenID metadata answered 503' });
    expect(up.ok).toBe(true);
    expect(host.metadataFetches).toBe(2);
  });

  it('refuses when the metadata names no key set', async () => {
    // Prepare
    host.metadataBody = { issuer: BOT_FRAMEWORK_ISSUER };

    // Act
    const check = await verifier().verify(`Bearer ${await token()}`, SERVICE_URL);

    // Assess
    expect(check).toEqual({
      ok: false,
      code: 'metadata-unavailable',
      reason: 'OpenID metadata names no jwks_uri',
    });
  });

  it("reads the Bot Framework's public metadata unless told otherwise", async () => {
    // Prepare
    const asked: string[] = [];
    const v = botFrameworkVerifier({
      appId: APP_ID,
      nowSeconds: () => NOW_S,
      fetch: async (url) => {
        asked.push(String(url));
        return new Response('unavailable', { status: 503 });
      },
    });

    // Act
    const check = await v.verify(`Bearer ${await token()}`, SERVICE_URL);

    // Assess
    expect(check).toMatchObject({ ok: false, code: 'metadata-unavailable' });
    expect(asked).toEqual(['https://login.botframework.com/v1/.well-known/openidconfiguration']);
  });

  it('refuses rather than waits when the metadata host does not answer', async () => {
    // Prepare
    const v = botFrameworkVerifier({
      appId: APP_ID,
      metadataUrl: `${host.url}/hang`,
      metadataTimeoutMs: 200,
      nowSeconds: () => NOW_S,
    });

    // Act
    const check = await v.verify(`Bearer ${await token()}`, SERVICE_URL);

    // Assess
    expect(check).toMatchObject({ ok: false, code: 'metadata-unavailable' });
  });

  it('trusts the key set for a day, then fetches it again', async () => {
    // Prepare: only Date is faked (jose dates its key set with Date.now); tokens are judged at NOW_S.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(NOW_S * 1000);
      const v = verifier();
      expect((await v.verify(`Bearer ${await token()}`, SERVICE_URL)).ok).toBe(true);

      // Act
      vi.setSystemTime(NOW_S * 1000 + KEYS_MAX_AGE_MS - 60_000);
      await v.verify(`Bearer ${await token()}`, SERVICE_URL);
      const withinADay = host.keyFetches;
      vi.setSystemTime(NOW_S * 1000 + KEYS_MAX_AGE_MS + 60_000);
      await v.verify(`Bearer ${await token()}`, SERVICE_URL);

      // Assess
      expect(KEYS_MAX_AGE_MS).toBe(86_400_000);
      expect(withinADay).toBe(1);
      expect(host.keyFetches).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('reads the metadata with the injected fetch', async () => {
    // Prepare
    const asked: string[] = [];
    const v = verifier({
      fetch: async (url, init) => {
        asked.push(String(url));
        return fetch(url, init);
      },
    });

    // Act
    const check = await v.verify(`Bearer ${await token()}`, SERVICE_URL);

    // Assess
    expect(check.ok).toBe(true);
    expect(asked).toEqual([`${host.url}/metadata`]);
  });

  it('picks up a rotated key by its key id', async () => {
    // Prepare
    const v = verifier({ refetchCooldownMs: 0 });
    expect((await v.verify(`Bearer ${await token()}`, SERVICE_URL)).ok).toBe(true);
    const rotated = await newKey();
    host.keys = [rotated];

    // Act
    const check = await v.verify(`Bearer ${await token({ key: rotated })}`, SERVICE_URL);

    // Assess
    expect(check.ok).toBe(true);
  });

  it('does not fetch the keys again for every forged key id within the cooldown', async () => {
    // Prepare
    const v = verifier();
    expect((await v.verify(`Bearer ${await token()}`, SERVICE_URL)).ok).toBe(true);

    // Act
    for (let i = 0; i < 3; i++) await v.verify(`Bearer ${await token({ key: await newKey() })}`, SERVICE_URL);

    // Assess
    expect(host.keyFetches).toBeLessThanOrEqual(2);
  });
});
