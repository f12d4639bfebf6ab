/**
 * A fake Microsoft Teams side on 127.0.0.1, for the sandbox and the tests:
 * - the Bot Framework's OpenID metadata and key set (with key rotation), and
 *   a signer that mints the Bot Connector's inbound tokens with that key, so
 *   the bot verifies sandbox activities exactly as it verifies Teams';
 * - the Entra token endpoint (client credentials: only the sandbox bot's
 *   app id and password get a token);
 * - the Bot Connector REST calls the bot makes (create conversation, update
 *   activity, reply to activity), recording every card;
 * - Microsoft Graph's user and transitive-membership reads, from the sandbox
 *   directory (sandbox/directory.json): each Slack user is also an Entra user
 *   with a fixed object id ({@link entraIdOf}), each user group an Entra group
 *   whose mail nickname is the group's handle. Bot users are not Entra users.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import type { SlackDirectory } from './fake-slack.js';

/** The sandbox bot's Entra app id (the audience of inbound tokens). */
export const FAKE_TEAMS_APP_ID = '00000000-0000-4000-8000-00000000c0de';
/** The sandbox bot's app password. */
export const FAKE_TEAMS_APP_PASSWORD = 'countersign-sandbox-teams-app-password';
/** The sandbox's Entra tenant. */
export const FAKE_TEAMS_TENANT = '00000000-0000-4000-8000-0000000000aa';
/** The Teams channel the review cards go to. */
export const FAKE_TEAMS_CHANNEL = '19:countersign-approvals@thread.tacv2';

/** The Entra object id of a sandbox user (a fixed GUID derived from their Slack id). */
export function entraIdOf(slackUserId: string): string {
  const h = createHash('sha256').update(`entra:${slackUserId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A card activity the fake Bot Connector holds. */
export interface TeamsActivity {
  conversationId: string;
  activityId: string;
  /** The newest card (an update replaces it), or the reply's text. */
  card?: Record<string, unknown>;
  text?: string;
  replyToId?: string;
  /** How many times it was updated in place. */
  updates: number;
}

/** A call the fake received, in order. */
export interface TeamsCall {
  method: string;
  path: string;
  status: number;
}

/** Options of a token the signer mints (defaults: valid for the fake bot). */
export interface TokenOptions {
  audience?: string;
  issuer?: string;
  serviceUrl?: string;
  /** Expiry in seconds from now. @default 3600 */
  expiresIn?: number;
  /** Issued-at offset in seconds. @default 0 */
  issuedAt?: number;
  /** Sign with a key the metadata does not publish. */
  foreignKey?: boolean;
}

/** The running fake. */
export interface RunningFakeTeams {
  url: string;
  /** The Bot Connector service URL the bot posts to (and activities claim). */
  serviceUrl: string;
  metadataUrl: string;
  tokenUrl: string;
  graphUrl: string;
  /** Cards and replies, by activity id. */
  activities: Map<string, TeamsActivity>;
  calls: TeamsCall[];
  /** Tokens the token endpoint issued. */
  issuedTokens: number;
  /** `Authorization` header for an inbound activity, signed like the Bot Connector's. */
  authorization(options?: TokenOptions): Promise<string>;
  /** Publishes a new signing key (the old one is dropped): the bot must pick it up by its key id. */
  rotateKey(): Promise<void>;
  /** Teams user (as an activity's `from`) of a sandbox user. */
  userOf(slackUserId: string): { id: string; aadObjectId: string; name: string };
  /** Answer the Bot Connector's card updates with this status (0 = normal). */
  failUpdates: number;
  reset(): void;
  close(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  jwk: JWK;
}

async function newKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256', endorsements: ['msteams'] };
  return { kid, privateKey, jwk };
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

/** Starts the fake on a port of its own. */
export async function startFakeTeams(options: {
  directory: SlackDirectory;
  port?: number;
}): Promise<RunningFakeTeams> {
  let key = await newKey();
  const foreign = await newKey();
  const tokens = new Set<string>();
  let url = '';
  const users = new Map(
    options.directory.users.filter((u) => !u.isBot).map((u) => [entraIdOf(u.id), u] as const),
  );

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  const authorized = (req: IncomingMessage) => {
    const header = req.headers.authorization ?? '';
    return header.startsWith('Bearer ') && tokens.has(header.slice(7));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const method = req.method ?? 'GET';
    if (method === 'GET' && path === '/v1/.well-known/openidconfiguration') {
      send(res, 200, {
        issuer: 'https://api.botframework.com',
        jwks_uri: `${url}/v1/.well-known/keys`,
        id_token_signing_alg_values_supported: ['RS256'],
      });
      return 200;
    }
    if (method === 'GET' && path === '/v1/.well-known/keys') {
      send(res, 200, { keys: [key.jwk] });
      return 200;
    }
    if (method === 'POST' && path === '/oauth2/v2.0/token') {
      const form = new URLSearchParams(await readBody(req));
      if (
        form.get('grant_type') !== 'client_credentials' ||
        form.get('client_id') !== FAKE_TEAMS_APP_ID ||
        form.get('client_secret') !== FAKE_TEAMS_APP_PASSWORD
      ) {
        send(res, 401, { error: 'invalid_client' });
        return 401;
      }
      const token = `fake-teams-token-${randomUUID()}`;
      tokens.add(token);
      fake.issuedTokens += 1;
      send(res, 200, { token_type: 'Bearer', access_token: token, expires_in: 3599 });
      return 200;
    }
    if (!authorized(req)) {
      send(res, 401, { error: { code: 'Unauthorized', message: 'no valid bot token' } });
      return 401;
    }
    const graphUser = /^\/v1\.0\/users\/([^/]+)$/.exec(path);
    if (method === 'GET' && graphUser) {
      const user = users.get(decodeURIComponent(graphUser[1]!).toLowerCase());
      if (!user) {
        send(res, 404, { error: { code: 'Request_ResourceNotFound' } });
        return 404;
      }
      send(res, 200, {
        id: entraIdOf(user.id),
        mail: user.email ?? null,
        userPrincipalName: `${user.name}@sandbox.onmicrosoft.com`,
        displayName: user.realName ?? user.name,
        accountEnabled: !user.deleted,
      });
      return 200;
    }
    const memberOf = /^\/v1\.0\/users\/([^/]+)\/transitiveMemberOf\/microsoft\.graph\.group$/.exec(path);
    if (method === 'GET' && memberOf) {
      const user = users.get(decodeURIComponent(memberOf[1]!).toLowerCase());
      if (!user) {
        send(res, 404, { error: { code: 'Request_ResourceNotFound' } });
        return 404;
      }
      const groups = options.directory.groups.filter((g) => g.users.includes(user.id));
      send(res, 200, {
        value: groups.map((g) => ({ id: g.id, mailNickname: g.handle, displayName: g.name })),
      });
      return 200;
    }
    if (method === 'POST' && path === '/v3/conversations') {
      const body = JSON.parse(await readBody(req)) as {
        activity?: { attachments?: { content?: Record<string, unknown> }[] };
      };
      const conversationId = `${FAKE_TEAMS_CHANNEL};messageid=${Date.now()}${Math.floor(Math.random() * 1000)}`;
      const activityId = String(Date.now() * 1000 + Math.floor(Math.random() * 1000));
      fake.activities.set(activityId, {
        conversationId,
        activityId,
        ...(body.activity?.attachments?.[0]?.content ? { card: body.activity.attachments[0].content } : {}),
        updates: 0,
      });
      send(res, 201, { id: conversationId, activityId });
      return 201;
    }
    const activity = /^\/v3\/conversations\/([^/]+)\/activities\/([^/]+)$/.exec(path);
    if (activity) {
      const activityId = decodeURIComponent(activity[2]!);
      const existing = fake.activities.get(activityId);
      if (!existing || existing.conversationId !== decodeURIComponent(activity[1]!)) {
        send(res, 404, { error: { code: 'ActivityNotFound' } });
        return 404;
      }
      const body = JSON.parse(await readBody(req)) as {
        text?: string;
        attachments?: { content?: Record<string, unknown> }[];
      };
      if (method === 'PUT') {
        if (fake.failUpdates) {
          send(res, fake.failUpdates, { error: { code: 'ServiceError' } });
          return fake.failUpdates;
        }
        if (body.attachments?.[0]?.content) existing.card = body.attachments[0].content;
        existing.updates += 1;
        send(res, 200, { id: activityId });
        return 200;
      }
      if (method === 'POST') {
        const id = String(Date.now() * 1000 + Math.floor(Math.random() * 1000));
        fake.activities.set(id, {
          conversationId: existing.conversationId,
          activityId: id,
          replyToId: activityId,
          ...(body.text ? { text: body.text } : {}),
          ...(body.attachments?.[0]?.content ? { card: body.attachments[0].content } : {}),
          updates: 0,
        });
        send(res, 201, { id });
        return 201;
      }
    }
    send(res, 404, { error: { code: 'NotFound' } });
    return 404;
  }

  const server = createServer((req, res) => {
    handle(req, res)
      .then((status) => fake.calls.push({ method: req.method ?? '', path: req.url ?? '', status }))
      .catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: RunningFakeTeams = {
    url,
    serviceUrl: `${url}/`,
    metadataUrl: `${url}/v1/.well-known/openidconfiguration`,
    tokenUrl: `${url}/oauth2/v2.0/token`,
    graphUrl: url,
    activities: new Map(),
    calls: [],
    issuedTokens: 0,
    failUpdates: 0,
    async authorization(o = {}) {
      const signer = o.foreignKey ? foreign : key;
      const real = Math.floor(Date.now() / 1000);
      const now = real + (o.issuedAt ?? 0);
      const jwt = await new SignJWT({ serviceurl: o.serviceUrl ?? `${url}/` })
        .setProtectedHeader({ alg: 'RS256', kid: signer.kid, typ: 'JWT' })
        .setIssuer(o.issuer ?? 'https://api.botframework.com')
        .setAudience(o.audience ?? FAKE_TEAMS_APP_ID)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(real + (o.expiresIn ?? 3600))
        .sign(signer.privateKey);
      return `Bearer ${jwt}`;
    },
    async rotateKey() {
      key = await newKey();
    },
    userOf(slackUserId) {
      const user = options.directory.users.find((u) => u.id === slackUserId);
      return {
        id: `29:${slackUserId.toLowerCase()}`,
        aadObjectId: entraIdOf(slackUserId),
        name: user?.realName ?? slackUserId,
      };
    },
    reset() {
      fake.activities.clear();
      fake.calls.length = 0;
      fake.failUpdates = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}

/** An `adaptiveCard/action` invoke as Teams sends it when a person clicks an Action.Execute. */
export function invokeActivity(
  fake: Pick<RunningFakeTeams, 'serviceUrl'>,
  from: { id: string; aadObjectId?: string; name?: string },
  verb: string,
  data: Record<string, unknown>,
  options: { tenantId?: string; serviceUrl?: string; id?: string } = {},
): Record<string, unknown> {
  return {
    type: 'invoke',
    name: 'adaptiveCard/action',
    id: options.id ?? `f:${randomUUID()}`,
    timestamp: new Date().toISOString(),
    serviceUrl: options.serviceUrl ?? fake.serviceUrl,
    channelId: 'msteams',
    from,
    conversation: {
      id: `${FAKE_TEAMS_CHANNEL};messageid=1`,
      conversationType: 'channel',
      tenantId: options.tenantId ?? FAKE_TEAMS_TENANT,
    },
    recipient: { id: `28:${FAKE_TEAMS_APP_ID}`, name: 'Countersign' },
    channelData: {
      tenant: { id: options.tenantId ?? FAKE_TEAMS_TENANT },
      channel: { id: FAKE_TEAMS_CHANNEL },
    },
    value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
  };
}
