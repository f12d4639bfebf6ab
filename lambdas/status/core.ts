/**
 * Status API: `GET /requests/{intentId}`. Returns a request's status, its
 * decision (the decision event's detail) and its grant, to the agent that
 * made the request and to no one else. Another agent's request is answered
 * exactly like a missing one (404), so intent ids cannot be probed.
 */
import { type GrantItem, getGrant } from '../shared/grants.js';
import type { DecisionDetail } from '../shared/intent.js';
import {
  getRequest,
  type RequestDecision,
  type RequestItem,
  type StoreDeps,
  toDetail,
} from '../shared/store.js';
import { requestTrace } from '../shared/tracing-context.js';
import { type AgentRoles, type ApiAnswer, agentForCaller, notAnAgent } from './caller.js';

/** Dependencies of {@link requestStatus}. */
export interface StatusDeps extends StoreDeps {
  agentRoles: AgentRoles;
}

/** The status API's answer body for a request. */
export interface StatusBody {
  intentId: string;
  agentId: string;
  status: RequestItem['status'];
  createdAt: string;
  /** When an unanswered review expires. */
  expiresAt?: string;
  action?: string;
  environment?: string;
  /** Hash of the intent as received. */
  intentHash: string;
  decision: DecisionDetail | null;
  /** W3C trace id of the request's trace, also while it is pending (docs/observability.md). */
  traceId: string;
  grant: { grantId: string; expiresAt: string; singleUse: true; consumedAt?: string } | null;
}

/** A request as an agent may rely on it: its status, and its decision and grant once final. */
export interface FinalState {
  status: RequestItem['status'];
  /** The final decision; undefined while the request is reported PENDING. */
  decision?: RequestDecision;
  /** The grant item of a final approval. */
  grant?: GrantItem;
}

/**
 * The finality rule every status reader applies. A request is final once the
 * workflow's Record step finalized it: a reviewer's click sets the status a
 * moment earlier, but only Record issues the grant. Until then it is reported
 * PENDING. An approval is final once its grant item exists too (Record writes
 * it right after finalizing), so an agent that sees APPROVED can consume at once.
 */
export async function finalState(deps: StoreDeps, request: RequestItem): Promise<FinalState> {
  const finalized = request.finalizedAt !== undefined && request.status !== 'PENDING';
  const stored = finalized ? request.decision : undefined;
  const grant = stored?.grant ? await getGrant(deps, stored.grant.grantId) : undefined;
  const final = finalized && (stored?.status !== 'APPROVED' || grant !== undefined);
  if (!final || !stored) return { status: 'PENDING' };
  return { status: request.status, decision: stored, ...(grant ? { grant } : {}) };
}

/** Answers `GET /requests/{intentId}` for the caller `callerArn`. */
export async function requestStatus(
  deps: StatusDeps,
  input: { intentId: string; callerArn: string | null | undefined },
): Promise<ApiAnswer> {
  const agentId = agentForCaller(deps.agentRoles, input.callerArn);
  if (!agentId) return notAnAgent(input.callerArn);
  const notFound: ApiAnswer = {
    statusCode: 404,
    body: { error: 'not_found', message: `no request ${input.intentId} for agent ${agentId}` },
  };
  const request = await getRequest(deps, input.intentId);
  if (!request || request.agentId !== agentId) return notFound;

  const { status, decision, grant } = await finalState(deps, request);
  const body: StatusBody = {
    intentId: request.intentId,
    agentId: request.agentId,
    status,
    createdAt: request.createdAt,
    ...(request.expiresAt ? { expiresAt: request.expiresAt } : {}),
    ...(request.intent ? { action: request.intent.action, environment: request.intent.environment } : {}),
    intentHash: request.intentHash,
    decision: decision ? toDetail(request, decision) : null,
    traceId: requestTrace(request.intentId, request.intent?.context).traceId,
    grant: decision?.grant
      ? { ...decision.grant, ...(grant?.consumedAt ? { consumedAt: grant.consumedAt } : {}) }
      : null,
  };
  return { statusCode: 200, body: body as unknown as Record<string, unknown> };
}
