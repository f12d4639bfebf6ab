/**
 * The sandbox's one HTTP port: everything an agent, Slack and a reviewer would
 * talk to, served around a running {@link CountersignLoop}.
 *
 * - `POST /` speaks EventBridge PutEvents (AWS JSON 1.1), so an unmodified
 *   `@aws-sdk/client-eventbridge` client with `endpoint` set publishes intents.
 * - `POST /slack/interactions` runs the interaction handler exactly as the
 *   Lambda Function URL does (raw body, Slack signature checked by the handler).
 * - `/slack/api/<method>` is the fake Slack Web API the handlers call.
 * - `GET /slack/messages`, `/requests`, `/requests/<intentId>`, `/events`:
 *   read-only views of what happened, as JSON.
 * - `GET /insights` is the audit report over the sandbox's own trail (sandbox/insights.ts).
 * - `GET /` is the approval console (static files in `sandbox/console/`);
 *   `GET /api/directory` feeds its user picker, `POST /api/click` signs a click
 *   server-side and posts it to this server's own `/slack/interactions` over
 *   HTTP, the path real Slack uses; `GET /api/traces/<intentId>` is a
 *   request's timeline (docs/observability.md).
 *   HTTP, the path real Slack uses.
 * - `/teams/…` and `/console/teams.html`: the Teams bot's messaging endpoint
 *   and the console's Teams view (./teams-routes.ts).
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { readChain } from '../lambdas/shared/audit.js';
import { parseButtonValue, renderCard } from '../lambdas/shared/card.js';
import { consumeGrant } from '../lambdas/shared/grants.js';
import { getRequest, listRequests, type RequestItem, toDetail } from '../lambdas/shared/store.js';
import { requestTrace } from '../lambdas/shared/tracing-context.js';
import { finalState } from '../lambdas/status/core.js';
import { loadDirectory, type SlackDirectory } from './fake-slack.js';
import { signingKeyOf } from './fake-sts.js';
import { insightsPage } from './insights.js';
import type { CountersignLoop, PutEventsEntry } from './loop.js';
import { signedClick, signedViewSubmission } from './slack-click.js';
import { teamsRoute } from './teams-routes.js';
import { requestTimeline } from './trace-timeline.js';

/** Options of {@link createSandboxServer}. */
export interface SandboxServerOptions {
  /** Port on 127.0.0.1; 0 picks a free one. @default 4010 */
  port?: number;
  /** Interface to bind. @default '127.0.0.1' */
  host?: string;
  /** The directory behind the console's user picker. @default sandbox/directory.json */
  directory?: SlackDirectory;
  /** Identifies this run to tools that found it through `sandbox.json` (`GET /api/sandbox`). */
  runId?: string;
}

/** A running sandbox server. */
export interface SandboxServer {
  /** Base URL, without a trailing slash, e.g. `http://127.0.0.1:4010`. */
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/** EventBridge's limit on entries per PutEvents call. */
const MAX_ENTRIES = 10;
/** Largest request body accepted (EventBridge's own limit is 256 KiB per call). */
const MAX_BODY_BYTES = 1024 * 1024;
const CONSOLE_DIR = resolve(import.meta.dirname, 'console');
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** An AWS JSON protocol error: HTTP status, `__type` code and message. */
class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** The request as the status API shows it: everything but the task token, which never leaves "AWS". */
function publicRequest(request: RequestItem): Omit<RequestItem, 'taskToken'> & { taskToken?: string } {
  const { taskToken, ...rest } = request;
  return taskToken ? { ...rest, taskToken: '(stored server-side, never shown)' } : rest;
}

/** Slack Web API methods whose calls change what the console shows. */
const VISIBLE_SLACK_METHOD = /^(chat|views)\./;

/**
 * `GET /api/updates`: Server-Sent Events telling the console when something
 * it shows changed, so it reloads then instead of polling. One `change` event
 * (`{ requestIds, sources }`) per burst: an audit record appended (every state
 * change has one, from the table's stream), a Slack message or modal, or an
 * event on the bus. Bursts are coalesced for {@link COALESCE_MS}.
 */
class LiveUpdates {
  private readonly clients = new Set<ServerResponse>();
  private readonly pending = { requestIds: new Set<string>(), sources: new Set<string>() };
  private timer?: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;

  constructor(loop: CountersignLoop) {
    loop.aws.stream.subscribe(
      async (event) => {
        for (const record of event.Records) {
          const pk = record.dynamodb?.NewImage?.pk?.S;
          this.changed('audit', pk?.startsWith('REQUEST#') ? pk.slice('REQUEST#'.length) : undefined);
        }
        return { batchItemFailures: [] };
      },
      { filters: [{ dynamodb: { NewImage: { sk: { S: [{ prefix: 'AUDIT#' }] } } } }] },
    );
    this.unsubscribe.push(
      loop.onEvent((event) => {
        const intentId = (event.detail as { intentId?: unknown }).intentId;
        this.changed('bus', typeof intentId === 'string' ? intentId : undefined);
      }),
    );
    if (loop.slack) {
      this.unsubscribe.push(
        loop.slack.onCall((call) => {
          if (VISIBLE_SLACK_METHOD.test(call.method) && call.status === 200) this.changed('slack');
        }),
      );
    }
    // A comment line now and then keeps idle connections from being cut by proxies.
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), 15_000);
    this.heartbeat.unref();
  }

  open(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write('retry: 1000\nevent: ready\ndata: {}\n\n');
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
  }

  private changed(source: string, requestId?: string): void {
    if (this.closed) return;
    this.pending.sources.add(source);
    if (requestId) this.pending.requestIds.add(requestId);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      const data = {
        requestIds: [...this.pending.requestIds],
        sources: [...this.pending.sources],
      };
      this.pending.requestIds.clear();
      this.pending.sources.clear();
      this.write(`event: change\ndata: ${JSON.stringify(data)}\n\n`);
    }, COALESCE_MS);
  }

  private write(text: string): void {
    for (const client of this.clients) client.write(text);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
    for (const stop of this.unsubscribe) stop();
    for (const client of this.clients) client.end();
    this.clients.clear();
  }
}

/** How long live updates gather changes before one event goes out. */
const COALESCE_MS = 50;

/** Starts the sandbox server around a running loop. */
export async function createSandboxServer(
  loop: CountersignLoop,
  options: SandboxServerOptions = {},
): Promise<SandboxServer> {
  const directory = options.directory ?? loadDirectory();
  const deps = { ddb: loop.aws.ddb, table: loop.aws.table };
  let selfUrl = '';
  const updates = new LiveUpdates(loop);

  /**
   * What the card looks like now: the latest content of the posted message in
   * the fake Slack (that is what Slack would show), or the card rendered from
   * the request when none was posted (policy decided, real Slack, or a restart).
   */
  function cardOf(request: RequestItem): { blocks: unknown[]; text: string; posted: boolean } {
    if (request.card && loop.slack) {
      const message = loop.slack.message(request.card.channel, request.card.ts);
      if (message?.blocks) return { blocks: message.blocks, text: message.text ?? '', posted: true };
    }
    if (!request.intent) {
      const reason = request.rejected?.reason ?? request.decision?.reason ?? 'invalid intent';
      return {
        posted: false,
        text: `Rejected intent ${request.intentId}`,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: 'Rejected intent' } },
          { type: 'section', text: { type: 'mrkdwn', text: `:no_entry: *Denied*: ${reason}` } },
          { type: 'context', elements: [{ type: 'mrkdwn', text: `Request \`${request.intentId}\`` }] },
        ],
      };
    }
    const rendered = renderCard(request);
    return { blocks: rendered.blocks, text: rendered.text, posted: false };
  }

  /**
   * A PENDING request no execution of this loop owns: it was created before a
   * restart. Local executions live in memory, so its review can never finish.
   */
  function isOrphaned(request: RequestItem): boolean {
    return request.status === 'PENDING' && loop.executionsFor(request.intentId).length === 0;
  }

  function putEvents(target: string | undefined, body: string) {
    if (target !== 'AWSEvents.PutEvents') {
      throw new AwsError(400, 'UnknownOperationException', target ? `Unknown operation ${target}` : '');
    }
    let input: { Entries?: unknown };
    try {
      input = JSON.parse(body || '{}') as { Entries?: unknown };
      if (input === null || typeof input !== 'object' || Array.isArray(input))
        throw new Error('not an object');
    } catch {
      throw new AwsError(
        400,
        'SerializationException',
        'Start of structure or map found where not expected.',
      );
    }
    const entries = input.Entries;
    if (!Array.isArray(entries)) {
      throw new AwsError(
        400,
        'ValidationException',
        "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null",
      );
    }
    if (entries.length < 1 || entries.length > MAX_ENTRIES) {
      throw new AwsError(
        400,
        'ValidationException',
        `1 validation error detected: Value '${entries.length}' at 'entries' failed to satisfy constraint: Member must have length ${entries.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_ENTRIES}`}`,
      );
    }
    const results = loop.putEvents(entries as PutEventsEntry[]);
    return {
      FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length,
      Entries: results,
    };
  }

  async function click(body: string) {
    if (!loop.slack) {
      throw new HttpError(
        409,
        'the sandbox posts to a real Slack workspace: approve in Slack (the console only signs clicks for the fake Slack)',
      );
    }
    const input = JSON.parse(body || '{}') as Record<string, unknown>;
    const { userId, actionId, requestId } = input;
    if (typeof userId !== 'string' || typeof actionId !== 'string' || typeof requestId !== 'string') {
      throw new HttpError(400, 'userId, actionId and requestId are required strings');
    }
    // The button's value is sent as is (Approve binds the intent hash it shows: `<requestId>@<hash>`).
    const request = await getRequest(deps, parseButtonValue(requestId).requestId);
    const signed = signedClick(loop.signingSecret, {
      userId,
      actionId,
      requestId,
      channel: request?.card?.channel,
      messageTs: request?.card?.ts,
    });
    const payload = JSON.parse(new URLSearchParams(signed.body).get('payload') ?? '{}') as {
      trigger_id?: string;
    };
    const result = await postInteraction(userId, signed);
    // A click may open a modal (views.open with the click's trigger id): hand it to the console.
    const views = [...loop.slack.views.values()].filter((v) => v.triggerId === payload.trigger_id);
    return { ...result, views };
  }

  /** POSTs a signed interaction to our own interactivity URL, as Slack does; collects the ephemerals it caused. */
  async function postInteraction(userId: string, signed: { headers: Record<string, string>; body: string }) {
    const slack = loop.slack!;
    const before = slack.messages.length;
    const answer = await fetch(`${selfUrl}/slack/interactions`, {
      method: 'POST',
      headers: signed.headers,
      body: signed.body,
    });
    const text = await answer.text();
    const ephemerals = slack.messages
      .slice(before)
      .filter((m) => m.method === 'chat.postEphemeral' && m.user === userId);
    return { status: answer.status, body: text, ephemerals };
  }

  /**
   * Submits a modal the fake Slack holds as `userId`, with `inputs` by block id:
   * builds Slack's `view_submission` payload from the view, signs it and posts
   * it to /slack/interactions. Returns the handler's answer (for example
   * `response_action: errors`) and the view as it is afterwards.
   */
  async function submit(body: string) {
    if (!loop.slack) throw new HttpError(409, 'the sandbox posts to a real Slack workspace: submit in Slack');
    const input = JSON.parse(body || '{}') as Record<string, unknown>;
    const { userId, viewId } = input;
    const inputs = (input.inputs ?? {}) as Record<string, unknown>;
    if (typeof userId !== 'string' || typeof viewId !== 'string' || typeof inputs !== 'object') {
      throw new HttpError(
        400,
        'userId and viewId are required strings; inputs an object of block id -> value',
      );
    }
    const opened = loop.slack.views.get(viewId);
    if (!opened) throw new HttpError(404, `no open view ${viewId}`);
    const signed = signedViewSubmission(loop.signingSecret, { userId, view: opened, inputs });
    const result = await postInteraction(userId, signed);
    let answer: unknown = result.body;
    try {
      answer = result.body ? JSON.parse(result.body) : undefined;
    } catch {
      // plain-text answer
    }
    return { ...result, answer, view: loop.slack.views.get(viewId) };
  }

  async function serveConsole(res: ServerResponse, path: string) {
    const relative = path === '/' ? 'index.html' : decodeURIComponent(path.slice('/console/'.length));
    const file = resolve(CONSOLE_DIR, relative);
    if (!file.startsWith(CONSOLE_DIR + sep)) throw new HttpError(404, 'not found');
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch {
      throw new HttpError(404, 'not found');
    }
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
    });
    res.end(content);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (await teamsRoute(loop, () => selfUrl, req, res, path)) return;

    if (path === '/' && method === 'POST') {
      const target = req.headers['x-amz-target'];
      const requestId = randomUUID();
      try {
        const out = putEvents(Array.isArray(target) ? target[0] : target, await readBody(req));
        sendJson(res, 200, out, {
          'content-type': 'application/x-amz-json-1.1',
          'x-amzn-requestid': requestId,
        });
      } catch (error) {
        if (!(error instanceof AwsError)) throw error;
        sendJson(
          res,
          error.status,
          { __type: error.code, message: error.message },
          {
            'content-type': 'application/x-amz-json-1.1',
            'x-amzn-requestid': requestId,
            'x-amzn-errortype': error.code,
          },
        );
      }
      return;
    }
    if (path === '/slack/interactions') {
      if (method !== 'POST') throw new HttpError(405, 'POST only');
      const answer = await loop.interact({ headers: flatHeaders(req), body: await readBody(req) });
      res.writeHead(answer.statusCode ?? 200, {
        'content-type': 'text/plain; charset=utf-8',
        ...(answer.headers as Record<string, string> | undefined),
      });
      res.end(answer.body ?? '');
      return;
    }
    if (path.startsWith('/slack/api/')) {
      if (!loop.slack) throw new HttpError(404, 'the sandbox uses a real Slack workspace; no fake Slack API');
      await loop.slack.handleRequest(req, res);
      return;
    }
    if (method === 'POST' && path === '/api/submit') {
      sendJson(res, 200, await submit(await readBody(req)));
      return;
    }
    if (method === 'POST' && path === '/api/digests') {
      // On demand: the digest of every hour that has ended (the open hour's records stay pending).
      const results = await loop.digests.writeEnded();
      sendJson(res, 200, {
        keyId: loop.digests.key.signer.keyId,
        digests: results.map((r) => ({
          key: r.key,
          status: r.status,
          recordCount: r.digest.recordCount,
          ...(r.gapBefore ? { gapBefore: r.gapBefore } : {}),
          anomalies: r.anomalies,
        })),
      });
      return;
    }
    if (method === 'POST' && path === '/api/click') {
      sendJson(res, 200, await click(await readBody(req)));
      return;
    }
    const credentials = /^\/grants\/([^/]+)\/credentials$/.exec(path);
    if (credentials && method === 'POST') {
      // The status API's exchange; the caller is the agent whose sandbox key signed the call.
      const answer = await loop.enforcement.exchange(decodeURIComponent(credentials[1]!), signingKeyOf(req));
      sendJson(res, answer.statusCode, answer.body);
      return;
    }
    const grant = /^\/grants\/([^/]+)\/consume$/.exec(path);
    if (grant && req.method === 'POST') {
      // The status API's grant endpoint, without SigV4: the sandbox has one trust domain.
      const result = await consumeGrant(
        {
          ...deps,
          now: () => new Date(),
        },
        decodeURIComponent(grant[1]!),
        { actor: { type: 'system', component: 'sandbox' } },
      );
      if (result.ok) {
        const g = result.grant;
        sendJson(res, 200, {
          consumed: true,
          grant: {
            grantId: g.grantId,
            intentId: g.intentId,
            intentHash: g.intentHash,
            expiresAt: g.expiresAt,
            consumedAt: g.consumedAt,
          },
        });
      } else {
        const status = { 'not-found': 404, 'not-yours': 404, 'already-consumed': 409, expired: 410 }[
          result.reason
        ];
        const error = result.reason === 'not-yours' ? 'not_found' : result.reason.replace('-', '_');
        sendJson(res, status, { error, message: result.message });
      }
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method not allowed');

    if (path === '/api/updates') {
      updates.open(req, res);
      return;
    }
    if (path === '/slack/views') {
      sendJson(res, 200, loop.slack ? [...loop.slack.views.values()] : []);
      return;
    }
    if (path === '/slack/messages') {
      sendJson(res, 200, loop.slack?.messages ?? []);
      return;
    }
    if (path === '/events') {
      const intentId = url.searchParams.get('intentId');
      sendJson(
        res,
        200,
        intentId ? loop.decisions.filter((e) => e.detail.intentId === intentId) : loop.decisions,
      );
      return;
    }
    if (path === '/requests') {
      const requests = await listRequests(deps);
      sendJson(
        res,
        200,
        requests.map((request) => ({
          intentId: request.intentId,
          status: request.status,
          agentId: request.agentId,
          createdAt: request.createdAt,
          expiresAt: request.expiresAt,
          action: request.intent?.action,
          environment: request.intent?.environment,
          quorum: request.review?.quorum,
          approvals: request.approvals,
          decision: request.decision,
          card: request.card,
          orphaned: isOrphaned(request),
          ...cardOf(request),
        })),
      );
      return;
    }
    const match = /^\/requests\/([^/]+)$/.exec(path);
    if (match) {
      const intentId = decodeURIComponent(match[1]!);
      const request = await getRequest(deps, intentId);
      if (!request) {
        sendJson(res, 404, { error: 'not_found', message: `no request for intent ${intentId}` });
        return;
      }
      // The status API's finality rule: PENDING until Record finalized it (and issued its grant).
      const final = await finalState(deps, request);
      sendJson(res, 200, {
        status: final.status,
        votes: request.approvals,
        decision: final.decision ? toDetail(request, final.decision) : null,
        traceId: requestTrace(request.intentId, request.intent?.context).traceId,
        request: publicRequest(request),
        audit: await readChain(deps, intentId),
      });
      return;
    }
    const traceMatch = /^\/api\/traces\/([^/]+)$/.exec(path);
    if (traceMatch) {
      const timeline = await requestTimeline(deps, loop.traces, decodeURIComponent(traceMatch[1]!));
      if (!timeline) throw new HttpError(404, 'no such request');
      sendJson(res, 200, timeline);
      return;
    }
    if (path === '/api/directory') {
      sendJson(res, 200, {
        team: directory.team,
        users: directory.users.map((u) => ({
          ...u,
          groups: directory.groups.filter((g) => g.users.includes(u.id)).map((g) => g.handle),
        })),
        groups: directory.groups,
        demo: (directory as { demo?: unknown }).demo,
        approverGroup: loop.config.approverGroupHandle,
        fakeSlack: loop.slack !== undefined,
      });
      return;
    }
    if (path === '/api/sandbox') {
      sendJson(res, 200, {
        runId: options.runId ?? null,
        bucket: loop.aws.bucket,
        table: loop.aws.table,
        endpoints: { ...loop.aws.endpoints, iam: loop.enforcement.sts.url, sts: loop.enforcement.sts.url },
        keyId: loop.digests.key.signer.keyId,
        publicKey: loop.digests.key.publicKeyPem,
      });
      return;
    }
    if (path === '/api/ephemerals') {
      const user = url.searchParams.get('user') ?? undefined;
      sendJson(res, 200, loop.slack?.sent('chat.postEphemeral', user) ?? []);
      return;
    }
    if (path === '/insights' && method === 'GET') {
      const html = await insightsPage(loop);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(html);
      return;
    }
    if (path === '/' || path.startsWith('/console/')) {
      await serveConsole(res, path);
      return;
    }
    throw new HttpError(404, `no route for ${method} ${path}`);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : error instanceof SyntaxError ? 400 : 500;
      if (status === 500) console.error('sandbox server error:', error);
      if (res.headersSent) {
        res.end();
        return;
      }
      sendJson(res, status, {
        error: status === 500 ? 'internal_error' : 'bad_request',
        message: (error as Error).message,
      });
    });
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4010, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  const port = (server.address() as AddressInfo).port;
  selfUrl = `http://${options.host ?? '127.0.0.1'}:${port}`;
  return {
    url: selfUrl,
    port,
    server,
    close: () =>
      new Promise<void>((resolveClose) => {
        updates.close();
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}
