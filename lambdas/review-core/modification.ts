/**
 * The pure half of a modification: which editable parameters changed (shown
 * masked the way the card masks them), whether anything outside them did, and
 * whether the re-evaluated intent stays within the review it is in.
 */
import { canonicalJson } from '../shared/canonical.js';
import { MASK, maskParameters } from '../shared/masking.js';
import type { IntentVerdict } from '../shared/policy.js';
import type { Modification, ReviewPlan } from '../shared/store.js';

/** Dot path of an editable parameter, relative to `parameters`. */
export const parameterSegments = (path: string) =>
  (path.startsWith('parameters.') ? path.slice('parameters.'.length) : path).split('.').filter(Boolean);

/** The value at `segments` inside `value`, or undefined. */
export function getAt(value: unknown, segments: string[]): unknown {
  let here = value;
  for (const s of segments) {
    if (here === null || typeof here !== 'object') return undefined;
    here = (here as Record<string, unknown>)[s];
  }
  return here;
}

/** A copy of `value` without the leaf at `segments`. */
function withoutPath(value: unknown, segments: string[]): unknown {
  const [head, ...rest] = segments;
  if (head === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const { [head]: child, ...others } = value as Record<string, unknown>;
  // An absent child comes back as an undefined member, which canonical JSON omits.
  return rest.length === 0 ? others : { ...others, [head]: withoutPath(child, rest) };
}

/** The editable parameters that differ between two parameter sets, and whether anything else does. */
export function diffParameters(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  plan: Pick<ReviewPlan, 'editable' | 'masked'>,
): { diff: Modification['diff']; outside: boolean } {
  // An editable path with no segments names nothing: withoutPath leaves the value whole.
  const editable = plan.editable.map(parameterSegments);
  const rest = (parameters: unknown) => canonicalJson(editable.reduce(withoutPath, parameters));
  const changed = plan.editable.filter((path) => {
    const segments = parameterSegments(path);
    return (
      segments.length > 0 &&
      JSON.stringify(getAt(after, segments)) !== JSON.stringify(getAt(before, segments))
    );
  });
  const maskedBefore = maskParameters(before, plan.masked);
  const maskedAfter = maskParameters(after, plan.masked);
  const diff = changed.map((path) => {
    const segments = parameterSegments(path);
    const from = getAt(maskedBefore, segments);
    const to = getAt(maskedAfter, segments);
    return {
      path,
      from: from ?? null,
      to: to === MASK && from === MASK ? `${MASK} (changed)` : (to ?? null),
    };
  });
  return { diff, outside: rest(before) !== rest(after) };
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
