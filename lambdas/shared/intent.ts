/**
 * The intent contract: what an agent publishes to ask for a countersignature,
 * and the decision it gets back. This module is the single source of truth for
 * both shapes; the JSON Schema in `schemas/` is generated from it.
 */
import { z } from 'zod';

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
const INTENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$/;

/** Shape of an agent id as it appears after {@link AGENT_SOURCE_PREFIX}. */
export const agentIdSchema = z.string().regex(AGENT_ID, 'agent id must be 1-64 of [a-z0-9._-]');

const email = z.email().max(254);
const shortText = (max: number) => z.string().trim().min(1).max(max);

/** Optional context that helps a reviewer judge the action. */
export const intentContextSchema = z
  .object({
    datasets: z.array(shortText(256)).max(50).optional(),
    diff: z
      .string()
      .max(64 * 1024)
      .optional(),
    impact: shortText(4096).optional(),
    urgency: z.enum(['normal', 'urgent']).optional(),
    links: z.array(z.url().max(2048)).max(10).optional(),
  })
  .strict();

/** Who the agent is and for whom it acts. */
export const intentAgentSchema = z
  .object({
    model: shortText(128),
    sessionId: shortText(256),
    onBehalfOf: email,
    owner: email,
  })
  .strict();

/** The `Detail` of a `Privileged Action Requested` event. */
export const intentSchema = z
  .object({
    intentId: z.string().regex(INTENT_ID, 'intentId must be 8-128 of [A-Za-z0-9._:-], starting alphanumeric'),
    action: z
      .string()
      .regex(
        /^[A-Za-z0-9-]+:[A-Za-z0-9*._-]+$/,
        'action must look like "service:Operation", e.g. iam:AttachRolePolicy',
      )
      .max(128),
    resource: shortText(2048),
    environment: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9-]{0,31}$/,
        'environment must be a lower-case name such as prod, staging or dev',
      ),
    justification: shortText(4096),
    parameters: z.record(z.string().max(256), z.unknown()),
    agent: intentAgentSchema,
    context: intentContextSchema.optional(),
  })
  .strict();

/** A validated intent. */
export type Intent = z.infer<typeof intentSchema>;

/** The `Detail` of a `Privileged Action Cancelled` event. */
export const cancellationSchema = z
  .object({
    intentId: intentSchema.shape.intentId,
    reason: shortText(1024).optional(),
  })
  .strict();

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
  /** Present when approved: a single-use permission to execute exactly this intent. */
  grant?: { grantId: string; expiresAt: string; singleUse: true };
}

/** A readable, one-line rendering of zod issues, naming each field. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
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
