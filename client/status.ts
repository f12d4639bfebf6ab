/**
 * Reading a request's status from the status API (deployed: API Gateway with
 * SigV4; sandbox: `GET /requests/<intentId>` on the sandbox server) and waiting
 * for its decision with backoff.
 */
import type { DecisionDetail, RequestStatus } from '../lambdas/shared/intent.js';
import { type BackoffOptions, defaultSleep, type Timing } from './backoff.js';
import { DecisionTimeoutError, IntentConflictError, StatusApiError } from './errors.js';
import { type HttpTarget, signedRequest } from './signed-fetch.js';

/** A grant as the status API shows it. */
export interface GrantView {
  grantId: string;
  expiresAt: string;
  singleUse: true;
  /** Set once the grant was consumed. */
  consumedAt?: string;
}

/** What the status API says about a request. */
export interface ApprovalStatus {
  intentId: string;
  status: RequestStatus;
  /** The final decision, once there is one. */
  decision?: DecisionDetail;
  /** The grant of an approval. */
  grant?: GrantView;
  /** Hash of the intent the request holds, as received (before any modification). */
  intentHash?: string;
  /** The agent whose request it is. */
  agentId?: string;
  /** W3C trace id of the request's trace (the agent's, or the one Countersign started). */
  traceId?: string;
}

/**
 * Normalises a status body. Accepts the deployed API's shape
 * (`{ intentId, agentId, status, decision, grant }`, decision as the decision
 * event's detail) and the sandbox's (`{ status, decision, request, ... }`,
 * decision as stored on the request, without `intentId`/`agentId`).
 */
export function parseStatusBody(intentId: string, body: unknown): ApprovalStatus {
  const b = (body ?? {}) as Record<string, unknown>;
  const request = (b.request ?? {}) as Record<string, unknown>;
  if (typeof b.status !== 'string') {
    throw new StatusApiError(`status API answered without a status for ${intentId}`, 200);
  }
  // The sandbox shows the request as stored: a reviewer's click sets the status before the
  // workflow's Record step finalizes it and issues the grant. Not final until finalized.
  const unfinalized = b.request !== undefined && request.finalizedAt === undefined;
  const status = unfinalized ? 'PENDING' : b.status;
  const raw = unfinalized ? undefined : (b.decision as Record<string, unknown> | null | undefined);
  const id = (b.intentId as string | undefined) ?? (request.intentId as string | undefined) ?? intentId;
  const agentId = (b.agentId as string | undefined) ?? (request.agentId as string | undefined) ?? '';
  const decision = raw
    ? ({
        ...raw,
        intentId: (raw.intentId as string | undefined) ?? id,
        agentId: (raw.agentId as string | undefined) ?? agentId,
      } as unknown as DecisionDetail)
    : undefined;
  const grantRaw = (b.grant as GrantView | undefined) ?? decision?.grant;
  const intentHash = (b.intentHash as string | undefined) ?? (request.intentHash as string | undefined);
  const traceId = b.traceId ?? decision?.traceId;
  return {
    intentId: id,
    status: status as RequestStatus,
    ...(typeof intentHash === 'string' ? { intentHash } : {}),
    ...(agentId ? { agentId } : {}),
    ...(typeof traceId === 'string' ? { traceId } : {}),
    ...(decision ? { decision } : {}),
    ...(grantRaw ? { grant: { ...grantRaw } } : {}),
  };
}

/**
 * Reads a request's status. Resolves to undefined when the request is not
 * (yet) known: the workflow creates it a moment after PutEvents.
 *
 * @throws StatusApiError on 403 (not this agent's request, or an unregistered role) and other errors
 */
export async function getStatus(intentId: string, target: HttpTarget): Promise<ApprovalStatus | undefined> {
  const response = await signedRequest(target, 'GET', `/requests/${encodeURIComponent(intentId)}`);
  if (response.status === 404) return undefined;
  if (response.status !== 200) {
    const message =
      (response.json as { message?: string } | undefined)?.message ?? response.text.slice(0, 300);
    throw new StatusApiError(`status API: HTTP ${response.status}: ${message}`, response.status);
  }
  return parseStatusBody(intentId, response.json);
}

/** Options of {@link waitForDecision}. */
export interface WaitOptions extends HttpTarget, Timing {
  /**
   * How long to wait in all, in ms.
   * @default 900_000 (15 minutes)
   */
  timeoutMs?: number;
  /**
   * Polling backoff: the first poll waits `baseDelayMs`, each later one twice as
   * long up to `maxDelayMs`, each with ±20 % jitter. `maxAttempts` is ignored:
   * the timeout bounds the wait.
   * @default { baseDelayMs: 500, maxDelayMs: 10_000 }
   */
  poll?: BackoffOptions;
  /** Called after each poll (progress output). */
  onPoll?: (status: ApprovalStatus | undefined) => void;
  /**
   * Hash of the intent the caller published. When the request under this id
   * holds another intent, the wait fails at once with IntentConflictError
   * instead of returning a decision about someone else's intent.
   */
  publishedIntentHash?: string;
  /** Where the workflow records a refusal of the caller's publication (`invalid-<eventId>`), for the error message. */
  refusalRequestId?: string;
  /** The agent that published: a request of another agent under the id is a conflict too. */
  publishedAgentId?: string;
}

/**
 * Polls the status API until the request has a final decision, and returns it.
 *
 * @throws DecisionTimeoutError when no decision arrived within the timeout
 * @throws IntentConflictError when `publishedIntentHash` is set and the request holds another intent
 */
export async function waitForDecision(intentId: string, options: WaitOptions): Promise<DecisionDetail> {
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const timeoutMs = options.timeoutMs ?? 900_000;
  const base = options.poll?.baseDelayMs ?? 500;
  const cap = options.poll?.maxDelayMs ?? 10_000;
  const deadline = now() + timeoutMs;
  let last: ApprovalStatus | undefined;
  for (let poll = 0; ; poll++) {
    last = await getStatus(intentId, options);
    options.onPoll?.(last);
    const otherAgent = options.publishedAgentId && last?.agentId && last.agentId !== options.publishedAgentId;
    if (
      options.publishedIntentHash &&
      last?.intentHash &&
      (last.intentHash !== options.publishedIntentHash || otherAgent)
    ) {
      throw new IntentConflictError(
        intentId,
        options.publishedIntentHash,
        last.intentHash,
        options.refusalRequestId,
      );
    }
    if (!last && options.publishedIntentHash && options.refusalRequestId) {
      // Not visible under its id: another agent may hold it, and this publication was refused under its own.
      const refusal = await getStatus(options.refusalRequestId, options);
      if (refusal?.decision) {
        throw new IntentConflictError(
          intentId,
          options.publishedIntentHash,
          undefined,
          options.refusalRequestId,
          refusal.decision.reason,
        );
      }
    }
    if (last && last.status !== 'PENDING') {
      if (last.decision) return last.decision;
      // Final status without a decision body: a malformed answer; keep failing closed by waiting.
    }
    const remaining = deadline - now();
    if (remaining <= 0) throw new DecisionTimeoutError(intentId, timeoutMs, last?.status);
    const delay = Math.min(cap, base * 2 ** poll) * (0.8 + 0.4 * random());
    await sleep(Math.max(0, Math.min(remaining, Math.floor(delay))));
  }
}
