/**
 * The web inbox's cookies: a signed session carrying the verified
 * {@link SignIn}, and a signed, short-lived sign-in state (OAuth `state`,
 * `nonce` and PKCE verifier) that lives only between the redirect to the IdP
 * and its callback.
 *
 * A cookie is `v1.<payload>.<mac>`: the payload is base64url JSON, the mac is
 * HMAC-SHA256 under the session key over the cookie's purpose and payload, so
 * a sign-in state can never pass as a session (or the reverse). Nothing in a
 * cookie is trusted before its mac and expiry are checked; a person who edits
 * their cookie is signed out, never someone else.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { SignIn } from '../identity/contract.js';

/** The session cookie's name (`__Host-`: Secure, Path=/, no Domain, so no other site or path can set it). */
export const SESSION_COOKIE = '__Host-countersign-session';
/** The sign-in state cookie's name. */
export const LOGIN_COOKIE = '__Host-countersign-login';
/** Longest session: a decision needs a recent sign-in, and a stolen cookie is worth little for long. */
export const SESSION_TTL_SECONDS = 30 * 60;
/** Longest time between the redirect to the IdP and its callback. */
export const LOGIN_TTL_SECONDS = 10 * 60;
/** Fewest bytes of key material accepted. */
export const MIN_KEY_BYTES = 32;

/** A signed-in person's session. */
export interface Session {
  signIn: SignIn;
  /** The anti-forgery token every POST form must carry (synchronizer token). */
  csrf: string;
  /** Epoch seconds after which the session is refused. */
  expiresAt: number;
}

/** What the inbox remembers between the redirect to the IdP and its callback. */
export interface LoginState {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** The inbox path to return to (always a path of ours, checked by {@link safeReturnPath}). */
  returnTo: string;
  /** The `max_age` the authorization request asked for, when it asked for a fresh sign-in. */
  maxAge?: number;
  expiresAt: number;
}

const signInSchema = z.strictObject({
  issuer: z.string(),
  subject: z.string(),
  email: z.string(),
  emailVerified: z.boolean(),
  name: z.string().optional(),
  groups: z.array(z.string()),
  amr: z.array(z.string()),
  acr: z.string().optional(),
  authTime: z.number().optional(),
  // A session is only ever made from a browser sign-in (an ID token), never from an API bearer token.
  via: z.literal('session'),
});
const sessionSchema = z.strictObject({
  signIn: signInSchema,
  csrf: z.string().min(32),
  expiresAt: z.number(),
});
const loginSchema = z.strictObject({
  state: z.string().min(16),
  nonce: z.string().min(16),
  codeVerifier: z.string().min(43),
  returnTo: z.string(),
  maxAge: z.number().int().nonnegative().optional(),
  expiresAt: z.number(),
});

type Purpose = 'session' | 'login';

/** A cookie value that did not verify, and why (for the log; the person is simply signed out). */
export type Opened<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Checks the key material once, at cold start. */
export function checkSessionKey(key: string): string {
  if (Buffer.byteLength(key) < MIN_KEY_BYTES)
    throw new Error(`the session key must have at least ${MIN_KEY_BYTES} bytes`);
  return key;
}

const mac = (key: string, purpose: Purpose, payload: string) =>
  createHmac('sha256', key).update(`countersign-web:${purpose}:${payload}`).digest();

function seal(key: string, purpose: Purpose, value: unknown): string {
  const payload = Buffer.from(JSON.stringify(value)).toString('base64url');
  return `v1.${payload}.${mac(key, purpose, payload).toString('base64url')}`;
}

function open<T>(
  key: string,
  purpose: Purpose,
  cookie: string | undefined,
  schema: z.ZodType<T>,
  nowSeconds: number,
): Opened<T> {
  if (!cookie) return { ok: false, reason: 'no cookie' };
  const parts = cookie.split('.');
  if (parts.length !== 3 || parts[0] !== 'v1') return { ok: false, reason: 'malformed cookie' };
  const [, payload, tag] = parts as [string, string, string];
  const expected = mac(key, purpose, payload);
  const given = Buffer.from(tag, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'bad cookie signature' };
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed cookie payload' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: 'unexpected cookie payload' };
  const expiresAt = (parsed.data as { expiresAt: number }).expiresAt;
  if (nowSeconds >= expiresAt) return { ok: false, reason: 'expired cookie' };
  return { ok: true, value: parsed.data };
}

/** A random token (base64url of 32 bytes). */
export const randomToken = () => randomBytes(32).toString('base64url');

/** A new session for a verified sign-in; it ends after {@link SESSION_TTL_SECONDS}. */
export function newSession(signIn: SignIn, nowSeconds: number, ttl = SESSION_TTL_SECONDS): Session {
  return { signIn, csrf: randomToken(), expiresAt: nowSeconds + ttl };
}

/** The session as a cookie value. */
export const sealSession = (key: string, session: Session) => seal(key, 'session', session);
/** The session in a cookie value, when its signature and expiry hold. */
export const openSession = (key: string, cookie: string | undefined, nowSeconds: number) =>
  open<Session>(key, 'session', cookie, sessionSchema as z.ZodType<Session>, nowSeconds);
/** The sign-in state as a cookie value. */
export const sealLogin = (key: string, login: LoginState) => seal(key, 'login', login);
/** The sign-in state in a cookie value, when its signature and expiry hold. */
export const openLogin = (key: string, cookie: string | undefined, nowSeconds: number) =>
  open<LoginState>(key, 'login', cookie, loginSchema as z.ZodType<LoginState>, nowSeconds);

/** Whether a submitted anti-forgery token is the session's (constant time). */
export function csrfMatches(session: Session, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A `Set-Cookie` value: HttpOnly (no script reads it), Secure, SameSite=Lax
 * (sent when a person follows a link to a request from Slack, never on a
 * cross-site POST), Path=/ and no Domain, as the `__Host-` prefix requires.
 */
export function setCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Lax`;
}

/** A `Set-Cookie` that removes a cookie. */
export const clearCookie = (name: string) => setCookie(name, '', 0);

/** The cookies of a `Cookie` header (or API Gateway's `cookies` list), by name; the first of a name wins. */
export function parseCookies(headers: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const header of headers) {
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      // No `=` (eq is -1), or nothing before it: no name, not a cookie.
      const name = part.slice(0, Math.max(eq, 0)).trim();
      if (name && !Object.hasOwn(out, name)) out[name] = part.slice(eq + 1).trim();
    }
  }
  return out;
}

/**
 * A return path after sign-in: only one of the inbox's own pages (`/`,
 * `/history`, `/requests/<id>`), so the callback can never be made to redirect
 * elsewhere (no open redirect).
 */
export function safeReturnPath(path: unknown): string {
  if (typeof path !== 'string') return '/';
  return /^\/(history|requests\/[A-Za-z0-9._:-]{1,128})$/.test(path) ? path : '/';
}
