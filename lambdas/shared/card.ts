/**
 * The review card: a pure function from a request to Slack Block Kit. The same
 * function renders the card when it is posted and every time it is updated in
 * place, so the card always shows the request's current state.
 */
import type { KnownBlock } from '@slack/types';
import { UNKNOWN_ENVIRONMENT } from './environment.js';
import { maskParameters } from './masking.js';
import { requestFacts, type VerifiedFacts } from './registration.js';
import { currentHash, currentIntent, type RequestItem } from './store.js';

/** Slack's limit on the text of a section block. */
const SECTION_LIMIT = 3000;
/** Slack's limit on blocks in one message. */
/**
 * The environment policy saw (derived) and, when it differs, what the agent
 * declared; an environment nothing placed is shown as unverified.
 */
function environmentField(facts: VerifiedFacts): string {
  const derived =
    facts.environment === UNKNOWN_ENVIRONMENT
      ? `\`${UNKNOWN_ENVIRONMENT}\` (unverified: nothing places this resource)`
      : `\`${escapeMrkdwn(facts.environment)}\` (derived from the ${facts.environmentSource})`;
  const declared =
    facts.declaredEnvironment !== facts.environment
      ? `\ndeclared by the agent: \`${escapeMrkdwn(facts.declaredEnvironment)}\``
      : '';
  return `*Environment*\n${derived}${declared}`;
}

export const MAX_BLOCKS = 50;

/** `action_id`s of the card's buttons; the interaction handler routes on their prefix. */
export const ACTION = {
  approve: 'approve',
  deny: 'deny',
  modify: 'modify',
  breakglass: 'breakglass',
  viewFull: 'view_full',
} as const;

/** Slack's limit on a button's `value`. */
export const MAX_BUTTON_VALUE = 2000;

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

/** A time Slack renders in each reader's time zone, with the ISO time as fallback. */
export const slackTime = (iso: string) => {
  const epoch = Math.floor(new Date(iso).getTime() / 1000);
  return `<!date^${epoch}^{date_short_pretty} {time}|${iso}>`;
};

/** A Slack user mention. */
export const mention = (slackUserId: string) => `<@${slackUserId}>`;

/** Quorum progress, e.g. "1 of 2 approvals: <@U1> (date)". */
export function quorumProgress(request: Pick<RequestItem, 'approvals' | 'review'>): string {
  const quorum = request.review?.quorum ?? 1;
  const who = request.approvals.map((a) => `${mention(a.slackUserId)} ${slackTime(a.at)}`).join(', ');
  return `${request.approvals.length} of ${quorum} approval${quorum === 1 ? '' : 's'}${who ? `: ${who}` : ''}`;
}

function outcomeLine(request: RequestItem): string {
  const decision = request.decision;
  const base =
    request.status === 'APPROVED' && decision?.breakGlass
      ? ':rotating_light: *Approved on the break-glass path* (post-hoc review required)'
      : (STATUS_LINE[request.status] ?? `*${request.status}*`);
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
  const intent = currentIntent(request);
  const plan = request.review;
  const parameters = maskParameters(intent.parameters, plan?.masked ?? []);
  const fullParameters = JSON.stringify(parameters, null, 2);
  const parametersText = truncate(fullParameters, SECTION_LIMIT - 10);
  const truncated =
    fullParameters.length > SECTION_LIMIT - 10 ||
    intent.justification.length > SECTION_LIMIT - 20 ||
    intent.resource.length > SECTION_LIMIT - 20 ||
    (intent.context?.diff?.length ?? 0) > SECTION_LIMIT - 20 ||
    (intent.context?.impact?.length ?? 0) > SECTION_LIMIT - 20;
  const facts = requestFacts(request);
  const text = `${request.status === 'PENDING' ? 'Review requested' : request.status}: ${intent.action} on ${intent.resource} (${facts.environment}) by agent ${request.agentId}`;

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
        { type: 'mrkdwn', text: `*On behalf of*\n${escapeMrkdwn(facts.onBehalfOf)}` },
        { type: 'mrkdwn', text: `*Owner (registered)*\n${escapeMrkdwn(facts.owner)}` },
        { type: 'mrkdwn', text: environmentField(facts) },
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
      text: {
        type: 'mrkdwn',
        text: truncate(
          `*Parameters${request.modification ? ' (modified)' : ''}*\n\`\`\`${escapeMrkdwn(parametersText)}\`\`\``,
          SECTION_LIMIT,
        ),
      },
    },
  ];
  if (request.modification) {
    const m = request.modification;
    const diff = m.diff
      .map(
        (d) =>
          `\`${escapeMrkdwn(d.path)}\`: ${escapeMrkdwn(JSON.stringify(d.from))} → ${escapeMrkdwn(JSON.stringify(d.to))}`,
      )
      .join('\n');
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(
          `:pencil2: *Modified* by ${mention(m.by.slackUserId)} ${slackTime(m.by.at)} (policy re-evaluated it; earlier approvals were for other parameters)\n${diff}`,
          SECTION_LIMIT,
        ),
      },
    });
  }
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
  if (request.postHoc) {
    const ack = request.postHoc.acknowledgedBy;
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: ack
            ? `Post-hoc review acknowledged by ${mention(ack.slackUserId)} ${slackTime(ack.at)}`
            : 'Post-hoc review: waiting for an approver to acknowledge',
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
          `Hash \`${currentHash(request).slice(0, 19)}…\``,
        ]
          .filter(Boolean)
          .join(' · '),
      },
    ],
  });
  if (options.note)
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(options.note, 2000) }] });
  const actions = cardButtons(request, truncated || blocks.length + 1 > MAX_BLOCKS);
  return { text, blocks: fitBlocks(blocks, actions) };
}

/**
 * Never more than Slack's 50 blocks: the middle gives way (replaced by a
 * pointer to the full request), the leading status blocks and the buttons stay.
 */
export function fitBlocks(blocks: KnownBlock[], actions: KnownBlock | undefined): KnownBlock[] {
  const room = MAX_BLOCKS - (actions ? 1 : 0);
  const out = [...blocks];
  if (out.length > room) {
    out.splice(room - 1, out.length - room + 1, {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: '… more in *View full request*' }],
    });
  }
  if (actions) out.push(actions);
  return out;
}

/** Hex characters of the intent hash an Approve button carries. */
const SEEN_HASH_LENGTH = 16;

/**
 * The Approve button's value: the request id and the start of the hash of the
 * intent the card shows (`<requestId>@<hash prefix>`). A click approves only
 * what its card showed: after a modification, an Approve on an old rendering
 * is refused. Still no token: the task token never leaves AWS.
 */
export function approveButtonValue(
  request: Pick<RequestItem, 'intentId' | 'intentHash' | 'modification'>,
): string {
  return `${request.intentId}@${currentHash(request)
    .replace(/^sha256:/, '')
    .slice(0, SEEN_HASH_LENGTH)}`;
}

/** Splits a button value into the request id and, for Approve, the hash prefix the card showed. */
export function parseButtonValue(value: string): { requestId: string; seenHash?: string } {
  const at = value.indexOf('@');
  return at < 0 ? { requestId: value } : { requestId: value.slice(0, at), seenHash: value.slice(at + 1) };
}

/** Whether a hash prefix from an Approve button names the request's current intent. */
export function showsCurrentIntent(
  request: Pick<RequestItem, 'intentHash' | 'modification'>,
  seenHash: string,
): boolean {
  return (
    seenHash.length === SEEN_HASH_LENGTH &&
    currentHash(request)
      .replace(/^sha256:/, '')
      .startsWith(seenHash)
  );
}

function button(
  actionId: string,
  label: string,
  value: string,
  style?: 'primary' | 'danger',
): Record<string, unknown> {
  if (value.length >= MAX_BUTTON_VALUE) throw new Error(`button value of ${actionId} exceeds Slack's limit`);
  return {
    type: 'button',
    action_id: actionId,
    ...(style ? { style } : {}),
    text: { type: 'plain_text', text: label },
    value,
  };
}

/** The card's buttons: Approve / Modify / Deny / Break glass while pending, and View full request when truncated. */
function cardButtons(request: RequestItem, truncated: boolean): KnownBlock | undefined {
  const elements: Record<string, unknown>[] = [];
  if (request.status === 'PENDING') {
    const plan = request.review;
    elements.push(button(ACTION.approve, 'Approve', approveButtonValue(request), 'primary'));
    if (plan?.editable.length) elements.push(button(ACTION.modify, 'Modify…', request.intentId));
    elements.push(button(ACTION.deny, 'Deny…', request.intentId, 'danger'));
    if (plan?.breakGlass && request.intent.context?.urgency === 'urgent')
      elements.push(button(ACTION.breakglass, 'Break glass…', request.intentId));
  }
  if (truncated) elements.push(button(ACTION.viewFull, 'View full request', request.intentId));
  if (elements.length === 0) return undefined;
  return { type: 'actions', block_id: 'review', elements } as unknown as KnownBlock;
}
