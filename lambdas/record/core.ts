/**
 * Record: the workflow's single exit for every path — policy allow or deny,
 * human approval or denial, expiry, cancellation and every error. It turns the
 * workflow's view into one final decision, writes it to the request, audits
 * it, refreshes the card, and returns the decision event's detail.
 *
 * Fail closed: anything that is not a consistent approval becomes a denial.
 * Idempotent: a retried Record returns the decision already written and only
 * adds the final audit record if the first attempt died before writing it.
 * A break-glass approval's broadcast and post-hoc review item are posted here
 * (./break-glass-notice.ts), each once; a Slack failure throws so the workflow
 * retries Record.
 */
import { randomUUID } from 'node:crypto';
import type { WebClient } from '@slack/web-api';
import { eventRequestId, requestIdFor } from '../evaluate/core.js';
import type { ReviewNotifier } from '../review-core/contract.js';
import { inlineValue } from '../shared/agent-text.js';
import { type AuditDeps, type AuditKind, appendAudit, readChain } from '../shared/audit.js';
import { mention, renderCard } from '../shared/card.js';
import { dequeueCard } from '../shared/card-queue.js';
import { createGrant } from '../shared/grants.js';
import type { DecisionDetail, FinalStatus } from '../shared/intent.js';
import { userIdByEmail } from '../shared/mentions.js';
import {
  createRequest,
  finalize,
  getRequest,
  type RequestDecision,
  type RequestItem,
  toDetail,
} from '../shared/store.js';
import { BREAK_GLASS_NOTICE_ERROR, REVIEW_ERROR, type WorkflowState } from '../shared/workflow.js';
import { announceBreakGlass } from './break-glass-notice.js';
import { alertFlood } from './flood-alert.js';

/** Dependencies of {@link record}. */
export interface RecordDeps extends AuditDeps {
  slack?: () => Promise<Pick<WebClient, 'chat' | 'users' | 'usergroups'>>;
  /** How long an approval's grant may be used. */
  grantTtlSeconds: number;
  warn?: (message: string, extra?: Record<string, unknown>) => void;
  /** The other channels' notifiers (Teams): their cards show the final decision too. Each never throws. */
  otherChannels?: ReviewNotifier[];
  /** The approvals channel, where the flood alert of an over-quota agent goes (./flood-alert.ts). */
  alertChannel?: string;
  /**
   * Starts the card poster after a queued card left the queue, so the queue
   * message and the cards held back behind a backlog catch up now rather
   * than at the next sweep.
   */
  kickPoster?: (channel: string) => Promise<void>;
}

const FINAL_KIND: Record<FinalStatus, AuditKind> = {
  APPROVED: 'decided',
  DENIED: 'decided',
  EXPIRED: 'expired',
  CANCELLED: 'cancelled',
};

/** What the workflow's state says happened, before reconciling with the request. */
export function workflowVerdict(
  state: WorkflowState,
  request: RequestItem | undefined,
): { status: FinalStatus; automatic: boolean; reason: string; human: boolean } {
  const failure = state.failure;
  if (failure?.Error) {
    switch (failure.Error) {
      case 'States.Timeout': {
        const seconds = request?.review?.timeoutSeconds;
        return {
          status: 'EXPIRED',
          automatic: true,
          reason: `nobody decided within ${seconds ? `${seconds} s` : 'the review timeout'}; expired requests are denied`,
          human: false,
        };
      }
      case REVIEW_ERROR.denied:
        return {
          status: 'DENIED',
          automatic: false,
          reason: failure.Cause || 'denied by a reviewer',
          human: true,
        };
      case BREAK_GLASS_NOTICE_ERROR:
        return {
          status: 'DENIED',
          automatic: true,
          reason:
            'denied: the break-glass approval could not be announced to the approvers (Slack refused the broadcast or the post-hoc review item through every retry), and an approval nobody was told of does not stand',
          human: false,
        };
      case REVIEW_ERROR.cancelled:
        return {
          status: 'CANCELLED',
          automatic: false,
          reason: failure.Cause || 'cancelled by the agent',
          human: false,
        };
      default:
        return {
          status: 'DENIED',
          automatic: true,
          reason: `denied because Countersign failed (${failure.Error}${failure.Cause ? `: ${truncateCause(failure.Cause)}` : ''})`,
          human: false,
        };
    }
  }
  const evaluation = state.evaluation;
  if (evaluation?.outcome === 'allow')
    return { status: 'APPROVED', automatic: true, reason: evaluation.reason, human: false };
  if (evaluation?.outcome === 'deny')
    return { status: 'DENIED', automatic: true, reason: evaluation.reason, human: false };
  if (evaluation?.outcome === 'review' && state.review?.status === 'APPROVED') {
    return { status: 'APPROVED', automatic: false, reason: 'approved by reviewers', human: true };
  }
  return {
    status: 'DENIED',
    automatic: true,
    reason: 'denied: the workflow reached Record in an unknown state',
    human: false,
  };
}

function truncateCause(cause: string): string {
  return cause.length > 500 ? `${cause.slice(0, 500)}…` : cause;
}

/**
 * Reconciles the workflow's verdict with the decision a human wrote on the
 * request. An approval stands only when both agree; any disagreement denies.
 */
export function reconcile(
  verdict: ReturnType<typeof workflowVerdict>,
  request: RequestItem,
  policies: string[],
  now: string,
): RequestDecision {
  const human = request.decision;
  const base = {
    approvers: request.approvals ?? [],
    policies,
    intentHash: human?.intentHash ?? request.intentHash,
    decidedAt: now,
  };
  if (verdict.human) {
    if (human && human.status === verdict.status)
      return { ...human, policies: human.policies.length ? human.policies : policies };
    if (verdict.status === 'DENIED')
      return { ...base, status: 'DENIED', automatic: false, reason: verdict.reason };
    return {
      ...base,
      status: 'DENIED',
      automatic: true,
      reason: `denied: the workflow saw ${verdict.status} but the request records ${human?.status ?? 'no decision'}`,
    };
  }
  if (human && human.status !== 'APPROVED' && verdict.status === 'APPROVED') {
    // A cancellation or denial that landed before Record (e.g. a cancel racing a policy allow) stands: fail closed.
    return { ...human, policies: human.policies.length ? human.policies : policies };
  }
  if (human && human.status !== verdict.status && verdict.status === 'EXPIRED') {
    // A click that lost the race with expiry: the workflow already expired, so expiry stands.
    return {
      ...base,
      status: 'EXPIRED',
      automatic: true,
      reason: `${verdict.reason} (a late ${human.status.toLowerCase()} by a reviewer arrived after expiry)`,
    };
  }
  return { ...base, status: verdict.status, automatic: verdict.automatic, reason: verdict.reason };
}

/** Records the final decision of one execution and returns the decision event detail. */
export async function record(deps: RecordDeps, state: WorkflowState): Promise<DecisionDetail> {
  return (await recordDecision(deps, state)).detail;
}

/**
 * {@link record}, also returning the request as stored with its final
 * decision, for callers that read it afterwards (the handler's metrics).
 */
export async function recordDecision(
  deps: RecordDeps,
  state: WorkflowState,
): Promise<{ detail: DecisionDetail; request: RequestItem }> {
  const now = deps.now();
  let requestId = state.evaluation?.requestId ?? requestIdFor(state);
  let request = await getRequest(deps, requestId);
  if (!state.evaluation && request && state.executionId && request.executionId !== state.executionId) {
    // Evaluate failed on an event naming another execution's intent id: deny this event, never that request.
    requestId = eventRequestId(state);
    request = await getRequest(deps, requestId);
  }
  if (!request) {
    // Evaluate failed before it could create the request: create it now so the denial is stored and audited.
    await createRequest(deps, {
      intentId: requestId,
      agentId: state.evaluation?.agentId ?? 'unknown',
      source: typeof state.source === 'string' ? state.source : 'unknown',
      status: 'PENDING',
      intentHash: state.evaluation?.intentHash ?? 'sha256:unknown',
      createdAt: now.toISOString(),
      executionId: state.executionId,
      rejected: { reason: 'evaluation did not complete' },
    });
    request = await getRequest(deps, requestId);
    if (!request) throw new Error(`request ${requestId} vanished while recording`);
  }

  const policies = state.evaluation?.policies ?? request.review?.policies ?? [];
  const verdict = workflowVerdict(state, request);
  let decision = reconcile(verdict, request, policies, now.toISOString());
  if (decision.status === 'APPROVED') {
    decision = {
      ...decision,
      grant: {
        grantId: randomUUID(),
        expiresAt: new Date(now.getTime() + deps.grantTtlSeconds * 1000).toISOString(),
        singleUse: true,
      },
    };
  }

  // Before the decision is final: when the notice cannot be posted after every
  // retry, the workflow runs Record again with that failure, and the request is
  // finalized DENIED (no grant) rather than APPROVED and announced denied.
  if (decision.status === 'APPROVED' && decision.breakGlass && deps.slack && !request.finalizedAt)
    request = await announceBreakGlass({ ...deps, slack: deps.slack }, request);

  // An over-quota intent: the window's one flood alert, if this is the first to claim it. Never throws,
  // and the denial does not wait on Slack's answer to stand (it is already the only possible outcome).
  if (request.rateLimited && !request.finalizedAt) await alertFlood(deps, request);

  const finalized = await finalize(deps, requestId, decision);
  const won = finalized.won;
  if (!finalized.request?.decision) throw new Error(`request ${requestId} is finalized without a decision`);
  request = finalized.request;
  decision = finalized.request.decision;
  if (decision.status === 'APPROVED') await createGrant(deps, request, decision); // idempotent conditional put

  // Every outcome ends in exactly one final record (`final: true`, the decision
  // with its grant). Record writes it unless an earlier attempt, or the handler
  // that ended the review early (a cancellation, a click on an ended review), did.
  const chain = await readChain(deps, requestId);
  const status = decision.status;
  const audited = chain.some(
    (r) => r.data.final === true && (r.data.decision as { status?: string } | undefined)?.status === status,
  );
  if (!audited) {
    await appendAudit(
      deps,
      { requestId, createdAt: request.createdAt },
      {
        kind: FINAL_KIND[decision.status],
        actor: decision.decidedBy
          ? { type: 'human', slackUserId: decision.decidedBy.slackUserId, email: decision.decidedBy.email }
          : decision.automatic
            ? { type: 'policy', policies: decision.policies }
            : { type: 'system', component: 'record' },
        intentHash: decision.intentHash,
        data: { final: true, decision, executionId: state.executionId ?? null },
      },
    );
  }

  // Decided while its card waited in the queue: the card leaves it (the poster would skip it anyway).
  if (request.queued && !request.card && (await dequeueCard(deps, request.queued)))
    await kickPoster(deps, request.queued.channel);
  await refreshCard(deps, request);
  for (const channel of deps.otherChannels ?? []) await channel.requestChanged(request);
  if (won) await notifyRequester(deps, request, decision);
  return { detail: toDetail(request, decision), request };
}

const OUTCOME_WORD: Record<FinalStatus, string> = {
  APPROVED: ':white_check_mark: approved',
  DENIED: ':no_entry: denied',
  EXPIRED: ':alarm_clock: expired (nobody decided in time; expired requests are denied)',
  CANCELLED: ':wastebasket: cancelled by the agent',
};

/**
 * Tells the human the agent acted for how their reviewed request ended: a DM
 * (`users.lookupByEmail`, then `chat.postMessage` to the user id). Only for
 * requests that went to a review card (policy decisions need no DM). A failure
 * is logged and never fails the decision.
 */
async function notifyRequester(
  deps: RecordDeps,
  request: RequestItem,
  decision: RequestDecision,
): Promise<void> {
  if (!request.card || !request.intent || !deps.slack) return;
  try {
    const slack = await deps.slack();
    const userId = await userIdByEmail(slack, request.intent.agent.onBehalfOf);
    if (!userId) throw new Error('no Slack user with that email');
    const i = request.intent;
    const by = decision.decidedBy ? ` by ${mention(decision.decidedBy.slackUserId)}` : '';
    const lines = [
      `Your agent ${inlineValue(request.agentId)} asked to run ${inlineValue(i.action)} on ${inlineValue(i.resource)} (${inlineValue(i.environment)}). The request was *${OUTCOME_WORD[decision.status]}*${by}.`,
      `Reason: ${inlineValue(decision.reason, 1500)}`,
      ...(decision.parameters ? ['It was approved with modified parameters; the agent received them.'] : []),
      ...(decision.breakGlass
        ? ['This was a break-glass approval: an approver will review it afterwards.']
        : []),
      `Request ${inlineValue(request.intentId)} · <${cardLink(request)}|review card>`,
    ];
    await slack.chat.postMessage({ channel: userId, text: lines.join('\n'), unfurl_links: false });
  } catch (error) {
    deps.warn?.('could not DM the requester the outcome', {
      requestId: request.intentId,
      error: (error as Error).message ?? String(error),
    });
  }
}

/** Kicks the poster; a failed kick is logged (the decision is durable, and the sweep runs the poster anyway). */
async function kickPoster(deps: RecordDeps, channel: string): Promise<void> {
  try {
    await deps.kickPoster?.(channel);
  } catch (error) {
    deps.warn?.('could not kick the card poster', {
      channel,
      error: (error as Error).message ?? String(error),
    });
  }
}

/** Slack's archive link of the card (opens the message in the workspace). */
const cardLink = (request: RequestItem) =>
  `https://slack.com/archives/${request.card!.channel}/p${request.card!.ts.replace('.', '')}`;

async function refreshCard(deps: RecordDeps, request: RequestItem): Promise<void> {
  if (!request.card || !request.intent || !deps.slack) return;
  try {
    const slack = await deps.slack();
    const card = renderCard(request);
    await slack.chat.update({
      channel: request.card.channel,
      ts: request.card.ts,
      text: card.text,
      blocks: card.blocks,
    });
  } catch (error) {
    // The decision is durable and audited; a stale card must not turn it into a failure.
    deps.warn?.('could not refresh the review card', { requestId: request.intentId, error: String(error) });
  }
}
