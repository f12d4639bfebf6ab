/**
 * The intent contract: what an agent publishes to ask for a countersignature,
 * and the decision it gets back. This module is the single source of truth for
 * both shapes; the JSON Schema in `schemas/` is generated from it.
 */

import { en } from 'zod/locales';
import * as z from 'zod/mini';
import type { SignInRef } from '../identity/contract.js';
import { parseTraceparent, parseTracestate } from './tracing-context.js';

/** EventBridge detail-type of an intent. */
export const INTENT_DETAIL_TYPE = 'Privileged Action Requested';
/** EventBridge detail-type of a cancellation, published by the agent that owns the intent. */
export const CANCEL_DETAIL_TYPE = 'Privileged Action Cancelled';
/** EventBridge detail-type of the decision published back on the bus. */
export const DECISION_DETAIL_TYPE = 'Privileged Action Decided';
/** EventBridge source of decision events. */
export const DECISION_SOURCE = 'countersign';
/** Prefix of every agent source; the rest is the agent id, bound by IAM (`events:source`). */
export const AGENT_SOURCE_PREFIX = 'countersign.agent.';
/** Largest intent detail accepted, in UTF-8 bytes (EventBridge's own entry limit). */
export const MAX_INTENT_BYTES = 256 * 1024;

const AGENT_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Shape of an intent id (the idempotency key agents choose). */
export const INTENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$/;

// zod/mini: the same validation as zod's classic API at a twentieth of the
// bundle size, which every handler pays on every cold start.
z.config(en());

/** Shape of an agent id as it appears after {@link AGENT_SOURCE_PREFIX}. */
export const agentIdSchema = z.string().check(z.regex(AGENT_ID, 'agent id must be 1-64 of [a-z0-9._-]'));

/**
 * Most characters of each text field of an intent or a cancellation (of the
 * trimmed text, for fields that refuse blank text), each tested at its edge.
 * The id patterns carry their own lengths: {@link INTENT_ID} 8-128, an agent
 * id 1-64, an environment 1-32.
 */
export const TEXT_LIMITS = {
  action: 128,
  resource: 2048,
  justification: 4096,
  /** A key of `parameters` (the data rules refuse a longer key anywhere first: {@link MAX_KEY_LENGTH}). */
  parameterKey: 256,
  dataset: 256,
  diff: 64 * 1024,
  impact: 4096,
  link: 2048,
  model: 128,
  sessionId: 256,
  /** An email address (the most SMTP carries in a path). */
  email: 254,
  cancellationReason: 1024,
} as const;

/** Most items of each list in an intent's context. */
export const LIST_LIMITS = { datasets: 50, links: 10 } as const;

const email = z.email().check(z.maxLength(TEXT_LIMITS.email));
const shortText = (max: number) => z.string().check(z.trim(), z.minLength(1), z.maxLength(max));

/** A string checked by a W3C Trace Context parser, refused with the parser's reason. */
const traceField = (parse: (text: string) => { ok: true } | { ok: false; reason: string }) =>
  z.string().check(
    z.superRefine((value, ctx) => {
      const parsed = parse(value);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason });
    }),
  );

/** Optional context that helps a reviewer judge the action, and the agent's trace to continue. */
export const intentContextSchema = z
  .strictObject({
    datasets: z.optional(z.array(shortText(TEXT_LIMITS.dataset)).check(z.maxLength(LIST_LIMITS.datasets))),
    diff: z.optional(z.string().check(z.maxLength(TEXT_LIMITS.diff))),
    impact: z.optional(shortText(TEXT_LIMITS.impact)),
    urgency: z.optional(z.enum(['normal', 'urgent'])),
    links: z.optional(
      z.array(z.url().check(z.maxLength(TEXT_LIMITS.link))).check(z.maxLength(LIST_LIMITS.links)),
    ),
    /** W3C `traceparent` of the agent's span that asks: Countersign's spans join that trace. */
    traceparent: z.optional(traceField(parseTraceparent)),
    /** W3C `tracestate` passed on with the trace; needs `traceparent`. */
    tracestate: z.optional(traceField(parseTracestate)),
  })
  .check(
    z.superRefine((context, ctx) => {
      if (context.tracestate !== undefined && context.traceparent === undefined)
        ctx.addIssue({ code: 'custom', message: 'tracestate needs a traceparent', path: ['tracestate'] });
    }),
  );

/** Who the agent is and for whom it acts. */
export const intentAgentSchema = z.strictObject({
  model: shortText(TEXT_LIMITS.model),
  sessionId: shortText(TEXT_LIMITS.sessionId),
  onBehalfOf: email,
  owner: email,
});

/** The `Detail` of a `Privileged Action Requested` event. */
export const intentSchema = z.strictObject({
  intentId: z
    .string()
    .check(z.regex(INTENT_ID, 'intentId must be 8-128 of [A-Za-z0-9._:-], starting alphanumeric')),
  action: z
    .string()
    .check(
      z.regex(
        /^[A-Za-z0-9-]+:[A-Za-z0-9*._-]+$/,
        'action must look like "service:Operation", e.g. iam:AttachRolePolicy',
      ),
      z.maxLength(TEXT_LIMITS.action),
    ),
  resource: shortText(TEXT_LIMITS.resource),
  environment: z
    .string()
    .check(
      z.regex(
        /^[a-z0-9][a-z0-9-]{0,31}$/,
        'environment must be a lower-case name such as prod, staging or dev',
      ),
    ),
  justification: shortText(TEXT_LIMITS.justification),
  parameters: z.record(z.string().check(z.maxLength(TEXT_LIMITS.parameterKey)), z.unknown()),
  agent: intentAgentSchema,
  context: z.optional(intentContextSchema),
});

/** A validated intent. */
export type Intent = z.infer<typeof intentSchema>;

/** The `Detail` of a `Privileged Action Cancelled` event. */
export const cancellationSchema = z.strictObject({
  intentId: intentSchema.shape.intentId,
  reason: z.optional(shortText(TEXT_LIMITS.cancellationReason)),
});

/** Final statuses of a request. */
export const FINAL_STATUSES = ['APPROVED', 'DENIED', 'EXPIRED', 'CANCELLED'] as const;
/** Every status a request can have. */
export type RequestStatus = 'PENDING' | (typeof FINAL_STATUSES)[number];
export type FinalStatus = (typeof FINAL_STATUSES)[number];

/** A human who voted on a request. */
export interface ApproverRef {
  /** The person's user id in the channel they acted in (a Slack user id for `slack`). */
  slackUserId: string;
  email: string;
  at: string;
  /** Where they acted: `slack`, `web`, `api`, ... (absent on votes recorded before channels were). */
  channel?: string;
  /** The IdP sign-in they acted with, when the channel verified one. */
  signIn?: SignInRef;
}

/** The `Detail` of a `Privileged Action Decided` event. */
export interface DecisionDetail {
  intentId: string;
  agentId: string;
  status: FinalStatus;
  /** True when policy decided without a human. */
  automatic: boolean;
  approvers: ApproverRef[];
  reason: string;
  /** Hash of the intent that was decided (of the modified intent when an approver modified it). */
  intentHash: string;
  /** Policy ids that determined the outcome. */
  policies: string[];
  decidedAt: string;
  /** Present when an approver modified the parameters before approving. */
  parameters?: Record<string, unknown>;
  /** Present when the responder approved their own urgent request on the break-glass path (reviewed afterwards). */
  breakGlass?: true;
  /** Present when approved: a single-use permission to execute exactly this intent. */
  grant?: { grantId: string; expiresAt: string; singleUse: true };
  /**
   * W3C trace id of the request's trace: the agent's `traceparent` trace, or
   * the one Countersign started (docs/observability.md).
   */
  traceId: string;
}

/** A readable, one-line rendering of zod issues, naming each field. */
export function describeIssues(error: {
  issues: readonly { path: PropertyKey[]; message: string }[];
}): string {
  return error.issues
    .slice(0, 10)
    .map(
      (issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`,
    )
    .join('; ');
}

/** Result of parsing a raw intent detail. */
export type IntentParseResult = { ok: true; intent: Intent } | { ok: false; reason: string };

/**
 * Deepest nesting of an intent: the detail object is level 1, `parameters`
 * level 2. DynamoDB stores at most 32 levels, and the request item keeps the
 * intent one level down and modified parameters two or three levels down
 * (`modification.diff[].from`): 24 leaves that room and more than any real
 * action needs.
 */
export const MAX_INTENT_DEPTH = 24;
/** Longest key accepted anywhere in an intent (the schema's limit for `parameters` keys). */
export const MAX_KEY_LENGTH = TEXT_LIMITS.parameterKey;
/**
 * Keys refused at any depth: `JSON.parse` keeps `__proto__` as an own key,
 * but building a plain object from it (as schema validation does) sets the
 * prototype instead, so the hash and the card would silently omit a parameter
 * the executor receives. `constructor` and `prototype` are the other two
 * names object-merging executors turn into prototype pollution.
 */
export const FORBIDDEN_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];
/**
 * Largest estimated DynamoDB size of the intent plus its parameters twice
 * more: the request item holds the intent, and after a modification the
 * approved parameters in `modification` and again in `decision`. DynamoDB
 * refuses items over 400 KB; the rest of the item (review plan, votes, card,
 * token) gets the remaining 40 KB.
 */
export const MAX_STORED_INTENT_BYTES = 360 * 1024;
/** DynamoDB's smallest non-zero number magnitude (larger magnitudes are past the exact-integer range first). */
const DYNAMODB_MIN_MAGNITUDE = 1e-130;

/**
 * What in a parsed detail the schema cannot see and the store or an executor
 * would get wrong, or undefined: nesting past {@link MAX_INTENT_DEPTH},
 * {@link FORBIDDEN_KEYS}, empty or over-long keys, NUL characters and unpaired
 * UTF-16 surrogates (no UTF-8 form: the stored text would differ from the
 * hashed one), numbers JSON peers do not read alike (not finite, integers past
 * ±2^53−1, magnitudes below DynamoDB's 1e-130), values that are not JSON, and
 * a stored size past {@link MAX_STORED_INTENT_BYTES}. Iterative: any depth is
 * safe to check.
 */
export function intentDataProblem(detail: unknown): string | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: detail, path: '', depth: 0 }];
  let total = 0;
  let parameters = 0;
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    const at = path || '(root)';
    const inParameters =
      path === 'parameters' || path.startsWith('parameters.') || path.startsWith('parameters[');
    let size = 1;
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) return `${at}: ${problem}`;
      size = Buffer.byteLength(value);
    } else if (typeof value === 'number') {
      const problem = numberProblem(value);
      if (problem) return `${at}: ${problem}`;
      size = 21;
    } else if (Array.isArray(value) || (value !== null && typeof value === 'object')) {
      if (depth + 1 > MAX_INTENT_DEPTH) {
        return `${at}: nested deeper than ${MAX_INTENT_DEPTH} levels (the intent is level 1); flatten the parameters`;
      }
      if (Array.isArray(value)) {
        value.forEach((item, i) => {
          stack.push({ value: item, path: `${path}[${i}]`, depth: depth + 1 });
        });
        size = 3 + value.length;
      } else {
        const prototype = Object.getPrototypeOf(value);
        if (prototype !== Object.prototype && prototype !== null) return `${at}: not a JSON object`;
        const keys = Object.keys(value);
        for (const key of keys) {
          // Keys are agent text: shown escaped and cut short in reasons.
          const shown = JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key).slice(1, -1);
          const keyPath = path ? `${path}.${shown}` : shown;
          if (FORBIDDEN_KEYS.includes(key)) {
            return `${path || '(root)'}: key "${key}" is refused (executors and parsers treat it as the object's prototype)`;
          }
          if (key.length === 0)
            return `${path || '(root)'}: empty keys are refused (every parameter needs a name executors and policies can address)`;
          if (key.length > MAX_KEY_LENGTH)
            return `${path || '(root)'}: a key is longer than ${MAX_KEY_LENGTH} characters`;
          const problem = textProblem(key);
          if (problem) return `${path || '(root)'}: key ${problem}`;
          size += Buffer.byteLength(key) + 1;
          stack.push({ value: (value as Record<string, unknown>)[key], path: keyPath, depth: depth + 1 });
        }
        size += 3;
      }
    } else if (value !== null && typeof value !== 'boolean') {
      return `${at}: ${typeof value} is not a JSON value`;
    }
    total += size;
    if (inParameters) parameters += size;
    if (total + 2 * parameters > MAX_STORED_INTENT_BYTES) {
      return `intent would take more than ${MAX_STORED_INTENT_BYTES} bytes in the request store (the intent once, its parameters up to twice more); send less`;
    }
  }
  return undefined;
}

// With the u flag a surrogate pair is one code point: only unpaired halves match.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'contains an unpaired UTF-16 surrogate (not encodable as UTF-8)';
  return undefined;
}

function numberProblem(value: number): string | undefined {
  if (!Number.isFinite(value))
    return `number ${value} is not finite (a JSON number too large for a double, e.g. 1e400)`;
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
    return `integer ${value} is beyond ±2^53−1, where JSON parsers disagree on its value; send it as a string`;
  }
  if (value !== 0 && Math.abs(value) < DYNAMODB_MIN_MAGNITUDE) {
    return `number ${value} is smaller in magnitude than DynamoDB stores (1e-130); send it as a string`;
  }
  return undefined;
}

/**
 * Validates a raw detail object: the size limit, then the data rules
 * ({@link intentDataProblem}), then the schema.
 */
export function parseIntent(detail: unknown): IntentParseResult {
  let size: number | undefined;
  try {
    // JSON.stringify gives undefined for a value it cannot write; Buffer.byteLength then throws.
    size = Buffer.byteLength(JSON.stringify(detail));
  } catch {
    // Too deep for JSON.stringify's recursion, or not JSON: the data rules below name why.
  }
  // Stryker disable next-line ConditionalExpression: undefined > MAX_INTENT_BYTES is false anyway
  if (size !== undefined && size > MAX_INTENT_BYTES) {
    return { ok: false, reason: `intent is ${size} bytes; the limit is ${MAX_INTENT_BYTES} bytes` };
  }
  const problem = intentDataProblem(detail);
  if (problem) return { ok: false, reason: `invalid intent: ${problem}` };
  // Stryker disable next-line all: defensive; intentDataProblem names every value JSON.stringify cannot write first
  if (size === undefined) return { ok: false, reason: 'intent is not serialisable JSON' };
  const parsed = intentSchema.safeParse(detail);
  if (!parsed.success) return { ok: false, reason: `invalid intent: ${describeIssues(parsed.error)}` };
  return { ok: true, intent: parsed.data };
}

/** Extracts the agent id from an EventBridge source, or undefined when it is not an agent source. */
export function agentIdFromSource(source: unknown): string | undefined {
  if (typeof source !== 'string' || !source.startsWith(AGENT_SOURCE_PREFIX)) return undefined;
  const id = source.slice(AGENT_SOURCE_PREFIX.length);
  return agentIdSchema.safeParse(id).success ? id : undefined;
}
