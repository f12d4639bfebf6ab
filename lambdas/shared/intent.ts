/**
 * The intent contract: what an agent publishes to ask for a countersignature,
 * and the decision it gets back. This module is the single source of truth for
 * both shapes; the JSON Schema in `schemas/` is generated from it.
 */
import { en } from 'zod/locales';
import * as z from 'zod/mini';

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

const email = z.email().check(z.maxLength(254));
const shortText = (max: number) => z.string().check(z.trim(), z.minLength(1), z.maxLength(max));

/** Optional context that helps a reviewer judge the action. */
export const intentContextSchema = z.strictObject({
  datasets: z.optional(z.array(shortText(256)).check(z.maxLength(50))),
  diff: z.optional(z.string().check(z.maxLength(64 * 1024))),
  impact: z.optional(shortText(4096)),
  urgency: z.optional(z.enum(['normal', 'urgent'])),
  links: z.optional(z.array(z.url().check(z.maxLength(2048))).check(z.maxLength(10))),
});

/** Who the agent is and for whom it acts. */
export const intentAgentSchema = z.strictObject({
  model: shortText(128),
  sessionId: shortText(256),
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
      z.maxLength(128),
    ),
  resource: shortText(2048),
  environment: z
    .string()
    .check(
      z.regex(
        /^[a-z0-9][a-z0-9-]{0,31}$/,
        'environment must be a lower-case name such as prod, staging or dev',
      ),
    ),
  justification: shortText(4096),
  parameters: z.record(z.string().check(z.maxLength(256)), z.unknown()),
  agent: intentAgentSchema,
  context: z.optional(intentContextSchema),
});

/** A validated intent. */
export type Intent = z.infer<typeof intentSchema>;

/** The `Detail` of a `Privileged Action Cancelled` event. */
export const cancellationSchema = z.strictObject({
  intentId: intentSchema.shape.intentId,
  reason: z.optional(shortText(1024)),
});

/** Final statuses of a request. */
export const FINAL_STATUSES = ['APPROVED', 'DENIED', 'EXPIRED', 'CANCELLED'] as const;
/** Every status a request can have. */
export type RequestStatus = 'PENDING' | (typeof FINAL_STATUSES)[number];
export type FinalStatus = (typeof FINAL_STATUSES)[number];

/** A human who voted on a request. */
export interface ApproverRef {
  slackUserId: string;
  email: string;
  at: string;
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

/** Validates a raw detail object, enforcing the size limit before the schema. */
export function parseIntent(detail: unknown): IntentParseResult {
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(detail ?? null), 'utf8');
  } catch {
    return { ok: false, reason: 'intent is not serialisable JSON' };
  }
  if (size > MAX_INTENT_BYTES) {
    return { ok: false, reason: `intent is ${size} bytes; the limit is ${MAX_INTENT_BYTES} bytes` };
  }
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
