/**
 * The approval API (`/v1/…`): approvers' own tools decide through it with an
 * IdP access token (audience = the API), on the same review core as Slack
 * and the inbox. Every refusal changes nothing: a missing or bad token is a
 * 401 with the reason, bad input a 400, a refusal a 403, a stale intent hash
 * a 409. The OpenAPI document (openapi/approval-api.yaml) describes it.
 */
import { TokenRefused } from '../identity/contract.js';
import type { ReviewCommand } from '../review-core/contract.js';
import { describeError, runReviewCommand } from '../review-core/dispatch.js';
import type { RequestStatus } from '../shared/intent.js';
import { getRequest, listRequests } from '../shared/store.js';
import { parseStrictJson } from '../shared/strict-json.js';
import { API_CHANNEL, actorOf, mayApprove, mayView } from './actor.js';
import { decisionBodySchema, LISTED_STATUSES, statusOf, type WebDeps } from './contract.js';
import { json, MAX_BODY_BYTES, type WebAnswer, type WebRequest } from './http.js';
import { requestView } from './view.js';

/** The API's error body. */
export interface ApiError {
  error: string;
  message: string;
  fields?: Record<string, string>;
}

const problem = (status: number, error: string, message: string, extra: Partial<ApiError> = {}) =>
  json(status, { error, message, ...extra } satisfies ApiError, `api-${error}`);

/** A 401 that says why, with the challenge RFC 6750 asks for. */
function unauthorized(code: string, message: string): WebAnswer {
  const answer = problem(401, code, message);
  answer.headers['www-authenticate'] =
    `Bearer realm="countersign", error="invalid_token", error_description="${message.replace(/["\\]/g, '')}"`;
  return answer;
}

/** Every route the API serves, in the OpenAPI document's path syntax (checked against openapi/approval-api.json). */
export const API_ROUTES = [
  { method: 'GET', path: '/v1/requests' },
  { method: 'GET', path: '/v1/requests/{id}' },
  { method: 'POST', path: '/v1/requests/{id}/decision' },
] as const;

const REQUEST_PATH = /^\/v1\/requests\/([^/]+)$/;
const DECISION_PATH = /^\/v1\/requests\/([^/]+)\/decision$/;

/** Routes one API call. Never throws. */
export async function api(deps: WebDeps, http: WebRequest): Promise<WebAnswer> {
  const authorization = http.headers.authorization;
  const match = authorization?.match(/^Bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/);
  if (!authorization)
    return unauthorized('missing', 'Send an IdP access token as "Authorization: Bearer <token>".');
  if (!match) return unauthorized('malformed', 'The Authorization header is not "Bearer <token>".');
  let signIn: Awaited<ReturnType<WebDeps['verifier']['verifyAccessToken']>>;
  try {
    signIn = await deps.verifier.verifyAccessToken(match[1]!);
  } catch (error) {
    // The IdP's keys could not be read: refused as unavailable, never accepted unverified.
    if (error instanceof TokenRefused && (error.code as string) !== 'unavailable') {
      deps.core.logger.warn('API token refused', { code: error.code, reason: error.message });
      return unauthorized(error.code, `The access token was refused: ${error.message}`);
    }
    deps.core.logger.error('API token could not be verified', { error: describeError(error) });
    return problem(
      503,
      'unavailable',
      'The access token could not be verified now; nothing changed. Try again.',
    );
  }
  const actor = actorOf(API_CHANNEL, signIn);
  try {
    if (http.path === '/v1/requests') {
      if (http.method !== 'GET') return problem(405, 'method-not-allowed', 'Use GET.');
      const wanted = http.query.get('status') ?? 'PENDING';
      if (!(LISTED_STATUSES as readonly string[]).includes(wanted))
        return problem(400, 'invalid-input', `status must be one of ${LISTED_STATUSES.join(', ')}.`, {
          fields: { status: 'unknown status' },
        });
      const requests = await listRequests(deps.core, [wanted as RequestStatus]);
      const shown = [];
      for (const request of requests) {
        const visible =
          wanted === 'PENDING'
            ? await mayApprove(deps.core, request, actor)
            : await mayView(deps.core, request, actor);
        if (visible) shown.push(requestView(request));
      }
      return json(200, { requests: shown }, 'api-list');
    }
    const decision = http.path.match(DECISION_PATH);
    if (decision) {
      if (http.method !== 'POST') return problem(405, 'method-not-allowed', 'Use POST.');
      return await decide(deps, http, actor, decodeURIComponent(decision[1]!));
    }
    const one = http.path.match(REQUEST_PATH);
    if (one) {
      if (http.method !== 'GET') return problem(405, 'method-not-allowed', 'Use GET.');
      const request = await getRequest(deps.core, decodeURIComponent(one[1]!));
      if (!request || !(await mayView(deps.core, request, actor)))
        return problem(404, 'unknown-request', 'No such request, or not one you may see.');
      return json(200, requestView(request), 'api-request');
    }
    return problem(404, 'no-route', `No route ${http.method} ${http.path}.`);
  } catch (error) {
    deps.core.logger.error('API call failed; nothing was approved', { error: describeError(error) });
    return problem(500, 'error', 'Countersign could not process this and approved nothing. Try again.');
  }
}

async function decide(
  deps: WebDeps,
  http: WebRequest,
  actor: ReturnType<typeof actorOf>,
  requestId: string,
): Promise<WebAnswer> {
  if (!/^application\/json(;|$)/i.test(http.headers['content-type'] ?? ''))
    return problem(415, 'unsupported-media-type', 'Send the decision as application/json.');
  if (Buffer.byteLength(http.body, 'utf8') > MAX_BODY_BYTES)
    return problem(413, 'too-large', `The body exceeds ${MAX_BODY_BYTES} bytes.`);
  const parsed = parseStrictJson(http.body);
  if (!parsed.ok) return problem(400, 'invalid-input', `The body is not acceptable JSON: ${parsed.reason}.`);
  const body = decisionBodySchema.safeParse(parsed.value);
  if (!body.success) {
    const fields = Object.fromEntries(body.error.issues.map((i) => [i.path.join('.') || 'body', i.message]));
    return problem(400, 'invalid-input', 'The decision is not valid; nothing changed.', { fields });
  }
  const request = await getRequest(deps.core, requestId);
  if (!request || !(await mayView(deps.core, request, actor)))
    return problem(404, 'unknown-request', 'No such request, or not one you may see.');
  const idempotency = http.headers['idempotency-key'];
  const command: ReviewCommand = {
    requestId,
    verb: body.data.decision,
    actor,
    seenHash: body.data.intentHash,
    ...(body.data.reason !== undefined ? { reason: body.data.reason } : {}),
    ...(body.data.parameters ? { parameters: body.data.parameters } : {}),
    ...(idempotency ? { idempotency: idempotency.slice(0, 200) } : {}),
  };
  const outcome = await runReviewCommand(deps.core, command);
  const status = statusOf(outcome);
  if (status !== 200) {
    const refusal = outcome.refusal ?? { code: outcome.outcome, message: outcome.outcome };
    return problem(status, refusal.code, refusal.message, {
      ...(refusal.field ? { fields: { [refusal.field]: refusal.message } } : {}),
      ...(refusal.fields ? { fields: refusal.fields } : {}),
    });
  }
  return json(
    200,
    {
      outcome: outcome.outcome,
      ...(outcome.notice ? { notice: outcome.notice } : {}),
      ...(outcome.state ? { request: requestView(outcome.state.request) } : {}),
    },
    `api-${outcome.outcome}`,
  );
}
