/**
 * Evaluate: the first step of every workflow execution. Validates the intent,
 * hashes it, asks policy, and creates the request record with a conditional
 * write so a duplicate or replayed event starts no second review. An invalid
 * intent is recorded and denied here, before anything reaches Slack.
 */
import { type AuditActor, type AuditDeps, type AuditEntry, appendAudit, readChain } from '../shared/audit.js';
import { intentHash } from '../shared/canonical.js';
import {
  agentIdFromSource,
  INTENT_DETAIL_TYPE,
  INTENT_ID,
  type Intent,
  parseIntent,
} from '../shared/intent.js';
import type { IntentVerdict, PolicyDefaults } from '../shared/policy.js';
import type { Verification, VerifiedFacts } from '../shared/registration.js';
import { createRequest, getRequest } from '../shared/store.js';
import type { Evaluation, WorkflowState } from '../shared/workflow.js';

/** Dependencies of {@link evaluate}. */
export interface EvaluateDeps extends AuditDeps {
  policy: (
    input: { intent: Intent; agentId: string; verified: VerifiedFacts },
    defaults: PolicyDefaults,
  ) => IntentVerdict;
  /** Registered owner and derived environment of an intent, or why it is refused (see shared/registration.ts). */
  verify: (agentId: string, intent: Intent) => Verification;
  defaults: PolicyDefaults;
  warn?: (message: string, extra?: Record<string, unknown>) => void;
}

/**
 * The request id for an event: the intent's own id when it is well formed,
 * otherwise one derived from the EventBridge event id, so even a malformed
 * intent gets an audited, queryable denial.
 */
export function requestIdFor(state: Pick<WorkflowState, 'detail' | 'id'>): string {
  const candidate = (state.detail as { intentId?: unknown } | null | undefined)?.intentId;
  if (typeof candidate === 'string' && INTENT_ID.test(candidate)) return candidate;
  return eventRequestId(state);
}

/**
 * The request id of an event that cannot have its intent's id: a malformed
 * id, or an id another intent already holds. Derived from the EventBridge
 * event id, which PutEvents returned to the publisher.
 */
export function eventRequestId(state: Pick<WorkflowState, 'id'>): string {
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
  const verification = parsed.ok && agentId ? deps.verify(agentId, parsed.intent) : undefined;
  const problem = !agentId
    ? `source "${source}" is not an agent source (countersign.agent.<agentId>)`
    : state['detail-type'] !== undefined && state['detail-type'] !== INTENT_DETAIL_TYPE
      ? `detail-type "${state['detail-type']}" is not "${INTENT_DETAIL_TYPE}"`
      : !parsed.ok
        ? parsed.reason
        : verification && !verification.ok
          ? verification.reason
          : undefined;

  if (problem || !parsed.ok || !agentId || !verification?.ok) {
    const reason = problem ?? 'invalid intent';
    const hash = hashOfRaw(state.detail);
    const item = {
      intentId: requestId,
      agentId: agentId ?? 'unknown',
      source,
      status: 'PENDING' as const,
      intentHash: hash,
      createdAt: now,
      executionId: state.executionId,
      rejected: { reason },
    };
    const entries = () => [
      { kind: 'rejected' as const, actor, intentHash: hash, data: { reason, eventId: state.id ?? null } },
    ];
    const created = await createOrResume(deps, state, item, entries);
    if (created === 'duplicate') return duplicate(requestId, agentId ?? 'unknown', hash);
    if (created === 'conflict')
      return refuseConflict(deps, state, { requestId, agentId, source, hash, actor });
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
  const verified = verification.facts;
  const verdict = deps.policy({ intent, agentId, verified }, deps.defaults);
  for (const warning of verdict.warnings) deps.warn?.(warning, { requestId });
  const expiresAt =
    verdict.outcome === 'review' && verdict.review
      ? new Date(deps.now().getTime() + verdict.review.timeoutSeconds * 1000).toISOString()
      : undefined;
  const item = {
    intentId: intent.intentId,
    agentId,
    source,
    status: 'PENDING' as const,
    intent,
    verified,
    intentHash: hash,
    createdAt: now,
    executionId: state.executionId,
    review: verdict.review,
    expiresAt,
  };
  const entries = (stored: { expiresAt?: string }): AuditEntry[] => [
    {
      kind: 'requested',
      actor,
      intentHash: hash,
      data: { intent, verified, eventId: state.id ?? null, executionId: state.executionId ?? null },
    },
    {
      kind: 'policy-evaluated',
      actor: { type: 'policy', policies: verdict.policies },
      intentHash: hash,
      data: {
        outcome: verdict.outcome,
        reason: verdict.reason,
        warnings: verdict.warnings,
        review: verdict.review ?? null,
        expiresAt: stored.expiresAt ?? null,
        // Which policy set decided: the digest of the bundle validated at synth.
        policyDigest: verdict.policyDigest,
        // `@mode("shadow")` policies: what they would have decided; nothing acts on it.
        ...(verdict.shadow ? { shadow: verdict.shadow } : {}),
      },
    },
  ];
  const created = await createOrResume(deps, state, item, entries);
  if (created === 'duplicate') return duplicate(requestId, agentId, hash);
  if (created === 'conflict') return refuseConflict(deps, state, { requestId, agentId, source, hash, actor });
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
 * Creates the request and writes its first audit records. A request that
 * already exists is a duplicate when it holds the same intent from the same
 * agent (a redelivery or a republish: idempotent), and a conflict when it
 * holds anything else (the id names another intent: never joined) — unless it
 * is this execution's own: Step Functions retried Evaluate after a Lambda
 * service error that came after the write. Then the first attempt's request
 * stands, and any of its audit records that attempt did not get to write are
 * written now.
 */
async function createOrResume(
  deps: EvaluateDeps,
  state: WorkflowState,
  item: Parameters<typeof createRequest>[1],
  entries: (stored: { expiresAt?: string }) => AuditEntry[],
): Promise<'created' | 'resumed' | 'duplicate' | 'conflict'> {
  let stored: { createdAt: string; expiresAt?: string } = item;
  let written = new Set<string>();
  if ((await createRequest(deps, item)) === 'duplicate') {
    const existing = await getRequest(deps, item.intentId);
    const own =
      existing !== undefined && state.executionId !== undefined && existing.executionId === state.executionId;
    if (!existing || !own || existing.status !== 'PENDING') {
      const same = existing?.intentHash === item.intentHash && existing.agentId === item.agentId;
      return same || own ? 'duplicate' : 'conflict';
    }
    stored = existing;
    written = new Set((await readChain(deps, item.intentId)).map((r) => r.kind));
  }
  const chain = { requestId: item.intentId, createdAt: stored.createdAt };
  for (const entry of entries(stored)) {
    if (!written.has(entry.kind)) await appendAudit(deps, chain, entry);
  }
  return written.size > 0 || stored !== item ? 'resumed' : 'created';
}

/**
 * Refuses an event whose intent id already names another intent (other
 * content, or another agent's): the existing request is left untouched, and
 * this event gets a denied request of its own under {@link eventRequestId},
 * audited, so the publisher finds the refusal on the bus and the status API.
 */
async function refuseConflict(
  deps: EvaluateDeps,
  state: WorkflowState,
  attempt: {
    requestId: string;
    agentId: string | undefined;
    source: string;
    hash: string;
    actor: AuditActor;
  },
): Promise<Evaluation> {
  const requestId = eventRequestId(state);
  const agentId = attempt.agentId ?? 'unknown';
  const reason = `intent id ${attempt.requestId} is already used by another intent; this one (${attempt.hash}) is refused, not joined: publish it under a new intent id`;
  const item = {
    intentId: requestId,
    agentId,
    source: attempt.source,
    status: 'PENDING' as const,
    intentHash: attempt.hash,
    createdAt: deps.now().toISOString(),
    executionId: state.executionId,
    rejected: { reason, claimedIntentId: attempt.requestId },
  };
  const entries = () => [
    {
      kind: 'rejected' as const,
      actor: attempt.actor,
      intentHash: attempt.hash,
      data: { reason, claimedIntentId: attempt.requestId, eventId: state.id ?? null },
    },
  ];
  const created = await createOrResume(deps, state, item, entries);
  // A redelivery of the same event: its first execution refuses it.
  if (created === 'duplicate' || created === 'conflict') return duplicate(requestId, agentId, attempt.hash);
  return { requestId, outcome: 'deny', agentId, intentHash: attempt.hash, reason, policies: [] };
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
