/**
 * Policy decisions, by Cedar. Two questions:
 * - `Action::"request"` (evaluate): may this intent proceed, and what review
 *   does it need? A matching `forbid` denies; a matching `@outcome("review")`
 *   permit sends it to review with the plan its annotations describe (several
 *   combine conservatively); otherwise a matching `@outcome("allow")` permit
 *   allows it. No match, an evaluation error or a mistyped parameter: review,
 *   with a warning. Never allow by default.
 * - `Action::"approve"` (interaction handler): may this person approve this
 *   request? Only people the review plan names, only if no approve policy
 *   forbids it, and never against the invariants checked here in code.
 *
 * The policy bundle is embedded at bundle time (`COUNTERSIGN_POLICY_BUNDLE`,
 * validated at synth) or, in tests, the sandbox and the CLI, built from the
 * repository's `policies/` directory at first use. Either way it is preparsed
 * once per process.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import {
  buildPolicyBundle,
  CEDAR_NAMESPACE,
  DEFAULT_REVIEW_ID,
  type PlanAnnotations,
  type PolicyAction,
  type PolicyBundle,
  type PolicyMeta,
  policyBundleDigest,
  type ReviewChannel,
  readPolicyMeta,
} from '../../lib/policy-bundle.js';
import type { StepUpRequirement } from '../identity/contract.js';
import { combineStepUps } from '../identity/step-up.js';
import { canonicalEmail, sameIdentity } from './email.js';
import { UNKNOWN_ENVIRONMENT } from './environment.js';
import type { Intent } from './intent.js';
import { actionClass } from './metrics.js';
import { type AppliedQuota, combineQuotas, type RateLimit } from './rate-limit.js';
import { declaredFacts, type VerifiedFacts } from './registration.js';
import type { ReviewPlan } from './store.js';

/** The validated bundle as JSON, substituted by esbuild `define` at bundle time; absent in tests and the CLI. */
declare const COUNTERSIGN_POLICY_BUNDLE: string | undefined;

/** The strictest step-up of the matching review policies, as a plan field (none when no policy asks). */
function stepUpOf(requirements: (StepUpRequirement | undefined)[]): { stepUp?: StepUpRequirement } {
  const stepUp = combineStepUps(requirements);
  return stepUp ? { stepUp } : {};
}

/** Defaults policy falls back to. */
export interface PolicyDefaults {
  /** Slack user-group handle asked when no review policy names approvers. */
  approverGroup: string;
  /** Review timeout when no review policy sets `@timeout`. */
  timeoutSeconds: number;
}

/** The outcome of policy for one intent. */
export interface IntentVerdict {
  outcome: 'allow' | 'deny' | 'review';
  reason: string;
  /** Policy ids that determined the outcome (`default-review` when none matched). */
  policies: string[];
  /** Present when outcome is `review`. */
  review?: ReviewPlan;
  /** Why the outcome is more cautious than the policies alone would say (log these). */
  warnings: string[];
  /** Digest of the policy bundle that decided. */
  policyDigest: string;
  /** Present when the bundle has `@mode("shadow")` policies: what they would have decided. */
  shadow?: ShadowVerdict;
}

/**
 * What the intent's outcome would have been had the `@mode("shadow")`
 * policies been enforced. Recorded in the audit trail, never acted on.
 */
export interface ShadowVerdict {
  /** The would-be outcome with the shadow policies enforced. */
  outcome: 'allow' | 'deny' | 'review';
  /** True when that outcome differs from the enforced one. */
  changed: boolean;
  /** Shadow policies among those that would have determined the outcome. */
  policies: string[];
  /** The would-be reason. */
  reason: string;
}

/** A human who clicked approve, as the interaction handler resolved them from Slack. */
export interface ApproverIdentity {
  slackUserId: string;
  /** Email from `users.info`; absent when it could not be resolved (then always refused). */
  email?: string;
  /** Slack user-group handles the person belongs to. */
  groups: string[];
  /** Slack `is_bot || is_app_user`: bots and apps are agents, and agents never approve. */
  isBot?: boolean;
}

/** Input of {@link canApprove}. */
export interface ApprovalQuestion {
  intent: Intent;
  agentId: string;
  plan: ReviewPlan;
  approver: ApproverIdentity;
  /** The request's verified facts (registered owner, derived environment); the intent's claims when absent. */
  verified?: VerifiedFacts;
}

/** Input of {@link PolicyEngine.evaluateIntent}. */
export interface IntentQuestion {
  intent: Intent;
  agentId: string;
  /**
   * What Evaluate established (registered owner, derived environment). The
   * handlers always pass it; offline tooling (policy tests, explain) without
   * it evaluates the intent's own claims.
   */
  verified?: VerifiedFacts;
}

/** Answer of {@link canApprove}. */
export interface ApprovalAnswer {
  allowed: boolean;
  reason: string;
  /** Policies behind the answer: the plan's policies when allowed, the forbidding ones when refused by policy. */
  policies: string[];
}

/** Id reported when no policy matched and the built-in default review applied. */
export const DEFAULT_REVIEW_POLICY_ID = DEFAULT_REVIEW_ID;

/** A loaded, preparsed policy set. */
export interface PolicyEngine {
  readonly bundle: PolicyBundle;
  /** Countersign's reading of each policy (effect, actions, outcome, review plan). */
  readonly meta: ReadonlyMap<string, PolicyMeta>;
  /**
   * Slack user-group handles the policies test membership of
   * (`principal.groups.contains("…")`): the interaction handler resolves the
   * clicker's membership of these as well as of the plan's approver groups.
   */
  readonly referencedGroups: readonly string[];
  evaluateIntent(input: IntentQuestion, defaults: PolicyDefaults): IntentVerdict;
  canApprove(input: ApprovalQuestion): ApprovalAnswer;
  /**
   * Only the `approve` policies' forbids (no invariants, no plan): for the
   * break-glass path, whose own checks replace the invariants it is the
   * documented exception to, but which no approve policy may be bypassed by.
   */
  approvePoliciesForbid(
    input: Omit<ApprovalQuestion, 'plan'>,
  ): { reason: string; policies: string[] } | undefined;
  /**
   * The quotas of an intent: the `@rate` policies that match it (asked with
   * its action class in canonical, lower-case form), strictest per window, or
   * `fallback` when none matches. A quota policy that cannot be evaluated
   * counts as matching (the stricter reading).
   */
  quotasFor(input: IntentQuestion, fallback: RateLimit): AppliedQuota[];
  /**
   * The canonical action class an intent is counted under: its service
   * prefix, lower-cased, when some policy names that service; every other
   * service counts as `other`, so an agent cannot mint fresh quotas by
   * inventing service names.
   */
  quotaClass(action: string): string;
}

type ParamType = 'String' | 'Long' | 'Bool';

const uid = <T extends string>(type: string, id: T) => ({ type: `${CEDAR_NAMESPACE}::${type}`, id });
const ACTION_REQUEST = uid('Action', 'request' as const);
const ACTION_APPROVE = uid('Action', 'approve' as const);
const lower = (s: string | undefined) => (s ?? '').trim().toLowerCase();
const normalizeHandle = (h: string) => lower(h).replace(/^@/, '');
const unique = <T>(xs: Iterable<T>) => [...new Set(xs)];
/** The environment an approve question without verified facts is asked in: the strictest reading. */
const UNVERIFIED = UNKNOWN_ENVIRONMENT;

/** The typed parameters the schema declares (`type Parameters` in the schema), read from the schema itself. */
function parameterTypes(schema: string): Map<string, ParamType> {
  const answer = cedar.schemaToJson(schema);
  const types = new Map<string, ParamType>();
  if (answer.type !== 'success')
    throw new Error(`policy schema does not parse: ${answer.errors[0]?.message}`);
  const record = answer.json[CEDAR_NAMESPACE]?.commonTypes?.Parameters as
    | { attributes?: Record<string, { type: string; name?: string }> }
    | undefined;
  for (const [name, t] of Object.entries(record?.attributes ?? {})) {
    const base = t.type === 'EntityOrCommon' ? t.name : t.type;
    if (base === 'String' || base === 'Long') types.set(name, base);
    else if (base === 'Bool' || base === 'Boolean') types.set(name, 'Bool');
  }
  return types;
}

function tagValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}

/**
 * Loads a bundle into Cedar (preparsed, once) and returns the two questions
 * over it. The bundle is trusted to have been built by `buildPolicyBundle`;
 * its digest is checked, and evaluation errors still end in review.
 */
export function createPolicyEngine(bundle: PolicyBundle): PolicyEngine {
  const digest = policyBundleDigest(bundle);
  if (digest !== bundle.digest)
    throw new Error(`policy bundle digest mismatch: ${bundle.digest} != ${digest}`);
  const meta = new Map<string, PolicyMeta>();
  for (const [id, text] of Object.entries(bundle.policies)) {
    const json = cedar.policyToJson(text);
    if (json.type === 'failure') throw new Error(`policy ${id} does not parse: ${json.errors[0]?.message}`);
    const read = readPolicyMeta(json.json);
    if (read.errors.length > 0) throw new Error(`policy ${id}: ${read.errors.join('; ')}`);
    meta.set(id, read.meta);
  }
  const paramTypes = parameterTypes(bundle.schema);

  // Cedar evaluates every policy of a set, so each question is asked of only
  // the policies that can match its action, environment and service (read
  // from each policy's scope and top-level `when` conjuncts). Each distinct
  // subset is preparsed once, on first use.
  const subsets = new Map<string, string>();
  const selections = new Map<string, string>();
  // Cedar keeps preparsed policy sets in one registry per process (shared even
  // by separately loaded copies of this module), so each engine names its sets
  // with its own random id: two engines of one bundle never replace each other's sets.
  const instance = randomUUID();
  function policySetFor(
    action: PolicyAction,
    environment: string,
    service: string,
    withShadow = false,
    purpose: 'decide' | 'quota' = 'decide',
  ): string {
    const key = `${action}|${environment}|${service}|${withShadow ? 'shadow' : 'enforced'}|${purpose}`;
    const known = selections.get(key);
    if (known) return known;
    const ids = [...meta.values()]
      .filter(
        (m) =>
          m.actions.includes(action) &&
          // Quota policies (`@rate`, no `@outcome`) only set quotas; the quota question asks only `@rate` policies.
          (purpose === 'quota' ? m.rate !== undefined : !(m.rate && m.outcome === undefined)) &&
          (withShadow || m.mode !== 'shadow') &&
          (!m.scope.environments || m.scope.environments.includes(environment)) &&
          (!m.scope.services || m.scope.services.includes(service)),
      )
      .map((m) => m.id)
      .sort();
    const subsetKey = ids.join('\n');
    let psetId = subsets.get(subsetKey);
    if (!psetId) {
      psetId = `countersign-${digest}-${instance}-${subsets.size}`;
      const staticPolicies = Object.fromEntries(ids.map((id) => [id, bundle.policies[id]!]));
      const parsed = cedar.preparsePolicySet(psetId, { staticPolicies });
      if (parsed.type === 'failure')
        throw new Error(`policy bundle does not parse: ${parsed.errors[0]?.message}`);
      subsets.set(subsetKey, psetId);
    }
    if (selections.size < 4096) selections.set(key, psetId);
    return psetId;
  }
  // Fail at load, not at the first request, when the bundle does not parse.
  policySetFor('request', '', '');

  /** The Intent entity and request context; `problems` lists parameters dropped for their type. */
  function intentEntity(intent: Intent, agentId: string, verified: VerifiedFacts) {
    const problems: string[] = [];
    const parameters: Record<string, string | number | boolean> = {};
    const tags: Record<string, string> = {};
    for (const [name, value] of Object.entries(intent.parameters ?? {})) {
      tags[name] = tagValue(value);
      const type = paramTypes.get(name);
      if (!type) continue;
      const ok =
        (type === 'String' && typeof value === 'string') ||
        (type === 'Long' && typeof value === 'number' && Number.isSafeInteger(value)) ||
        (type === 'Bool' && typeof value === 'boolean');
      if (ok) parameters[name] = value as string | number | boolean;
      else
        problems.push(`parameter "${name}" should be ${type} but is ${JSON.stringify(value)?.slice(0, 80)}`);
    }
    const [service = '', operation = ''] = intent.action.split(':', 2);
    const entity = {
      uid: uid('Intent', intent.intentId),
      attrs: {
        intentId: intent.intentId,
        action: intent.action,
        service,
        operation,
        // Derived, canonical: never the agent's declaration (shared/environment.ts).
        environment: verified.environment,
        declaredEnvironment: intent.environment,
        environmentSource: verified.environmentSource,
        resource: intent.resource,
        agentId,
        owner: verified.owner,
        onBehalfOf: verified.onBehalfOf,
        parameters,
        parameterNames: Object.keys(intent.parameters ?? {}),
      },
      parents: [],
      tags,
    };
    const context = {
      urgency: intent.context?.urgency ?? 'normal',
      hasDiff: Boolean(intent.context?.diff),
      hasImpact: Boolean(intent.context?.impact),
      datasets: intent.context?.datasets ?? [],
    };
    return { entity, context, problems };
  }

  type IntentEntity = ReturnType<typeof intentEntity>['entity'];

  /** One Cedar question about an intent, asked of the policies that can match it. */
  function authorize(
    principal: cedar.EntityJson & { uid: { type: string; id: string } },
    action: { type: string; id: PolicyAction },
    intent: IntentEntity,
    context: Record<string, cedar.CedarValueJson>,
    withShadow = false,
    purpose: 'decide' | 'quota' = 'decide',
  ) {
    return cedar.statefulIsAuthorized({
      principal: principal.uid,
      action,
      resource: intent.uid,
      context,
      preparsedPolicySetId: policySetFor(
        action.id,
        intent.attrs.environment,
        intent.attrs.service,
        withShadow,
        purpose,
      ),
      entities: [principal, intent as cedar.EntityJson],
    });
  }

  function defaultPlan(defaults: PolicyDefaults): ReviewPlan {
    return {
      quorum: 1,
      timeoutSeconds: defaults.timeoutSeconds,
      approverGroups: [normalizeHandle(defaults.approverGroup)],
      approverEmails: [],
      policies: [DEFAULT_REVIEW_POLICY_ID],
      masked: [],
      editable: [],
      remindBeforeSeconds: [],
      escalateTo: [],
      breakGlass: false,
      responderGroups: [],
      responderEmails: [],
    };
  }

  /**
   * Combines the plans of every matching review policy conservatively:
   * max quorum, min stated timeout, union of approvers, reminders, escalation and
   * masks, intersection of editable paths, break-glass only if all allow it.
   */
  function combinePlans(ids: string[], defaults: PolicyDefaults): ReviewPlan {
    const plans = ids.map((id) => ({ id, plan: meta.get(id)?.plan })).filter((p) => p.plan) as Array<{
      id: string;
      plan: PlanAnnotations;
    }>;
    if (plans.length === 0) return defaultPlan(defaults);
    // Timeout: the shortest one any matching policy states; the default only when none states one.
    const statedTimeouts = plans
      .map(({ plan }) => plan.timeoutSeconds)
      .filter((t): t is number => t !== undefined);
    const timeoutSeconds = statedTimeouts.length > 0 ? Math.min(...statedTimeouts) : defaults.timeoutSeconds;
    const groups: string[] = [];
    const emails: string[] = [];
    for (const { plan } of plans) {
      if (plan.approverGroups.length + plan.approverEmails.length === 0) groups.push(defaults.approverGroup);
      groups.push(...plan.approverGroups);
      emails.push(...plan.approverEmails);
    }
    // Editable: only what every policy that states @editable allows; policies without it have no say.
    const stated = plans.map(({ plan }) => plan.editable).filter((e): e is string[] => e !== undefined);
    let editable = stated[0] ?? [];
    for (const paths of stated.slice(1)) editable = editable.filter((p) => paths.includes(p));
    // Responders: only those every matching policy names (each one must allow break-glass for it to apply).
    const intersect = (lists: string[][]) =>
      lists.length === 0
        ? []
        : lists.slice(1).reduce((acc, l) => acc.filter((x) => l.includes(x)), lists[0]!);
    const responderGroups = intersect(
      plans.map(({ plan }) => unique(plan.responderGroups.map(normalizeHandle))),
    );
    const responderEmails = intersect(plans.map(({ plan }) => unique(plan.responderEmails.map(lower))));
    const breakGlass =
      plans.every(({ plan }) => plan.breakGlass) && responderGroups.length + responderEmails.length > 0;
    return {
      quorum: Math.max(...plans.map(({ plan }) => plan.quorum ?? 1)),
      timeoutSeconds,
      approverGroups: unique(groups.map(normalizeHandle)).sort(),
      approverEmails: unique(emails.map(lower)).sort(),
      policies: plans.map((p) => p.id).sort(),
      masked: unique(plans.flatMap(({ plan }) => plan.masked)).sort(),
      editable: unique(editable).sort(),
      remindBeforeSeconds: unique(plans.flatMap(({ plan }) => plan.remindBeforeSeconds))
        .filter((s) => s < timeoutSeconds)
        .sort((a, b) => b - a),
      escalateTo: unique(plans.flatMap(({ plan }) => plan.escalateTo)).sort(),
      breakGlass,
      responderGroups: breakGlass ? responderGroups.sort() : [],
      responderEmails: breakGlass ? responderEmails.sort() : [],
      ...stepUpOf(plans.map(({ plan }) => plan.stepUp)),
      ...routeChannels(plans.map(({ plan }) => plan.channels)),
    };
  }

  const describe = (ids: string[]) =>
    [...ids]
      .sort()
      .map((id) => (meta.get(id)?.description ? `${id} (${meta.get(id)?.description})` : id))
      .join(', ');

  const shadowIds = [...meta.values()].filter((m) => m.mode === 'shadow').map((m) => m.id);

  /**
   * The enforced verdict, and, when the bundle has shadow policies, what the
   * verdict would have been with them enforced too (recorded, never acted on).
   */
  function evaluateIntent(input: IntentQuestion, defaults: PolicyDefaults): IntentVerdict {
    const verdict = decideIntent(input, defaults, false);
    if (shadowIds.length === 0) return verdict;
    const wouldBe = decideIntent(input, defaults, true);
    return {
      ...verdict,
      shadow: {
        outcome: wouldBe.outcome,
        changed: wouldBe.outcome !== verdict.outcome,
        policies: wouldBe.policies.filter((id) => shadowIds.includes(id)),
        reason: wouldBe.reason,
      },
    };
  }

  /** The Agent entity (the principal of `Action::"request"`). */
  function agentEntity(intent: Intent, agentId: string, verified: VerifiedFacts) {
    return {
      uid: uid('Agent', agentId),
      attrs: {
        id: agentId,
        model: intent.agent.model,
        sessionId: intent.agent.sessionId,
        owner: verified.owner,
        onBehalfOf: verified.onBehalfOf,
      },
      parents: [],
    };
  }

  // Services policies name: the action classes quotas count under (any other is `other`).
  const namedServices = new Set(
    [...meta.values()].flatMap((m) => m.scope.services ?? []).map((s) => s.toLowerCase()),
  );
  function quotaClass(action: string): string {
    const service = actionClass(action);
    return namedServices.has(service) ? service : 'other';
  }

  function quotasFor(input: IntentQuestion, fallback: RateLimit): AppliedQuota[] {
    const rated = [...meta.values()].filter((m) => m.rate);
    if (rated.length === 0) return combineQuotas([], fallback);
    // Asked in canonical form: `SSM:SendCommand` is asked as `ssm:SendCommand`, so case cannot dodge a quota.
    const [service = '', ...rest] = input.intent.action.split(':');
    const intent = { ...input.intent, action: [service.toLowerCase(), ...rest].join(':') };
    const verified = input.verified ?? declaredFacts(intent);
    const { entity, context } = intentEntity(intent, input.agentId, verified);
    const answer = authorize(
      agentEntity(intent, input.agentId, verified),
      ACTION_REQUEST,
      entity,
      context,
      false,
      'quota',
    );
    const ids =
      answer.type === 'failure'
        ? rated.map((m) => m.id)
        : unique([
            ...(answer.response.decision === 'allow' ? answer.response.diagnostics.reason : []),
            ...answer.response.diagnostics.errors.map((e) => e.policyId),
          ]);
    const matched = ids.flatMap((id) => {
      const rate = meta.get(id)?.rate;
      return rate ? [{ id, rate }] : [];
    });
    return combineQuotas(matched, fallback);
  }

  function decideIntent(input: IntentQuestion, defaults: PolicyDefaults, withShadow: boolean): IntentVerdict {
    const { intent, agentId } = input;
    const verified = input.verified ?? declaredFacts(intent);
    const { entity, context, problems } = intentEntity(intent, agentId, verified);
    const warnings = problems.map((p) => `${p}; it was left out of policy evaluation`);
    const agent = agentEntity(intent, agentId, verified);
    const answer = authorize(agent, ACTION_REQUEST, entity, context, withShadow);
    const review = (ids: string[], reason: string): IntentVerdict => {
      const plan = combinePlans(ids, defaults);
      return {
        outcome: 'review',
        reason,
        policies: plan.policies,
        review: plan,
        warnings,
        policyDigest: digest,
      };
    };
    if (answer.type === 'failure') {
      warnings.push(`policy evaluation failed: ${answer.errors.map((e) => e.message).join('; ')}`);
      return review([], 'policy evaluation failed; a human must review');
    }
    const { decision, diagnostics } = answer.response;
    const errored = unique(diagnostics.errors.map((e) => e.policyId));
    for (const e of diagnostics.errors) {
      warnings.push(
        `policy ${e.policyId} could not be evaluated (${e.error.message}); treated as possibly matching`,
      );
    }
    const of = (outcome: string) => diagnostics.reason.filter((id) => meta.get(id)?.outcome === outcome);
    const forbids = decision === 'deny' ? of('deny').sort() : [];
    if (forbids.length > 0) {
      return {
        outcome: 'deny',
        reason: `denied by policy ${describe(forbids)}`,
        policies: forbids,
        warnings,
        policyDigest: digest,
      };
    }
    const reviews = decision === 'allow' ? of('review') : [];
    const allows = decision === 'allow' ? of('allow').sort() : [];
    const erroredReviews = errored.filter((id) => meta.get(id)?.outcome === 'review');
    const erroredForbids = errored.filter((id) => meta.get(id)?.outcome === 'deny');
    for (const id of erroredForbids) warnings.push(`policy ${id} might have denied this intent`);
    if (reviews.length > 0 || erroredReviews.length > 0) {
      return review(
        [...reviews, ...erroredReviews],
        `review required by policy ${describe(reviews.length ? reviews : erroredReviews)}`,
      );
    }
    if (allows.length > 0 && warnings.length === 0) {
      return {
        outcome: 'allow',
        reason: `allowed by policy ${describe(allows)}`,
        policies: allows,
        warnings,
        policyDigest: digest,
      };
    }
    if (allows.length > 0) {
      return review(
        [],
        `policy ${describe(allows)} would allow it, but the intent could not be fully evaluated`,
      );
    }
    warnings.push(
      `no policy matched ${intent.action} in ${verified.environment}; the default review applies`,
    );
    return review([], 'no policy decides this intent; the default review applies');
  }

  /**
   * The `approve` policies alone (no invariants, no plan): undefined when none
   * forbids this person, else why. Fails closed on evaluation errors.
   */
  function approvePoliciesForbid({
    intent,
    agentId,
    approver,
    verified,
  }: Omit<ApprovalQuestion, 'plan'>): { reason: string; policies: string[] } | undefined {
    const { entity, context } = intentEntity(intent, agentId, verified ?? declaredFacts(intent, UNVERIFIED));
    const email = canonicalEmail(approver.email);
    if (!email.ok) return { reason: `approver email ${email.reason}`, policies: [] };
    const principal = {
      uid: uid('Approver', approver.slackUserId),
      attrs: {
        slackUserId: approver.slackUserId,
        email: email.email,
        groups: unique(approver.groups.map(normalizeHandle)),
      },
      parents: [],
    };
    const answer = authorize(principal, ACTION_APPROVE, entity, context);
    if (answer.type === 'failure') {
      return {
        reason: `approval policy could not be evaluated: ${answer.errors.map((e) => e.message).join('; ')}`,
        policies: [],
      };
    }
    const { decision, diagnostics } = answer.response;
    const errored = unique(diagnostics.errors.map((e) => e.policyId)).filter(
      (id) => meta.get(id)?.effect === 'forbid',
    );
    if (errored.length > 0)
      return { reason: `approval policy ${errored.join(', ')} could not be evaluated`, policies: errored };
    const forbids =
      decision === 'deny' ? diagnostics.reason.filter((id) => meta.get(id)?.effect === 'forbid') : [];
    return forbids.length > 0
      ? { reason: `forbidden by policy ${describe(forbids)}`, policies: forbids }
      : undefined;
  }

  function canApprove({ intent, agentId, plan, approver, verified }: ApprovalQuestion): ApprovalAnswer {
    const refuse = (reason: string, policies: string[] = []) => ({ allowed: false, reason, policies });
    // Invariants, in code, before any policy runs: no policy can turn them off.
    const canonical = canonicalEmail(approver.email);
    if (!approver.slackUserId || !canonical.ok) {
      return refuse(
        `approver identity is not resolved to an acceptable email${canonical.ok ? '' : ` (the email ${canonical.reason})`}; unresolved identities never approve`,
      );
    }
    const email = canonical.email;
    if (
      approver.isBot ||
      approver.slackUserId === 'USLACKBOT' ||
      /^B[A-Z0-9]+$/.test(approver.slackUserId) ||
      lower(approver.slackUserId) === lower(agentId)
    ) {
      return refuse('agents and bots never approve');
    }
    // Self: the registered owner, and whatever the intent claims, compared canonically.
    if (sameIdentity(email, verified?.owner) || sameIdentity(email, intent.agent.owner))
      return refuse('the agent owner cannot approve their own agent’s action');
    if (sameIdentity(email, verified?.onBehalfOf) || sameIdentity(email, intent.agent.onBehalfOf)) {
      return refuse('the person the agent acts on behalf of cannot approve their own action');
    }
    // Eligibility comes from the review plan only.
    const groups = approver.groups.map(normalizeHandle);
    const viaGroup = plan.approverGroups.map(normalizeHandle).find((g) => groups.includes(g));
    const viaEmail = plan.approverEmails.some((e) => sameIdentity(e, email));
    if (!viaGroup && !viaEmail) {
      const asked =
        [...plan.approverGroups.map((g) => `@${g}`), ...plan.approverEmails].join(', ') || 'nobody';
      return refuse(`not an eligible approver for this request (asked: ${asked})`);
    }
    // Approve policies may only take eligibility away.
    const forbidden = approvePoliciesForbid({ intent, agentId, approver, ...(verified ? { verified } : {}) });
    if (forbidden) return refuse(forbidden.reason, forbidden.policies);
    return {
      allowed: true,
      reason: viaGroup ? `member of @${viaGroup}` : 'named approver of this request',
      policies: plan.policies,
    };
  }

  return {
    bundle,
    meta,
    evaluateIntent,
    canApprove,
    approvePoliciesForbid,
    quotasFor,
    quotaClass,
    referencedGroups: referencedGroups(bundle),
  };
}

/**
 * Where a review is shown, from the `@channels` of every matching review
 * policy: each channel any of them names (a review is never hidden from a
 * channel one of its policies asks for). Policies without `@channels` have
 * no say; when none has one the plan names no channels and the deployment's
 * configured channels apply (the Review task reads `COUNTERSIGN_REVIEW_CHANNELS`).
 */
export function routeChannels(stated: readonly (readonly ReviewChannel[] | undefined)[]): {
  channels?: ReviewChannel[];
} {
  const named = stated.filter((c): c is readonly ReviewChannel[] => c !== undefined);
  if (named.length === 0) return {};
  return { channels: unique(named.flat()).sort() };
}

/**
 * Group handles named in `groups.contains("…")` / `groups.containsAny([…])`
 * anywhere in the policies, and in `@responders` (a break-glass responder's
 * membership is resolved like an approver's).
 */
export function referencedGroups(bundle: Pick<PolicyBundle, 'policies'>): string[] {
  const handles = new Set<string>();
  for (const text of Object.values(bundle.policies)) {
    for (const match of text.matchAll(/@responders\(\s*"([^"]*)"\s*\)/g)) {
      for (const entry of match[1]!.split(',')) {
        const [kind, handle] = entry.trim().split(':');
        if (kind === 'group' && handle) handles.add(normalizeHandle(handle));
      }
    }
    for (const match of text.matchAll(/groups\.contains(?:Any|All)?\(\s*\[?([^)\]]*)\]?\s*\)/g)) {
      for (const literal of match[1]!.matchAll(/"([^"]+)"/g)) handles.add(normalizeHandle(literal[1]!));
    }
  }
  return [...handles].sort();
}

/** Where the repository's policies live when no bundle is embedded. */
export function policyDirectory(): string {
  return process.env.COUNTERSIGN_POLICY_DIR ?? fileURLToPath(new URL('../../policies', import.meta.url));
}

/** The embedded bundle, or one built from {@link policyDirectory}. */
export function loadPolicyBundle(): PolicyBundle {
  if (typeof COUNTERSIGN_POLICY_BUNDLE !== 'undefined' && COUNTERSIGN_POLICY_BUNDLE) {
    return JSON.parse(COUNTERSIGN_POLICY_BUNDLE) as PolicyBundle;
  }
  return buildPolicyBundle(policyDirectory());
}

let engine: PolicyEngine | undefined;

/** The process-wide engine over {@link loadPolicyBundle}, created at first use. */
export function policyEngine(): PolicyEngine {
  engine ??= createPolicyEngine(loadPolicyBundle());
  return engine;
}

/** Evaluates an intent against the process-wide policy set. */
export function evaluateIntent(input: IntentQuestion, defaults: PolicyDefaults): IntentVerdict {
  return policyEngine().evaluateIntent(input, defaults);
}

/** The quotas of an intent under the process-wide policy set (see {@link PolicyEngine.quotasFor}). */
export function quotasFor(input: IntentQuestion, fallback: RateLimit): AppliedQuota[] {
  return policyEngine().quotasFor(input, fallback);
}

/** The canonical action class of an action under the process-wide policy set. */
export function quotaClass(action: string): string {
  return policyEngine().quotaClass(action);
}

/** May this person approve this request? Invariants first, then the plan, then approve policies. */
export function canApprove(input: ApprovalQuestion): ApprovalAnswer {
  return policyEngine().canApprove(input);
}
