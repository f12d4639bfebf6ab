/**
 * The review modals, as pure functions: the deny-reason form, the
 * modify-before-approve form, the break-glass form and the full-request view;
 * and the pure half of a modification (read the form, build the modified
 * parameters and their diff, judge the re-evaluated review).
 *
 * Block ids are part of the `view_submission` contract (docs/architecture.md,
 * "Slack interactions"): `reason` / action `reason` for the reason forms,
 * `param:<path>` / action `value` for each editable parameter.
 */
import type { KnownBlock, View } from '@slack/types';
import { escapeMrkdwn, truncate } from '../shared/card.js';
import type { Intent } from '../shared/intent.js';
import { MASK, maskParameters } from '../shared/masking.js';
import type { IntentVerdict } from '../shared/policy.js';
import { requestFacts } from '../shared/registration.js';
import type { Modification, RequestItem, ReviewPlan } from '../shared/store.js';
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
/** Longest reason accepted. */
export const MAX_REASON = 2000;
/** Prefix of a parameter input's block id; the rest is the editable path. */
export const PARAM_BLOCK = 'param:';

const plain = (text: string) => ({ type: 'plain_text' as const, text: truncate(text, 150), emoji: true });

function summary(request: RequestItem): KnownBlock {
  const i = request.intent;
  return {
    type: 'section',
    text: {
      type: 'mrkdwn',
      text: truncate(
        `*${escapeMrkdwn(i.action)}* on \`${escapeMrkdwn(i.resource)}\` (${escapeMrkdwn(requestFacts(request).environment)})\nAgent \`${escapeMrkdwn(request.agentId)}\` for ${escapeMrkdwn(i.agent.onBehalfOf)}\nRequest \`${escapeMrkdwn(request.intentId)}\``,
        2900,
      ),
    },
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

/** Dot path of an editable parameter, relative to `parameters`. */
export const parameterSegments = (path: string) =>
  (path.startsWith('parameters.') ? path.slice('parameters.'.length) : path).split('.').filter(Boolean);

function getAt(value: unknown, segments: string[]): unknown {
  let here = value;
  for (const s of segments) {
    if (here === null || typeof here !== 'object') return undefined;
    here = (here as Record<string, unknown>)[s];
  }
  return here;
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
      label: plain(segments.join('.')),
      hint: plain(
        masked
          ? 'Hidden value: leave empty to keep it, or type a replacement.'
          : `Current: ${current === undefined ? '(not set)' : truncate(show(current), 100)}`,
      ),
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

/** The full request (masked), for cards whose text was truncated. */
export function fullRequestModal(request: RequestItem, intent: Intent): View {
  const masked = {
    ...intent,
    parameters: maskParameters(intent.parameters, request.review?.masked ?? []),
  };
  const text = escapeMrkdwn(JSON.stringify(masked, null, 2));
  const blocks: KnownBlock[] = [];
  for (let i = 0; i < text.length && blocks.length < 99; i += 2900) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `\`\`\`${text.slice(i, i + 2900)}\`\`\`` },
    });
  }
  return {
    type: 'modal',
    callback_id: CALLBACK.full,
    title: plain('Full request'),
    close: plain('Close'),
    blocks: [summary(request), ...blocks],
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
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return current === undefined ? { ok: true, value: text } : { ok: false, error: 'Enter valid JSON.' };
  }
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
  const before = maskParameters(intent.parameters, plan.masked);
  const after = maskParameters(parameters, plan.masked);
  const diff = changed.map((path) => {
    const segments = parameterSegments(path);
    const from = getAt(before, segments);
    const to = getAt(after, segments);
    return {
      path,
      from: from ?? null,
      to: to === MASK && from === MASK ? `${MASK} (changed)` : (to ?? null),
    };
  });
  return { ok: true, parameters, diff };
}

/**
 * Whether a re-evaluated (modified) intent stays within the review it is in.
 * Safe behaviour: anything but "allow" or "the same or a lighter review"
 * refuses the modification; a modification never moves a request to another
 * review (the approvers asked may not be the right ones for it).
 */
export function judgeReevaluation(
  plan: ReviewPlan,
  verdict: Pick<IntentVerdict, 'outcome' | 'reason' | 'review' | 'warnings' | 'policies'>,
): { ok: true } | { ok: false; reason: string } {
  if (verdict.outcome === 'deny')
    return { ok: false, reason: `Policy would deny the modified request: ${verdict.reason}` };
  if (verdict.warnings.length > 0) {
    return {
      ok: false,
      reason: `The modified request could not be fully evaluated (${verdict.warnings[0]}); keep the original or deny.`,
    };
  }
  if (verdict.outcome === 'allow') return { ok: true };
  const next = verdict.review;
  if (!next) return { ok: false, reason: 'Policy returned no review plan for the modified request.' };
  if (next.quorum > plan.quorum) {
    return {
      ok: false,
      reason: `The modified request needs ${next.quorum} approvals (this review has ${plan.quorum}); ask the agent to submit it as a new request.`,
    };
  }
  const newPolicies = next.policies.filter((p) => !plan.policies.includes(p));
  const newGroups = next.approverGroups.filter((g) => !plan.approverGroups.includes(g));
  const newEmails = next.approverEmails.filter((e) => !plan.approverEmails.includes(e));
  if (newPolicies.length + newGroups.length + newEmails.length > 0) {
    const what = [...newPolicies.map((p) => `policy ${p}`), ...newGroups.map((g) => `@${g}`), ...newEmails];
    return {
      ok: false,
      reason: `The modified request needs a different review (${what.join(', ')}); ask the agent to submit it as a new request.`,
    };
  }
  return { ok: true };
}
