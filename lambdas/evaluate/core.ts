/**
 * Evaluate: the first step of every workflow execution. Validates the intent,
 * hashes it, asks policy, and creates the request record with a conditional
 * write so a duplicate or replayed event starts no second review. An invalid
 * intent is recorded and denied here, before anything reaches Slack.
 */
import { type AuditActor, type AuditDeps, appendAudit, readChain } from '../shared/audit.js';
import { intentHash } from '../shared/canonical.js';
import { agentIdFromSource, INTENT_DETAIL_TYPE, type Intent, parseIntent } from '../shared/intent.js';
import type { IntentVerdict, PolicyDefaults } from '../shared/policy.js';
import { createRequest, getRequest } from '../shared/store.js';
import type { Evaluation, WorkflowState } from '../shared/workflow.js';

/** Dependencies of {@link evaluate}. */
export interface EvaluateDeps extends AuditDeps {
  policy: (input: { intent: Intent; agentId: string }, defaults: PolicyDefaults) => IntentVerdict;
  defaults: PolicyDefaults;
  warn?: (message: string, extra?: Record<string, unknown>) => void;
}

const INTENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$/;

/**
 * The request id for an event: the intent's own id when it is well formed,
 * otherwise one derived from the EventBridge event id, so even a malformed
 * intent gets an audited, queryable denial.
 */
export function requestIdFor(state: Pick<WorkflowState, 'detail' | 'id'>): string {
  const candidate = (state.detail as { intentId?: unknown } | null | undefined)?.intentId;
  if (typeof candidate === 'string' && INTENT_ID.test(candidate)) return candidate;
  return `invalid-${state.id ?? 'unknown-event'}`;
}

/** Hash of whatever the agent sent, even when it is not a valid intent. */
function hashOfRaw(detail: unknown): string {
  try {
    return intentHash(detail ?? null);
  } catch {
    return 'sha256:unhashable';
  }
}

/** Evaluates one intent event. Never throws for bad input: bad input ends as a `deny` evaluation. */
export async function evaluate(deps: EvaluateDeps, state: WorkflowState): Promise<Evaluation> {
  const now = deps.now().toISOString();
  const requestId = requestIdFor(state);
  const agentId = agentIdFromSource(state.source);
  const source = typeof state.source === 'string' ? state.source : 'unknown';
  const actor: AuditActor = { type: 'agent', source, agentId: agentId ?? 'unknown' };

  const parsed = parseIntent(state.detail);
  const problem = !agentId
    ? `source "${source}" is not an agent source (countersign.agent.<agentId>)`
    : state['detail-type'] !== undefined && state['detail-type'] !== INTENT_DETAIL_TYPE
      ? `detail-type "${state['detail-type']}" is not "${INTENT_DETAIL_TYPE}"`
      : parsed.ok
        ? undefined
        : parsed.reason;

  if (problem || !parsed.ok || !agentId) {
    const reason = problem ?? 'invalid intent';
    const hash = hashOfRaw(state.detail);
    const created = await createRequest(deps, {
      intentId: requestId,
      agentId: agentId ?? 'unknown',
      source,
      status: 'PENDING',
      intentHash: hash,
      createdAt: now,
      executionId: state.executionId,
      rejected: { reason },
    });
    if (created === 'duplicate') return duplicate(requestId, agentId ?? 'unknown', hash);
    await appendAudit(
      deps,
      { requestId, createdAt: now },
      {
        kind: 'rejected',
        actor,
        intentHash: hash,
        data: { reason, eventId: state.id ?? null },
      },
    );
    return {
      requestId,
      outcome: 'deny',
      agentId: agentId ?? 'unknown',
      intentHash: hash,
      reason,
      policies: [],
    };
  }

  const intent = parsed.intent;
  const hash = intentHash(intent);
  const verdict = deps.policy({ intent, agentId }, deps.defaults);
  for (const warning of verdict.warnings) deps.warn?.(warning, { requestId });
  const expiresAt =
    verdict.outcome === 'review' && verdict.review
      ? new Date(deps.now().getTime() + verdict.review.timeoutSeconds * 1000).toISOString()
      : undefined;

  const created = await createRequest(deps, {
    intentId: intent.intentId,
    agentId,
    source,
    status: 'PENDING',
    intent,
    intentHash: hash,
    createdAt: now,
    executionId: state.executionId,
    review: verdict.review,
    expiresAt,
  });
  if (created === 'duplicate') {
    // A retried Evaluate of the same execution finds its own request: carry on with it.
    const own = await resumeOwnRequest(deps, requestId, state.executionId, verdict);
    if (own) return own;
    return duplicate(requestId, agentId, hash);
  }

  const chain = { requestId, createdAt: now };
  await appendAudit(deps, chain, {
    kind: 'requested',
    actor,
    intentHash: hash,
    data: { intent, eventId: state.id ?? null, executionId: state.executionId ?? null },
  });
  await appendAudit(deps, chain, {
    kind: 'policy-evaluated',
    actor: { type: 'policy', policies: verdict.policies },
    intentHash: hash,
    data: {
      outcome: verdict.outcome,
      reason: verdict.reason,
      warnings: verdict.warnings,
      review: verdict.review ?? null,
      expiresAt: expiresAt ?? null,
    },
  });
  return {
    requestId,
    outcome: verdict.outcome,
    agentId,
    intentHash: hash,
    reason: verdict.reason,
    policies: verdict.policies,
    ...(verdict.review ? { review: verdict.review } : {}),
  };
}

/**
 * When Step Functions retries Evaluate (a Lambda service error after the
 * request was written), the request already exists with this execution's id.
 * That is not a duplicate: return the evaluation the first attempt made,
 * completing its audit records if the first attempt died before writing them.
 */
async function resumeOwnRequest(
  deps: EvaluateDeps,
  requestId: string,
  executionId: string | undefined,
  verdict: IntentVerdict,
): Promise<Evaluation | undefined> {
  if (!executionId) return undefined;
  const request = await getRequest(deps, requestId);
  if (!request || request.executionId !== executionId || request.status !== 'PENDING') return undefined;
  const kinds = new Set((await readChain(deps, requestId)).map((r) => r.kind));
  const chain = { requestId, createdAt: request.createdAt };
  if (!kinds.has('requested')) {
    await appendAudit(deps, chain, {
      kind: 'requested',
      actor: { type: 'agent', source: request.source, agentId: request.agentId },
      intentHash: request.intentHash,
      data: { intent: request.intent, executionId },
    });
  }
  if (!kinds.has('policy-evaluated')) {
    await appendAudit(deps, chain, {
      kind: 'policy-evaluated',
      actor: { type: 'policy', policies: verdict.policies },
      intentHash: request.intentHash,
      data: {
        outcome: verdict.outcome,
        reason: verdict.reason,
        warnings: verdict.warnings,
        review: request.review ?? null,
      },
    });
  }
  return {
    requestId,
    outcome: verdict.outcome,
    agentId: request.agentId,
    intentHash: request.intentHash,
    reason: verdict.reason,
    policies: verdict.policies,
    ...(request.review ? { review: request.review } : {}),
  };
}

function duplicate(requestId: string, agentId: string, hash: string): Evaluation {
  return {
    requestId,
    outcome: 'duplicate',
    agentId,
    intentHash: hash,
    reason: `a request for intent ${requestId} already exists; this event starts no second review`,
    policies: [],
  };
}
