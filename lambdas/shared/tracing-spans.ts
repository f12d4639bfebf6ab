/**
 * A request's trace, built from its audit trail: one `countersign.review`
 * span from intent to decision, and one child span per audited step
 * (evaluation, each notification, each vote, refusal and modification, the
 * decision). Times come from the audit records, so the trace says what the
 * trail proves, whichever Lambda exports it and however long the review
 * waited. Span ids are derived from the request id and the record's sequence
 * number ({@link spanIdFor}), so a retried export sends the same spans again.
 *
 * Attributes hold only what Countersign decided or resolved: ids, the action
 * and environment (both schema-restricted), policy ids, outcomes, refusal
 * codes, resolved approver emails, counts and times. Never agent text
 * (resource, justification, parameters, context, reasons) and nothing masking
 * would hide: a masked parameter does not exist in a span at all.
 */
import type { AuditRecord } from './audit-record.js';
import type { RequestItem } from './store.js';
import { type RequestTrace, requestTrace, spanIdFor } from './tracing-context.js';

/** Most spans exported for one request (the request span included); the rest are dropped and counted. */
export const MAX_SPANS_PER_REQUEST = 128;

/** Attribute values a span holds. */
export type SpanAttributes = Record<string, string | number | boolean | string[]>;

/** One span of a request's trace, as plain data. */
export interface TraceSpan {
  name: string;
  spanId: string;
  /** The request span for steps; the agent's span (or none) for the request span. */
  parentSpanId?: string;
  /** Epoch milliseconds. */
  start: number;
  end: number;
  attributes: SpanAttributes;
  events: { name: string; at: number; attributes: SpanAttributes }[];
  status: 'unset' | 'ok' | 'error';
  /** Other traces this span belongs with (the workflow execution's X-Ray trace). */
  links: { traceId: string; spanId: string; attributes: SpanAttributes }[];
}

/** A request's spans and what was dropped to keep the export bounded. */
export interface RequestSpans {
  trace: RequestTrace;
  spans: TraceSpan[];
  /** Child spans past {@link MAX_SPANS_PER_REQUEST}, not exported. */
  dropped: number;
}

/**
 * Which spans a piece of Countersign exports: Review sends the `opening`
 * steps (evaluation and the card's posting) as soon as the card is up, so a
 * stalled agent's trace already says what it waits for; Record sends the
 * `closing` rest (the request span, votes, refusals, the decision) with the
 * decision. `all` is the whole tree (the console's view).
 */
export type SpanPart = 'all' | 'opening' | 'closing';

/** What the exporter knows beyond the request and its trail. */
export interface SpanContextExtras {
  /** X-Ray trace of the workflow execution (Lambda's `_X_AMZN_TRACE_ID`, see xrayTraceContext). */
  xray?: { traceId: string; spanId: string };
  /** @default 'all' */
  part?: SpanPart;
}

/** Records whose spans Review exports when the card is up. */
const OPENING_KINDS = new Set(['rejected', 'policy-evaluated', 'reviewers-notified']);

const FINAL_KINDS = new Set(['decided', 'expired', 'cancelled']);
const ms = (at: string) => Date.parse(at);

/** The email of a human actor, or undefined. */
function humanEmail(record: AuditRecord): string | undefined {
  return record.actor.type === 'human' ? record.actor.email : undefined;
}

function humanChannel(record: AuditRecord): string | undefined {
  return record.actor.type === 'human' ? record.actor.channel : undefined;
}

const defined = (attributes: Record<string, unknown>): SpanAttributes =>
  Object.fromEntries(
    Object.entries(attributes).filter(([, v]) => v !== undefined && v !== null),
  ) as SpanAttributes;

/**
 * A human's act (vote, refusal, modification) as a span from `start` (the
 * card's first posting) to the click: how long this person took.
 */
function humanAct(
  name: string,
  record: AuditRecord,
  start: number,
  attributes: Record<string, unknown>,
): Omit<TraceSpan, 'spanId' | 'parentSpanId' | 'events' | 'links'> {
  return {
    name,
    start,
    end: ms(record.at),
    attributes: defined({
      'countersign.approver': humanEmail(record),
      'countersign.channel': humanChannel(record),
      ...attributes,
    }),
    status: 'unset',
  };
}

/** The step span of one audit record, or undefined for records that are events or nothing. */
function stepSpan(
  record: AuditRecord,
  previous: AuditRecord | undefined,
  notifiedAt: number | undefined,
  first: AuditRecord,
): Omit<TraceSpan, 'spanId' | 'parentSpanId' | 'events' | 'links'> | undefined {
  const at = ms(record.at);
  const since = (from: number | undefined) => Math.min(from ?? at, at);
  const data = record.data;
  switch (record.kind) {
    case 'rejected':
      return {
        name: 'countersign.evaluate',
        start: since(ms(first.at)),
        end: at,
        attributes: { 'countersign.outcome': 'rejected' },
        status: 'error',
      };
    case 'policy-evaluated': {
      const review = data.review as { quorum?: number; approverGroups?: string[] } | null | undefined;
      return {
        name: 'countersign.evaluate',
        start: since(ms(first.at)),
        end: at,
        attributes: defined({
          'countersign.outcome': typeof data.outcome === 'string' ? data.outcome : undefined,
          'countersign.policies': record.actor.type === 'policy' ? record.actor.policies : undefined,
          'countersign.policy_digest': typeof data.policyDigest === 'string' ? data.policyDigest : undefined,
          'countersign.quorum': review?.quorum,
          'countersign.approver_groups': review?.approverGroups,
        }),
        status: 'unset',
      };
    }
    case 'reviewers-notified':
      return {
        name: 'countersign.notify',
        start: since(previous && ms(previous.at)),
        end: at,
        attributes: defined({
          'countersign.channel': 'slack',
          'countersign.slack_channel': typeof data.channel === 'string' ? data.channel : undefined,
          'countersign.approver_groups': data.approverGroups as string[] | undefined,
          'countersign.quorum': data.quorum as number | undefined,
          'countersign.expires_at': typeof data.expiresAt === 'string' ? data.expiresAt : undefined,
          'countersign.repost': data.repost === true,
        }),
        status: 'unset',
      };
    case 'card-posted':
      // The poster's step: how long the card waited in the channel's queue before it was posted.
      return {
        name: 'countersign.card',
        start: since(previous && ms(previous.at)),
        end: at,
        attributes: defined({
          'countersign.channel': 'slack',
          'countersign.slack_channel': typeof data.channel === 'string' ? data.channel : undefined,
          'countersign.queue_wait_ms': typeof data.waitedMs === 'number' ? data.waitedMs : undefined,
        }),
        status: 'unset',
      };
    case 'vote':
      return humanAct('countersign.vote', record, since(notifiedAt), {
        'countersign.vote': typeof data.vote === 'string' ? data.vote : undefined,
        'countersign.deciding': data.deciding === true,
        'countersign.approvals': typeof data.approvals === 'number' ? data.approvals : undefined,
      });
    case 'refused':
      return humanAct('countersign.refusal', record, since(notifiedAt), {
        'countersign.verb': typeof data.vote === 'string' ? data.vote : undefined,
        'countersign.refusal_code': typeof data.code === 'string' ? data.code : undefined,
      });
    case 'modified':
      return humanAct('countersign.modify', record, since(notifiedAt), {
        'countersign.changed_paths': Array.isArray(data.diff) ? data.diff.length : undefined,
        'countersign.intent_hash': record.intentHash,
      });
    default:
      if (!FINAL_KINDS.has(record.kind) || data.final !== true) return undefined;
      return {
        name: 'countersign.decision',
        start: since(previous && ms(previous.at)),
        end: at,
        attributes: decisionAttributes(data.decision),
        status: 'unset',
      };
  }
}

function decisionAttributes(raw: unknown): SpanAttributes {
  const decision = (raw ?? {}) as {
    status?: string;
    automatic?: boolean;
    approvers?: { email?: string }[];
    policies?: string[];
    breakGlass?: boolean;
    intentHash?: string;
  };
  return defined({
    'countersign.outcome': decision.status,
    'countersign.automatic': decision.automatic,
    'countersign.approvers': decision.approvers?.map((a) => a.email ?? '').filter(Boolean),
    'countersign.policies': decision.policies,
    'countersign.break_glass': decision.breakGlass === true ? true : undefined,
    'countersign.intent_hash': decision.intentHash,
  });
}

/** Root-span events: audited moments that are not steps of their own. */
function rootEvent(record: AuditRecord): TraceSpan['events'][number] | undefined {
  const at = ms(record.at);
  switch (record.kind) {
    case 'escalated':
      return {
        name: 'countersign.escalation',
        at,
        attributes: defined({
          'countersign.before_seconds': record.data.beforeSeconds as number | undefined,
          'countersign.approvals': record.data.approvals as number | undefined,
          'countersign.quorum': record.data.quorum as number | undefined,
        }),
      };
    case 'expired':
      return { name: 'countersign.expiry', at, attributes: {} };
    case 'rate-limited': {
      const quota = record.data.quota as { text?: string } | undefined;
      return {
        name: 'countersign.rate_limited',
        at,
        attributes: defined({
          'countersign.action_class': record.data.actionClass as string | undefined,
          'countersign.quota': quota?.text,
          'countersign.count': record.data.count as number | undefined,
        }),
      };
    }
    case 'acknowledged':
      return {
        name: 'countersign.acknowledgement',
        at,
        attributes: defined({ 'countersign.approver': humanEmail(record) }),
      };
    default:
      return undefined;
  }
}

/** Reminders the review scheduled that were due before the request ended, as root-span events. */
function reminderEvents(chain: readonly AuditRecord[], end: number): TraceSpan['events'] {
  const events: TraceSpan['events'] = [];
  for (const record of chain) {
    if (record.kind !== 'reviewers-notified') continue;
    const wakeUps = Array.isArray(record.data.wakeUps) ? record.data.wakeUps : [];
    for (const wake of wakeUps as { kind?: unknown; at?: unknown; beforeSeconds?: unknown }[]) {
      const at = typeof wake.at === 'string' ? ms(wake.at) : Number.NaN;
      if (wake.kind !== 'reminder' || !(at <= end)) continue;
      events.push({
        name: 'countersign.reminder',
        at,
        attributes: defined({ 'countersign.before_seconds': wake.beforeSeconds as number | undefined }),
      });
    }
  }
  return events;
}

/**
 * The spans of a request, from its item and its audit chain (oldest first).
 * The request span ends at the final record; before there is one it ends at
 * the last record (a pending request's trace so far).
 */
export function requestSpans(
  request: Pick<
    RequestItem,
    'intentId' | 'agentId' | 'intent' | 'verified' | 'review' | 'executionId' | 'intentHash'
  > &
    Partial<Pick<RequestItem, 'decision'>>,
  chain: readonly AuditRecord[],
  extras: SpanContextExtras = {},
): RequestSpans {
  const trace = requestTrace(request.intentId, request.intent?.context);
  const first = chain[0];
  if (!first) return { trace, spans: [], dropped: 0 };
  const finalRecord = chain.find((r) => r.data.final === true && FINAL_KINDS.has(r.kind));
  const last = finalRecord ?? chain.at(-1)!;
  const start = ms(first.at);
  const end = Math.max(ms(last.at), start);

  const steps: TraceSpan[] = [];
  const kindOf = new Map<string, string>();
  const events: TraceSpan['events'] = [];
  const remember = (spanId: string, kind: string) => {
    kindOf.set(spanId, kind);
    return spanId;
  };
  let notifiedAt: number | undefined;
  let previous: AuditRecord | undefined;
  for (const record of chain) {
    if (ms(record.at) > end) break; // after the decision (e.g. the grant's use): not part of the review
    if (record.kind === 'reviewers-notified' && notifiedAt === undefined) notifiedAt = ms(record.at);
    const step = stepSpan(record, previous, notifiedAt ?? ms(first.at), first);
    if (step)
      steps.push({
        ...step,
        ...(step.name === 'countersign.notify' && request.intent
          ? { attributes: { ...step.attributes, 'countersign.action': request.intent.action } }
          : {}),
        spanId: remember(spanIdFor(trace.traceId, request.intentId, `audit/${record.seq}`), record.kind),
        parentSpanId: trace.rootSpanId,
        events: [],
        links: [],
      });
    const event = rootEvent(record);
    if (event) events.push(event);
    previous = record;
  }
  events.push(...reminderEvents(chain, end));
  events.sort((a, b) => a.at - b.at);

  const part = extras.part ?? 'all';
  // Review exported the opening steps only if it ran (a policy allow or deny never reaches it).
  const reviewed = chain.some((r) => r.kind === 'reviewers-notified');
  const opening = (span: TraceSpan) => OPENING_KINDS.has(kindOf.get(span.spanId) ?? '');
  if (part === 'opening')
    return { trace, spans: steps.filter(opening).slice(0, MAX_SPANS_PER_REQUEST), dropped: 0 };
  const eligible = steps.filter((span) => part === 'all' || !reviewed || !opening(span));
  const kept = eligible.slice(0, MAX_SPANS_PER_REQUEST - 1);
  const dropped = eligible.length - kept.length;
  const decision = finalRecord ? (finalRecord.data.decision as { status?: string } | undefined) : undefined;
  const root: TraceSpan = {
    name: 'countersign.review',
    spanId: trace.rootSpanId,
    ...(trace.parentSpanId ? { parentSpanId: trace.parentSpanId } : {}),
    start,
    end,
    attributes: defined({
      'countersign.request_id': request.intentId,
      'countersign.agent_id': request.agentId,
      'countersign.action': request.intent?.action,
      // Derived from the account and resource (docs/identity.md), never the declared one.
      'countersign.environment': request.verified?.environment,
      'countersign.intent_hash': request.intentHash,
      'countersign.approver_groups': request.review?.approverGroups,
      'countersign.quorum': request.review?.quorum,
      'countersign.pending': finalRecord ? undefined : true,
      'countersign.time_to_decision_ms': finalRecord ? end - start : undefined,
      'countersign.dropped_spans': dropped > 0 ? dropped : undefined,
      'aws.step_functions.execution_arn': request.executionId,
      ...decisionAttributes(finalRecord?.data.decision),
    }),
    events,
    status: first.kind === 'rejected' ? 'error' : decision?.status === 'APPROVED' ? 'ok' : 'unset',
    links: extras.xray
      ? [{ ...extras.xray, attributes: { 'countersign.link': 'step-functions-execution' } }]
      : [],
  };
  return { trace, spans: [root, ...kept], dropped };
}
