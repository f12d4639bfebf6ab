/**
 * The review modals, as pure functions: the deny-reason form, the
 * modify-before-approve form, the break-glass form and the full-request view;
 * and reading the modify form into modified parameters (the core checks them
 * and judges the re-evaluated review: ../review-core/modification.ts).
 *
 * Block ids are part of the `view_submission` contract (docs/architecture.md,
 * "Slack interactions"): `reason` / action `reason` for the reason forms,
 * `param:<path>` / action `value` for each editable parameter.
 */
import type { KnownBlock, View } from '@slack/types';
import {
  type Intent,
  MAX_REASON,
  type Modification,
  type RequestItem,
  type ReviewPlan,
} from '../review-core/contract.js';
import { diffParameters, getAt, parameterSegments } from '../review-core/modification.js';
import { chunkTokens, fencedJson, plainValue } from '../shared/agent-text.js';
import { truncate } from '../shared/card.js';
import { maskParameters } from '../shared/masking.js';
import { requestFacts } from '../shared/registration.js';
import { parseStrictJson } from '../shared/strict-json.js';
import type { ModalAction } from './metadata.js';

/** `callback_id` of each modal. */
export const CALLBACK: Record<ModalAction | 'full', string> = {
  deny: 'countersign.deny',
  modify: 'countersign.modify',
  breakglass: 'countersign.breakglass',
  full: 'countersign.full',
};

/** Block and action id of the reason input. */
export const REASON_BLOCK = 'reason';
/** Longest reason accepted (the core's limit). */
export { MAX_REASON };
/** Prefix of a parameter input's block id; the rest is the editable path. */
export const PARAM_BLOCK = 'param:';

/** Countersign's own words in a modal (titles, labels, buttons). */
const plain = (text: string) => ({ type: 'plain_text' as const, text: truncate(text, 150), emoji: true });

/** Slack's limit on a section's text; a modal holds at most {@link MAX_MODAL_BLOCKS} blocks. */
const SECTION_LIMIT = 3000;
/** Slack's limit on blocks in a modal. */
export const MAX_MODAL_BLOCKS = 100;

/** What the request is, as label/value fields: our bold labels, the agent's values as plain_text. */
function summary(request: RequestItem): KnownBlock {
  const i = request.intent;
  const rows: Array<[string, string]> = [
    ['Action', i.action],
    ['Resource', i.resource],
    ['Environment (derived)', requestFacts(request).environment],
    ['Agent', request.agentId],
    ['On behalf of', i.agent.onBehalfOf],
  ];
  return {
    type: 'section',
    fields: rows.flatMap(([name, value]) => {
      const shown = plainValue(value, 600);
      const marks = [
        shown.hidden ? ':warning: _hidden or direction-changing characters, shown as_ `\\u…`' : '',
        shown.cut ? '_cut; see View full request_' : '',
      ].filter(Boolean);
      return [
        { type: 'mrkdwn' as const, text: [`*${name}*`, ...marks].join('\n'), verbatim: true },
        shown.value,
      ];
    }),
  };
}

function reasonInput(label: string, placeholder: string): KnownBlock {
  return {
    type: 'input',
    block_id: REASON_BLOCK,
    optional: false,
    label: plain(label),
    element: {
      type: 'plain_text_input',
      action_id: REASON_BLOCK,
      multiline: true,
      max_length: MAX_REASON,
      placeholder: plain(placeholder),
    },
  };
}

/** The deny form: a required multiline reason. */
export function denyModal(request: RequestItem, privateMetadata: string): View {
  return {
    type: 'modal',
    callback_id: CALLBACK.deny,
    private_metadata: privateMetadata,
    title: plain('Deny request'),
    submit: plain('Deny'),
    close: plain('Cancel'),
    blocks: [
      summary(request),
      reasonInput('Why are you denying it?', 'The agent and the requester see this reason.'),
    ],
  };
}

/** The break-glass form: the responder's mandatory reason, with what it will trigger. */
export function breakGlassModal(request: RequestItem, privateMetadata: string): View {
  return {
    type: 'modal',
    callback_id: CALLBACK.breakglass,
    private_metadata: privateMetadata,
    title: plain('Break glass'),
    submit: plain('Approve (break glass)'),
    close: plain('Cancel'),
    blocks: [
      summary(request),
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: ':rotating_light: You are approving an urgent action the agent takes *on your behalf*. This is announced to the approvers, audited, and opens a post-hoc review another approver must acknowledge.',
        },
      },
      reasonInput('Why can this not wait for an approver?', 'Incident, ticket, what breaks if it waits.'),
    ],
  };
}

function setAt(target: Record<string, unknown>, segments: string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = segments as [string, ...string[]];
  const copy = { ...target };
  if (rest.length === 0) copy[head] = value;
  else {
    const child = copy[head];
    copy[head] = setAt(
      child !== null && typeof child === 'object' && !Array.isArray(child)
        ? (child as Record<string, unknown>)
        : {},
      rest,
      value,
    );
  }
  return copy;
}

const show = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/** True when the card hides this parameter (policy `@mask` or secret-looking). */
function isMasked(parameters: Record<string, unknown>, plan: ReviewPlan, segments: string[]): boolean {
  const masked = maskParameters(parameters, plan.masked);
  return JSON.stringify(getAt(masked, segments)) !== JSON.stringify(getAt(parameters, segments));
}

/** The modify form: one input per editable parameter; masked values are never prefilled. */
export function modifyModal(request: RequestItem, intent: Intent, privateMetadata: string): View {
  const plan = request.review!;
  const inputs: KnownBlock[] = plan.editable.slice(0, 20).map((path) => {
    const segments = parameterSegments(path);
    const current = getAt(intent.parameters, segments);
    const masked = isMasked(intent.parameters, plan, segments);
    const initial = current === undefined || masked ? undefined : truncate(show(current), 3000);
    return {
      type: 'input',
      block_id: `${PARAM_BLOCK}${path}`,
      optional: true,
      label: plainValue(segments.join('.'), 150).value,
      hint: masked
        ? plain('Hidden value: leave empty to keep it, or type a replacement.')
        : plainValue(`Current: ${current === undefined ? '(not set)' : show(current)}`, 150).value,
      element: {
        type: 'plain_text_input',
        action_id: 'value',
        ...(initial !== undefined ? { initial_value: initial } : {}),
      },
    } as KnownBlock;
  });
  return {
    type: 'modal',
    callback_id: CALLBACK.modify,
    private_metadata: privateMetadata,
    title: plain('Modify and approve'),
    submit: plain('Approve with changes'),
    close: plain('Cancel'),
    blocks: [
      summary(request),
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: 'Policy evaluates the modified request again; if it still fits this review, your change is recorded and counts as your approval.',
          },
        ],
      },
      ...inputs,
    ],
  };
}

/**
 * The full request (masked), for cards whose text was truncated: the intent as
 * JSON in ``` sections that the data cannot close (see agent-text.ts), cut
 * into pages of at most 3,000 characters, within the modal's 100 blocks.
 */
export function fullRequestModal(request: RequestItem, intent: Intent): View {
  const masked = {
    ...intent,
    parameters: maskParameters(intent.parameters, request.review?.masked ?? []),
  };
  const { tokens, hidden } = fencedJson(masked);
  const pages = chunkTokens(tokens, SECTION_LIMIT - 6);
  const room = MAX_MODAL_BLOCKS - 2 - (hidden ? 1 : 0);
  const blocks: KnownBlock[] = pages.slice(0, room).map((page) => ({
    type: 'section',
    text: { type: 'mrkdwn', text: `\`\`\`${page}\`\`\``, verbatim: true },
  }));
  const notes: string[] = [];
  if (hidden)
    notes.push(
      ':warning: The request contains hidden or direction-changing characters, shown as JSON escapes (`\\u…`).',
    );
  if (pages.length > room)
    notes.push(
      `:scissors: Cut: ${room} of ${pages.length} pages shown; the whole intent is in the audit trail.`,
    );
  return {
    type: 'modal',
    callback_id: CALLBACK.full,
    title: plain('Full request'),
    close: plain('Close'),
    blocks: [
      summary(request),
      ...(notes.length
        ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: notes.join(' ') }] } as KnownBlock]
        : []),
      ...blocks,
    ],
  };
}

/** Outcome of {@link readModification}. */
export type ModificationRead =
  | { ok: true; parameters: Record<string, unknown>; diff: Modification['diff'] }
  | { ok: false; errors: Record<string, string> };

function parseInput(
  text: string,
  current: unknown,
): { ok: true; value: unknown } | { ok: false; error: string } {
  if (typeof current === 'number') {
    const n = Number(text.trim());
    if (text.trim() === '' || !Number.isFinite(n)) return { ok: false, error: 'Enter a number.' };
    if (Number.isInteger(current) && !Number.isInteger(n))
      return { ok: false, error: 'Enter a whole number.' };
    return { ok: true, value: n };
  }
  if (typeof current === 'boolean') {
    const t = text.trim().toLowerCase();
    if (t !== 'true' && t !== 'false') return { ok: false, error: 'Enter true or false.' };
    return { ok: true, value: t === 'true' };
  }
  if (typeof current === 'string') return { ok: true, value: text };
  const parsed = parseStrictJson(text);
  if (parsed.ok) return { ok: true, value: parsed.value };
  if (!parsed.reason.startsWith('not valid JSON')) return { ok: false, error: `Refused: ${parsed.reason}.` };
  return current === undefined ? { ok: true, value: text } : { ok: false, error: 'Enter valid JSON.' };
}

/**
 * Reads the modify form: parameters replaced at the editable paths only (an
 * empty input keeps the value), typed like the current value. The diff shows
 * masked values masked.
 */
export function readModification(
  intent: Intent,
  plan: ReviewPlan,
  values: Record<string, Record<string, string | undefined>>,
): ModificationRead {
  let parameters = intent.parameters;
  const errors: Record<string, string> = {};
  const changed: string[] = [];
  for (const path of plan.editable) {
    const text = values[`${PARAM_BLOCK}${path}`]?.value;
    if (text === undefined || text === '') continue;
    const segments = parameterSegments(path);
    if (segments.length === 0) continue;
    const current = getAt(intent.parameters, segments);
    const parsed = parseInput(text, current);
    if (!parsed.ok) {
      errors[`${PARAM_BLOCK}${path}`] = parsed.error;
      continue;
    }
    if (JSON.stringify(parsed.value) === JSON.stringify(current)) continue;
    parameters = setAt(parameters, segments, parsed.value);
    changed.push(path);
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  const firstBlock = plan.editable[0] ? `${PARAM_BLOCK}${plan.editable[0]}` : REASON_BLOCK;
  if (changed.length === 0)
    return { ok: false, errors: { [firstBlock]: 'Nothing was changed: use Approve instead.' } };
  return { ok: true, parameters, diff: diffParameters(intent.parameters, parameters, plan).diff };
}
