/**
 * The review card: a pure function from a request to Slack Block Kit. The same
 * function renders the card when it is posted and every time it is updated in
 * place, so the card always shows the request's current state.
 */
import type { KnownBlock } from '@slack/types';
import { maskParameters } from './masking.js';
import type { RequestItem } from './store.js';

/** Slack's limit on the text of a section block. */
const SECTION_LIMIT = 3000;
/** Slack's limit on blocks in one message. */
export const MAX_BLOCKS = 50;

/** `action_id`s of the card's buttons; the interaction handler routes on their prefix. */
export const ACTION = { approve: 'approve', deny: 'deny' } as const;

const STATUS_LINE: Record<string, string> = {
  PENDING: ':hourglass_flowing_sand: *Waiting for review*',
  APPROVED: ':white_check_mark: *Approved*',
  DENIED: ':no_entry: *Denied*',
  EXPIRED: ':alarm_clock: *Expired* (denied: nobody decided in time)',
  CANCELLED: ':wastebasket: *Cancelled* by the agent',
};

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Truncates to `max` characters, marking the cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 20)}\n… (truncated)`;
}

const slackTime = (iso: string) => {
  const epoch = Math.floor(new Date(iso).getTime() / 1000);
  return `<!date^${epoch}^{date_short_pretty} {time}|${iso}>`;
};

const mention = (slackUserId: string) => `<@${slackUserId}>`;

/** Quorum progress, e.g. "1 of 2 approvals: <@U1>". */
export function quorumProgress(request: Pick<RequestItem, 'approvals' | 'review'>): string {
  const quorum = request.review?.quorum ?? 1;
  const who = request.approvals.map((a) => mention(a.slackUserId)).join(', ');
  return `${request.approvals.length} of ${quorum} approval${quorum === 1 ? '' : 's'}${who ? `: ${who}` : ''}`;
}

function outcomeLine(request: RequestItem): string {
  const decision = request.decision;
  const base = STATUS_LINE[request.status] ?? `*${request.status}*`;
  if (!decision || request.status === 'PENDING') return base;
  const by = decision.decidedBy
    ? ` by ${mention(decision.decidedBy.slackUserId)}`
    : decision.automatic
      ? ' by policy'
      : '';
  const reason = decision.reason ? `\n>${escapeMrkdwn(truncate(decision.reason, 500))}` : '';
  return `${base}${by} · ${slackTime(decision.decidedAt)}${reason}`;
}

/** Renders the card for a request in any state. */
export function renderCard(
  request: RequestItem,
  options: { note?: string } = {},
): { text: string; blocks: KnownBlock[] } {
  const intent = request.intent;
  const plan = request.review;
  const parameters = maskParameters(intent.parameters, plan?.masked ?? []);
  const parametersText = truncate(JSON.stringify(parameters, null, 2), SECTION_LIMIT - 10);
  const text = `${request.status === 'PENDING' ? 'Review requested' : request.status}: ${intent.action} on ${intent.resource} (${intent.environment}) by agent ${request.agentId}`;

  const blocks: KnownBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: truncate(`Privileged action: ${intent.action}`, 150), emoji: true },
    },
    { type: 'section', text: { type: 'mrkdwn', text: outcomeLine(request) } },
    {
      type: 'section',
      fields: [
        {
          type: 'mrkdwn',
          text: `*Agent*\n\`${escapeMrkdwn(request.agentId)}\` (${escapeMrkdwn(intent.agent.model)})`,
        },
        { type: 'mrkdwn', text: `*On behalf of*\n${escapeMrkdwn(intent.agent.onBehalfOf)}` },
        { type: 'mrkdwn', text: `*Owner*\n${escapeMrkdwn(intent.agent.owner)}` },
        { type: 'mrkdwn', text: `*Environment*\n\`${escapeMrkdwn(intent.environment)}\`` },
        { type: 'mrkdwn', text: `*Action*\n\`${escapeMrkdwn(intent.action)}\`` },
        {
          type: 'mrkdwn',
          text: `*Expires*\n${request.expiresAt ? slackTime(request.expiresAt) : '—'}`,
        },
      ],
    },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(`*Resource*\n\`${escapeMrkdwn(intent.resource)}\``, SECTION_LIMIT),
      },
    },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: truncate(`*Why*\n${escapeMrkdwn(intent.justification)}`, SECTION_LIMIT) },
    },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: `*Parameters*\n\`\`\`${escapeMrkdwn(parametersText)}\`\`\`` },
    },
  ];
  if (intent.context?.impact) {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(`*Impact*\n${escapeMrkdwn(intent.context.impact)}`, SECTION_LIMIT),
      },
    });
  }
  if (intent.context?.diff) {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*Diff*\n\`\`\`${escapeMrkdwn(truncate(intent.context.diff, SECTION_LIMIT - 20))}\`\`\``,
      },
    });
  }
  if (intent.context?.datasets?.length) {
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: truncate(`Datasets: ${intent.context.datasets.map(escapeMrkdwn).join(', ')}`, 2000),
        },
      ],
    });
  }
  const policyLine = plan?.policies.length
    ? `Policy: ${plan.policies.map((p) => `\`${escapeMrkdwn(p)}\``).join(', ')}`
    : '';
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: [
          quorumProgress(request),
          policyLine,
          `Request \`${escapeMrkdwn(request.intentId)}\``,
          `Hash \`${request.intentHash.slice(0, 19)}…\``,
        ]
          .filter(Boolean)
          .join(' · '),
      },
    ],
  });
  if (options.note)
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(options.note, 2000) }] });
  if (request.status === 'PENDING') {
    blocks.push({
      type: 'actions',
      block_id: 'review',
      elements: [
        {
          type: 'button',
          action_id: ACTION.approve,
          style: 'primary',
          text: { type: 'plain_text', text: 'Approve' },
          value: request.intentId,
        },
        {
          type: 'button',
          action_id: ACTION.deny,
          style: 'danger',
          text: { type: 'plain_text', text: 'Deny' },
          value: request.intentId,
        },
      ],
    });
  }
  return { text, blocks: blocks.slice(0, MAX_BLOCKS) };
}
