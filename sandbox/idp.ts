/**
 * A real OpenID provider (`oidc-provider`) on 127.0.0.1 holding the sandbox
 * directory's people, so sign-in, step-up and the approval API work offline.
 *
 * - Sign-in is password-less (the page says so): pick a person, then either
 *   complete a one-time code step (`amr: ["pwd","mfa"]`) or skip it
 *   (`amr: ["pwd"]`). Every token carries `auth_time`, `acr`, `email`,
 *   `email_verified`, `name` and a `groups` claim (the person's Slack
 *   user-group handles, the names Cedar policies read).
 * - Clients: the web inbox (confidential, authorization code with PKCE), the
 *   CLI (public, device authorization grant).
 * - The approval API is a resource indicator: its access tokens are JWTs whose
 *   `aud` is the API audience.
 * - `rotateKeys()` publishes a new signing key (first in the key set, so new
 *   tokens use it) and keeps the old one, as an IdP rotating its keys does.
 *
 * {@link signInHeadless} drives the interaction over HTTP and returns real
 * tokens (tests, the banner's "get a token" line).
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { type Adapter, type AdapterPayload, type Configuration, errors } from 'oidc-provider';
import {
  CLI_CLIENT_ID,
  SANDBOX_API_AUDIENCE,
  SANDBOX_IDP_PORT,
  SANDBOX_WEB_CLIENT_SECRET,
  WEB_CALLBACK_PATH,
  WEB_CLIENT_ID,
} from './idp-constants.js';

export * from './idp-constants.js';

/** A person the local IdP can sign in. */
export interface IdpPerson {
  /** The stable subject (`sub`). */
  subject: string;
  /** Absent for a person whose IdP profile has no email (tokens then name nobody Countersign accepts). */
  email?: string;
  /** @default true */
  emailVerified?: boolean;
  name: string;
  groups: string[];
}

/** Options of {@link startLocalIdp}. */
export interface LocalIdpOptions {
  /** Port on 127.0.0.1. @default 0 (any free port) */
  port?: number;
  /** Redirect URIs of the web inbox client. */
  redirectUris: string[];
  /** The people. @default the sandbox directory's humans with their group handles */
  people?: IdpPerson[];
  /** Audience (resource indicator) of the approval API. @default `<issuer>/api` is avoided: `urn:countersign:approval-api` */
  apiAudience?: string;
  /** The web client's secret. @default a random one */
  webClientSecret?: string;
  /** Lifetime of access and ID tokens, seconds. @default 600 */
  tokenTtlSeconds?: number;
}

/** What a client of the local IdP needs to sign someone in. */
export type LocalIdpClients = Pick<LocalIdp, 'issuer' | 'apiAudience' | 'web' | 'cli' | 'people'>;

/** A running local IdP. */
export interface LocalIdp {
  /** The issuer (`iss` of every token), e.g. `http://127.0.0.1:4011`. */
  issuer: string;
  /** Audience of approval API access tokens. */
  apiAudience: string;
  /** The web inbox client (confidential, authorization code + PKCE). */
  web: { clientId: string; clientSecret: string; redirectUris: string[] };
  /** The CLI client (public, device authorization grant). */
  cli: { clientId: string };
  /** The people it holds. */
  people: readonly IdpPerson[];
  /** Publishes a new signing key, first in the key set; the old key stays published. Returns the new key id. */
  rotateKeys(): Promise<string>;
  close(): Promise<void>;
}

/** Authentication context class of a sign-in without and with the one-time code step. */
export const SANDBOX_ACR = {
  pwd: 'urn:countersign:sandbox:pwd',
  mfa: 'urn:countersign:sandbox:mfa',
} as const;

/** Scope of the approval API's access tokens. */
export const API_SCOPE = 'review';

interface DirectoryFile {
  users: { id: string; name: string; realName?: string; email?: string; isBot?: boolean }[];
  groups: { handle: string; users: string[] }[];
}

/** The sandbox directory's humans as IdP people (bots are agents, not people of the IdP). */
export function directoryPeople(
  directory: DirectoryFile = JSON.parse(
    readFileSync(new URL('./directory.json', import.meta.url), 'utf8'),
  ) as DirectoryFile,
): IdpPerson[] {
  return directory.users
    .filter((u) => !u.isBot)
    .map((u) => ({
      subject: `sandbox-${u.name}`,
      ...(u.email ? { email: u.email, emailVerified: true } : {}),
      name: u.realName ?? u.name,
      groups: directory.groups.filter((g) => g.users.includes(u.id)).map((g) => g.handle),
    }));
}

/** One in-memory store for every provider instance (key rotation builds a new one over the same sessions). */
class MemoryStore {
  readonly entries = new Map<string, { payload: AdapterPayload; expiresAt?: number }>();
  adapter(model: string): Adapter {
    const store = this.entries;
    const key = (id: string) => `${model}:${id}`;
    const live = (k: string) => {
      const hit = store.get(k);
      if (!hit) return undefined;
      if (hit.expiresAt !== undefined && hit.expiresAt < Date.now()) {
        store.delete(k);
        return undefined;
      }
      return hit.payload;
    };
    return {
      async upsert(id, payload, expiresIn) {
        store.set(key(id), { payload, ...(expiresIn ? { expiresAt: Date.now() + expiresIn * 1000 } : {}) });
        if (model !== 'Session' && payload.grantId) {
          const grantKey = `grant:${payload.grantId}`;
          const members = (store.get(grantKey)?.payload.members as string[] | undefined) ?? [];
          store.set(grantKey, { payload: { members: [...members, key(id)] } });
        }
        if (payload.userCode) store.set(`userCode:${payload.userCode}`, { payload: { id } });
        if (payload.uid) store.set(`${model}-uid:${payload.uid}`, { payload: { id } });
      },
      async find(id) {
        return live(key(id));
      },
      async findByUserCode(userCode) {
        const ref = store.get(`userCode:${userCode}`)?.payload.id as string | undefined;
        return ref ? live(key(ref)) : undefined;
      },
      async findByUid(uid) {
        const ref = store.get(`${model}-uid:${uid}`)?.payload.id as string | undefined;
        return ref ? live(key(ref)) : undefined;
      },
      async consume(id) {
        const hit = store.get(key(id));
        if (hit) hit.payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        store.delete(key(id));
      },
      async revokeByGrantId(grantId) {
        const grantKey = `grant:${grantId}`;
        for (const member of (store.get(grantKey)?.payload.members as string[] | undefined) ?? [])
          store.delete(member);
        store.delete(grantKey);
      },
    };
  }
}

async function signingKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = createHash('sha256')
    .update(JSON.stringify([jwk.n, jwk.e]))
    .digest('base64url')
    .slice(0, 16);
  return { ...jwk, kid, alg: 'RS256', use: 'sig' };
}

const html = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${html(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}label,button,select,input{display:block;width:100%;margin:.4rem 0;font-size:1rem}button{padding:.5rem}.note{background:#fff4d6;border:1px solid #e0c060;padding:.5rem;border-radius:4px}.error{color:#b00020}</style>
</head><body><h1>${html(title)}</h1>${body}</body></html>`;
}

const SANDBOX_NOTE =
  '<p class="note">Countersign sandbox identity provider: sign-in is <strong>password-less</strong>. Anyone who can reach this page can sign in as anyone listed. Never use it outside the local sandbox.</p>';

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16_384) throw new Error('form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

/**
 * Starts the local OpenID provider on 127.0.0.1.
 *
 * @returns the issuer, the clients (with the web client's secret) and a way to rotate keys and stop
 */
export async function startLocalIdp(options: LocalIdpOptions): Promise<LocalIdp> {
  const people = options.people ?? directoryPeople();
  const bySubject = new Map(people.map((p) => [p.subject, p]));
  const apiAudience = options.apiAudience ?? SANDBOX_API_AUDIENCE;
  const ttl = options.tokenTtlSeconds ?? 600;
  const webSecret = options.webClientSecret ?? randomBytes(24).toString('base64url');
  const cookieKeys = [randomBytes(32).toString('base64url')];
  const store = new MemoryStore();
  const keys: JWK[] = [await signingKey()];
  // The person picked and the one-time code shown, per interaction, until the login step finishes.
  const pending = new Map<string, { subject: string; code: string; attempts: number }>();

  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = origin;

  const configuration = (): Configuration => ({
    adapter: (model: string) => store.adapter(model),
    jwks: { keys: keys.map((k) => ({ ...k })) },
    cookies: { keys: cookieKeys },
    clients: [
      {
        client_id: WEB_CLIENT_ID,
        client_secret: webSecret,
        client_name: 'Countersign web inbox',
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: CLI_CLIENT_ID,
        client_name: 'Countersign CLI',
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
      },
    ],
    claims: {
      // How and when the person signed in travel in every ID token: step-up reads them.
      openid: ['sub', 'auth_time', 'acr', 'amr'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups', API_SCOPE],
    acrValues: [SANDBOX_ACR.pwd, SANDBOX_ACR.mfa],
    // ID tokens of the code flow carry the person (email, groups): the web inbox reads them, not userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    clientBasedCORS: () => false,
    ttl: {
      AccessToken: ttl,
      IdToken: ttl,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Grant: 3600,
      Interaction: 600,
      Session: 3600,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const person = bySubject.get(sub);
      if (!person) return undefined;
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            ...(person.email ? { email: person.email, email_verified: person.emailVerified ?? true } : {}),
            name: person.name,
            groups: person.groups,
          };
        },
      };
    },
    // Access tokens name the person as the ID token does, with how and when they signed in.
    async extraTokenClaims(ctx, token) {
      const person = token.accountId ? bySubject.get(token.accountId) : undefined;
      if (!person) return undefined;
      const { AuthorizationCode, DeviceCode } = ctx.oidc.entities as Record<
        string,
        { amr?: string[]; acr?: string; authTime?: number } | undefined
      >;
      const source = AuthorizationCode ?? DeviceCode;
      return {
        ...(person.email ? { email: person.email, email_verified: person.emailVerified ?? true } : {}),
        name: person.name,
        groups: person.groups,
        ...(source?.amr ? { amr: source.amr } : {}),
        ...(source?.acr ? { acr: source.acr } : {}),
        ...(source?.authTime ? { auth_time: source.authTime } : {}),
      };
    },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: async (ctx, form, _out, err) => {
          ctx.body = page(
            'Sign in a device',
            `${err ? '<p class="error">That code did not work. Try again.</p>' : '<p>Enter the code your terminal shows.</p>'}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`,
          );
        },
        userCodeConfirmSource: async (ctx, form, client, _info, userCode) => {
          ctx.body = page(
            'Confirm the device',
            `<p>${html(client.clientName ?? client.clientId)} asks to sign in with code <code>${html(userCode)}</code>.</p>${form}<button autofocus type="submit" form="op.deviceConfirmForm">Continue</button><button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Cancel</button>`,
          );
        },
        successSource: async (ctx) => {
          ctx.body = page('Signed in', '<p>Your device is signed in. You can close this page.</p>');
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => apiAudience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== apiAudience) throw new errors.InvalidTarget();
          return { scope: API_SCOPE, audience: apiAudience, accessTokenFormat: 'jwt', accessTokenTTL: ttl };
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = page(
            'Sign out',
            `${form}<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button>`,
          );
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = page('Signed out', '<p>You are signed out.</p>');
        },
      },
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page(
        'Sign-in error',
        `<p class="error">${html(String(out.error))}: ${html(String(out.error_description ?? ''))}</p>`,
      );
    },
  });

  let provider = new Provider(issuer, configuration());
  let callback = provider.callback();

  const interactionRoute = /^\/interaction\/([\w-]+)(?:\/(login|otp|skip|consent|abort))?$/;

  const loginPage = (uid: string, error?: string) =>
    page(
      'Sign in to Countersign',
      `${SANDBOX_NOTE}${error ? `<p class="error">${html(error)}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label for="person">Person</label>
<select id="person" name="subject">${people
        .map(
          (p) =>
            `<option value="${html(p.subject)}">${html(p.name)} (${html(p.email ?? 'no email')})</option>`,
        )
        .join('')}</select>
<button type="submit">Continue</button></form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit">Cancel</button></form>`,
    );

  const otpPage = (uid: string, person: IdpPerson, code: string, error?: string) =>
    page(
      'One-time code',
      `${SANDBOX_NOTE}<p>Signing in as ${html(person.name)}.</p>${error ? `<p class="error">${html(error)}</p>` : ''}
<p>Second factor: in the sandbox the code is shown here instead of being sent to a device: <strong id="otp-code" data-code="${code}">${code}</strong></p>
<form method="post" action="/interaction/${uid}/otp">
<label for="code">One-time code</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code">
<button type="submit">Verify (multi-factor sign-in)</button></form>
<form method="post" action="/interaction/${uid}/skip"><button type="submit">Skip: sign in with one factor</button></form>
<p>A request whose policy asks for step-up needs the multi-factor sign-in.</p>`,
    );

  const consentPage = (uid: string, clientName: string, scopes: string[]) =>
    page(
      'Allow access',
      `${SANDBOX_NOTE}<p>${html(clientName)} asks to know who you are (${html(scopes.join(', '))}) and to act on reviews as you.</p>
<form method="post" action="/interaction/${uid}/consent"><button type="submit" autofocus>Allow</button></form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit">Cancel</button></form>`,
    );

  const interaction = async (req: IncomingMessage, res: ServerResponse, uid: string, step?: string) => {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid)
      return send(res, 400, page('Sign-in error', '<p class="error">This sign-in has moved on.</p>'));
    const { prompt, params, session } = details;
    const client = await provider.Client.find(String(params.client_id));
    if (req.method === 'GET') {
      if (prompt.name === 'login') {
        const p = pending.get(uid);
        const person = p && bySubject.get(p.subject);
        return send(res, 200, person ? otpPage(uid, person, p.code) : loginPage(uid));
      }
      return send(
        res,
        200,
        consentPage(
          uid,
          client?.clientName ?? String(params.client_id),
          String(params.scope ?? '').split(' '),
        ),
      );
    }
    if (req.method !== 'POST') return send(res, 405, page('Sign-in error', '<p>Method not allowed.</p>'));
    const form = await readForm(req);
    if (step === 'abort') {
      pending.delete(uid);
      return provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'the person cancelled the sign-in' },
        { mergeWithLastSubmission: false },
      );
    }
    if (prompt.name === 'login') {
      if (step === 'login') {
        const person = bySubject.get(form.get('subject') ?? '');
        if (!person) return send(res, 400, loginPage(uid, 'Pick a person from the list.'));
        const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
        pending.set(uid, { subject: person.subject, code, attempts: 0 });
        return send(res, 200, otpPage(uid, person, code));
      }
      const p = pending.get(uid);
      const person = p && bySubject.get(p.subject);
      if (!p || !person) return send(res, 400, loginPage(uid, 'Pick a person first.'));
      let mfa = false;
      if (step === 'otp') {
        if (form.get('code')?.trim() !== p.code) {
          p.attempts += 1;
          if (p.attempts >= 3) {
            pending.delete(uid);
            return send(res, 400, loginPage(uid, 'Too many wrong codes: start again.'));
          }
          return send(res, 400, otpPage(uid, person, p.code, 'That code is not right.'));
        }
        mfa = true;
      } else if (step !== 'skip') {
        return send(res, 400, otpPage(uid, person, p.code));
      }
      pending.delete(uid);
      return provider.interactionFinished(
        req,
        res,
        {
          login: {
            accountId: person.subject,
            amr: mfa ? ['pwd', 'mfa'] : ['pwd'],
            acr: mfa ? SANDBOX_ACR.mfa : SANDBOX_ACR.pwd,
            remember: false,
          },
        },
        { mergeWithLastSubmission: false },
      );
    }
    if (prompt.name === 'consent' && step === 'consent') {
      const accountId = session?.accountId;
      if (!accountId) return send(res, 400, page('Sign-in error', '<p class="error">Sign in first.</p>'));
      const grant = details.grantId
        ? ((await provider.Grant.find(details.grantId)) ??
          new provider.Grant({ accountId, clientId: String(params.client_id) }))
        : new provider.Grant({ accountId, clientId: String(params.client_id) });
      const missing = prompt.details as {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {}))
        grant.addResourceScope(resource, scopes.join(' '));
      const grantId = await grant.save();
      return provider.interactionFinished(
        req,
        res,
        { consent: { grantId } },
        { mergeWithLastSubmission: true },
      );
    }
    return send(res, 400, page('Sign-in error', '<p class="error">Unexpected step.</p>'));
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', origin);
    const match = interactionRoute.exec(url.pathname);
    if (!match) return callback(req, res);
    interaction(req, res, match[1]!, match[2]).catch((error: Error) => {
      if (!res.headersSent)
        send(res, 400, page('Sign-in error', `<p class="error">${html(error.message)}</p>`));
    });
  });

  return {
    issuer,
    apiAudience,
    web: { clientId: WEB_CLIENT_ID, clientSecret: webSecret, redirectUris: [...options.redirectUris] },
    cli: { clientId: CLI_CLIENT_ID },
    people,
    async rotateKeys() {
      const key = await signingKey();
      keys.unshift(key);
      provider = new Provider(issuer, configuration());
      callback = provider.callback();
      return key.kid!;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The IdP of `npm start`: on COUNTERSIGN_IDP_PORT (default 4011), the web
 * client's secret from COUNTERSIGN_IDP_CLIENT_SECRET (default the documented
 * development secret), redirect URIs `<origin>/callback` of each web origin.
 */
export async function startSandboxIdp(
  webOrigins: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<LocalIdp & { banner: string[] }> {
  const raw = env.COUNTERSIGN_IDP_PORT ?? String(SANDBOX_IDP_PORT);
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`COUNTERSIGN_IDP_PORT must be a port number, got "${raw}"`);
  const idp = await startLocalIdp({
    port,
    redirectUris: webOrigins.map((origin) => `${origin.replace(/\/$/, '')}${WEB_CALLBACK_PATH}`),
    webClientSecret: env.COUNTERSIGN_IDP_CLIENT_SECRET || SANDBOX_WEB_CLIENT_SECRET,
  });
  const banner = [
    `  OpenID provider       ${idp.issuer}   (password-less sandbox sign-in; clients ${idp.web.clientId}, ${idp.cli.clientId})`,
    `  API token             npx tsx sandbox/idp-token.ts alice@example.com --mfa   (audience ${idp.apiAudience})`,
  ];
  return { ...idp, banner };
}

/**
 * The local IdP's people as an IdP directory (lambdas/identity/actor-resolver.ts):
 * the person with this verified email, and their groups.
 */
export function localIdpDirectory(idp: Pick<LocalIdp, 'issuer' | 'people'>): {
  name: string;
  findByEmail(email: string): Promise<{ groups: string[] } | undefined>;
} {
  return {
    name: idp.issuer,
    async findByEmail(email) {
      const person = idp.people.find((p) => p.email?.toLowerCase() === email && p.emailVerified !== false);
      return person ? { groups: [...person.groups] } : undefined;
    },
  };
}
