/**
 * The policy bundle: the Cedar schema and every policy of a `policies/`
 * directory, parsed and validated together, keyed by each policy's `@id`, with
 * a digest over the canonical bundle. `cdk synth` builds it (and fails on any
 * error, naming file:line:column), and the Lambdas ship exactly the bundle that
 * was validated. The annotation grammar lives here too, so the build and the
 * runtime read annotations with the same code.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { StepUpRequirement } from '../lambdas/identity/contract.js';
import { parseStepUp } from '../lambdas/identity/step-up.js';
import { canonicalJson, sha256Hex } from '../lambdas/shared/canonical.js';
import { parseRate, type RateLimit } from '../lambdas/shared/rate-limit.js';

/** A validated policy set, ready to embed in a Lambda. */
export interface PolicyBundle {
  /** Cedar schema text (all `*.cedarschema` files, in path order). */
  schema: string;
  /** Policy text keyed by policy id (the `@id` annotation). */
  policies: Record<string, string>;
  /** `sha256:<hex>` over the canonical JSON of `{ schema, policies }`. */
  digest: string;
  /** Where each policy came from (`<file>:<line>`), for people; not part of the digest. */
  sources?: Record<string, string>;
}

/** One problem found while building a bundle. */
export interface PolicyProblem {
  file: string;
  line: number;
  column: number;
  message: string;
}

/** Thrown by {@link buildPolicyBundle}; the message lists every problem as `file:line:column: message`. */
export class PolicyBundleError extends Error {
  constructor(readonly problems: PolicyProblem[]) {
    super(
      `policy bundle is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${p.file}:${p.line}:${p.column}: ${p.message}`).join('\n'),
    );
    this.name = 'PolicyBundleError';
  }
}

/** Cedar namespace of every Countersign entity and action. */
export const CEDAR_NAMESPACE = 'Countersign';
/** The two questions policies answer. */
export type PolicyAction = 'request' | 'approve';

/** Review settings one `@outcome("review")` policy carries in its annotations. */
export interface PlanAnnotations {
  quorum?: number;
  timeoutSeconds?: number;
  approverGroups: string[];
  approverEmails: string[];
  remindBeforeSeconds: number[];
  /** `group:<handle>` / `email:<address>` entries. */
  escalateTo: string[];
  /** Dot paths into `parameters` (the `parameters.` prefix removed). */
  masked: string[];
  /**
   * Dot paths into `parameters` an approver may edit; undefined when the policy
   * says nothing (no opinion). `@editable("")` states "nothing".
   */
  editable?: string[];
  breakGlass: boolean;
  /** Who may break glass (`@responders`): required with `@breakglass("true")`. */
  responderGroups: string[];
  responderEmails: string[];
  /** What an approver's sign-in must meet (`@stepup`); undefined when the policy asks none. */
  stepUp?: StepUpRequirement;
  /** Where the review is shown (`@channels("slack, teams")`); undefined when the policy says nothing. */
  channels?: ReviewChannel[];
}

/** The chat channels a review can be shown in. */
export const REVIEW_CHANNELS = ['slack', 'teams'] as const;
/** One of {@link REVIEW_CHANNELS}. */
export type ReviewChannel = (typeof REVIEW_CHANNELS)[number];

/** Reads `@channels("slack, teams")`: one or more known channel names, comma-separated. */
export function channelsAnnotation(value: string, errors: string[]): ReviewChannel[] | undefined {
  const names = list(value);
  const unknown = names.filter((n) => !(REVIEW_CHANNELS as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    errors.push(
      `@channels("${value}") must name one or more of ${REVIEW_CHANNELS.join(', ')}, comma-separated`,
    );
    return undefined;
  }
  return unique(names) as ReviewChannel[];
}

/** What a policy means to Countersign, read from its effect, scope and annotations. */
export interface PolicyMeta {
  id: string;
  effect: 'permit' | 'forbid';
  /** Which actions the policy's scope can match. */
  actions: PolicyAction[];
  /** For `request`: deny (forbid), allow or review (permit). */
  outcome?: 'allow' | 'review' | 'deny';
  description?: string;
  plan?: PlanAnnotations;
  /**
   * Environments / services the policy can match at all, read from the
   * top-level `&&` conjuncts of its `when` clauses (`resource.environment ==
   * "prod"`, `resource.service == "iam"`, `resource.action == "iam:X"`,
   * `[...].contains(resource.action)`); undefined when unconstrained. The
   * engine uses it only to skip policies that cannot match.
   */
  scope: { environments?: string[]; services?: string[] };
  /**
   * `shadow` (`@mode("shadow")`): evaluated on every intent and its would-be
   * outcome recorded, but it decides nothing. Undefined: enforced.
   */
  mode?: 'shadow';
  /**
   * `@rate("10/minute")`: the quota of the agent and action class of every
   * intent the policy matches (lambdas/shared/rate-limit.ts). A permit for
   * `Action::"request"` with `@rate` and no `@outcome` is a quota policy: it
   * sets the quota and decides nothing.
   */
  rate?: RateLimit;
}

/** Annotations Countersign understands. Anything else is an error: a typo such as `@qourum` must not silently weaken a review. */
export const KNOWN_ANNOTATIONS = [
  'id',
  'description',
  'outcome',
  'quorum',
  'approvers',
  'timeout',
  'remind',
  'escalate',
  'mask',
  'editable',
  'stepup',
  'breakglass',
  'responders',
  'channels',
  'mode',
  'rate',
] as const;
const PLAN_ANNOTATIONS = [
  'quorum',
  'approvers',
  'timeout',
  'remind',
  'escalate',
  'mask',
  'editable',
  'stepup',
  'breakglass',
  'responders',
  'channels',
];

/** Id the runtime reports when no policy matched; reserved. */
export const DEFAULT_REVIEW_ID = 'default-review';

/** Bounds of the review annotations. */
export const LIMITS = { maxQuorum: 10, minTimeoutSeconds: 60, maxTimeoutSeconds: 7 * 24 * 3600 } as const;

const POLICY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const GROUP_HANDLE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;
const EMAIL = /^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/;
const PATH = /^parameters(\.([A-Za-z0-9_-]+|\*))+$/;

const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

function positiveInt(
  name: string,
  value: string,
  min: number,
  max: number,
  errors: string[],
): number | undefined {
  if (!/^\d+$/.test(value.trim())) {
    errors.push(`@${name}("${value}") must be a whole number`);
    return undefined;
  }
  const n = Number(value.trim());
  if (n < min || n > max) {
    errors.push(`@${name}("${value}") must be between ${min} and ${max}`);
    return undefined;
  }
  return n;
}

function principals(name: string, value: string, errors: string[]) {
  const groups: string[] = [];
  const emails: string[] = [];
  for (const entry of list(value)) {
    const [kind, ...rest] = entry.split(':');
    const target = rest.join(':').trim();
    if (kind === 'group' && GROUP_HANDLE.test(target.replace(/^@/, '')))
      groups.push(target.replace(/^@/, ''));
    else if (kind === 'email' && EMAIL.test(target)) emails.push(target.toLowerCase());
    else errors.push(`@${name}: "${entry}" must be "group:<slack-handle>" or "email:<address>"`);
  }
  return { groups, emails };
}

function paths(name: string, value: string, errors: string[]): string[] {
  const out: string[] = [];
  for (const path of list(value)) {
    if (PATH.test(path)) out.push(path.slice('parameters.'.length));
    else
      errors.push(
        `@${name}: "${path}" must be a dot path starting with "parameters." (e.g. parameters.password)`,
      );
  }
  return out;
}

function scopeActions(json: cedar.PolicyJson): PolicyAction[] {
  const ids = (uids: cedar.EntityUidJson[]) =>
    uids.map((u) => ('__entity' in u ? u.__entity : u)).map((u) => u.id as PolicyAction);
  const c = json.action;
  if (c.op === 'All') return ['request', 'approve'];
  if (c.op === '==') return 'entity' in c ? ids([c.entity]) : ['request', 'approve'];
  return 'entity' in c ? ids([c.entity]) : ids(c.entities);
}

type Expr = cedar.Expr;
const resourceAttr = (e: Expr | undefined): string | undefined => {
  const dot = (e as { '.'?: { left: Expr; attr: string } } | undefined)?.['.'];
  return dot && (dot.left as { Var?: string }).Var === 'resource' ? dot.attr : undefined;
};
const stringValue = (e: Expr | undefined): string | undefined => {
  const v = (e as { Value?: unknown } | undefined)?.Value;
  return typeof v === 'string' ? v : undefined;
};
const intersect = (a: string[] | undefined, b: string[]) => (a ? a.filter((x) => b.includes(x)) : b);

/** The environments and services a policy's `when` clauses pin down (see {@link PolicyMeta.scope}). */
function readScope(json: cedar.PolicyJson): PolicyMeta['scope'] {
  const scope: PolicyMeta['scope'] = {};
  const conjuncts = (e: Expr): Expr[] => {
    const and = (e as { '&&'?: { left: Expr; right: Expr } })['&&'];
    return and ? [...conjuncts(and.left), ...conjuncts(and.right)] : [e];
  };
  for (const clause of json.conditions) {
    if (clause.kind !== 'when') continue;
    for (const c of conjuncts(clause.body)) {
      const eq = (c as { '=='?: { left: Expr; right: Expr } })['=='];
      if (eq) {
        const [attr, value] = resourceAttr(eq.left)
          ? [resourceAttr(eq.left), stringValue(eq.right)]
          : [resourceAttr(eq.right), stringValue(eq.left)];
        if (value === undefined) continue;
        if (attr === 'environment') scope.environments = intersect(scope.environments, [value]);
        if (attr === 'service') scope.services = intersect(scope.services, [value]);
        if (attr === 'action') scope.services = intersect(scope.services, [value.split(':')[0] ?? '']);
        continue;
      }
      const contains = (c as { contains?: { left: Expr; right: Expr } }).contains;
      const set = (contains?.left as { Set?: Expr[] } | undefined)?.Set;
      if (contains && set && resourceAttr(contains.right) === 'action') {
        const values = set.map(stringValue);
        if (values.every((v) => v !== undefined)) {
          scope.services = intersect(scope.services, unique(values.map((v) => v!.split(':')[0] ?? '')));
        }
      }
    }
  }
  return scope;
}

const unique = <T>(xs: Iterable<T>) => [...new Set(xs)];

/**
 * Reads a policy's Countersign meaning from its Cedar JSON form. Returns the
 * problems instead of throwing so the build can report all of them.
 */
export function readPolicyMeta(json: cedar.PolicyJson): { meta: PolicyMeta; errors: string[] } {
  const errors: string[] = [];
  const a = json.annotations ?? {};
  for (const key of Object.keys(a)) {
    if (!(KNOWN_ANNOTATIONS as readonly string[]).includes(key)) {
      errors.push(`unknown annotation @${key} (known: ${KNOWN_ANNOTATIONS.map((k) => `@${k}`).join(', ')})`);
    }
  }
  const id = a.id ?? '';
  if (!a.id) errors.push('policy has no @id("...") annotation; every policy needs a unique id');
  else if (!POLICY_ID.test(id)) {
    errors.push(`@id("${id}") must be 1-128 of [A-Za-z0-9._:-], starting alphanumeric`);
  } else if (id === DEFAULT_REVIEW_ID) {
    errors.push(`@id("${DEFAULT_REVIEW_ID}") is reserved for the built-in default review`);
  }
  const actions = scopeActions(json);
  const meta: PolicyMeta = { id, effect: json.effect, actions, scope: readScope(json) };
  if (a.description) meta.description = a.description;
  const mode = readPolicyMode(a, actions, errors);
  if (mode) meta.mode = mode;

  const outcome = a.outcome;
  const hasPlanAnnotations = PLAN_ANNOTATIONS.some((k) => k in a);
  const rate = readRateAnnotation(a, json.effect, actions, mode, errors);
  if (rate) meta.rate = rate;
  if (json.effect === 'forbid') {
    if (outcome !== undefined && outcome !== 'deny')
      errors.push(`a forbid policy can only be @outcome("deny")`);
    if (actions.includes('request')) meta.outcome = 'deny';
  } else if (actions.includes('request')) {
    if (outcome === 'allow' || outcome === 'review') meta.outcome = outcome;
    else if (outcome === undefined && a.rate !== undefined) {
      // A quota policy: sets the quota of what it matches, decides nothing.
    } else errors.push(`a permit policy for Action::"request" needs @outcome("allow") or @outcome("review")`);
  } else if (outcome !== undefined) {
    errors.push('@outcome only applies to policies for Action::"request"');
  }
  if (hasPlanAnnotations && meta.outcome !== 'review') {
    errors.push(
      'review settings (@quorum, @approvers, @timeout, ...) only apply to @outcome("review") policies',
    );
  }
  if (meta.outcome === 'review') {
    const plan: PlanAnnotations = {
      approverGroups: [],
      approverEmails: [],
      remindBeforeSeconds: [],
      escalateTo: [],
      masked: [],
      breakGlass: false,
      responderGroups: [],
      responderEmails: [],
    };
    if (a.quorum !== undefined) plan.quorum = positiveInt('quorum', a.quorum, 1, LIMITS.maxQuorum, errors);
    if (a.timeout !== undefined) {
      plan.timeoutSeconds = positiveInt(
        'timeout',
        a.timeout,
        LIMITS.minTimeoutSeconds,
        LIMITS.maxTimeoutSeconds,
        errors,
      );
    }
    if (a.approvers !== undefined) {
      const { groups, emails } = principals('approvers', a.approvers, errors);
      plan.approverGroups = groups;
      plan.approverEmails = emails;
      if (groups.length + emails.length === 0) errors.push('@approvers names nobody');
    }
    if (a.escalate !== undefined) {
      const { groups, emails } = principals('escalate', a.escalate, errors);
      plan.escalateTo = [...groups.map((g) => `group:${g}`), ...emails.map((e) => `email:${e}`)];
    }
    if (a.remind !== undefined) {
      for (const s of list(a.remind)) {
        const n = positiveInt('remind', s, 1, LIMITS.maxTimeoutSeconds, errors);
        if (n !== undefined) {
          if (plan.timeoutSeconds !== undefined && n >= plan.timeoutSeconds) {
            errors.push(`@remind: ${n}s before expiry is not inside @timeout("${plan.timeoutSeconds}")`);
          } else plan.remindBeforeSeconds.push(n);
        }
      }
    }
    readStepUpAnnotation(a.stepup, plan, errors);
    if (a.mask !== undefined) plan.masked = paths('mask', a.mask, errors);
    if (a.editable !== undefined) plan.editable = paths('editable', a.editable, errors);
    if (a.breakglass !== undefined) {
      if (a.breakglass === 'true' || a.breakglass === 'false') plan.breakGlass = a.breakglass === 'true';
      else errors.push(`@breakglass("${a.breakglass}") must be "true" or "false"`);
    }
    if (a.responders !== undefined) {
      const { groups, emails } = principals('responders', a.responders, errors);
      plan.responderGroups = groups;
      plan.responderEmails = emails;
      if (groups.length + emails.length === 0) errors.push('@responders names nobody');
    }
    if (a.channels !== undefined) {
      const channels = channelsAnnotation(a.channels, errors);
      if (channels) plan.channels = channels;
    }
    // The agent names the human it acts for; only policy can make that human a responder.
    if (plan.breakGlass && a.responders === undefined) {
      errors.push(
        '@breakglass("true") needs @responders("group:<slack-handle>, ...") naming who may break glass',
      );
    }
    if (!plan.breakGlass && a.responders !== undefined) {
      errors.push('@responders only applies with @breakglass("true")');
    }
    meta.plan = plan;
  }
  return { meta, errors };
}

/**
 * Reads `@rate("10/minute")` (lambdas/shared/rate-limit.ts). Only permits for
 * `Action::"request"` alone may carry it: a forbid denies whatever the count,
 * approval rules have no quota, and a shadow policy enforces nothing.
 */
function readRateAnnotation(
  annotations: Record<string, string>,
  effect: 'permit' | 'forbid',
  actions: readonly PolicyAction[],
  mode: 'shadow' | undefined,
  errors: string[],
): RateLimit | undefined {
  const value = annotations.rate;
  if (value === undefined) return undefined;
  if (effect !== 'permit' || actions.length !== 1 || actions[0] !== 'request') {
    errors.push(
      `@rate("${value}") applies only to permit policies for Action::"request" alone (write the quota on a permit of its own)`,
    );
    return undefined;
  }
  if (mode === 'shadow') {
    errors.push(`@rate("${value}") cannot be on a @mode("shadow") policy: a shadow policy enforces nothing`);
    return undefined;
  }
  const parsed = parseRate(value);
  if (!parsed.ok) {
    errors.push(`@rate: ${parsed.error}`);
    return undefined;
  }
  return parsed.rate;
}

/** Reads `@stepup` (see lambdas/identity/step-up.ts) into the plan. */
function readStepUpAnnotation(value: string | undefined, plan: PlanAnnotations, errors: string[]): void {
  if (value === undefined) return;
  const parsed = parseStepUp(value);
  if (parsed.ok) plan.stepUp = parsed.requirement;
  else errors.push(parsed.error);
}

/**
 * `@mode("shadow" | "enforce")`: a shadow policy is evaluated beside the
 * enforced ones and its would-be outcome recorded, but it decides nothing.
 * Only intent policies (`Action::"request"`) can be shadowed: who may approve
 * is never a trial.
 */
export function readPolicyMode(
  annotations: Record<string, string>,
  actions: readonly PolicyAction[],
  errors: string[],
): 'shadow' | undefined {
  const mode = annotations.mode;
  if (mode === undefined || mode === 'enforce') return undefined;
  if (mode !== 'shadow') {
    errors.push(`@mode("${mode}") must be "shadow" or "enforce"`);
    return undefined;
  }
  if (actions.includes('approve')) {
    errors.push(
      '@mode("shadow") applies only to policies for Action::"request" (approval rules are never a trial)',
    );
    return undefined;
  }
  return 'shadow';
}

/** Line and column (1-based) of a UTF-8 byte offset (Cedar reports byte offsets) in a text. */
function locate(text: string, byteOffset: number): { line: number; column: number } {
  const before = Buffer.from(text, 'utf8').subarray(0, Math.max(0, byteOffset)).toString('utf8');
  const lines = before.split('\n');
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}

const byteLength = (s: string) => Buffer.byteLength(s, 'utf8');

function cedarMessage(error: cedar.DetailedError): string {
  const label = error.sourceLocations?.find((l) => l.label)?.label;
  return [error.message, label && `(${label})`, error.help && `— ${error.help}`].filter(Boolean).join(' ');
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

interface SourcePolicy {
  id: string;
  file: string;
  text: string;
  /** Byte offset of the policy text inside its file. */
  offset: number;
  fileText: string;
}

/**
 * Reads `<dir>/*.cedarschema` and `<dir>/**\/*.cedar`, parses and validates
 * every policy against the schema (strict mode), checks the Countersign
 * annotations and id uniqueness, and returns the bundle. Throws a
 * {@link PolicyBundleError} naming `file:line:column` and Cedar's message for
 * every problem.
 */
export function buildPolicyBundle(dir: string): PolicyBundle {
  const problems: PolicyProblem[] = [];
  const files = walk(dir);
  const display = (path: string) => {
    const rel = relative(process.cwd(), path);
    return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel.split(sep).join('/');
  };

  // Schema: every top-level *.cedarschema, concatenated in path order.
  const schemaFiles = files.filter(
    (f) => f.endsWith('.cedarschema') && relative(dir, f) === relative(dir, f).split(sep).pop(),
  );
  if (schemaFiles.length === 0) {
    throw new PolicyBundleError([
      { file: display(dir), line: 1, column: 1, message: 'no *.cedarschema file found' },
    ]);
  }
  const schemaParts = schemaFiles.map((file) => ({ file, text: readFileSync(file, 'utf8') }));
  const schema = schemaParts.map((p) => p.text).join('\n');
  const schemaLocate = (byteOffset: number): PolicyProblem => {
    let start = 0;
    for (const part of schemaParts) {
      const size = byteLength(part.text) + 1;
      if (byteOffset < start + size)
        return { file: display(part.file), ...locate(part.text, byteOffset - start), message: '' };
      start += size;
    }
    return { file: display(schemaParts.at(-1)!.file), line: 1, column: 1, message: '' };
  };
  const parsedSchema = cedar.checkParseSchema(schema);
  if (parsedSchema.type === 'failure') {
    for (const error of parsedSchema.errors) {
      const at = schemaLocate(error.sourceLocations?.[0]?.start ?? 0);
      problems.push({ ...at, message: cedarMessage(error) });
    }
    throw new PolicyBundleError(problems);
  }

  // Policies: split each file into policies and remember where each one starts.
  const sources: SourcePolicy[] = [];
  for (const file of files.filter((f) => f.endsWith('.cedar'))) {
    const fileText = readFileSync(file, 'utf8');
    const parsed = cedar.checkParsePolicySet({ staticPolicies: fileText });
    if (parsed.type === 'failure') {
      for (const error of parsed.errors) {
        const at = locate(fileText, error.sourceLocations?.[0]?.start ?? 0);
        problems.push({ file: display(file), ...at, message: cedarMessage(error) });
      }
      continue;
    }
    const parts = cedar.policySetTextToParts(fileText);
    if (parts.type === 'failure') {
      problems.push({
        file: display(file),
        line: 1,
        column: 1,
        message: parts.errors.map(cedarMessage).join('; '),
      });
      continue;
    }
    if (parts.policy_templates.length > 0) {
      problems.push({
        file: display(file),
        line: 1,
        column: 1,
        message: 'policy templates are not supported',
      });
    }
    let cursor = 0;
    for (const text of parts.policies) {
      const at = fileText.indexOf(text, cursor);
      const charOffset = at >= 0 ? at : cursor;
      cursor = charOffset + (at >= 0 ? text.length : 0);
      sources.push({ id: '', file, text, offset: byteLength(fileText.slice(0, charOffset)), fileText });
    }
  }

  // Ids and annotations.
  const byId = new Map<string, SourcePolicy>();
  for (const source of sources) {
    const where = () => ({ file: display(source.file), ...locate(source.fileText, source.offset) });
    const json = cedar.policyToJson(source.text);
    if (json.type === 'failure') {
      problems.push({ ...where(), message: json.errors.map(cedarMessage).join('; ') });
      continue;
    }
    const { meta, errors } = readPolicyMeta(json.json);
    for (const message of errors)
      problems.push({ ...where(), message: meta.id ? `${meta.id}: ${message}` : message });
    if (!meta.id) continue;
    const clash = byId.get(meta.id);
    if (clash) {
      const first = locate(clash.fileText, clash.offset);
      problems.push({
        ...where(),
        message: `duplicate @id("${meta.id}"); first used at ${display(clash.file)}:${first.line}:${first.column}`,
      });
      continue;
    }
    source.id = meta.id;
    byId.set(meta.id, source);
  }

  // Validation against the schema, all policies together.
  const policies: Record<string, string> = {};
  for (const [id, source] of byId) policies[id] = source.text;
  if (byId.size > 0) {
    const answer = cedar.validate({
      schema,
      policies: { staticPolicies: policies },
      validationSettings: { mode: 'strict' },
    });
    if (answer.type === 'failure') {
      for (const error of answer.errors)
        problems.push({ file: display(dir), line: 1, column: 1, message: cedarMessage(error) });
    } else {
      for (const { policyId, error } of answer.validationErrors) {
        const source = byId.get(policyId);
        const start = error.sourceLocations?.[0]?.start ?? 0;
        if (!source) {
          problems.push({ file: display(dir), line: 1, column: 1, message: cedarMessage(error) });
          continue;
        }
        problems.push({
          file: display(source.file),
          ...locate(source.fileText, source.offset + start),
          message: cedarMessage(error),
        });
      }
    }
  }
  if (problems.length > 0) {
    problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
    throw new PolicyBundleError(problems);
  }

  const sourceMap: Record<string, string> = {};
  for (const [id, source] of byId)
    sourceMap[id] = `${display(source.file)}:${locate(source.fileText, source.offset).line}`;
  return { schema, policies, digest: policyBundleDigest({ schema, policies }), sources: sourceMap };
}

/** `sha256:<hex>` over the canonical JSON of the schema and policies. */
export function policyBundleDigest(bundle: Pick<PolicyBundle, 'schema' | 'policies'>): string {
  return `sha256:${sha256Hex(canonicalJson({ schema: bundle.schema, policies: bundle.policies }))}`;
}
