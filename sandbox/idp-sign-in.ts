/**
 * Signs a person in to the local IdP without a browser: drives the sign-in
 * pages over HTTP (pick the person, the one-time code or not, consent) and
 * runs the authorization-code + PKCE exchange with `openid-client`, as the
 * web inbox does. Returns real tokens: the ID token (audience the web client)
 * and the approval API's access token (audience the API).
 */
import * as oidc from 'openid-client';
import type { LocalIdpClients } from './idp.js';

/** Options of {@link signInHeadless}. */
export interface HeadlessSignIn {
  /** The person: an email or a subject of the IdP. */
  person: string;
  /** Complete the one-time code step (`amr` gains `mfa`). @default false */
  mfa?: boolean;
  /** The nonce to bind the ID token to. @default a random one */
  nonce?: string;
  /** Further authorization parameters (`prompt`, `max_age`, `acr_values`). */
  params?: Record<string, string>;
}

/** Tokens from a headless sign-in. */
export interface HeadlessTokens {
  idToken: string;
  accessToken: string;
  /** The nonce the ID token is bound to. */
  nonce: string;
  /** The ID token's claims (read after openid-client validated it). */
  claims: Record<string, unknown>;
}

/** A cookie jar for one user agent: every cookie goes back on every request to the IdP. */
class Jar {
  private readonly cookies = new Map<string, string>();
  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

async function step(jar: Jar, url: string, form?: Record<string, string>): Promise<Response> {
  const response = await fetch(url, {
    method: form ? 'POST' : 'GET',
    redirect: 'manual',
    headers: {
      cookie: jar.header(),
      ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    ...(form ? { body: new URLSearchParams(form).toString() } : {}),
  });
  jar.store(response);
  return response;
}

/**
 * Follows the IdP's pages from `url` as one browser: redirects, the sign-in
 * form (the person), the one-time code step or its skip, consent. Stops at
 * the first redirect `done` accepts and returns it, or at a page that is no
 * sign-in step (returning undefined).
 */
async function driveSignIn(
  jar: Jar,
  url: string,
  issuer: string,
  subject: string,
  mfa: boolean,
  done: (next: URL) => boolean,
): Promise<URL | undefined> {
  for (let hops = 0; hops < 20; hops++) {
    const response = await step(jar, url);
    const location = response.headers.get('location');
    if (location) {
      const next = new URL(location, url);
      if (done(next)) return next;
      url = next.href;
      continue;
    }
    const html = await response.text();
    if (response.status !== 200)
      throw new Error(`the IdP answered ${response.status} at ${url}: ${html.slice(0, 300)}`);
    const uid = /\/interaction\/([\w-]+)\//.exec(html)?.[1];
    if (!uid) return undefined;
    const base = new URL(`/interaction/${uid}`, issuer).href;
    let answer: Response;
    if (html.includes(`/interaction/${uid}/login`)) {
      const otp = await step(jar, `${base}/login`, { subject });
      const code = /data-code="(\d{6})"/.exec(await otp.text())?.[1];
      if (!code) throw new Error('the IdP showed no one-time code step');
      answer = mfa ? await step(jar, `${base}/otp`, { code }) : await step(jar, `${base}/skip`, {});
    } else if (html.includes(`/interaction/${uid}/consent`)) {
      answer = await step(jar, `${base}/consent`, {});
    } else {
      throw new Error(`unexpected interaction page at ${url}: ${html.slice(0, 300)}`);
    }
    const next = answer.headers.get('location');
    if (!next) throw new Error(`the IdP did not move on from ${url}: ${(await answer.text()).slice(0, 300)}`);
    url = new URL(next, base).href;
  }
  throw new Error('the sign-in took more than 20 steps');
}

/**
 * Signs `person` in as the web inbox would and returns the tokens.
 *
 * @throws Error naming the page that did not go as expected
 */
export async function signInHeadless(idp: LocalIdpClients, options: HeadlessSignIn): Promise<HeadlessTokens> {
  const person = idp.people.find((p) => p.subject === options.person || p.email === options.person);
  if (!person) throw new Error(`the local IdP holds no person ${options.person}`);
  const redirectUri = idp.web.redirectUris[0];
  if (!redirectUri) throw new Error('the local IdP was started without a redirect URI');
  const config = await oidc.discovery(
    new URL(idp.issuer),
    idp.web.clientId,
    idp.web.clientSecret,
    undefined,
    {
      execute: [oidc.allowInsecureRequests],
    },
  );
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = options.nonce ?? oidc.randomNonce();
  const start = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email profile groups review',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    resource: idp.apiAudience,
    ...options.params,
  });

  const callback = await driveSignIn(
    new Jar(),
    start.href,
    idp.issuer,
    person.subject,
    options.mfa ?? false,
    (next) => next.href.startsWith(redirectUri),
  );
  if (!callback) throw new Error('the sign-in did not come back to the redirect URI');
  if (callback.searchParams.get('error')) {
    throw new Error(
      `the IdP refused the sign-in: ${callback.searchParams.get('error_description') ?? callback.searchParams.get('error')}`,
    );
  }
  const tokens = await oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  if (!tokens.id_token) throw new Error('the IdP returned no ID token');
  return {
    idToken: tokens.id_token,
    accessToken: tokens.access_token,
    nonce,
    claims: { ...tokens.claims() },
  };
}

/**
 * Signs `person` in as the CLI does, with the device authorization grant
 * (public client, no secret): starts it with `openid-client`, approves the
 * user code on the IdP's device pages as the person would in a browser, then
 * polls for the tokens. Returns the access token (audience the approval API)
 * and the ID token.
 */
export async function signInWithDevice(
  idp: LocalIdpClients,
  options: Omit<HeadlessSignIn, 'nonce' | 'params'>,
): Promise<{ accessToken: string; idToken?: string; userCode: string }> {
  const person = idp.people.find((p) => p.subject === options.person || p.email === options.person);
  if (!person) throw new Error(`the local IdP holds no person ${options.person}`);
  const config = await oidc.discovery(new URL(idp.issuer), idp.cli.clientId, undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
  const device = await oidc.initiateDeviceAuthorization(config, {
    scope: 'openid email profile groups review',
    resource: idp.apiAudience,
  });
  const jar = new Jar();
  // The device pages: a self-submitting form carrying the code, then the confirmation form.
  let response = await step(jar, device.verification_uri_complete ?? device.verification_uri);
  let next: string | null = null;
  for (let pages = 0; pages < 3 && !next; pages++) {
    const html = await response.text();
    const action = /<form[^>]*method="post"[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`the IdP showed no device form: ${html.slice(0, 300)}`);
    const fields = Object.fromEntries(
      [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/>/g)].map((m) => [
        m[1]!,
        m[2]!,
      ]),
    );
    response = await step(jar, new URL(action, idp.issuer).href, fields);
    next = response.headers.get('location');
  }
  if (!next) throw new Error('the IdP did not start the device sign-in');
  await driveSignIn(
    jar,
    new URL(next, idp.issuer).href,
    idp.issuer,
    person.subject,
    options.mfa ?? false,
    () => false,
  );
  const tokens = await oidc.pollDeviceAuthorizationGrant(
    config,
    { ...device, interval: 0 },
    { resource: idp.apiAudience },
  );
  return {
    accessToken: tokens.access_token,
    ...(tokens.id_token ? { idToken: tokens.id_token } : {}),
    userCode: device.user_code,
  };
}
