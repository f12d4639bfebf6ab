/**
 * The enforcement catalog (`policies/enforcement.json`): which Countersign
 * action maps to which IAM action(s), on which resource, under which
 * conditions, run by which executor role, and how its CloudTrail event looks.
 * It is validated with zod at synth (lib/executors.ts) and again when a
 * handler loads it. An action without an entry gets a grant, never
 * credentials.
 *
 * Templates: `{resource}` is the approved intent's resource, `{resource.name}`
 * its last `/` (else `:`) segment, `{parameters.<key>}` a string parameter of
 * the approved intent (with an approver's modification). A value that could
 * widen an IAM policy (`*`, `?`, `$`) or is missing is refused: credentials
 * are scoped to one concrete resource or not minted at all.
 */
import * as z from 'zod/mini';

const IAM_ACTION = /^[a-z0-9-]{2,32}:[A-Za-z0-9]{2,128}$/;
const TEMPLATE = /^(?:[^{}]|\{(?:resource|resource\.name|parameters\.[A-Za-z0-9_-]{1,64})\})*$/;
const template = z
  .string()
  .check(z.minLength(1), z.maxLength(512), z.regex(TEMPLATE, 'unknown template variable or stray brace'));

/** IAM condition operators a catalog entry may use: exact matches only, never `*Like`. */
export const CONDITION_OPERATORS = ['StringEquals', 'ArnEquals', 'NumericEquals', 'Bool'] as const;

/** One catalog entry. */
export const catalogEntrySchema = z.strictObject({
  /** Executor name (`addExecutor(name, ...)`): the role the credentials are minted for. */
  executor: z.string().check(z.regex(/^[a-z][a-z0-9-]{1,31}$/, 'executor names are 2-32 of [a-z0-9-]')),
  /** The IAM actions the approved action needs. */
  iamActions: z
    .array(
      z.string().check(z.regex(IAM_ACTION, 'IAM actions look like "iam:AttachRolePolicy"; no wildcards')),
    )
    .check(z.minLength(1), z.maxLength(5)),
  /** ARN template of the one resource the session policy allows. */
  resource: template,
  /** The rendered resource must match this pattern (anchored), or no credentials are minted. */
  resourcePattern: z.string().check(
    z.refine((p) => {
      try {
        new RegExp(p);
        return p.startsWith('^') && p.endsWith('$');
      } catch {
        return false;
      }
    }, 'resourcePattern must be a valid regular expression anchored with ^ and $'),
  ),
  /** Extra conditions on the approved parameters, by operator, key and template. */
  conditions: z.optional(z.partialRecord(z.enum(CONDITION_OPERATORS), z.record(z.string(), template))),
  /** How the action shows in CloudTrail: the detector's match. */
  trail: z.strictObject({
    eventSource: z.string().check(z.regex(/^[a-z0-9-]+\.amazonaws\.com$/)),
    eventName: z.string().check(z.regex(/^[A-Za-z0-9]+$/)),
    /** `requestParameters` fields that must equal these templates for the call to be the approved one. */
    requestParameters: z.record(z.string(), template),
  }),
});

/** The catalog file. */
export const catalogSchema = z.strictObject({
  version: z.literal(1),
  actions: z.record(z.string().check(z.regex(IAM_ACTION)), catalogEntrySchema),
});

/** One catalog entry. */
export type CatalogEntry = z.infer<typeof catalogEntrySchema>;
/** The catalog. */
export type Catalog = z.infer<typeof catalogSchema>;

/**
 * Parses and validates a catalog (file text or parsed JSON).
 * @throws Error naming each problem with its path
 */
export function parseCatalog(input: string | unknown, origin = 'enforcement catalog'): Catalog {
  let raw: unknown = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input);
    } catch (error) {
      throw new Error(`${origin} is not JSON: ${(error as Error).message}`);
    }
  }
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${origin} is invalid: ${issues.join('; ')}`);
  }
  for (const [action, entry] of Object.entries(parsed.data.actions)) {
    if (entry.trail.eventName !== action.split(':')[1] && !entry.iamActions.includes(action)) {
      throw new Error(`${origin}: ${action} maps to none of its own IAM actions or CloudTrail event name`);
    }
  }
  return parsed.data;
}

/** What templates are rendered from: the approved intent. */
export interface ApprovedAction {
  action: string;
  resource: string;
  parameters: Record<string, unknown>;
}

/** Characters that would make an IAM policy value match more than one thing. */
const WIDENING = /[*?$]/;

/** Renders one template, or explains why it cannot be. */
export function renderTemplate(
  text: string,
  approved: ApprovedAction,
): { ok: true; value: string } | { ok: false; reason: string } {
  let problem: string | undefined;
  const value = text.replace(/\{([^}]+)\}/g, (_, name: string) => {
    let v: unknown;
    if (name === 'resource') v = approved.resource;
    else if (name === 'resource.name') v = resourceName(approved.resource);
    else
      v = Object.hasOwn(approved.parameters, name.slice('parameters.'.length))
        ? approved.parameters[name.slice('parameters.'.length)]
        : undefined;
    if (typeof v !== 'string' || v.length === 0) {
      problem ??= `${name} is missing or not a string`;
      return '';
    }
    if (WIDENING.test(v)) {
      problem ??= `${name} contains a wildcard or policy variable character (*, ? or $)`;
      return '';
    }
    return v;
  });
  return problem ? { ok: false, reason: problem } : { ok: true, value };
}

/** The last `/` segment of an ARN, else its last `:` segment. */
export function resourceName(arn: string): string {
  const slash = arn.lastIndexOf('/');
  return slash >= 0 ? arn.slice(slash + 1) : arn.slice(arn.lastIndexOf(':') + 1);
}

/** An IAM policy document (the subset Countersign writes). */
export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: {
    Sid: string;
    Effect: 'Allow';
    Action: string[];
    Resource: string[];
    Condition?: Record<string, Record<string, string>>;
  }[];
}

/** STS's limit on the plaintext of an inline session policy (characters). */
export const SESSION_POLICY_MAX_CHARS = 2048;

/** A session policy, or why none can be written. */
export type SessionPolicyResult =
  | { ok: true; policy: PolicyDocument; resource: string }
  | { ok: false; reason: string };

/**
 * The inline session policy of an approved action: exactly its IAM actions,
 * on exactly its resource, under its parameter conditions, and only until
 * the grant expires (`aws:CurrentTime`), because STS cannot issue credentials
 * shorter than 900 s while a grant may have less left.
 */
export function sessionPolicyFor(
  entry: CatalogEntry,
  approved: ApprovedAction,
  expiresAt: string,
): SessionPolicyResult {
  const resource = renderTemplate(entry.resource, approved);
  if (!resource.ok) return { ok: false, reason: `resource: ${resource.reason}` };
  if (!new RegExp(entry.resourcePattern).test(resource.value)) {
    return {
      ok: false,
      reason: `resource ${JSON.stringify(resource.value.slice(0, 200))} does not match ${entry.resourcePattern}`,
    };
  }
  const condition: Record<string, Record<string, string>> = {};
  for (const [operator, keys] of Object.entries(entry.conditions ?? {})) {
    for (const [key, text] of Object.entries(keys ?? {})) {
      const rendered = renderTemplate(text, approved);
      if (!rendered.ok) return { ok: false, reason: `condition ${key}: ${rendered.reason}` };
      condition[operator] = { ...condition[operator], [key]: rendered.value };
    }
  }
  condition.DateLessThan = { 'aws:CurrentTime': expiresAt };
  const policy: PolicyDocument = {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'CountersignApproved',
        Effect: 'Allow',
        Action: [...entry.iamActions],
        Resource: [resource.value],
        Condition: condition,
      },
    ],
  };
  const size = JSON.stringify(policy).length;
  if (size > SESSION_POLICY_MAX_CHARS) {
    return {
      ok: false,
      reason: `session policy is ${size} characters; STS accepts at most ${SESSION_POLICY_MAX_CHARS}`,
    };
  }
  return { ok: true, policy, resource: resource.value };
}

/** The CloudTrail `requestParameters` an approved action's call must carry, or why they cannot be named. */
export function trailParametersFor(
  entry: CatalogEntry,
  approved: ApprovedAction,
): { ok: true; values: Record<string, string> } | { ok: false; reason: string } {
  const values: Record<string, string> = {};
  for (const [key, text] of Object.entries(entry.trail.requestParameters)) {
    const rendered = renderTemplate(text, approved);
    if (!rendered.ok) return { ok: false, reason: `${key}: ${rendered.reason}` };
    values[key] = rendered.value;
  }
  return { ok: true, values };
}
