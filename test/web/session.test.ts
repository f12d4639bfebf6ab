/**
 * The web inbox's cookies on their own: a session and a sign-in state are
 * sealed with an HMAC over their purpose and payload, and opened only when
 * the mac, the shape and the expiry hold; anything a person edits signs them
 * out. Also the anti-forgery token check, the cookie attributes, the cookie
 * header parser and the return path after sign-in (no open redirect).
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SignIn } from '../../lambdas/identity/contract.js';
import {
  checkSessionKey,
  clearCookie,
  csrfMatches,
  LOGIN_COOKIE,
  LOGIN_TTL_SECONDS,
  type LoginState,
  MIN_KEY_BYTES,
  newSession,
  openLogin,
  openSession,
  parseCookies,
  randomToken,
  SESSION_COOKIE,
  SESSION_TTL_SECONDS,
  safeReturnPath,
  sealLogin,
  sealSession,
  setCookie,
} from '../../lambdas/web/session.js';

const KEY = 'k'.repeat(MIN_KEY_BYTES);
const NOW = 1_800_000_000;
const signIn: SignIn = {
  issuer: 'https://idp.example.com',
  subject: 'alice-1',
  email: 'alice@example.com',
  emailVerified: true,
  name: 'Alice Adams',
  groups: ['approvers'],
  amr: ['pwd', 'otp'],
  authTime: NOW - 10,
  via: 'session',
};
const login: LoginState = {
  state: 's'.repeat(16),
  nonce: 'n'.repeat(16),
  codeVerifier: 'v'.repeat(43),
  returnTo: '/requests/r-1',
  maxAge: 0,
  expiresAt: NOW + LOGIN_TTL_SECONDS,
};

/** A cookie sealed by hand: `v1.<payload>.<mac>` with the given purpose, key and value. */
function forged(value: unknown, purpose = 'session', key = KEY): string {
  const payload = Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  const mac = createHmac('sha256', key).update(`countersign-web:${purpose}:${payload}`).digest('base64url');
  return `v1.${payload}.${mac}`;
}

describe('cookie names and lifetimes', () => {
  it('both cookies are __Host- cookies (Secure, Path=/, no Domain: no other site or path can set them), and differ', () => {
    expect(SESSION_COOKIE).toMatch(/^__Host-countersign-/);
    expect(LOGIN_COOKIE).toMatch(/^__Host-countersign-/);
    expect(SESSION_COOKIE).not.toBe(LOGIN_COOKIE);
  });

  it('a session lasts 30 minutes and a sign-in has 10 minutes to come back (docs/web-inbox.md)', () => {
    expect(newSession(signIn, NOW).expiresAt - NOW).toBe(30 * 60);
    expect(LOGIN_TTL_SECONDS).toBe(10 * 60);
  });
});

describe('session key', () => {
  it(`needs at least ${MIN_KEY_BYTES} bytes, counted in UTF-8`, () => {
    expect(checkSessionKey(KEY)).toBe(KEY);
    expect(() => checkSessionKey('k'.repeat(MIN_KEY_BYTES - 1))).toThrow(
      `the session key must have at least ${MIN_KEY_BYTES} bytes`,
    );
    // 16 two-byte characters are 32 bytes.
    expect(checkSessionKey('é'.repeat(16))).toBe('é'.repeat(16));
  });
});

describe('session cookie', () => {
  it('a new session lasts the session TTL and carries a fresh anti-forgery token', () => {
    const a = newSession(signIn, NOW);
    const b = newSession(signIn, NOW, 60);
    expect(a).toMatchObject({ signIn, expiresAt: NOW + SESSION_TTL_SECONDS });
    expect(b.expiresAt).toBe(NOW + 60);
    expect(a.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.csrf).not.toBe(b.csrf);
    expect(randomToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('opens what it sealed, until the second it expires', () => {
    const session = newSession(signIn, NOW);
    const cookie = sealSession(KEY, session);
    expect(cookie).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(openSession(KEY, cookie, NOW)).toEqual({ ok: true, value: session });
    expect(openSession(KEY, cookie, session.expiresAt - 1)).toEqual({ ok: true, value: session });
    expect(openSession(KEY, cookie, session.expiresAt)).toEqual({ ok: false, reason: 'expired cookie' });
  });

  it('signs out whoever edits the cookie: payload, mac, version or parts', () => {
    const cookie = sealSession(KEY, newSession(signIn, NOW));
    const [, payload, mac] = cookie.split('.') as [string, string, string];
    const bob = Buffer.from(
      JSON.stringify({ ...newSession({ ...signIn, email: 'bob@example.com' }, NOW) }),
    ).toString('base64url');
    // The first character: the last one of 32 bytes in base64url carries padding bits too.
    const flipped = `${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`;
    const cases: [string | undefined, string][] = [
      [undefined, 'no cookie'],
      ['', 'no cookie'],
      [`v1.${bob}.${mac}`, 'bad cookie signature'],
      [`v1.${payload}.${flipped}`, 'bad cookie signature'],
      [`v1.${payload}.${mac.slice(0, 20)}`, 'bad cookie signature'],
      [`v1.${payload}.`, 'bad cookie signature'],
      [`v2.${payload}.${mac}`, 'malformed cookie'],
      [`v1.${payload}`, 'malformed cookie'],
      [`v1.${payload}.${mac}.extra`, 'malformed cookie'],
    ];
    for (const [value, reason] of cases) expect(openSession(KEY, value, NOW)).toEqual({ ok: false, reason });
    expect(openSession('x'.repeat(MIN_KEY_BYTES), cookie, NOW)).toEqual({
      ok: false,
      reason: 'bad cookie signature',
    });
  });

  it('a sign-in state can never pass as a session, nor a session as a sign-in state', () => {
    const session = newSession(signIn, NOW);
    // The same value sealed for the other purpose: the mac covers the purpose.
    expect(openSession(KEY, forged(session, 'login'), NOW)).toEqual({
      ok: false,
      reason: 'bad cookie signature',
    });
    expect(openLogin(KEY, forged(login, 'session'), NOW)).toEqual({
      ok: false,
      reason: 'bad cookie signature',
    });
    expect(openSession(KEY, sealLogin(KEY, login), NOW)).toEqual({
      ok: false,
      reason: 'bad cookie signature',
    });
  });

  it('refuses a well-signed payload that is not JSON or not a session', () => {
    const notJson = Buffer.from('{not json', 'utf8').toString('base64url');
    const mac = createHmac('sha256', KEY).update(`countersign-web:session:${notJson}`).digest('base64url');
    expect(openSession(KEY, `v1.${notJson}.${mac}`, NOW)).toEqual({
      ok: false,
      reason: 'malformed cookie payload',
    });
    const session = newSession(signIn, NOW);
    const unexpected = [
      { ...session, admin: true },
      { ...session, csrf: 'short' },
      { ...session, expiresAt: String(session.expiresAt) },
      { ...session, signIn: { ...signIn, via: 'cookie' } },
      // A session only ever comes from a browser sign-in, never from an API bearer token.
      { ...session, signIn: { ...signIn, via: 'bearer' } },
      { ...session, signIn: { ...signIn, emailVerified: 'yes' } },
      { ...session, signIn: { ...signIn, extra: 1 } },
      { signIn, csrf: session.csrf },
    ];
    for (const value of unexpected)
      expect(openSession(KEY, forged(value), NOW)).toEqual({
        ok: false,
        reason: 'unexpected cookie payload',
      });
  });
});

describe('sign-in state cookie', () => {
  it('opens what it sealed until it expires, optional max_age included or not', () => {
    expect(openLogin(KEY, sealLogin(KEY, login), NOW)).toEqual({ ok: true, value: login });
    const { maxAge: _, ...withoutMaxAge } = login;
    expect(openLogin(KEY, sealLogin(KEY, withoutMaxAge), NOW)).toEqual({ ok: true, value: withoutMaxAge });
    expect(openLogin(KEY, sealLogin(KEY, login), login.expiresAt)).toEqual({
      ok: false,
      reason: 'expired cookie',
    });
  });

  it('refuses short state, nonce or verifier, and a negative or fractional max_age', () => {
    const unexpected = [
      { ...login, state: 's'.repeat(15) },
      { ...login, nonce: 'n'.repeat(15) },
      { ...login, codeVerifier: 'v'.repeat(42) },
      { ...login, maxAge: -1 },
      { ...login, maxAge: 1.5 },
      { ...login, returnTo: 1 },
    ];
    for (const value of unexpected)
      expect(openLogin(KEY, forged(value, 'login'), NOW)).toEqual({
        ok: false,
        reason: 'unexpected cookie payload',
      });
    // At the minimum lengths it opens.
    const minimal = { ...login, state: 's'.repeat(16), nonce: 'n'.repeat(16), codeVerifier: 'v'.repeat(43) };
    expect(openLogin(KEY, forged(minimal, 'login'), NOW)).toEqual({ ok: true, value: minimal });
  });
});

describe('anti-forgery token', () => {
  const session = newSession(signIn, NOW);
  it("accepts the session's own token only", () => {
    expect(csrfMatches(session, session.csrf)).toBe(true);
    expect(csrfMatches(session, randomToken())).toBe(false);
    expect(csrfMatches(session, session.csrf.slice(1))).toBe(false);
    expect(csrfMatches(session, `${session.csrf}x`)).toBe(false);
    expect(csrfMatches(session, '')).toBe(false);
    expect(csrfMatches(session, undefined)).toBe(false);
    expect(csrfMatches(session, [session.csrf])).toBe(false);
  });
});

describe('cookie headers', () => {
  it('sets cookies HttpOnly, Secure, SameSite=Lax on Path=/ with no Domain; clearing expires at once', () => {
    expect(setCookie('__Host-a', 'v', 60)).toBe(
      '__Host-a=v; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax',
    );
    expect(clearCookie('__Host-a')).toBe('__Host-a=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax');
  });

  it('reads cookies by name across headers; the first of a name wins; parts without a name are ignored', () => {
    expect(parseCookies(['a=1; b = 2 ;junk; =x', 'a=3; c=v1.x=y.z', ' d=', ''])).toEqual({
      a: '1',
      b: '2',
      c: 'v1.x=y.z',
      d: '',
    });
    // A name like a prototype member is a plain key, not an inherited one.
    expect(parseCookies(['constructor=1; toString=2'])).toEqual({ constructor: '1', toString: '2' });
    expect(parseCookies([])).toEqual({});
  });
});

describe('return path after sign-in', () => {
  it("keeps the inbox's own pages and sends anything else to the inbox", () => {
    for (const ok of [
      '/',
      '/history',
      '/requests/r-1',
      `/requests/${'a'.repeat(128)}`,
      '/requests/a.b_c:d-e',
    ])
      expect(safeReturnPath(ok)).toBe(ok);
    for (const bad of [
      undefined,
      42,
      // Not a string, though it reads as one.
      ['/history'],
      { toString: () => '/history' },
      '',
      'history',
      '//evil.example.com',
      'https://evil.example.com/',
      '/history/',
      '/historyx',
      '/requests/',
      `/requests/${'a'.repeat(129)}`,
      '/requests/a/b',
      '/requests/a?x=1',
      '/requests/%2F%2Fevil',
      '/\\evil.example.com',
      ' /history',
      '/history\n',
    ])
      expect(safeReturnPath(bad)).toBe('/');
  });
});
