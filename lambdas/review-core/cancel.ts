/**
 * Cancel: the agent's own review verb; its channel is the bus. An agent
 * withdraws its own pending intent by publishing `Privileged Action
 * Cancelled` (`{ intentId, reason? }`) with its own
 * `countersign.agent.<agentId>` source. IAM binds each agent to its source,
 * so the source names who is cancelling; only the agent that asked may
 * cancel. One conditional write decides CANCELLED (exactly one final
 * decision, whatever races it), the cancellation is audited, and the waiting
 * Review task fails with `Countersign.Cancelled` using the stored token;
 * Record then finalizes CANCELLED and repaints the card.
 *
 * A retried event (EventBridge retries when the handler failed after its
 * decision won, say on a throttled SendTaskFailure) finishes the same
 * cancellation instead of calling it late: the audit record is appended if it
 * is missing and the review task is failed again.
 */
import { SendTaskFailureCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { type AuditActor, type AuditDeps, appendAudit, readChain } from '../shared/audit.js';
import {
  agentIdFromSource,
  CANCEL_DETAIL_TYPE,
  cancellationSchema,
  describeIssues,
} from '../shared/intent.js';
import { currentHash, decide, getRequest, type RequestDecision, type RequestItem } from '../shared/store.js';
import { type BusEvent, REVIEW_ERROR } from '../shared/workflow.js';
import { TASK_ENDED } from './settle.js';

/** Dependencies of {@link cancel}. */
export interface CancelDeps extends AuditDeps {
  sfn: Pick<SFNClient, 'send'>;
  warn?: (message: string, extra?: Record<string, unknown>) => void;
}

/** What a cancellation did. */
export type CancelOutcome = 'cancelled' | 'refused' | 'late' | 'unknown-request' | 'invalid';

/** Handles one cancellation event. Bad input is reported, never thrown (EventBridge would retry it). */
export async function cancel(
  deps: CancelDeps,
  event: BusEvent,
): Promise<{ outcome: CancelOutcome; reason: string }> {
  const agentId = agentIdFromSource(event.source);
  if (!agentId)
    return { outcome: 'invalid', reason: `source "${String(event.source)}" is not an agent source` };
  if (event['detail-type'] !== CANCEL_DETAIL_TYPE)
    return { outcome: 'invalid', reason: `detail-type is not "${CANCEL_DETAIL_TYPE}"` };
  const parsed = cancellationSchema.safeParse(event.detail);
  if (!parsed.success)
    return { outcome: 'invalid', reason: `invalid cancellation: ${describeIssues(parsed.error)}` };
  const { intentId, reason } = parsed.data;
  const request = await getRequest(deps, intentId);
  if (!request) return { outcome: 'unknown-request', reason: `no request ${intentId}` };
  const source = String(event.source);
  const actor = { type: 'agent' as const, source, agentId };
  const chain = { requestId: request.intentId, createdAt: request.createdAt };

  if (request.agentId !== agentId) {
    const why = `agent ${agentId} cannot cancel an intent of another agent`;
    await appendAudit(deps, chain, {
      kind: 'refused',
      actor,
      intentHash: currentHash(request),
      data: { cancel: true, code: 'not-owner', reason: why, eventId: event.id ?? null },
    });
    deps.warn?.('cancellation refused', { requestId: intentId, agentId, owner: request.agentId });
    return { outcome: 'refused', reason: why };
  }
  const data = { reason: reason ?? null, eventId: event.id ?? null };
  if (request.status !== 'PENDING') {
    // Only the owning agent can cancel, so a CANCELLED decision is this agent's. Not yet
    // finalized means it won earlier but did not finish (this is a retry): finish it,
    // auditing it only if the first attempt did not get that far.
    // Finalized already (Record ran, e.g. after the review task timed out): a redelivery of a
    // finished cancellation, answered as what it was, with nothing done twice.
    const earlier = request.decision;
    if (earlier?.status === 'CANCELLED') {
      if (!request.finalizedAt) {
        const audited = (await readChain(deps, intentId)).some((r) => r.kind === 'cancelled');
        await finish(deps, request, earlier, actor, audited ? undefined : data);
      }
      return { outcome: 'cancelled', reason: earlier.reason };
    }
    return { outcome: 'late', reason: `request ${intentId} is already ${request.status}` };
  }

  const decision: RequestDecision = {
    status: 'CANCELLED',
    automatic: false,
    reason: `Cancelled by agent ${agentId}${reason ? `: ${reason}` : ''}`,
    decidedAt: deps.now().toISOString(),
    approvers: request.approvals,
    policies: request.review?.policies ?? [],
    intentHash: currentHash(request),
  };
  const result = await decide(deps, intentId, decision);
  if (!result.won) {
    return { outcome: 'late', reason: `request ${intentId} was decided first (${result.request?.status})` };
  }
  await finish(deps, result.request, decision, actor, data);
  // Without a token the Review step has not started: it finds the request CANCELLED and ends the same way.
  return { outcome: 'cancelled', reason: decision.reason };
}

/**
 * Audits a won cancellation (unless `audit` is undefined: already audited)
 * and fails the waiting review task with `Countersign.Cancelled`.
 */
async function finish(
  deps: CancelDeps,
  request: RequestItem,
  decision: RequestDecision,
  actor: AuditActor,
  audit: { reason: string | null; eventId: string | null } | undefined,
): Promise<void> {
  if (audit) {
    const chain = { requestId: request.intentId, createdAt: request.createdAt };
    await appendAudit(deps, chain, {
      kind: 'cancelled',
      actor,
      intentHash: decision.intentHash,
      // Final: Record will reconcile to this same CANCELLED decision (and grants nothing).
      data: { final: true, decision, ...audit },
    });
  }
  const token = request.taskToken;
  if (token) {
    try {
      await deps.sfn.send(
        new SendTaskFailureCommand({
          taskToken: token,
          error: REVIEW_ERROR.cancelled,
          cause: decision.reason,
        }),
      );
    } catch (error) {
      const name = (error as { name?: string }).name ?? '';
      if (!TASK_ENDED.has(name)) throw error;
      deps.warn?.('workflow had already ended when the cancellation arrived', {
        requestId: request.intentId,
      });
    }
  }
}
