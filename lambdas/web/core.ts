/**
 * The web channel's front door: the inbox's pages and forms, its stylesheet,
 * and the approval API under `/v1`, on one HTTP API. A thin router: the
 * inbox (./inbox.ts) and the API (./api.ts) verify and parse, the review core
 * decides.
 */
import { api } from './api.js';
import type { WebDeps } from './contract.js';
import { SECURITY_HEADERS, type WebAnswer, type WebRequest } from './http.js';
import { handleInbox } from './inbox.js';
import { INBOX_CSS } from './styles.js';

export type { WebDeps } from './contract.js';

/** Routes one request. Never throws. */
export async function handleWeb(deps: WebDeps, http: WebRequest): Promise<WebAnswer> {
  if (http.path === '/static/inbox.css' && http.method === 'GET') {
    return {
      statusCode: 200,
      headers: {
        ...SECURITY_HEADERS,
        'content-type': 'text/css; charset=utf-8',
        'cache-control': 'max-age=300',
      },
      body: INBOX_CSS,
      outcome: 'static',
    };
  }
  if (http.path === '/v1' || http.path.startsWith('/v1/')) return api(deps, http);
  return handleInbox(deps, http);
}
