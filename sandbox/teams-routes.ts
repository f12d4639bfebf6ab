/**
 * The sandbox server's Teams routes:
 * - `POST /teams/messages` runs the Teams handler exactly as the bot's
 *   messaging endpoint (Function URL) does: raw body, Bot Framework token
 *   checked by the handler;
 * - `GET /teams/activities`: the cards and thread replies the fake Bot
 *   Connector holds (what the Teams channel shows), newest first;
 * - `POST /api/teams/click`: the console's Teams view sends a click here; the
 *   server builds the `adaptiveCard/action` invoke Teams would send for that
 *   person, signs its token with the fake Bot Framework key and posts it to
 *   this server's own `/teams/messages`, the path the Bot Connector uses;
 * - `GET /console/vendor/adaptivecards.js`: Microsoft's Adaptive Cards
 *   renderer for the console's Teams view.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { invokeActivity } from './fake-teams.js';
import type { CountersignLoop } from './loop.js';

const MAX_BODY_BYTES = 1024 * 1024;
const require = createRequire(import.meta.url);

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): true {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
  return true;
}

/** Handles a Teams route; false when the path is not one. */
export async function teamsRoute(
  loop: CountersignLoop,
  selfUrl: () => string,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<boolean> {
  const method = req.method ?? 'GET';
  if (path === '/console/vendor/adaptivecards.js' && method === 'GET') {
    const file = join(dirname(require.resolve('adaptivecards/package.json')), 'dist', 'adaptivecards.min.js');
    send(res, 200, await readFile(file, 'utf8'), 'text/javascript; charset=utf-8');
    return true;
  }
  if (!['/teams/messages', '/teams/activities', '/api/teams/click'].includes(path)) return false;
  const teams = loop.teams;
  if (!teams) {
    send(res, 404, { error: 'this sandbox runs without Teams' });
    return true;
  }
  if (path === '/teams/messages') {
    if (method !== 'POST') return send(res, 405, { error: 'POST only' });
    const headers = Object.fromEntries(
      Object.entries(req.headers).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : [])),
    );
    const answer = await loop.teamsActivity({ headers, body: await readBody(req) });
    send(
      res,
      answer.statusCode ?? 200,
      answer.body ?? '',
      (answer.headers as Record<string, string> | undefined)?.['content-type'] ?? 'text/plain',
    );
    return true;
  }
  if (path === '/teams/activities') {
    const activities = [...teams.fake.activities.values()].reverse().map((a) => ({
      ...a,
      requestId: ((a.card?.refresh as { action?: { data?: { requestId?: string } } } | undefined)?.action
        ?.data?.requestId ?? null) as string | null,
    }));
    send(res, 200, { activities });
    return true;
  }
  if (method !== 'POST') return send(res, 405, { error: 'POST only' });
  let input: { userId?: unknown; verb?: unknown; data?: unknown };
  try {
    input = JSON.parse((await readBody(req)) || '{}');
  } catch {
    return send(res, 400, { error: 'the body is not JSON' });
  }
  const { userId, verb, data } = input;
  if (typeof userId !== 'string' || typeof verb !== 'string' || !data || typeof data !== 'object') {
    return send(res, 400, { error: 'userId and verb are required strings; data an object' });
  }
  const activity = invokeActivity(
    teams.fake,
    teams.fake.userOf(userId),
    verb,
    data as Record<string, unknown>,
  );
  const answer = await fetch(`${selfUrl()}/teams/messages`, {
    method: 'POST',
    headers: { authorization: await teams.fake.authorization(), 'content-type': 'application/json' },
    body: JSON.stringify(activity),
  });
  const text = await answer.text();
  let invoke: unknown = text;
  try {
    invoke = JSON.parse(text);
  } catch {
    // a plain-text answer (401, 400)
  }
  send(res, 200, { status: answer.status, invoke });
  return true;
}
