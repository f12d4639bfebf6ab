/**
 * The notice of a break-glass approval, posted by Record (which the workflow
 * retries) rather than by the click that decided: the broadcast in the card's
 * thread, then the post-hoc review item with its Acknowledge button. Each is
 * posted once: where it landed is stored on the request with a conditional
 * write, and a retried Record skips what an earlier attempt already posted.
 */
import type { WebClient } from '@slack/web-api';
import { inlineValue } from '../shared/agent-text.js';
import { type AuditDeps, appendAudit, readChain } from '../shared/audit.js';
import { mention } from '../shared/card.js';
import { mentionTargets } from '../shared/mentions.js';
import {
  currentHash,
  getRequest,
  type RequestItem,
  setBreakGlassBroadcast,
  setPostHoc,
} from '../shared/store.js';
import { BREAK_GLASS_NOTICE_ERROR } from '../shared/workflow.js';

/** The Slack methods the notice uses. */
export type NoticeSlack = Pick<WebClient, 'chat' | 'usergroups'>;

/** A failure to post the notice; Record's retry in the workflow matches its name. */
export class BreakGlassNoticeError extends Error {
  override name = BREAK_GLASS_NOTICE_ERROR;
}

/**
 * Posts what is still missing of a finalized break-glass approval's notice and
 * returns the request as stored afterwards. Throws {@link BreakGlassNoticeError}
 * when Slack refuses, so that the workflow retries Record.
 */
export async function announceBreakGlass(
  deps: AuditDeps & { slack: () => Promise<NoticeSlack> },
  request: RequestItem,
): Promise<RequestItem> {
  const decision = request.decision;
  const card = request.card;
  if (!decision?.breakGlass || decision.status !== 'APPROVED' || !card || !request.intent) return request;
  if (request.breakGlassBroadcast && request.postHoc) return request;
  const responder = decision.decidedBy?.slackUserId ?? '';
  const reason = decision.breakGlassReason ?? decision.reason;
  try {
    const slack = await deps.slack();
    if (!request.breakGlassBroadcast) {
      const text = `:rotating_light: *Break-glass approval* of ${inlineValue(request.intent.action)} on ${inlineValue(request.intent.resource)} (${inlineValue(request.intent.environment)}) by ${mention(responder)}, the responder the agent acts for. Reason: ${inlineValue(reason, 1000)}`;
      const sent = await slack.chat.postMessage({
        channel: card.channel,
        text,
        reply_broadcast: true,
        thread_ts: card.ts,
      });
      await setBreakGlassBroadcast(deps, request.intentId, {
        channel: sent.channel ?? card.channel,
        ts: sent.ts ?? card.ts,
      });
    }
    if (!request.postHoc) {
      const asked = await mentionTargets(slack, [
        ...(request.review?.approverGroups ?? []).map((g) => `group:${g}`),
        ...(request.review?.approverEmails ?? []).map((e) => `email:${e}`),
      ]);
      const item = await slack.chat.postMessage({
        channel: card.channel,
        text: `Post-hoc review needed: break-glass approval of ${inlineValue(request.intentId)}`,
        blocks: [
          {
            type: 'section',
            text: {
              type: 'mrkdwn',
              text: `:mag: *Post-hoc review* — ${asked.join(' ')}: ${mention(responder)} approved their own urgent request ${inlineValue(request.intentId)} (${inlineValue(request.intent.action)}) on the break-glass path.\nReason: ${inlineValue(reason, 500)}\nAn approver other than the responder must acknowledge it.`,
            },
          },
          {
            type: 'actions',
            block_id: 'posthoc',
            elements: [
              {
                type: 'button',
                action_id: 'acknowledge',
                style: 'primary',
                text: { type: 'plain_text', text: 'Acknowledge' },
                value: request.intentId,
              },
            ],
          },
        ],
      });
      if (!item.ts || !item.channel) throw new Error('chat.postMessage returned no channel or ts');
      await setPostHoc(deps, request.intentId, { channel: item.channel, ts: item.ts });
    }
  } catch (error) {
    throw new BreakGlassNoticeError(
      `could not post the break-glass notice of ${request.intentId}: ${(error as Error).message ?? String(error)}`,
    );
  }
  const stored = (await getRequest(deps, request.intentId)) ?? request;
  // Audited once, also when an earlier attempt stored the item and died before auditing it.
  const chain = await readChain(deps, request.intentId);
  if (stored.postHoc && !chain.some((r) => r.kind === 'reviewers-notified' && r.data.breakGlass === true)) {
    await appendAudit(
      deps,
      { requestId: request.intentId, createdAt: request.createdAt },
      {
        kind: 'reviewers-notified',
        actor: { type: 'system', component: 'record' },
        intentHash: currentHash(stored),
        data: {
          breakGlass: true,
          postHocReview: { channel: stored.postHoc.channel, ts: stored.postHoc.ts },
          broadcast: true,
        },
      },
    );
  }
  return stored;
}
