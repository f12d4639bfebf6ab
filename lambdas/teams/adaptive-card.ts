/**
 * The review card as an Adaptive Card (schema 1.5, Universal Actions): a pure
 * function from a request to the card, rebuilt whole from state every time,
 * with the same content as the Slack card (../shared/card.ts).
 *
 * Agent text is data: every value an agent wrote (and every id it chose) is a
 * `TextRun` inside a `RichTextBlock`, in a monospace font on an emphasis
 * background. A `TextRun` renders no markdown, so agent text can never form a
 * link, a heading, bold text or a list; hidden and direction-changing
 * characters are shown as `\uXXXX` (../shared/agent-text.ts) and long values
 * are cut with "View full request". Countersign's own words are
 * proportional `TextRun`s outside those containers.
 */

import type { RequestItem } from '../review-core/contract.js';
import { fencedJson, plainValue, revealTokens, type Shown, unescapeEntities } from '../shared/agent-text.js';
import { CARD_BUDGET } from '../shared/card.js';
import { currentHash, currentIntent } from '../shared/current-intent.js';
import { UNKNOWN_ENVIRONMENT } from '../shared/environment.js';
import { maskParameters } from '../shared/masking.js';
import { requestFacts } from '../shared/registration.js';
import { PARAM_INPUT, REASON_INPUT } from './activity.js';

/** An Adaptive Card element or action (the schema's JSON). */
export type CardElement = Record<string, unknown>;

/** An Adaptive Card. */
export interface AdaptiveCard {
  type: 'AdaptiveCard';
  $schema: string;
  version: '1.5';
  body: CardElement[];
  actions?: CardElement[];
  refresh?: CardElement;
  fallbackText: string;
  msteams?: { width: 'Full' };
}

/** The content type of an Adaptive Card attachment and invoke answer. */
export const ADAPTIVE_CARD_TYPE = 'application/vnd.microsoft.card.adaptive';

/** Hex characters of the intent hash an Approve carries (as the Slack card's button). */
export const SEEN_HASH_LENGTH = 16;

/** Most user ids a card's `refresh.userIds` may name (Teams' limit). */
export const MAX_REFRESH_USERS = 60;

/** Longest deny reason the card's input accepts (the core's limit). */
const MAX_REASON_INPUT = 2000;

/** How much of each value the "View full request" card shows (Teams caps a card at about 28 KB). */
const FULL_BUDGET = {
  field: 1000,
  resource: 2000,
  justification: 4000,
  parameters: 8000,
  impact: 3000,
  diff: 6000,
  datasets: 2000,
  reason: 2000,
  modification: 3000,
} as const;

const STATUS: Record<string, { text: string; color: string }> = {
  PENDING: { text: 'Waiting for review', color: 'Attention' },
  APPROVED: { text: 'Approved', color: 'Good' },
  DENIED: { text: 'Denied', color: 'Attention' },
  EXPIRED: { text: 'Expired (denied: nobody decided in time)', color: 'Warning' },
  CANCELLED: { text: 'Cancelled by the agent', color: 'Default' },
};

/** Options of {@link renderAdaptiveCard}. */
export interface RenderOptions {
  /** A line of Countersign's own words under the status (a late-decision warning). */
  note?: string;
  /** Shown on top, to the one person who acted: why their action changed nothing. */
  refusal?: string;
  /** Shown on top, to the one person who acted: what their action did. */
  notice?: string;
  /** Render the full request (bigger budgets, no cut marks pointing elsewhere). */
  full?: boolean;
  /** Teams user ids (MRIs) whose view refreshes automatically (at most {@link MAX_REFRESH_USERS}). */
  refreshUserIds?: string[];
}

/** Text styling a run of our own words may carry. */
const RUN_STYLE = ['weight', 'color', 'size', 'isSubtle', 'italic'] as const;

/**
 * Our own words: a TextRun too, so that no markdown is rendered anywhere on
 * the card (an email or a core message quoting agent text stays literal);
 * never monospace and never on the emphasis background agent text sits on.
 */
function ours(text: string, extra: CardElement = {}): CardElement {
  const run: CardElement = { type: 'TextRun', text };
  const block: CardElement = { type: 'RichTextBlock', inlines: [run] };
  for (const [key, value] of Object.entries(extra)) {
    if ((RUN_STYLE as readonly string[]).includes(key)) run[key] = value;
    else block[key] = value;
  }
  return block;
}

/** Agent text: a TextRun (never markdown) in a monospace RichTextBlock on an emphasis background. */
function data(text: string): CardElement {
  return {
    type: 'Container',
    style: 'emphasis',
    items: [
      { type: 'RichTextBlock', inlines: [{ type: 'TextRun', text: text || ' ', fontType: 'Monospace' }] },
    ],
  };
}

/** The marks a label carries for a shown value, in Countersign's words. */
function marks(shown: Pick<Shown<unknown>, 'hidden' | 'cut'>, full: boolean): string[] {
  const out: string[] = [];
  if (shown.hidden) out.push('Contains hidden or direction-changing characters, shown as \\u….');
  if (shown.cut)
    out.push(
      `Cut: ${shown.cut.shown.toLocaleString('en-US')} of ${shown.cut.of.toLocaleString('en-US')} characters${full ? '' : ', see View full request'}.`,
    );
  return out;
}

/** A labelled value: our label (and its marks), then the agent's text. */
function labelled(name: string, shown: Shown<string>, full: boolean): CardElement[] {
  return [
    ours(name, { weight: 'Bolder', spacing: 'Medium' }),
    ...marks(shown, full).map((m) => ours(m, { isSubtle: true, size: 'Small', color: 'Warning' })),
    data(shown.value),
  ];
}

/** Agent text revealed and cut to `max` characters. */
function value(text: string, max: number, layout: 'line' | 'lines' = 'line'): Shown<string> {
  const shown = plainValue(text, max, layout);
  return { value: shown.value.text, hidden: shown.hidden, ...(shown.cut ? { cut: shown.cut } : {}) };
}

/** JSON revealed (hidden characters as JSON escapes, so it still parses to the same value) and cut. */
function json(parameters: unknown, max: number): Shown<string> {
  const { tokens, hidden } = fencedJson(parameters);
  let text = '';
  let count = 0;
  const plain = tokens.map(unescapeEntities);
  for (const t of plain) {
    if (text.length + t.length > max) break;
    text += t;
    count += 1;
  }
  return {
    value: text,
    hidden,
    ...(count < plain.length ? { cut: { shown: count, of: plain.length } } : {}),
  };
}

/** Several one-line values, one per line. */
function lines(values: readonly string[], max: number): Shown<string> {
  let hidden = false;
  const parts = values.map((v) => {
    const r = revealTokens(v, { layout: 'line' });
    hidden ||= r.hidden;
    return r.tokens.join('');
  });
  const all = parts.join('\n');
  const cut = all.length > max ? { shown: max, of: all.length } : undefined;
  return { value: all.slice(0, max), hidden, ...(cut ? { cut } : {}) };
}

/** Who, as a card names them: the email Countersign resolved (never agent text). */
const who = (ref: { email: string }) => ref.email;

/** The status line, in Countersign's words. */
function statusLine(request: RequestItem): CardElement {
  const status = STATUS[request.status] ?? { text: request.status, color: 'Default' };
  const decision = request.decision;
  let text =
    request.status === 'APPROVED' && decision?.breakGlass
      ? 'Approved on the break-glass path (post-hoc review required)'
      : status.text;
  if (decision && request.status !== 'PENDING') {
    const by = decision.decidedBy ? ` by ${who(decision.decidedBy)}` : decision.automatic ? ' by policy' : '';
    text += `${by} at ${decision.decidedAt}`;
  }
  return ours(text, { weight: 'Bolder', color: status.color, size: 'Medium' });
}

/** Quorum progress, e.g. "1 of 2 approvals: alice@example.com at …". */
export function quorumText(request: Pick<RequestItem, 'approvals' | 'review'>): string {
  const quorum = request.review?.quorum ?? 1;
  const by = request.approvals.map((a) => `${who(a)} at ${a.at}`).join(', ');
  return `${request.approvals.length} of ${quorum} approval${quorum === 1 ? '' : 's'}${by ? `: ${by}` : ''}`;
}

/** The hash prefix an Approve on this rendering carries. */
export const seenHashOf = (request: Pick<RequestItem, 'intentHash' | 'modification'>) =>
  currentHash(request)
    .replace(/^sha256:/, '')
    .slice(0, SEEN_HASH_LENGTH);

/** Renders the review card for a request in any state. */
export function renderAdaptiveCard(request: RequestItem, options: RenderOptions = {}): AdaptiveCard {
  const full = options.full === true;
  const budget = full ? FULL_BUDGET : CARD_BUDGET;
  const intent = currentIntent(request);
  const plan = request.review;
  const facts = requestFacts(request);
  let truncated = false;
  const shown = (s: Shown<string>) => {
    truncated ||= s.cut !== undefined;
    return s;
  };
  const body: CardElement[] = [];
  if (options.refusal) body.push(banner(options.refusal, 'Attention'));
  if (options.notice) body.push(banner(options.notice, 'Good'));
  body.push(
    ours(full ? 'Privileged action review: full request' : 'Privileged action review', {
      size: 'Large',
      weight: 'Bolder',
    }),
  );
  body.push(statusLine(request));
  if (options.note) body.push(ours(options.note, { color: 'Warning' }));
  const reason = request.status !== 'PENDING' ? request.decision?.reason : undefined;
  if (reason) body.push(...labelled('Reason', shown(value(reason, budget.reason, 'lines')), full));

  const rows: Array<[string, string, number?]> = [
    ['Action', intent.action],
    ['Resource', intent.resource, budget.resource],
    ['Agent', request.agentId],
    ['Model', intent.agent.model],
    ['On behalf of', facts.onBehalfOf],
    ['Owner (registered)', facts.owner],
    ['Session', intent.agent.sessionId],
  ];
  if (facts.declaredEnvironment !== facts.environment)
    rows.push(['Environment declared by the agent', facts.declaredEnvironment]);
  for (const [name, text, max] of rows)
    body.push(...labelled(name, shown(value(text, max ?? budget.field)), full));
  body.push(
    ours('Environment', { weight: 'Bolder', spacing: 'Medium' }),
    facts.environment === UNKNOWN_ENVIRONMENT
      ? ours(`${UNKNOWN_ENVIRONMENT} (unverified: nothing places this resource)`)
      : // A canonical name from Countersign's configuration, never agent text.
        ours(`${facts.environment} (derived from the ${facts.environmentSource})`),
    ours('Expires', { weight: 'Bolder', spacing: 'Medium' }),
    ours(request.expiresAt ?? '—'),
  );
  body.push(
    ...labelled(
      'Why (as the agent wrote it)',
      shown(value(intent.justification, budget.justification, 'lines')),
      full,
    ),
  );
  const parameters = maskParameters(intent.parameters, plan?.masked ?? []);
  body.push(
    ...labelled(
      `Parameters${request.modification ? ' (modified)' : ''}`,
      shown(json(parameters, budget.parameters)),
      full,
    ),
  );
  if (request.modification) {
    const m = request.modification;
    const diff = m.diff
      .map((d) => `${d.path}: ${JSON.stringify(d.from)} → ${JSON.stringify(d.to)}`)
      .join('\n');
    body.push(
      ...labelled(
        `Modified by ${who(m.by)} at ${m.by.at} (policy re-evaluated it; earlier approvals were for other parameters)`,
        shown(value(diff, budget.modification, 'lines')),
        full,
      ),
    );
  }
  if (intent.context?.impact)
    body.push(
      ...labelled(
        'Impact (as the agent wrote it)',
        shown(value(intent.context.impact, budget.impact, 'lines')),
        full,
      ),
    );
  if (intent.context?.diff)
    body.push(...labelled('Diff', shown(value(intent.context.diff, budget.diff, 'lines')), full));
  if (intent.context?.datasets?.length)
    body.push(...labelled('Datasets', shown(lines(intent.context.datasets, budget.datasets)), full));
  if (request.postHoc) {
    const ack = request.postHoc.acknowledgedBy;
    body.push(
      ours(
        ack
          ? `Post-hoc review acknowledged by ${who(ack)} at ${ack.at}`
          : 'Post-hoc review: waiting for an approver to acknowledge',
        {
          isSubtle: true,
        },
      ),
    );
  }
  body.push(ours(quorumText(request), { isSubtle: true, spacing: 'Medium' }));
  if (plan?.policies.length) {
    body.push(ours('Policy', { isSubtle: true, size: 'Small' }), data(plan.policies.join(', ')));
  }
  body.push(
    ours('Request', { isSubtle: true, size: 'Small' }),
    data(value(request.intentId, 200).value),
    ours(`Hash ${currentHash(request).slice(0, 19)}…`, { isSubtle: true, size: 'Small' }),
  );

  const card: AdaptiveCard = {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.5',
    body,
    fallbackText: cardFallbackText(request),
    msteams: { width: 'Full' },
  };
  const actions = full ? [] : cardActions(request, truncated);
  if (actions.length) card.actions = actions;
  if (!full) {
    const userIds = (options.refreshUserIds ?? []).slice(0, MAX_REFRESH_USERS);
    card.refresh = {
      action: execute('refresh', 'Refresh', { requestId: request.intentId }),
      ...(userIds.length ? { userIds } : {}),
    };
  }
  return card;
}

/** A message to the one person who acted, in Countersign's words. */
function banner(text: string, color: 'Attention' | 'Good'): CardElement {
  return {
    type: 'Container',
    style: color === 'Good' ? 'good' : 'attention',
    items: [ours(text, { weight: 'Bolder' })],
  };
}

/** The text Teams shows where a card cannot be rendered (notifications, old clients): no agent text. */
export function cardFallbackText(request: RequestItem): string {
  return request.status === 'PENDING'
    ? 'Countersign: a privileged action is waiting for review.'
    : `Countersign: a privileged action review ended (${request.status.toLowerCase()}).`;
}

/** A Universal Action, with an Action.Submit fallback for clients that predate it. */
function execute(verb: string, title: string, data: Record<string, unknown>, style?: string): CardElement {
  return {
    type: 'Action.Execute',
    verb,
    title,
    data,
    ...(style ? { style } : {}),
    fallback: { type: 'Action.Submit', title, data: { ...data, verb } },
  };
}

/** Approve / Modify / Deny while pending; View full request when the card is cut. */
function cardActions(request: RequestItem, truncated: boolean): CardElement[] {
  const actions: CardElement[] = [];
  const requestId = request.intentId;
  if (request.status === 'PENDING') {
    const seenHash = seenHashOf(request);
    actions.push(execute('approve', 'Approve', { requestId, seenHash }, 'positive'));
    const editable = request.review?.editable ?? [];
    if (editable.length) {
      const masked = maskParameters(currentIntent(request).parameters, request.review?.masked ?? []);
      actions.push({
        type: 'Action.ShowCard',
        title: 'Modify…',
        card: {
          type: 'AdaptiveCard',
          body: [
            ours(
              'Change the editable parameters, then approve the changed request. An empty field keeps its value; policy evaluates the change again.',
            ),
            ...editable.flatMap((path) => [
              ours(path, { weight: 'Bolder' }),
              data(json(getPath(masked, path), 500).value),
              {
                type: 'Input.Text',
                id: `${PARAM_INPUT}${path}`,
                placeholder: 'new value (JSON or text)',
                maxLength: 4000,
              },
            ]),
          ],
          actions: [execute('modify', 'Approve with these parameters', { requestId, seenHash })],
        },
      });
    }
    actions.push({
      type: 'Action.ShowCard',
      title: 'Deny…',
      card: {
        type: 'AdaptiveCard',
        body: [
          {
            type: 'Input.Text',
            id: REASON_INPUT,
            label: 'Why deny? (the agent and its requester see this)',
            isMultiline: true,
            isRequired: true,
            errorMessage: 'A reason is required to deny.',
            maxLength: MAX_REASON_INPUT,
          },
        ],
        actions: [execute('deny', 'Deny', { requestId, seenHash }, 'destructive')],
      },
    });
  }
  if (truncated || request.status === 'PENDING')
    actions.push(execute('view', 'View full request', { requestId }));
  return actions;
}

function getPath(parameters: Record<string, unknown>, path: string): unknown {
  let node: unknown = parameters;
  for (const segment of path.replace(/^parameters\./, '').split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

/** A message card of Countersign's own words (a reminder, an escalation, a refusal with no request). */
export function messageCard(text: string): AdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.5',
    body: [ours(text)],
    fallbackText: text,
  };
}
