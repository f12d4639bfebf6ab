/**
 * Reminder: runs when a scheduled wake-up fires (EventBridge Scheduler in AWS,
 * a timer in the sandbox). A reminder is a reply in the card's thread that
 * mentions the approver groups; an escalation also posts to the channel
 * mentioning the escalation groups (`<!subteam^ID>`) and DMs escalation
 * emails, and is audited. A request that is no longer PENDING (decided,
 * expired, cancelled) or already past expiry is skipped: schedules are never
 * deleted early, they just find nothing to do.
 */
import type { WebClient } from '@slack/web-api';
import { inlineValue } from '../shared/agent-text.js';
import { type AuditDeps, appendAudit } from '../shared/audit.js';
import { quorumProgress, slackTime } from '../shared/card.js';
import { mentionTargets, userIdByEmail } from '../shared/mentions.js';
import type { ReminderPayload } from '../shared/reminders.js';
import { currentHash, getRequest, type RequestItem } from '../shared/store.js';

/** Dependencies of {@link remind}. */
export interface ReminderDeps extends AuditDeps {
  slack: () => Promise<Pick<WebClient, 'chat' | 'usergroups' | 'users'>>;
  warn?: (message: string, extra?: Record<string, unknown>) => void;
  /** Replies in the thread of the request's cards in other channels (Teams); returns how many were sent. */
  replyElsewhere?: (request: RequestItem, text: string) => Promise<number>;
}

/** What a wake-up did. */
export type ReminderOutcome = 'reminded' | 'escalated' | 'skipped';

/** Handles one wake-up. Throws only when Slack or the store fail (the scheduler retries). */
export async function remind(deps: ReminderDeps, payload: ReminderPayload): Promise<ReminderOutcome> {
  if (!payload || typeof payload.requestId !== 'string') throw new Error('reminder payload has no requestId');
  const request = await getRequest(deps, payload.requestId);
  if (request?.status !== 'PENDING' || !request.review || !request.expiresAt) return 'skipped';
  if (!request.card && !request.messages?.length) return 'skipped';
  if (deps.now().getTime() >= Date.parse(request.expiresAt)) return 'skipped';
  await remindElsewhere(deps, request, payload.kind);
  if (!request.card) {
    if (payload.kind === 'escalation') await auditEscalation(deps, request, payload.beforeSeconds);
    return payload.kind === 'reminder' ? 'reminded' : 'escalated';
  }
  const slack = await deps.slack();
  const plan = request.review;
  const minutes = Math.max(1, Math.round((Date.parse(request.expiresAt) - deps.now().getTime()) / 60_000));
  const approvers = await mentionTargets(slack, [
    ...plan.approverGroups.map((g) => `group:${g}`),
    ...plan.approverEmails.map((e) => `email:${e}`),
  ]);
  const progress = quorumProgress(request);
  const when = `expires ${slackTime(request.expiresAt)} (in about ${minutes} min)`;
  const { channel, ts } = request.card;

  if (payload.kind === 'reminder') {
    await slack.chat.postMessage({
      channel,
      thread_ts: ts,
      text: `:bell: Reminder ${approvers.join(' ')}: this review ${when} and is still waiting — ${progress}. Unanswered reviews are denied.`,
    });
    return 'reminded';
  }

  const targets = plan.escalateTo ?? [];
  const mentions = await mentionTargets(slack, targets);
  const groups = await mentionTargets(
    slack,
    targets.filter((t) => !t.startsWith('email:')),
  );
  const link = `https://slack.com/archives/${channel}/p${ts.replace('.', '')}`;
  const i = request.intent;
  const text = `:rotating_light: *Escalation* ${groups.join(' ')}: nobody has decided ${inlineValue(i.action)} on ${inlineValue(i.resource)} (${inlineValue(i.environment)}) for agent ${inlineValue(request.agentId)}; it ${when} — ${progress}. <${link}|Open the review card>`;
  await slack.chat.postMessage({ channel, text, unfurl_links: false });
  await slack.chat.postMessage({
    channel,
    thread_ts: ts,
    text: `:rotating_light: Escalated to ${mentions.join(' ')}.`,
  });
  for (const target of targets.filter((t) => t.startsWith('email:'))) {
    try {
      const userId = await userIdByEmail(slack, target.slice('email:'.length));
      if (userId) await slack.chat.postMessage({ channel: userId, text, unfurl_links: false });
    } catch (error) {
      deps.warn?.('could not DM an escalation target', { target, error: (error as Error).message });
    }
  }
  await auditEscalation(deps, request, payload.beforeSeconds);
  return 'escalated';
}

/** Audits an escalation. */
async function auditEscalation(
  deps: ReminderDeps,
  request: RequestItem,
  beforeSeconds: number,
): Promise<void> {
  const plan = request.review!;
  const targets = plan.escalateTo ?? [];
  await appendAudit(
    deps,
    { requestId: request.intentId, createdAt: request.createdAt },
    {
      kind: 'escalated',
      actor: { type: 'system', component: 'reminder' },
      intentHash: currentHash(request),
      data: {
        escalateTo: targets,
        beforeSeconds: beforeSeconds,
        expiresAt: request.expiresAt,
        approvals: request.approvals.length,
        quorum: plan.quorum,
      },
    },
  );
}

/**
 * The reminder or escalation as a reply in the thread of the request's cards
 * in other channels, naming the approver (or escalation) groups. Countersign's
 * words only; the request's action and resource are on the card above it.
 */
async function remindElsewhere(deps: ReminderDeps, request: RequestItem, kind: string): Promise<void> {
  if (!deps.replyElsewhere || !request.messages?.length) return;
  const plan = request.review!;
  const minutes = Math.max(1, Math.round((Date.parse(request.expiresAt!) - deps.now().getTime()) / 60_000));
  const approvals = `${request.approvals.length} of ${plan.quorum} approval${plan.quorum === 1 ? '' : 's'}`;
  const who =
    kind === 'reminder'
      ? [...plan.approverGroups.map((g) => `@${g}`), ...plan.approverEmails]
      : (plan.escalateTo ?? []).map((t) => (t.startsWith('group:') ? `@${t.slice(6)}` : t.slice(6)));
  const text =
    kind === 'reminder'
      ? `Reminder for ${who.join(', ')}: this review expires at ${request.expiresAt} (in about ${minutes} min) and is still waiting (${approvals}). Unanswered reviews are denied.`
      : `Escalation to ${who.join(', ')}: nobody has decided this review; it expires at ${request.expiresAt} (in about ${minutes} min), ${approvals}.`;
  await deps.replyElsewhere(request, text);
}
