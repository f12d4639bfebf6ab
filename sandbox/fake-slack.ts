/**
 * A fake Slack Web API on 127.0.0.1, wire-compatible enough for
 * `new WebClient(token, { slackApiUrl })`: it answers the methods Countersign
 * calls, from a directory of users and user groups, records every message it
 * receives, and enforces Slack's rate limits (./slack-rate-limits.ts): a call
 * over its method's tier, or a `chat.postMessage` over the per-channel limit,
 * is answered HTTP 429 with `Retry-After`, as Slack answers it. The limits are
 * on by default; `rateLimits: false` switches them off for unit tests whose
 * subject is not Slack and that need raw speed. Errors are Slack's own (`{ ok: false, error: 'channel_not_found' }`
 * with HTTP 200), so callers see the same failures as against Slack.
 *
 * Use {@link startFakeSlack} for a server of its own, or
 * {@link createFakeSlack} and mount `handleRequest` on another server (the
 * method is the last path segment, so `/api/chat.update` and
 * `/slack/api/chat.update` both work).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type LimitProblem, messageProblems, viewProblems } from './slack-limits.js';
import {
  createRateLimiter,
  type MethodRateLimit,
  type RateLimitCounters,
  SLACK_RATE_LIMITS,
} from './slack-rate-limits.js';

/** A user in the fake workspace. */
export interface DirectoryUser {
  id: string;
  name: string;
  realName?: string;
  email?: string;
  isBot?: boolean;
  deleted?: boolean;
}

/** A user group (Slack "subteam"). */
export interface DirectoryGroup {
  id: string;
  handle: string;
  name: string;
  users: string[];
}

/** The fake workspace: users, user groups and (optionally) the channels that exist. */
export interface SlackDirectory {
  team?: { id: string; name: string };
  users: DirectoryUser[];
  groups: DirectoryGroup[];
  /**
   * When present, only these channel ids exist; otherwise any `C…`/`G…`/`D…` id
   * does. The bot is a member unless `botMember` is false; a private channel
   * the bot is not in is invisible to it (`channel_not_found`), as on Slack.
   */
  channels?: { id: string; name: string; isPrivate?: boolean; botMember?: boolean; isArchived?: boolean }[];
  /** The sandbox's registered agents: each is registered with `addAgent` when the loop synthesizes the stack. */
  agents?: SandboxAgent[];
}

/** An agent of the sandbox, as `CountersignStack.addAgent` registers it. */
export interface SandboxAgent {
  id: string;
  owner: string;
  environments?: string[];
}

/** A message call the fake accepted, in arrival order. */
export interface SlackRecordedMessage {
  method: 'chat.postMessage' | 'chat.update' | 'chat.postEphemeral';
  channel: string;
  /** The message ts (for ephemerals, the ts the fake assigned). */
  ts: string;
  text?: string;
  blocks?: unknown[];
  /** Recipient of an ephemeral message, or of a direct message (a postMessage to a user id). */
  user?: string;
  threadTs?: string;
}

/** Every call the fake received, accepted or not. */
export interface SlackRecordedCall {
  method: string;
  params: Record<string, unknown>;
  /** HTTP status answered (429 when rate limited). */
  status: number;
  /** Slack error code when the answer was `ok: false`. */
  error?: string;
  /** When the call arrived, in epoch milliseconds of the fake's clock. */
  at: number;
  /** The `Retry-After` seconds of a 429 answer. */
  retryAfter?: number;
}

/** A view opened with `views.open`. */
export interface SlackRecordedView {
  id: string;
  triggerId?: string;
  externalId?: string;
  view: Record<string, unknown>;
}

/** Options of {@link createFakeSlack} and {@link startFakeSlack}. */
export interface FakeSlackOptions {
  directory: SlackDirectory;
  /** Bot token that authenticates; anything else is `invalid_auth`. @default FAKE_SLACK_TOKEN */
  token?: string;
  /**
   * Slack's rate limits. `false` switches them off (only for unit tests whose
   * subject is not Slack); a table replaces the limits of the methods it names.
   * @default SLACK_RATE_LIMITS
   */
  rateLimits?: false | Readonly<Record<string, MethodRateLimit>>;
  /** Clock of the rate limits and of `calls[].at`, in epoch milliseconds. @default Date.now */
  clock?: () => number;
}

/** The fake's state and request handler, without a server. */
export interface FakeSlack {
  /** Every postMessage / update / postEphemeral accepted, in order. */
  readonly messages: SlackRecordedMessage[];
  /** Every call received, in order. */
  readonly calls: SlackRecordedCall[];
  /**
   * Views opened, by view id, in opening order. Each holds the view as sent
   * (`callback_id`, `private_metadata`, `blocks`): a console renders the modal
   * from it and posts the `view_submission` (see docs/architecture.md).
   */
  readonly views: Map<string, SlackRecordedView>;
  /**
   * What the rate limits refused and accepted (429s by method, accepted calls
   * by method and by channel), since the start or the last reset.
   */
  rateLimitCounters(): RateLimitCounters;
  /**
   * Answers the next `n` calls of `method` with HTTP 429 and `Retry-After: <seconds>`, whatever the
   * limits say; with `only`, just the calls whose parameters it accepts (others sharing the fake,
   * such as the card poster, are answered as usual).
   */
  setRateLimit(
    method: string,
    n: number,
    retryAfterSeconds?: number,
    only?: (params: Record<string, unknown>) => boolean,
  ): void;
  /** Holds the answer to the next `n` calls of `method` for `ms` milliseconds (a slow Slack). */
  setDelay(method: string, ms: number, n?: number): void;
  /**
   * Answers the next `n` calls of `method` with `{ ok: false, error }`; with
   * `only`, just the calls whose parameters it accepts (other callers sharing
   * the fake, such as the card poster, are answered as usual).
   */
  setFailure(
    method: string,
    error: string,
    n?: number,
    only?: (params: Record<string, unknown>) => boolean,
  ): void;
  /** Revokes the bot token: every later call answers `token_revoked`, as after an app is uninstalled. */
  revokeToken(): void;
  /** Seeds a message as if posted earlier (not recorded as a call); returns its ts. */
  addMessage(message: { channel: string; text?: string; blocks?: unknown[] }): string;
  /** Current content of a posted message, after updates. */
  message(channel: string, ts: string): { text?: string; blocks?: unknown[] } | undefined;
  /** Messages of one method, optionally to one ephemeral recipient. */
  sent(method: SlackRecordedMessage['method'], user?: string): SlackRecordedMessage[];
  /** Forgets recorded calls, messages, views and pending rate limits/failures; refills the rate limits' buckets. */
  reset(): void;
  /** Calls `listener` after every call is answered (the sandbox's live updates); returns an unsubscribe function. */
  onCall(listener: (call: SlackRecordedCall) => void): () => void;
  handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** A fake Slack with its own HTTP server. */
export interface RunningFakeSlack extends FakeSlack {
  /** Base URL for `slackApiUrl`, ending in `/`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The token the fake accepts unless told otherwise. */
export const FAKE_SLACK_TOKEN = 'xoxb-countersign-fake-slack';
/** The fake bot's identity. */
export const FAKE_BOT = { userId: 'U0CSBOT00', botId: 'B0CSBOT00' } as const;
/** Path of the sandbox directory. */
export const DEFAULT_DIRECTORY_PATH = new URL('./directory.json', import.meta.url);

/** The DM channel the fake opens for a user id (`U0CAROL03` -> `D0CAROL03`). */
export const dmChannelOf = (userId: string) => `D${userId.slice(1)}`;

/** Reads a directory file (the sandbox's by default). */
export function loadDirectory(path: string | URL = DEFAULT_DIRECTORY_PATH): SlackDirectory {
  return JSON.parse(readFileSync(path, 'utf8')) as SlackDirectory;
}

type Params = Record<string, unknown>;
type Answer = { status?: number; headers?: Record<string, string>; body: Record<string, unknown> };
class SlackApiError extends Error {
  constructor(
    code: string,
    /** Slack's `response_metadata.messages`: which field broke which limit. */
    readonly details: string[] = [],
  ) {
    super(code);
  }
}

/** Refuses content Slack would refuse, with Slack's error code and its per-field messages. */
function enforce(problems: LimitProblem[]): void {
  if (problems.length > 0)
    throw new SlackApiError(
      problems[0]!.error,
      problems.map(
        (p) => `[ERROR] ${p.message} [json-pointer:/${p.path.replace(/[.[\]]+/g, '/').replace(/\/$/, '')}]`,
      ),
    );
}

const JSON_FIELDS = ['blocks', 'attachments', 'view', 'metadata'];

function normaliseParams(raw: Params): Params {
  const params: Params = { ...raw };
  for (const field of JSON_FIELDS) {
    if (typeof params[field] === 'string') {
      try {
        params[field] = JSON.parse(params[field] as string);
      } catch {
        throw new SlackApiError(`invalid_${field}`);
      }
    }
  }
  return params;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseRequest(req: IncomingMessage, body: string): Params {
  const url = new URL(req.url ?? '/', 'http://fake-slack');
  const params: Params = Object.fromEntries(url.searchParams);
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
  if (body.length > 0) {
    if (type === 'application/json') Object.assign(params, JSON.parse(body) as Params);
    else Object.assign(params, Object.fromEntries(new URLSearchParams(body)));
  }
  return normaliseParams(params);
}

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value.length > 0 ? value : undefined;

/** Creates the fake's state and handler; see {@link startFakeSlack} for a server. */
export function createFakeSlack(options: FakeSlackOptions): FakeSlack {
  const directory = options.directory;
  const token = options.token ?? FAKE_SLACK_TOKEN;
  const clock = options.clock ?? Date.now;
  const limiter =
    options.rateLimits === false
      ? undefined
      : createRateLimiter(options.rateLimits ?? SLACK_RATE_LIMITS, clock);
  const messages: SlackRecordedMessage[] = [];
  const callListeners = new Set<(call: SlackRecordedCall) => void>();
  const calls: SlackRecordedCall[] = [];
  const views = new Map<string, SlackRecordedView>();
  const store = new Map<string, { text?: string; blocks?: unknown[] }>();
  const rateLimits = new Map<
    string,
    { n: number; retryAfter: number; only?: (params: Record<string, unknown>) => boolean }
  >();
  const failures = new Map<
    string,
    { n: number; error: string; only?: (params: Record<string, unknown>) => boolean }
  >();
  const delays = new Map<string, { n: number; ms: number }>();
  let counter = 0;
  let revoked = false;

  const nextTs = () => `${Math.floor(Date.now() / 1000)}.${String(++counter).padStart(6, '0')}`;
  const user = (id: unknown) => directory.users.find((u) => u.id === id);
  const channelExists = (id: string) =>
    (directory.channels ? directory.channels.some((c) => c.id === id) : /^[CGD][A-Z0-9]{2,}$/.test(id)) ||
    (id.startsWith('D') && user(`U${id.slice(1)}`) !== undefined);
  /** Posting to a user id opens (or reuses) the app's DM with them, as Slack does: `D` + the id after `U`. */
  const requireChannel = (params: Params) => {
    const channel = str(params.channel);
    if (channel && /^U[A-Z0-9]+$/.test(channel) && user(channel)) return dmChannelOf(channel);
    if (!channel || !channelExists(channel)) throw new SlackApiError('channel_not_found');
    if (!botMember(channel)) {
      throw new SlackApiError(channelEntry(channel)?.isPrivate ? 'channel_not_found' : 'not_in_channel');
    }
    return channel;
  };
  const channelEntry = (id: string) => directory.channels?.find((c) => c.id === id);
  const botMember = (id: string) => channelEntry(id)?.botMember !== false;
  const dmUser = (channel: string) => (channel.startsWith('D') ? `U${channel.slice(1)}` : undefined);
  const requireContent = (params: Params) => {
    const text = str(params.text);
    const blocks = Array.isArray(params.blocks) ? params.blocks : undefined;
    if (!text && !blocks?.length) throw new SlackApiError('no_text');
    enforce(messageProblems({ text, blocks }));
    return { text, blocks };
  };
  const slackUser = (u: DirectoryUser) => ({
    id: u.id,
    team_id: directory.team?.id ?? 'T0FAKE',
    name: u.name,
    real_name: u.realName ?? u.name,
    deleted: u.deleted ?? false,
    is_bot: u.isBot ?? false,
    is_app_user: false,
    profile: {
      real_name: u.realName ?? u.name,
      display_name: u.name,
      ...(u.email ? { email: u.email } : {}),
    },
  });
  const slackGroup = (g: DirectoryGroup, includeUsers: boolean) => ({
    id: g.id,
    team_id: directory.team?.id ?? 'T0FAKE',
    handle: g.handle,
    name: g.name,
    is_usergroup: true,
    user_count: g.users.length,
    ...(includeUsers ? { users: g.users } : {}),
  });

  const methods: Record<string, (params: Params) => Record<string, unknown>> = {
    'auth.test': () => ({
      user_id: FAKE_BOT.userId,
      bot_id: FAKE_BOT.botId,
      team_id: directory.team?.id ?? 'T0FAKE',
    }),
    'conversations.info': (params) => {
      const id = str(params.channel) ?? '';
      const entry = channelEntry(id);
      if (!channelExists(id) || (entry?.isPrivate && !botMember(id)))
        throw new SlackApiError('channel_not_found');
      return {
        channel: {
          id,
          name: entry?.name ?? id.toLowerCase(),
          is_channel: !entry?.isPrivate,
          is_private: entry?.isPrivate ?? false,
          is_archived: entry?.isArchived ?? false,
          is_member: botMember(id),
        },
      };
    },
    'chat.postMessage': (params) => {
      const channel = requireChannel(params);
      const content = requireContent(params);
      const ts = nextTs();
      store.set(`${channel}/${ts}`, content);
      const recipient = dmUser(channel);
      messages.push({
        method: 'chat.postMessage',
        channel,
        ts,
        ...content,
        threadTs: str(params.thread_ts),
        ...(recipient ? { user: recipient } : {}),
      });
      return {
        channel,
        ts,
        message: { type: 'message', ts, user: FAKE_BOT.userId, bot_id: FAKE_BOT.botId, ...content },
      };
    },
    'chat.update': (params) => {
      const channel = requireChannel(params);
      const ts = str(params.ts);
      if (!ts || !store.has(`${channel}/${ts}`)) throw new SlackApiError('message_not_found');
      const content = requireContent(params);
      store.set(`${channel}/${ts}`, content);
      messages.push({ method: 'chat.update', channel, ts, ...content });
      return { channel, ts, text: content.text ?? '', message: { ...content, ts } };
    },
    'chat.postEphemeral': (params) => {
      const channel = requireChannel(params);
      const recipient = user(params.user);
      if (!recipient) throw new SlackApiError('user_not_found');
      const content = requireContent(params);
      const ts = nextTs();
      messages.push({ method: 'chat.postEphemeral', channel, ts, user: recipient.id, ...content });
      return { message_ts: ts };
    },
    'users.info': (params) => {
      const found = user(params.user);
      if (!found) throw new SlackApiError('user_not_found');
      return { user: slackUser(found) };
    },
    'users.lookupByEmail': (params) => {
      const email = str(params.email)?.toLowerCase();
      const found = directory.users.find((u) => !u.deleted && u.email?.toLowerCase() === email);
      if (!found) throw new SlackApiError('users_not_found');
      return { user: slackUser(found) };
    },
    'users.list': (params) => {
      const limit = Math.max(1, Math.min(Number(params.limit) || 200, 1000));
      const start = Number(str(params.cursor)?.replace('next:', '') ?? 0) || 0;
      const page = directory.users.slice(start, start + limit).map(slackUser);
      const next = start + limit < directory.users.length ? `next:${start + limit}` : '';
      return { members: page, response_metadata: { next_cursor: next } };
    },
    'usergroups.list': (params) => ({
      usergroups: directory.groups.map((g) =>
        slackGroup(g, params.include_users === true || params.include_users === 'true'),
      ),
    }),
    'usergroups.users.list': (params) => {
      const group = directory.groups.find((g) => g.id === params.usergroup);
      if (!group) throw new SlackApiError('no_such_subteam');
      return { users: [...group.users] };
    },
    'views.open': (params) => {
      if (!str(params.trigger_id)) throw new SlackApiError('invalid_trigger_id');
      if (typeof params.view !== 'object' || params.view === null)
        throw new SlackApiError('invalid_arguments');
      enforce(viewProblems(params.view));
      const id = `V${String(++counter).padStart(8, '0')}`;
      const view = params.view as Record<string, unknown>;
      views.set(id, { id, triggerId: str(params.trigger_id), externalId: str(view.external_id), view });
      return { view: { id, hash: `${id}.hash`, ...view } };
    },
    'views.update': (params) => {
      if (typeof params.view !== 'object' || params.view === null)
        throw new SlackApiError('invalid_arguments');
      enforce(viewProblems(params.view));
      const existing =
        views.get(str(params.view_id) ?? '') ??
        [...views.values()].find((v) => v.externalId !== undefined && v.externalId === params.external_id);
      if (!existing) throw new SlackApiError('not_found');
      existing.view = params.view as Record<string, unknown>;
      return { view: { id: existing.id, hash: `${existing.id}.hash`, ...existing.view } };
    },
  };

  function answer(method: string, params: Params, authorization: string | undefined, at: number): Answer {
    const limited = rateLimits.get(method);
    if (limited && limited.n > 0 && (!limited.only || limited.only(params))) {
      limited.n -= 1;
      return {
        status: 429,
        headers: { 'retry-after': String(limited.retryAfter) },
        body: { ok: false, error: 'ratelimited' },
      };
    }
    const presented = authorization?.replace(/^Bearer\s+/i, '') ?? str(params.token);
    if (presented !== token) return { body: { ok: false, error: presented ? 'invalid_auth' : 'not_authed' } };
    if (revoked) return { body: { ok: false, error: 'token_revoked' } };
    const verdict = limiter?.take({ method, token: presented, channel: str(params.channel), at });
    if (verdict && !verdict.accepted) {
      return {
        status: 429,
        headers: { 'retry-after': String(verdict.retryAfterSeconds) },
        body: { ok: false, error: 'ratelimited' },
      };
    }
    const failure = failures.get(method);
    if (failure && failure.n > 0 && (!failure.only || failure.only(params))) {
      failure.n -= 1;
      return { body: { ok: false, error: failure.error } };
    }
    const implementation = methods[method];
    if (!implementation) return { body: { ok: false, error: 'unknown_method' } };
    try {
      return { body: { ok: true, ...implementation(params) } };
    } catch (error) {
      if (error instanceof SlackApiError)
        return {
          body: {
            ok: false,
            error: error.message,
            ...(error.details.length ? { response_metadata: { messages: error.details } } : {}),
          },
        };
      throw error;
    }
  }

  return {
    messages,
    calls,
    views,
    rateLimitCounters: () => limiter?.counters() ?? { limited: {}, accepted: {}, acceptedByChannel: {} },
    setRateLimit(method, n, retryAfterSeconds = 1, only) {
      rateLimits.set(method, { n, retryAfter: retryAfterSeconds, ...(only ? { only } : {}) });
    },
    setDelay(method, ms, n = Number.POSITIVE_INFINITY) {
      delays.set(method, { n, ms });
    },
    setFailure(method, error, n = 1, only) {
      failures.set(method, { n, error, ...(only ? { only } : {}) });
    },
    revokeToken() {
      revoked = true;
    },
    addMessage({ channel, text, blocks }) {
      const ts = nextTs();
      store.set(`${channel}/${ts}`, { text, blocks });
      return ts;
    },
    message: (channel, ts) => store.get(`${channel}/${ts}`),
    sent: (method, recipient) =>
      messages.filter((m) => m.method === method && (recipient === undefined || m.user === recipient)),
    reset() {
      revoked = false;
      messages.length = 0;
      calls.length = 0;
      views.clear();
      rateLimits.clear();
      failures.clear();
      delays.clear();
      limiter?.reset();
    },
    onCall(listener) {
      callListeners.add(listener);
      return () => callListeners.delete(listener);
    },
    async handleRequest(req, res) {
      const method = new URL(req.url ?? '/', 'http://fake-slack').pathname.split('/').pop() ?? '';
      let at = clock();
      let params: Params = {};
      let result: Answer;
      try {
        params = parseRequest(req, await readBody(req));
        at = clock();
        result = answer(method, params, req.headers.authorization, at);
      } catch (error) {
        const code = error instanceof SlackApiError ? error.message : 'invalid_form_data';
        result = { body: { ok: false, error: code } };
      }
      const { token: _token, ...loggable } = params;
      const call: SlackRecordedCall = {
        method,
        params: loggable,
        status: result.status ?? 200,
        ...(result.body.ok === false ? { error: String(result.body.error) } : {}),
        at,
        ...(result.headers?.['retry-after'] ? { retryAfter: Number(result.headers['retry-after']) } : {}),
      };
      calls.push(call);
      const delay = delays.get(method);
      if (delay && delay.n > 0) {
        delay.n -= 1;
        await new Promise((resolve) => setTimeout(resolve, delay.ms));
      }
      if (res.destroyed) return;
      res.writeHead(result.status ?? 200, {
        'content-type': 'application/json; charset=utf-8',
        ...result.headers,
      });
      res.end(JSON.stringify(result.body));
      for (const listener of callListeners) listener(call);
    },
  };
}

/** Starts the fake on 127.0.0.1 (a random port unless one is given). */
export async function startFakeSlack(
  options: FakeSlackOptions & { port?: number },
): Promise<RunningFakeSlack> {
  const fake = createFakeSlack(options);
  const server = createServer((req, res) => {
    fake.handleRequest(req, res).catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return Object.assign(fake, {
    url: `http://127.0.0.1:${port}/api/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
