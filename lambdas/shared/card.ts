/**
 * The review card: a pure function from a request to Slack Block Kit. The same
 * function renders the card when it is posted and every time it is updated in
 * place, so the card always shows the request's current state.
 */
import type { KnownBlock, TextObject } from '@slack/types';
import { requestPageUrl, webInboxUrlFromEnv } from '../identity/step-up.js';
import {
  codeJson,
  codeLines,
  codeValue,
  escapeEntities,
  inlineValue,
  marks,
  plainValue,
  type Shown,
} from './agent-text.js';
import { currentHash, currentIntent } from './current-intent.js';
import { UNKNOWN_ENVIRONMENT } from './environment.js';
import { maskParameters } from './masking.js';
import { requestFacts, type VerifiedFacts } from './registration.js';
import type { RequestItem } from './store.js';

/** Slack's limit on the text of a section block. */
export const SECTION_LIMIT = 3000;
/** Slack's limit on blocks in one message. */
/**
 * The environment policy saw: derived by Countersign from its own
 * configuration (a canonical name, never agent text), or `unknown`, shown as
 * unverified. What the agent declared, when it differs, is a separate row of
 * agent text.
 */
function environmentText(facts: VerifiedFacts): string {
  return facts.environment === UNKNOWN_ENVIRONMENT
    ? `\`${UNKNOWN_ENVIRONMENT}\` (unverified: nothing places this resource)`
    : `\`${escapeEntities(facts.environment)}\` (derived from the ${escapeEntities(facts.environmentSource)})`;
}

export const MAX_BLOCKS = 50;

/** `action_id`s of the card's buttons; the interaction handler routes on their prefix. */
export const ACTION = {
  approve: 'approve',
  deny: 'deny',
  modify: 'modify',
  breakglass: 'breakglass',
  viewFull: 'view_full',
  /** Approve on a step-up request: a link to the web inbox. Slack still posts its click, which is ignored. */
  webApprove: 'web_approve',
} as const;

/** Slack's limit on a button's `value`. */
export const MAX_BUTTON_VALUE = 2000;

/**
 * How much of each agent-written value a card shows (visible characters).
 * Together, with every field at its schema maximum and every character shown
 * as an escape, a card stays under the ~12,000 characters of block text Slack
 * accepts in one message (tested); the rest is in View full request.
 */
export const CARD_BUDGET = {
  field: 200,
  resource: 600,
  justification: 1000,
  parameters: 2200,
  impact: 600,
  diff: 1000,
  datasets: 500,
  reason: 400,
  modification: 700,
} as const;

const STATUS_LINE: Record<string, string> = {
  PENDING: ':hourglass_flowing_sand: *Waiting for review*',
  APPROVED: ':white_check_mark: *Approved*',
  DENIED: ':no_entry: *Denied*',
  EXPIRED: ':alarm_clock: *Expired* (denied: nobody decided in time)',
  CANCELLED: ':wastebasket: *Cancelled* by the agent',
};

/**
 * Escapes the three characters Slack's mrkdwn treats as control characters.
 * Only for Countersign's own text: agent text goes through {@link inlineValue},
 * {@link codeValue} or {@link plainValue}.
 */
export function escapeMrkdwn(text: string): string {
  return escapeEntities(text);
}

/** Truncates Countersign's own text to `max` characters, marking the cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 20)}\n… (truncated)`;
}

/** A time Slack renders in each reader's time zone, with the ISO time as fallback. */
export const slackTime = (iso: string) => {
  const epoch = Math.floor(new Date(iso).getTime() / 1000);
  return `<!date^${epoch}^{date_short_pretty} {time}|${iso}>`;
};

/** A Slack user mention, only for ids Slack gave us (a click's user); anything else is shown inert. */
export const mention = (slackUserId: string) =>
  /^[UW][A-Z0-9]{2,20}$/.test(slackUserId) ? `<@${slackUserId}>` : inlineValue(slackUserId, 40);

/** Quorum progress, e.g. "1 of 2 approvals: <@U1> (date)". */
export function quorumProgress(request: Pick<RequestItem, 'approvals' | 'review'>): string {
  const quorum = request.review?.quorum ?? 1;
  const who = request.approvals.map((a) => `${mention(a.slackUserId)} ${slackTime(a.at)}`).join(', ');
  return `${request.approvals.length} of ${quorum} approval${quorum === 1 ? '' : 's'}${who ? `: ${who}` : ''}`;
}

/** The status line, in Countersign's voice; the decision's reason follows as data. */
function outcomeLine(request: RequestItem): string {
  const decision = request.decision;
  const base =
    request.status === 'APPROVED' && decision?.breakGlass
      ? ':rotating_light: *Approved on the break-glass path* (post-hoc review required)'
      : (STATUS_LINE[request.status] ?? `*${escapeEntities(request.status)}*`);
  if (!decision || request.status === 'PENDING') return base;
  const by = decision.decidedBy
    ? ` by ${mention(decision.decidedBy.slackUserId)}`
    : decision.automatic
      ? ' by policy'
      : '';
  return `${base}${by} · ${slackTime(decision.decidedAt)}`;
}

/** A bold label of ours with the marks its value needs. */
const label = (name: string, shown?: Pick<Shown<unknown>, 'hidden' | 'cut'>) =>
  [`*${name}*`, shown ? marks(shown) : ''].filter(Boolean).join('\n');

/** A mrkdwn object of ours (`verbatim`: Slack links nothing on its own). */
const ours = (text: string) => ({ type: 'mrkdwn' as const, text, verbatim: true });

/** Label/value pairs as section fields: our bold label on the left, the agent's plain_text value on the right. */
function fieldRows(rows: Array<[string, string, number?]>, extra: Array<[string, string]> = []) {
  let truncated = false;
  const fields: TextObject[] = [];
  for (const [name, value, max] of rows) {
    const shown = plainValue(value, max ?? CARD_BUDGET.field);
    truncated ||= shown.cut !== undefined;
    fields.push(ours(label(name, shown)), shown.value);
  }
  for (const [name, text] of extra) fields.push(ours(`*${name}*`), ours(text));
  return { fields, truncated };
}

/** A labelled ``` block of agent text: our label section, then the fenced value. */
function fencedSection(name: string, shown: Shown<string>): KnownBlock[] {
  return [
    { type: 'section', text: ours(label(name, shown)) },
    { type: 'section', text: ours(shown.value) },
  ] as KnownBlock[];
}

/** Renders the card for a request in any state. */
export function renderCard(
  request: RequestItem,
  options: { note?: string; webInboxUrl?: string } = {},
): { text: string; blocks: KnownBlock[] } {
  const intent = currentIntent(request);
  const plan = request.review;
  const parameters = maskParameters(intent.parameters, plan?.masked ?? []);
  const text = cardFallback(request, intent);
  let truncated = false;

  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: 'Privileged action review', emoji: false } },
    { type: 'section', text: ours(outcomeLine(request)) },
  ];
  const reason = request.status !== 'PENDING' ? request.decision?.reason : undefined;
  if (reason) {
    const shown = codeValue(reason, CARD_BUDGET.reason);
    truncated ||= shown.cut !== undefined;
    blocks.push({ type: 'section', text: ours(`${label('Reason', shown)}\n${shown.value}`) } as KnownBlock);
  }
  const facts = requestFacts(request);
  const first = fieldRows(
    [
      ['Action', intent.action],
      ['Resource', intent.resource, CARD_BUDGET.resource],
      ['Agent', request.agentId],
      ['Model', intent.agent.model],
    ],
    [['Environment', environmentText(facts)]],
  );
  const second = fieldRows(
    [
      ['On behalf of', facts.onBehalfOf],
      ['Owner (registered)', facts.owner],
      ['Session', intent.agent.sessionId],
      ...(facts.declaredEnvironment !== facts.environment
        ? [['Environment declared by the agent', facts.declaredEnvironment] as [string, string]]
        : []),
    ],
    [['Expires', request.expiresAt ? slackTime(request.expiresAt) : '—']],
  );
  truncated ||= first.truncated || second.truncated;
  blocks.push({ type: 'section', fields: first.fields } as KnownBlock);
  blocks.push({ type: 'section', fields: second.fields } as KnownBlock);

  const why = codeValue(intent.justification, CARD_BUDGET.justification);
  const params = codeJson(parameters, CARD_BUDGET.parameters);
  truncated ||= why.cut !== undefined || params.cut !== undefined;
  blocks.push(...fencedSection('Why (as the agent wrote it)', why));
  blocks.push(...fencedSection(`Parameters${request.modification ? ' (modified)' : ''}`, params));
  if (request.modification) {
    const m = request.modification;
    const lines = m.diff
      .map((d) => `${d.path}: ${JSON.stringify(d.from)} → ${JSON.stringify(d.to)}`)
      .join('\n');
    const shown = codeValue(lines, CARD_BUDGET.modification);
    truncated ||= shown.cut !== undefined;
    blocks.push({
      type: 'section',
      text: ours(
        `:pencil2: *Modified* by ${mention(m.by.slackUserId)} ${slackTime(m.by.at)} (policy re-evaluated it; earlier approvals were for other parameters)${shown.hidden || shown.cut ? `\n${marks(shown)}` : ''}\n${shown.value}`,
      ),
    } as KnownBlock);
  }
  if (intent.context?.impact) {
    const shown = codeValue(intent.context.impact, CARD_BUDGET.impact);
    truncated ||= shown.cut !== undefined;
    blocks.push(...fencedSection('Impact (as the agent wrote it)', shown));
  }
  if (intent.context?.diff) {
    const shown = codeValue(intent.context.diff, CARD_BUDGET.diff);
    truncated ||= shown.cut !== undefined;
    blocks.push(...fencedSection('Diff', shown));
  }
  if (intent.context?.datasets?.length) {
    const shown = codeLines(intent.context.datasets, CARD_BUDGET.datasets);
    truncated ||= shown.cut !== undefined;
    blocks.push(...fencedSection('Datasets', shown));
  }
  if (request.postHoc) {
    const ack = request.postHoc.acknowledgedBy;
    blocks.push({
      type: 'context',
      elements: [
        ours(
          ack
            ? `Post-hoc review acknowledged by ${mention(ack.slackUserId)} ${slackTime(ack.at)}`
            : 'Post-hoc review: waiting for an approver to acknowledge',
        ),
      ],
    });
  }
  const policyLine = plan?.policies.length
    ? `Policy: ${plan.policies.map((p) => inlineValue(p, 80)).join(', ')}`
    : '';
  blocks.push({
    type: 'context',
    elements: [
      ours(
        [
          quorumProgress(request),
          policyLine,
          `Request ${inlineValue(request.intentId, 140)}`,
          `Hash \`${escapeEntities(currentHash(request).slice(0, 19))}…\``,
        ]
          .filter(Boolean)
          .join(' · '),
      ),
    ],
  });
  if (options.note) blocks.push({ type: 'context', elements: [ours(truncate(options.note, 2000))] });
  const stepUpUrl = request.review?.stepUp
    ? requestPageUrl(options.webInboxUrl ?? webInboxUrlFromEnv(), request.intentId)
    : undefined;
  const stepUp = stepUpBlock(request, stepUpUrl);
  if (stepUp) blocks.push(stepUp);
  const actions = cardButtons(request, truncated || blocks.length + 1 > MAX_BLOCKS, stepUpUrl);
  return { text, blocks: fitBlocks(blocks, actions) };
}

/**
 * The card's `text` (notifications, screen readers, clients without blocks):
 * Countersign's words with each agent value as an inert code span.
 */
export function cardFallback(request: RequestItem, intent = currentIntent(request)): string {
  const what = request.status === 'PENDING' ? 'Review requested' : escapeEntities(request.status);
  return `${what}: ${inlineValue(intent.action, 128)} on ${inlineValue(intent.resource, 200)} (${inlineValue(requestFacts(request).environment, 40)}) by agent ${inlineValue(request.agentId, 64)}`;
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
      elements: [{ type: 'mrkdwn', text: ':scissors: … more in *View full request*' }],
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

/**
 * Why a pending step-up request has no Approve button that votes: policy asks
 * for a fresh IdP sign-in, which a chat click cannot show.
 */
function stepUpBlock(request: RequestItem, url: string | undefined): KnownBlock | undefined {
  const stepUp = request.review?.stepUp;
  if (!stepUp || request.status !== 'PENDING') return undefined;
  const methods = [stepUp.amr, ...(stepUp.allOf ?? [])].map((list) => list.join(' or ')).join(' and ');
  const minutes = Math.max(1, Math.round(stepUp.maxAgeSeconds / 60));
  const where = url
    ? '*Approve in Countersign…* opens the web inbox, which asks you to sign in again.'
    : 'No web inbox is configured (`webInboxUrl`), so nobody can approve it; it can still be denied here.';
  return {
    type: 'context',
    elements: [
      ours(
        `:lock: Policy asks for a fresh sign-in (${escapeEntities(methods)}, within ${minutes} min) to approve: a Slack click cannot approve this request. ${where} Deny works here.`,
      ),
    ],
  };
}

/** The card's buttons: Approve / Modify / Deny / Break glass while pending, and View full request when truncated. */
function cardButtons(request: RequestItem, truncated: boolean, stepUpUrl?: string): KnownBlock | undefined {
  const elements: Record<string, unknown>[] = [];
  if (request.status === 'PENDING') {
    const plan = request.review;
    // Approving, modifying and breaking glass need the step-up sign-in: only the web inbox can show it.
    if (plan?.stepUp) {
      if (stepUpUrl) {
        elements.push({
          type: 'button',
          action_id: ACTION.webApprove,
          style: 'primary',
          text: { type: 'plain_text', text: 'Approve in Countersign…' },
          url: stepUpUrl,
        });
      }
    } else {
      elements.push(button(ACTION.approve, 'Approve', approveButtonValue(request), 'primary'));
      if (plan?.editable.length) elements.push(button(ACTION.modify, 'Modify…', request.intentId));
    }
    elements.push(button(ACTION.deny, 'Deny…', request.intentId, 'danger'));
    if (!plan?.stepUp && plan?.breakGlass && request.intent.context?.urgency === 'urgent')
      elements.push(button(ACTION.breakglass, 'Break glass…', request.intentId));
  }
  if (truncated) elements.push(button(ACTION.viewFull, 'View full request', request.intentId));
  if (elements.length === 0) return undefined;
  return { type: 'actions', block_id: 'review', elements } as unknown as KnownBlock;
}
