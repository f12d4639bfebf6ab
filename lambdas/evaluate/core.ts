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
import { countIntent, overQuota } from '../shared/quota-store.js';
import type { AppliedQuota, RateLimit } from '../shared/rate-limit.js';
import type { Verification, VerifiedFacts } from '../shared/registration.js';
import { createRequest, getRequest, type RateLimitVerdict } from '../shared/store.js';
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
  /**
   * Request quotas (`@rate` policies, the configured default): the handler
   * always sets them; tests of other concerns may leave them out.
   */
  quota?: QuotaDeps;
  warn?: (message: string, extra?: Record<string, unknown>) => void;
}

/** What Evaluate needs to count an intent against its agent's quota. */
export interface QuotaDeps {
  /** The quotas that apply to a verified intent (policy.ts `quotasFor`). */
  quotasFor: (
    input: { intent: Intent; agentId: string; verified: VerifiedFacts },
    fallback: RateLimit,
  ) => AppliedQuota[];
  /** The canonical action class an action is counted under (policy.ts `quotaClass`). */
  classOf: (action: string) => string;
  /** The configured default quota (`defaultRateLimit`). */
  fallback: RateLimit;
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
    const created = (await createOrResume(deps, state, item, entries)).status;
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
  // Counted before the request is written, whatever policy says: the quota counts every verified
  // intent that reaches the loop, and an over-quota intent is created denied, never reviewed.
  const limited = deps.quota ? await checkQuota(deps, deps.quota, { intent, agentId, verified }) : undefined;
  const expiresAt =
    verdict.outcome === 'review' && verdict.review && !limited
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
    ...(limited ? { rateLimited: limited } : { review: verdict.review, expiresAt }),
  };
  const entries = (stored: { expiresAt?: string; rateLimited?: RateLimitVerdict }): AuditEntry[] => [
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
    ...(stored.rateLimited
      ? [
          {
            kind: 'rate-limited' as const,
            actor: { type: 'system' as const, component: 'quota' },
            intentHash: hash,
            data: { ...stored.rateLimited },
          },
        ]
      : []),
  ];
  const created = await createOrResume(deps, state, item, entries);
  if (created.status === 'duplicate') return duplicate(requestId, agentId, hash);
  if (created.status === 'conflict')
    return refuseConflict(deps, state, { requestId, agentId, source, hash, actor });
  // A retried Evaluate keeps what its first attempt wrote.
  const rateLimited = created.stored.rateLimited;
  if (rateLimited) {
    return {
      requestId,
      outcome: 'deny',
      agentId,
      intentHash: hash,
      reason: rateLimited.reason,
      policies: rateLimited.quota?.policies ?? [],
      rateLimited,
    };
  }
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
  entries: (stored: { expiresAt?: string; rateLimited?: RateLimitVerdict }) => AuditEntry[],
): Promise<{
  status: 'created' | 'resumed' | 'duplicate' | 'conflict';
  stored: { createdAt: string; expiresAt?: string; rateLimited?: RateLimitVerdict };
}> {
  let stored: { createdAt: string; expiresAt?: string; rateLimited?: RateLimitVerdict } = item;
  let written = new Set<string>();
  if ((await createRequest(deps, item)) === 'duplicate') {
    const existing = await getRequest(deps, item.intentId);
    const own =
      existing !== undefined && state.executionId !== undefined && existing.executionId === state.executionId;
    if (!existing || !own || existing.status !== 'PENDING') {
      const same = existing?.intentHash === item.intentHash && existing.agentId === item.agentId;
      return { status: same || own ? 'duplicate' : 'conflict', stored };
    }
    stored = existing;
    written = new Set((await readChain(deps, item.intentId)).map((r) => r.kind));
  }
  const chain = { requestId: item.intentId, createdAt: stored.createdAt };
  for (const entry of entries(stored)) {
    if (!written.has(entry.kind)) await appendAudit(deps, chain, entry);
  }
  return { status: written.size > 0 || stored !== item ? 'resumed' : 'created', stored };
}

/**
 * Counts a verified intent against its agent's quotas. Undefined when it is
 * within them; else why it is refused: over a quota, or the counter could not
 * be updated (fail closed: an intent whose count is unknown is not reviewed).
 * The agent is the one its EventBridge source names (IAM binds each agent's
 * role to its own source), the class the canonical one: nothing else the
 * agent writes (intent id, resource, the action's case) moves the count.
 */
async function checkQuota(
  deps: EvaluateDeps,
  quota: QuotaDeps,
  input: { intent: Intent; agentId: string; verified: VerifiedFacts },
): Promise<RateLimitVerdict | undefined> {
  const actionClass = quota.classOf(input.intent.action);
  const base = { agentId: input.agentId, actionClass };
  try {
    const quotas = quota.quotasFor(input, quota.fallback);
    const counts = await countIntent(deps, { agentId: input.agentId, actionClass, quotas });
    const over = overQuota(counts);
    if (!over) return undefined;
    const { quota: q, count, windowStart } = over;
    const end = new Date((windowStart + q.windowSeconds) * 1000).toISOString();
    const by = q.policies.map((p) => `policy ${p}`).join(', ');
    return {
      outcome: 'over-quota',
      ...base,
      reason: `rate limited: agent ${input.agentId} sent ${count} ${actionClass} intents in the current ${q.windowSeconds}-second window, over its quota of ${q.text} (${by}); intents over the quota are denied without review until ${end}`,
      quota: { text: q.text, limit: q.limit, windowSeconds: q.windowSeconds, policies: q.policies },
      count,
      window: { start: new Date(windowStart * 1000).toISOString(), end },
      counter: over.key,
    };
  } catch (error) {
    const message = ((error as Error).message ?? String(error)).slice(0, 300);
    deps.warn?.('quota check failed; the intent is denied', { agentId: input.agentId, error: message });
    return {
      outcome: 'check-failed',
      ...base,
      reason: `denied: the request quota of agent ${input.agentId} could not be checked (${message}); an intent that cannot be counted is not reviewed`,
      error: message,
    };
  }
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
  const created = (await createOrResume(deps, state, item, entries)).status;
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
