/**
 * Review: runs as the workflow's `.waitForTaskToken` task. Stores the task
 * token server-side on the request, then puts the Slack card in the channel's
 * card queue and kicks the poster (lambdas/poster), which posts it at the
 * channel's pace; cards in other channels (Teams) are posted directly. Slack
 * only ever sees the request id; the token stays in DynamoDB until the decision.
 *
 * Idempotent: when Step Functions retries the task, the new token replaces the
 * old one; a card already posted is updated rather than posted twice, and a
 * card already queued is not queued again (the poster is kicked again).
 */
import type { WebClient } from '@slack/web-api';
import { type AuditDeps, appendAudit } from '../shared/audit.js';
import { renderCard } from '../shared/card.js';
import { enqueueCard } from '../shared/card-queue.js';
import { type ReminderScheduler, wakeUps } from '../shared/reminders.js';
import {
  addSentMessage,
  getRequest,
  type RequestItem,
  type SentMessage,
  updatePending,
} from '../shared/store.js';
import { REVIEW_ERROR } from '../shared/workflow.js';

/** Dependencies of {@link review}. */
export interface ReviewDeps extends AuditDeps {
  slack: () => Promise<Pick<WebClient, 'chat'>>;
  channel: string;
  /**
   * Starts the poster for a channel with a queued card (an async invoke in AWS;
   * in-process in the sandbox). A failed kick is logged, not fatal: the
   * poster's sweep finds the card within a minute.
   */
  kickPoster: (channel: string) => Promise<void>;
  /**
   * Schedules the reminder and escalation wake-ups (EventBridge Scheduler in
   * AWS, timers in the sandbox). Without one no reminders are sent; expiry
   * still happens (it is the workflow's task timeout).
   */
  scheduler?: ReminderScheduler;
  warn?: (message: string, extra?: Record<string, unknown>) => void;
  /**
   * The channels a review is shown in when its plan names none (a policy's
   * `@channels`). @default ['slack']
   */
  channels?: readonly string[];
  /** Posts and repaints the card in another channel (Teams), when the deployment has one. */
  otherChannels?: Record<string, ReviewPoster>;
}

/** Posts a request's card in a channel, or repaints the one already posted there. */
export interface ReviewPoster {
  post(request: RequestItem): Promise<SentMessage>;
  repaint(request: RequestItem, message: SentMessage): Promise<void>;
}

/** Input of the review task. */
export interface ReviewInput {
  taskToken: string;
  requestId: string;
}

/** Thrown when the request cannot be reviewed; the workflow catches it and denies. */
export class ReviewError extends Error {
  override name = 'ReviewError';
}

/** Stores the token and posts (or refreshes) the card. */
export async function review(
  deps: ReviewDeps,
  input: ReviewInput,
): Promise<{ channel?: string; ts?: string; queued?: boolean; messages: SentMessage[] }> {
  if (typeof input?.taskToken !== 'string' || input.taskToken.length === 0) {
    throw new ReviewError('review input has no task token');
  }
  const request = await getRequest(deps, input.requestId);
  if (!request) throw new ReviewError(`request ${input.requestId} does not exist`);
  if (!request.intent || request.rejected)
    throw new ReviewError(`request ${input.requestId} has no valid intent`);

  // The token is stored before the card exists, so no click can find a request without one.
  if (!(await updatePending(deps, request.intentId, { taskToken: input.taskToken }))) {
    const now = await getRequest(deps, request.intentId);
    if (now?.status === 'CANCELLED') {
      // The agent cancelled before the review started: end the task the way a cancellation does.
      const cancelled = new Error(now.decision?.reason ?? 'cancelled by the agent');
      cancelled.name = REVIEW_ERROR.cancelled;
      throw cancelled;
    }
    throw new ReviewError(`request ${input.requestId} is no longer pending`);
  }

  const channels = request.review?.channels ?? deps.channels ?? ['slack'];
  // A channel policy asks for that this deployment cannot reach fails the review: the workflow denies it.
  const missing = channels.filter((c) => c !== 'slack' && !deps.otherChannels?.[c]);
  if (missing.length > 0)
    throw new ReviewError(
      `policy shows this review in ${missing.join(', ')}, which this deployment has no channel for`,
    );
  const location = channels.includes('slack') ? await queueSlackCard(deps, request, input) : undefined;
  const messages: SentMessage[] = [];
  for (const channel of channels.filter((c) => c !== 'slack')) {
    messages.push(await postCard(deps, deps.otherChannels![channel]!, channel, request, input));
  }

  // Also on a retried Review: scheduling is idempotent (named schedules), and a retry may follow a
  // first attempt that died before scheduling.
  const scheduled = await scheduleWakeUps(deps, request);

  await appendAudit(
    deps,
    { requestId: request.intentId, createdAt: request.createdAt },
    {
      kind: 'reviewers-notified',
      actor: { type: 'system', component: 'review' },
      intentHash: request.intentHash,
      data: {
        // `ts` only when a retried Review found the card posted; a queued card's `ts` is in `card-posted`.
        ...(location ? { channel: location.channel, ...(location.ts ? { ts: location.ts } : {}) } : {}),
        ...(location?.queued ? { queued: true } : {}),
        ...(messages.length ? { messages } : {}),
        approverGroups: request.review?.approverGroups ?? [],
        approverEmails: request.review?.approverEmails ?? [],
        quorum: request.review?.quorum ?? 1,
        expiresAt: request.expiresAt ?? null,
        repost: Boolean(request.card),
        wakeUps: scheduled,
      },
    },
  );
  // Kicked after the audit record, so the trail reads notified, then card-posted.
  if (location?.queued) {
    try {
      await deps.kickPoster(location.channel);
    } catch (error) {
      deps.warn?.('could not kick the card poster; its sweep will post the card', {
        requestId: request.intentId,
        error: (error as Error).message,
      });
    }
  }
  return { ...location, messages };
}

/**
 * Queues the Slack card for the poster, or repaints it when a retried Review
 * finds it posted. A card queued by an earlier attempt stays where it waits.
 */
async function queueSlackCard(
  deps: ReviewDeps,
  request: RequestItem,
  input: ReviewInput,
): Promise<{ channel: string; ts?: string; queued?: true }> {
  const location = request.card;
  if (location) {
    const card = renderCard(request);
    await (await deps.slack()).chat.update({
      channel: location.channel,
      ts: location.ts,
      text: card.text,
      blocks: card.blocks,
    });
    return location;
  }
  if (request.queued) return { channel: request.queued.channel, queued: true };
  const queued = await enqueueCard(deps, deps.channel, request);
  if (!(await updatePending(deps, request.intentId, { queued }))) {
    throw new ReviewError(`request ${input.requestId} was decided while its card was being queued`);
  }
  return { channel: deps.channel, queued: true };
}

/** Posts the card in another channel once; a retried Review repaints the one it finds. */
async function postCard(
  deps: ReviewDeps,
  poster: ReviewPoster,
  channel: string,
  request: RequestItem,
  input: ReviewInput,
): Promise<SentMessage> {
  const sent = request.messages?.find((m) => m.channel === channel);
  if (sent) {
    await poster.repaint(request, sent);
    return sent;
  }
  const message = await poster.post(request);
  if (!(await addSentMessage(deps, request.intentId, message))) {
    throw new ReviewError(
      `request ${input.requestId} was decided while its ${channel} card was being posted`,
    );
  }
  return message;
}

/** Schedules the plan's reminders and escalation; a failure is logged, never fails the review. */
async function scheduleWakeUps(
  deps: ReviewDeps,
  request: RequestItem,
): Promise<{ kind: string; at: string; beforeSeconds: number }[]> {
  if (!request.review || !request.expiresAt) return [];
  const planned = wakeUps(request.review, new Date(request.expiresAt), deps.now());
  if (planned.length === 0) return [];
  if (!deps.scheduler) {
    deps.warn?.('no reminder scheduler configured; reminders and escalation are skipped', {
      requestId: request.intentId,
    });
    return [];
  }
  const done: { kind: string; at: string; beforeSeconds: number }[] = [];
  for (const { at, payload } of planned) {
    try {
      await deps.scheduler.schedule(at, { ...payload, requestId: request.intentId });
      done.push({ kind: payload.kind, at: at.toISOString(), beforeSeconds: payload.beforeSeconds });
    } catch (error) {
      deps.warn?.('could not schedule a reminder', {
        requestId: request.intentId,
        kind: payload.kind,
        error: (error as Error).message,
      });
    }
  }
  return done;
}
