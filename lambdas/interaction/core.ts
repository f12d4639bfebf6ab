/**
 * The interaction core: one Slack click in, at most one state change out.
 *
 * verify signature -> claim (timestamp, signature) against replays -> parse the
 * click -> load the request -> resolve the clicker -> invariants + eligibility
 * -> conditional vote / decision write -> SendTaskSuccess / SendTaskFailure ->
 * update the card. Refused, late and duplicate clickers get an ephemeral
 * message saying why. Every state change is audited before the workflow hears
 * of it, and any error before SendTaskSuccess leaves the review unapproved
 * (it then ends as EXPIRED, a denial): fail closed.
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { WebClient } from '@slack/web-api';
import { type AuditDeps, appendAudit } from '../shared/audit.js';
import { renderCard } from '../shared/card.js';
import { type IdentityResolver, identityResolverFor, type ResolvedIdentity } from '../shared/identity.js';
import type { ApproverRef } from '../shared/intent.js';
import {
  decide,
  getRequest,
  type RequestDecision,
  type RequestItem,
  recordApproval,
} from '../shared/store.js';
import { REVIEW_ERROR } from '../shared/workflow.js';
import { type ApprovalRule, checkVoter, type RefusalCode, reviewPlanRule } from './eligibility.js';
import { type HttpRequest, parseInteraction, type VoteAction } from './payload.js';
import { claimSignature, verifySlackSignature } from './signature.js';

/** The logging the core needs (Powertools' Logger fits). */
export interface CoreLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** Dependencies of {@link handleInteraction}. */
export interface InteractionDeps extends AuditDeps {
  sfn: Pick<SFNClient, 'send'>;
  slack: Pick<WebClient, 'chat' | 'users' | 'usergroups'>;
  signingSecret: string;
  logger: CoreLogger;
  /** @default the module-wide cached resolver of `slack` */
  identity?: IdentityResolver;
  /** Who may vote beyond the invariants. @default reviewPlanRule */
  canApprove?: ApprovalRule;
  /** Further group handles whose membership the approval rule reads (the policies' `groups.contains`). */
  policyGroups?: () => Promise<readonly string[]>;
}

/** What happened, one word per case; the handler emits a metric per outcome. */
export type InteractionOutcome =
  | 'signature-rejected'
  | 'replayed'
  | 'invalid-payload'
  | 'ignored'
  | 'unknown-request'
  | 'refused'
  | 'voted'
  | 'already-voted'
  | 'approved'
  | 'denied'
  | 'late'
  | 'expired'
  | 'error';

/** The HTTP answer and the outcome. */
export interface InteractionResult {
  statusCode: number;
  body: string;
  outcome: InteractionOutcome;
}

/** Errors from SendTask* meaning the workflow is no longer waiting (it timed out or ended). */
const TASK_ENDED = new Set(['TaskTimedOut', 'TaskDoesNotExist']);

const mention = (id: string) => `<@${id}>`;
const slackTime = (iso: string) =>
  `<!date^${Math.floor(new Date(iso).getTime() / 1000)}^{date_short_pretty} {time}|${iso}>`;

/** Handles one request to the interaction endpoint. Never throws. */
export async function handleInteraction(
  deps: InteractionDeps,
  http: HttpRequest,
): Promise<InteractionResult> {
  const check = verifySlackSignature({
    rawBody: http.rawBody,
    timestamp: http.headers['x-slack-request-timestamp'],
    signature: http.headers['x-slack-signature'],
    signingSecret: deps.signingSecret,
    nowSeconds: Math.floor(deps.now().getTime() / 1000),
  });
  if (!check.ok) {
    deps.logger.warn('Slack request rejected', { reason: check.reason });
    return { statusCode: 401, body: 'invalid Slack signature', outcome: 'signature-rejected' };
  }
  let action: VoteAction | undefined;
  try {
    if (!(await claimSignature(deps, check))) {
      deps.logger.warn('Slack request replayed', { timestamp: check.timestamp });
      return { statusCode: 401, body: 'replayed Slack request', outcome: 'replayed' };
    }
    const interaction = parseInteraction(http.rawBody.toString('utf8'));
    if (interaction.kind === 'invalid') {
      deps.logger.warn('invalid interaction payload', { reason: interaction.reason });
      return { statusCode: 400, body: interaction.reason, outcome: 'invalid-payload' };
    }
    if (interaction.kind === 'ignored') return { statusCode: 200, body: '', outcome: 'ignored' };
    action = interaction;
    const outcome = await processVote(deps, interaction);
    deps.logger.info('interaction handled', {
      outcome,
      requestId: interaction.requestId,
      user: interaction.userId,
    });
    return { statusCode: 200, body: '', outcome };
  } catch (error) {
    deps.logger.error('interaction failed; nothing was approved', {
      error:
        error instanceof Error
          ? { name: error.name, message: error.message, stack: error.stack }
          : String(error),
      requestId: action?.requestId,
    });
    if (action) {
      await ephemeral(
        deps,
        action,
        undefined,
        'Countersign could not process your click and approved nothing. Try again in a moment; if the card does not change, this review ends as a denial when it expires.',
      );
    }
    return { statusCode: 500, body: 'internal error', outcome: 'error' };
  }
}

async function processVote(deps: InteractionDeps, action: VoteAction): Promise<InteractionOutcome> {
  const request = await getRequest(deps, action.requestId);
  if (!request) {
    await ephemeral(deps, action, undefined, `Countersign has no request \`${action.requestId}\`.`);
    return 'unknown-request';
  }
  if (request.status !== 'PENDING') {
    await ephemeral(deps, action, request, lateMessage(request));
    return 'late';
  }
  if (request.expiresAt && deps.now().getTime() >= Date.parse(request.expiresAt)) {
    await ephemeral(
      deps,
      action,
      request,
      `This review expired at ${slackTime(request.expiresAt)}; it can no longer be decided.`,
    );
    return 'expired';
  }
  if (!request.review || !request.taskToken || !request.intent) {
    await refuse(deps, request, action, undefined, 'not-open', 'this request is not open for review');
    return 'refused';
  }
  const groups = [...new Set([...request.review.approverGroups, ...((await deps.policyGroups?.()) ?? [])])];
  const identity = await (deps.identity ?? identityResolverFor(deps.slack)).resolve(action.userId, groups);
  const verdict = await checkVoter(request, identity, action.vote, deps.canApprove ?? reviewPlanRule);
  if (!verdict.ok) {
    await refuse(deps, request, action, identity, verdict.code, verdict.reason);
    return 'refused';
  }
  const voter = { ...verdict.approver, via: verdict.via };
  return action.vote === 'approve'
    ? approve(deps, request, action, voter)
    : deny(deps, request, action, voter);
}

type Voter = { slackUserId: string; email: string; displayName: string; via: string };

async function approve(
  deps: InteractionDeps,
  request: RequestItem,
  action: VoteAction,
  voter: Voter,
): Promise<InteractionOutcome> {
  const plan = request.review!;
  const vote: ApproverRef = {
    slackUserId: voter.slackUserId,
    email: voter.email,
    at: deps.now().toISOString(),
  };
  const counted = await recordApproval(deps, request.intentId, vote);
  if (counted.kind === 'already-voted') {
    const missing = plan.quorum - (counted.request?.approvals.length ?? 0);
    await ephemeral(
      deps,
      action,
      request,
      `You already approved this request; it needs ${missing} more approval${missing === 1 ? '' : 's'} from someone else.`,
    );
    return 'already-voted';
  }
  if (counted.kind === 'not-pending') {
    await ephemeral(deps, action, request, lateMessage(counted.request));
    return 'late';
  }
  const current = counted.request;
  await audit(deps, request, voter, 'vote', {
    vote: 'approve',
    via: voter.via,
    approvals: current.approvals.length,
    quorum: plan.quorum,
  });
  if (current.approvals.length < plan.quorum) {
    await updateCard(deps, current);
    const missing = plan.quorum - current.approvals.length;
    await ephemeral(
      deps,
      action,
      current,
      `Your approval is recorded. ${missing} more approval${missing === 1 ? '' : 's'} needed.`,
    );
    return 'voted';
  }
  const reason =
    plan.quorum > 1
      ? `Approved by ${current.approvals.map((a) => a.email).join(', ')} (quorum ${plan.quorum})`
      : `Approved by ${voter.displayName}`;
  return settle(deps, action, voter, current, {
    status: 'APPROVED',
    automatic: false,
    reason,
    decidedAt: deps.now().toISOString(),
    approvers: current.approvals,
    policies: plan.policies,
    decidedBy: { slackUserId: voter.slackUserId, email: voter.email },
    intentHash: request.intentHash,
  });
}

async function deny(
  deps: InteractionDeps,
  request: RequestItem,
  action: VoteAction,
  voter: Voter,
): Promise<InteractionOutcome> {
  return settle(deps, action, voter, request, {
    status: 'DENIED',
    automatic: false,
    reason: `Denied by ${voter.displayName}`,
    decidedAt: deps.now().toISOString(),
    approvers: request.approvals,
    policies: request.review?.policies ?? [],
    decidedBy: { slackUserId: voter.slackUserId, email: voter.email },
    intentHash: request.intentHash,
  });
}

/** Writes the decision once, audits it, then tells the workflow and the card. */
async function settle(
  deps: InteractionDeps,
  action: VoteAction,
  voter: Voter,
  request: RequestItem,
  decision: RequestDecision,
): Promise<InteractionOutcome> {
  const result = await decide(deps, request.intentId, decision);
  if (!result.won) {
    await ephemeral(deps, action, request, lateMessage(result.request));
    return 'late';
  }
  const decided = result.request;
  const approved = decision.status === 'APPROVED';
  await audit(deps, decided, voter, 'decided', {
    status: decision.status,
    reason: decision.reason,
    via: voter.via,
    approvers: decision.approvers.map((a) => ({ slackUserId: a.slackUserId, email: a.email, at: a.at })),
  });
  // The token is read from the decided item: it never left DynamoDB.
  const token = decided.taskToken ?? request.taskToken!;
  try {
    if (approved) {
      const output = JSON.stringify({ status: 'APPROVED', intentId: decided.intentId });
      await deps.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output }));
    } else {
      const cause = decision.reason.slice(0, 32_768);
      await deps.sfn.send(
        new SendTaskFailureCommand({ taskToken: token, error: REVIEW_ERROR.denied, cause }),
      );
    }
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    if (!TASK_ENDED.has(name)) throw error;
    deps.logger.warn('workflow had already ended when the decision arrived', {
      requestId: decided.intentId,
      error: name,
    });
    const note = approved
      ? ':warning: The review had already expired when this approval arrived; the action was not approved.'
      : ':warning: The review had already ended when this denial arrived.';
    await updateCard(deps, decided, note);
    await ephemeral(
      deps,
      action,
      decided,
      approved
        ? 'Too late: this review had already expired, so your approval did not approve the action.'
        : 'This review had already ended; the action was not approved.',
    );
    return 'expired';
  }
  await updateCard(deps, decided);
  return approved ? 'approved' : 'denied';
}

async function refuse(
  deps: InteractionDeps,
  request: RequestItem,
  action: VoteAction,
  identity: ResolvedIdentity | undefined,
  code: RefusalCode,
  reason: string,
): Promise<void> {
  await appendAudit(
    deps,
    { requestId: request.intentId, createdAt: request.createdAt },
    {
      kind: 'refused',
      actor: {
        type: 'human',
        slackUserId: action.userId,
        ...(identity?.kind === 'human' ? { email: identity.email } : {}),
      },
      intentHash: request.intentHash,
      data: { vote: action.vote, code, reason, identity: identity?.kind ?? 'not-resolved' },
    },
  );
  deps.logger.warn('vote refused', { requestId: request.intentId, user: action.userId, code, reason });
  const verb = action.vote === 'approve' ? 'approve' : 'deny';
  await ephemeral(deps, action, request, `You can't ${verb} this request: ${reason}.`);
}

function audit(
  deps: InteractionDeps,
  request: RequestItem,
  voter: Voter,
  kind: 'vote' | 'decided',
  data: Record<string, unknown>,
) {
  return appendAudit(
    deps,
    { requestId: request.intentId, createdAt: request.createdAt },
    {
      kind,
      actor: { type: 'human', slackUserId: voter.slackUserId, email: voter.email },
      intentHash: request.intentHash,
      data,
    },
  );
}

/** "Already approved by @x at …" for a request that is no longer pending. */
export function lateMessage(request: RequestItem | undefined): string {
  if (!request) return 'This request no longer exists.';
  const decision = request.decision;
  const status = request.status.toLowerCase();
  if (!decision) return `This request is already ${status}.`;
  const by = decision.decidedBy
    ? ` by ${mention(decision.decidedBy.slackUserId)}`
    : decision.automatic
      ? ' by policy'
      : '';
  const reason = request.status === 'APPROVED' ? '' : ` Reason: ${decision.reason}`;
  return `This request was already ${status}${by} at ${slackTime(decision.decidedAt)}.${reason}`;
}

async function updateCard(deps: InteractionDeps, request: RequestItem, note?: string): Promise<void> {
  if (!request.card) return;
  const card = renderCard(request, note ? { note } : {});
  try {
    await deps.slack.chat.update({
      channel: request.card.channel,
      ts: request.card.ts,
      text: card.text,
      blocks: card.blocks,
    });
  } catch (error) {
    // The decision stands; a stale card is cosmetic and the next update repaints it.
    deps.logger.warn('card update failed', { requestId: request.intentId, error: (error as Error).message });
  }
}

async function ephemeral(
  deps: InteractionDeps,
  action: VoteAction,
  request: RequestItem | undefined,
  text: string,
): Promise<void> {
  const channel = action.channel ?? request?.card?.channel;
  if (!channel) return;
  try {
    await deps.slack.chat.postEphemeral({ channel, user: action.userId, text });
  } catch (error) {
    deps.logger.warn('ephemeral message failed', { user: action.userId, error: (error as Error).message });
  }
}
