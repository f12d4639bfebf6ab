/**
 * The web inbox and the approval API, served locally on their own port
 * (their own origin: the inbox's cookies and CSP are per origin) around a
 * running {@link CountersignLoop}: the same handler core the Lambda runs
 * (`handleWeb`), over the loop's DynamoDB, audit store, Step Functions and
 * fake Slack, with sign-in at a real OpenID provider.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signInResolver } from '../lambdas/identity/actor-resolver.js';
import type { TokenVerifier } from '../lambdas/identity/contract.js';
import { createTokenVerifier } from '../lambdas/identity/token-verifier.js';
import { slackNotifier } from '../lambdas/interaction/slack-notifier.js';
import { SILENT_NOTIFIER } from '../lambdas/review-core/contract.js';
import { reviewCoreFromEnv } from '../lambdas/review-core/environment.js';
import { createSlackClient } from '../lambdas/shared/slack.js';
import type { WebDeps } from '../lambdas/web/contract.js';
import { handleWeb } from '../lambdas/web/core.js';
import { MAX_BODY_BYTES, type WebAnswer, type WebRequest } from '../lambdas/web/http.js';
import { randomToken } from '../lambdas/web/session.js';
import { openIdSignIn } from '../lambdas/web/sign-in.js';
import { FAKE_SLACK_TOKEN } from './fake-slack.js';
import { API_SCOPE, type LocalIdp, SANDBOX_ACR } from './idp.js';
import { SANDBOX_WEB_INBOX_URL } from './idp-constants.js';
import type { CountersignLoop } from './loop.js';

/** The IdP the local inbox signs people in with. */
export interface WebIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  verifier: TokenVerifier;
  /** `acr_values` asked for on a step-up sign-in. */
  stepUpAcr?: string;
}

/** The local IdP as the inbox and the API use it: its web client, tokens verified for the API audience. */
export function sandboxWebIdp(idp: LocalIdp): WebIdp {
  return {
    issuer: idp.issuer,
    clientId: idp.web.clientId,
    clientSecret: idp.web.clientSecret,
    verifier: createTokenVerifier({
      issuer: idp.issuer,
      clientId: idp.web.clientId,
      apiAudience: idp.apiAudience,
      clockToleranceSeconds: 60,
    }),
    stepUpAcr: SANDBOX_ACR.mfa,
  };
}

/** Options of {@link startWebServer}. */
export interface WebServerOptions {
  /** Port on 127.0.0.1; 0 picks a free one. @default 4012 */
  port?: number;
  /** Host name in the inbox's URL (cookies and the IdP's redirect URI use it). @default 'localhost' */
  hostname?: string;
}

/** A running local inbox. */
export interface WebServer {
  /** Base URL, no trailing slash (e.g. `http://localhost:4012`). */
  url: string;
  /** The sign-in callback to register with the IdP. */
  redirectUri: string;
  server: Server;
  close(): Promise<void>;
}

/** The web channel's dependencies over a running loop (its environment is set by then). */
export function webDepsForLoop(loop: CountersignLoop, idp: WebIdp, origin: string): WebDeps {
  const logger = { info: () => {}, warn: () => {}, error: (m: string) => console.error(`web inbox: ${m}`) };
  const notifier = loop.slack
    ? slackNotifier({ slack: createSlackClient(FAKE_SLACK_TOKEN, loop.slack.url), logger })
    : SILENT_NOTIFIER;
  return {
    core: { ...reviewCoreFromEnv(), logger, resolveActor: signInResolver({ issuer: idp.issuer }), notifier },
    verifier: idp.verifier,
    signIn: openIdSignIn({
      issuer: idp.issuer,
      clientId: idp.clientId,
      clientSecret: async () => idp.clientSecret,
      redirectUri: `${origin}/callback`,
      verifier: idp.verifier,
      allowHttpIssuer: true,
      // The local IdP releases the groups claim under its own scope, as Okta does.
      scope: 'openid email profile groups',
      ...(idp.stepUpAcr ? { stepUpAcr: idp.stepUpAcr } : {}),
    }),
    // The local inbox's session key lives as long as the process: a restart signs everyone out.
    sessionKey: randomToken(),
    origin,
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES * 2) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The web request of a Node request, as API Gateway would hand it over. */
async function toWebRequest(req: IncomingMessage): Promise<WebRequest> {
  const url = new URL(req.url ?? '/', 'http://inbox');
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers))
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    path: url.pathname,
    query: url.searchParams,
    headers,
    cookies: headers.cookie ? [headers.cookie] : [],
    body: await readBody(req),
  };
}

/**
 * Starts the inbox's server. `deps` is built at the first request, from the
 * URL (the origin the inbox checks its forms against, and its sign-in
 * callback), so the IdP can be started with that callback in between.
 */
export async function startWebServer(
  deps: (origin: string) => WebDeps,
  options: WebServerOptions = {},
): Promise<WebServer> {
  let web: WebDeps | undefined;
  let url = '';
  const server = createServer((req, res) => {
    toWebRequest(req)
      .then((request) => {
        web ??= deps(url);
        return handleWeb(web, request);
      })
      .catch(
        (error: Error): WebAnswer => ({
          statusCode: 400,
          headers: { 'content-type': 'text/plain; charset=utf-8' },
          body: error.message,
          outcome: 'bad-request',
        }),
      )
      .then((answer) => {
        res.writeHead(answer.statusCode, {
          ...answer.headers,
          ...(answer.cookies?.length ? { 'set-cookie': answer.cookies } : {}),
        });
        res.end(answer.body);
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4012, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  url = `http://${options.hostname ?? 'localhost'}:${port}`;
  return {
    url,
    redirectUri: `${url}/callback`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The inbox of `npm start`: on the origin the loop's cards link to
 * (SANDBOX_WEB_INBOX_URL, `http://localhost:4012`), signing people in at the
 * sandbox's OpenID provider. Returns the server and its banner lines.
 */
export async function startSandboxInbox(
  loop: CountersignLoop,
  idp: LocalIdp,
): Promise<WebServer & { banner: string[] }> {
  const inbox = new URL(SANDBOX_WEB_INBOX_URL);
  const webIdp = sandboxWebIdp(idp);
  const server = await startWebServer((origin) => webDepsForLoop(loop, webIdp, origin), {
    port: Number(inbox.port),
    hostname: inbox.hostname,
  });
  const banner = [
    `  Web inbox             ${server.url}/   (sign in as any person of the directory; the one-time code is shown on the page)`,
    `  Approval API          ${server.url}/v1/requests?status=PENDING   (Authorization: Bearer <token>; openapi/approval-api.json)`,
    `  CLI                   COUNTERSIGN_API_URL=${server.url} COUNTERSIGN_OIDC_ISSUER=${idp.issuer} COUNTERSIGN_CLI_CLIENT_ID=${idp.cli.clientId} COUNTERSIGN_API_AUDIENCE=${idp.apiAudience} COUNTERSIGN_CLI_SCOPE="openid email profile groups ${API_SCOPE}" npm run countersign -- approve <id>`,
  ];
  return { ...server, banner };
}
