/**
 * The flood alert: when an agent goes over a request quota, one card in the
 * approvals channel says which agent, which action class, the quota and the
 * count, once per window (the window's counter item holds the claim: see
 * shared/quota-store.ts). Later over-quota intents of the same window post
 * nothing.
 *
 * Record posts it, not Evaluate: Record already holds the Slack secret and is
 * the workflow's one exit, so Evaluate keeps no Slack permission at all
 * (least privilege) and stays off Slack's latency on every intent. The
 * denial does not depend on the alert: the request is already denied when
 * Record runs, and a Slack failure is logged, audited (`flood-alerted`,
 * `posted: false`) and gives the claim back so the flood's next intent tries
 * again. This function never throws.
 */
import type { WebClient } from '@slack/web-api';
import { plainValue } from '../shared/agent-text.js';
import { type AuditDeps, appendAudit } from '../shared/audit.js';
import { claimFloodAlert, markFloodAlertSent, releaseFloodAlert } from '../shared/quota-store.js';
import type { RateLimitVerdict, RequestItem } from '../shared/store.js';

/** Dependencies of {@link alertFlood}. */
export interface FloodAlertDeps extends AuditDeps {
  slack?: () => Promise<Pick<WebClient, 'chat'>>;
  /** The approvals channel (`COUNTERSIGN_SLACK_CHANNEL`). */
  alertChannel?: string;
  warn?: (message: string, extra?: Record<string, unknown>) => void;
}

/** Posts the window's flood alert if this over-quota request is the first to claim it. */
export async function alertFlood(deps: FloodAlertDeps, request: RequestItem): Promise<void> {
  const limited = request.rateLimited;
  if (limited?.outcome !== 'over-quota' || !limited.counter) return;
  const requestId = request.intentId;
  const chain = { requestId, createdAt: request.createdAt };
  let claimed = false;
  try {
    claimed = await claimFloodAlert(deps, limited.counter, requestId);
    if (!claimed) return;
    if (!deps.slack || !deps.alertChannel) throw new Error('no approvals channel is configured for alerts');
    const slack = await deps.slack();
    const sent = await slack.chat.postMessage({
      channel: deps.alertChannel,
      ...floodAlertCard(limited, requestId),
    });
    if (!sent.ts) throw new Error('chat.postMessage returned no ts');
    const at = { channel: sent.channel ?? deps.alertChannel, ts: sent.ts };
    await markFloodAlertSent(deps, limited.counter, requestId, at);
    await appendAudit(deps, chain, {
      kind: 'flood-alerted',
      actor: { type: 'system', component: 'record' },
      intentHash: request.intentHash,
      data: {
        posted: true,
        ...at,
        agentId: limited.agentId,
        actionClass: limited.actionClass,
        quota: limited.quota ?? null,
        count: limited.count ?? null,
      },
    });
  } catch (error) {
    const message = ((error as Error).message ?? String(error)).slice(0, 300);
    deps.warn?.('flood alert not posted; the denial stands', { requestId, error: message });
    try {
      if (claimed) await releaseFloodAlert(deps, limited.counter, requestId);
      await appendAudit(deps, chain, {
        kind: 'flood-alerted',
        actor: { type: 'system', component: 'record' },
        intentHash: request.intentHash,
        data: { posted: false, error: message, agentId: limited.agentId, actionClass: limited.actionClass },
      });
    } catch (auditError) {
      deps.warn?.('flood alert failure could not be audited', {
        requestId,
        error: (auditError as Error).message ?? String(auditError),
      });
    }
  }
}

/**
 * The alert card. Countersign's words are mrkdwn labels; the agent id, the
 * class and the request id (strings the agent chose) are `plain_text` fields.
 */
export function floodAlertCard(limited: RateLimitVerdict, requestId: string) {
  const field = (label: string, value: string) => [
    { type: 'mrkdwn' as const, text: `*${label}*` },
    plainValue(value, 300).value,
  ];
  const quota = limited.quota;
  return {
    text: 'Countersign: an agent is over its request quota',
    blocks: [
      {
        type: 'header',
        text: { type: 'plain_text', text: ':no_entry: Agent over its request quota', emoji: true },
      },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: 'An agent sent more intents than its quota allows. Intents over the quota are denied at once, audited, and get no card until the window ends. Values below are the agent’s, quoted as data.',
        },
      },
      {
        type: 'section',
        fields: [...field('Agent', limited.agentId), ...field('Action class', limited.actionClass)],
      },
      {
        type: 'section',
        fields: [
          ...field('Quota', quota ? `${quota.text} (${quota.policies.join(', ')})` : 'unknown'),
          ...field('Count', `${limited.count ?? '?'} intents in this window`),
        ],
      },
      {
        type: 'section',
        fields: [
          ...field('Window', limited.window ? `${limited.window.start} to ${limited.window.end}` : 'unknown'),
          ...field('First denied request', requestId),
        ],
      },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: 'One alert per agent, action class and window. Check the agent; raise its quota with a `@rate` policy only if the volume is expected.',
          },
        ],
      },
    ],
  };
}
