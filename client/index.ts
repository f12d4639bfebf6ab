/**
 * The Countersign agent client: ask for a countersignature in one call, wait
 * for the decision, check it against what is about to run, and spend the
 * single-use grant.
 *
 * ```ts
 * import { requestApproval, verifyDecision, consumeGrant } from 'countersign/client';
 * const { intentId, decision } = await requestApproval(intent, {
 *   agentId: 'deploy-bot', wait: { timeoutMs: 600_000 }, statusUrl: process.env.COUNTERSIGN_STATUS_URL,
 * });
 * ```
 *
 * See docs/agents.md.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { approvedIntentHash, intentHash } from '../lambdas/shared/canonical.js';
import type { DecisionDetail, Intent } from '../lambdas/shared/intent.js';
import type { BackoffOptions, Timing } from './backoff.js';
import { DecisionMismatchError, DecisionTimeoutError } from './errors.js';
import {
  DEFAULT_EVENT_BUS,
  type IntentInput,
  intentEntry,
  type PutEventsSender,
  prepareIntent,
  putEntries,
} from './publish.js';
import type { CredentialsProvider, FetchLike } from './signed-fetch.js';
import { waitForDecision } from './status.js';
import { withTraceContext } from './trace.js';

export { approvedIntentHash } from '../lambdas/shared/canonical.js';
export type { DecisionDetail, Intent } from '../lambdas/shared/intent.js';
export {
  CredentialsRefusedError,
  credentialsFor,
  type ExecutorSession,
  exchangeGrant,
} from './credentials.js';
export * from './errors.js';
export {
  type ConsumeGrantOptions,
  type ConsumeGrantResult,
  consumeGrant,
  type DirectGrantStore,
} from './grant.js';
export {
  agentSource,
  DEFAULT_EVENT_BUS,
  type IntentInput,
  type PutEventsSender,
  prepareIntent,
  putEntries,
} from './publish.js';
export type { CredentialsProvider, FetchLike, HttpTarget } from './signed-fetch.js';
export {
  type ApprovalStatus,
  type GrantView,
  getStatus,
  parseStatusBody,
  type WaitOptions,
  waitForDecision,
} from './status.js';
export { approvedIntent, type VerifyFailure, type VerifyResult, verifyDecision } from './verify.js';

/** Options of {@link requestApproval} and {@link publishIntents}. */
export interface RequestApprovalOptions extends Timing {
  /** The agent's id: the event source is `countersign.agent.<agentId>`, which IAM binds to the agent's role. */
  agentId: string;
  /**
   * The bus.
   * @default 'countersign'
   */
  eventBusName?: string;
  /**
   * The EventBridge client.
   * @default - new EventBridgeClient({}) (standard credential chain, region and endpoint variables)
   */
  eventBridge?: PutEventsSender;
  /** Backoff for retrying failed PutEvents entries. @default { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 5000 } */
  retry?: BackoffOptions;
  /**
   * Wait for the decision by polling the status API: `true` for the default
   * timeout (15 minutes) or the wait settings. Needs `statusUrl`.
   * @default false
   */
  wait?: boolean | { timeoutMs?: number; poll?: BackoffOptions };
  /** Status API base URL (stack output `StatusApiUrl`, or the sandbox `http://127.0.0.1:4010`). */
  statusUrl?: string;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  /** Credentials for signing status calls. @default - the standard chain */
  credentials?: CredentialsProvider;
  /** Signing region of the status API. @default - from the URL, else AWS_REGION */
  region?: string;
}

/** Result of {@link requestApproval}. */
export interface RequestApprovalResult {
  intentId: string;
  /** Hash of the intent as sent; an unmodified approval's `decision.intentHash` equals it. */
  intentHash: string;
  /** EventBridge event id of the published intent. */
  eventId: string;
  /** The decision, when `wait` was set and it arrived in time. */
  decision?: DecisionDetail;
  /** Set when `wait` was set and no decision arrived in time. */
  timedOut?: boolean;
  /**
   * W3C trace id of the request's trace: the caller's (propagated in
   * `context.traceparent`), else the decision's once it arrived.
   */
  traceId?: string;
}

let defaultClient: EventBridgeClient | undefined;
function eventBridgeFor(options: Pick<RequestApprovalOptions, 'eventBridge'>): PutEventsSender {
  if (options.eventBridge) return options.eventBridge;
  defaultClient ??= new EventBridgeClient({});
  return defaultClient;
}

/**
 * Asks for a countersignature: validates the intent locally with the
 * workflow's own schema (an invalid or oversized intent is refused before
 * anything is sent), fills in `intentId` when absent, publishes it with
 * PutEvents (retrying only failed entries, with backoff), and — when `wait` is
 * set — polls the status API until the decision arrives or the wait times out.
 *
 * The `intentId` is the idempotency key: publishing the same intent twice
 * starts one review.
 *
 * Tracing: the call is a `countersign.request_approval` span (a child of the
 * caller's active span) of the caller's registered OpenTelemetry provider,
 * and the intent carries that span as `context.traceparent`, so Countersign's
 * review continues the caller's trace (docs/observability.md). A
 * `traceparent` the caller set stands. Without a provider nothing changes.
 *
 * @throws IntentValidationError naming the offending fields
 * @throws IntentTooLargeError when the intent is over 256 KiB
 * @throws PublishError / CredentialsError when the intent could not be published
 */
export function requestApproval(
  intent: IntentInput | Record<string, unknown>,
  options: RequestApprovalOptions,
): Promise<RequestApprovalResult> {
  return tracer().startActiveSpan(
    'countersign.request_approval',
    { kind: SpanKind.PRODUCER, attributes: { 'countersign.agent_id': options.agentId } },
    async (span) => {
      try {
        const result = await requestApprovalIn(withTraceContext(intent, span.spanContext()), options);
        span.setAttributes({
          'countersign.request_id': result.intentId,
          'countersign.intent_hash': result.intentHash,
          ...(result.traceId ? { 'countersign.trace_id': result.traceId } : {}),
          ...(result.decision ? { 'countersign.outcome': result.decision.status } : {}),
          ...(result.timedOut ? { 'countersign.timed_out': true } : {}),
        });
        return result;
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).name });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** The OpenTelemetry tracer of the client: the caller's registered provider, or a no-op. */
const tracer = () => trace.getTracer('countersign-client');

async function requestApprovalIn(
  intent: IntentInput | Record<string, unknown>,
  options: RequestApprovalOptions,
): Promise<RequestApprovalResult> {
  const prepared = prepareIntent(intent);
  const entry = intentEntry(prepared, options.agentId, options.eventBusName ?? DEFAULT_EVENT_BUS);
  const { eventIds } = await putEntries([entry], {
    eventBridge: eventBridgeFor(options),
    ...(options.retry ? { retry: options.retry } : {}),
    ...timing(options),
  });
  const result: RequestApprovalResult = {
    intentId: prepared.intentId,
    intentHash: intentHash(prepared),
    eventId: eventIds[0]!,
  };
  const propagated = prepared.context?.traceparent?.split('-')[1];
  if (propagated) result.traceId = propagated;
  if (!options.wait) return result;
  if (!options.statusUrl)
    throw new Error('requestApproval: wait needs statusUrl (or COUNTERSIGN_STATUS_URL)');
  const wait = options.wait === true ? {} : options.wait;
  try {
    result.decision = await waitForDecision(prepared.intentId, {
      publishedIntentHash: result.intentHash,
      refusalRequestId: `invalid-${result.eventId}`,
      publishedAgentId: options.agentId,
      statusUrl: options.statusUrl,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.region ? { region: options.region } : {}),
      ...(wait.timeoutMs !== undefined ? { timeoutMs: wait.timeoutMs } : {}),
      ...(wait.poll ? { poll: wait.poll } : {}),
      ...timing(options),
    });
  } catch (error) {
    if (!(error instanceof DecisionTimeoutError)) throw error;
    result.timedOut = true;
  }
  if (result.decision) {
    assertBound(prepared, result.intentHash, result.decision);
    result.traceId ??= result.decision.traceId;
  }
  return result;
}

/**
 * An approval binds the exact intent: the decision's hash must be the hash of
 * what this agent published, or of that intent with the approved (modified)
 * parameters. Anything else is a decision about another intent.
 *
 * @throws DecisionMismatchError
 */
function assertBound(published: Intent, publishedHash: string, decision: DecisionDetail): void {
  if (decision.intentHash === publishedHash) return;
  if (decision.parameters && approvedIntentHash(published, decision.parameters) === decision.intentHash)
    return;
  throw new DecisionMismatchError(published.intentId, publishedHash, decision.intentHash);
}

/** Result of {@link publishIntents}. */
export interface PublishIntentsResult {
  intents: { intentId: string; intentHash: string; eventId: string }[];
  /** PutEvents calls made, retries included. */
  calls: number;
}

/**
 * Publishes several intents at once (10 per PutEvents call), every one
 * validated first: one invalid intent publishes none. Only entries that fail
 * are retried, so no intent is delivered twice by a retry.
 */
export async function publishIntents(
  intents: (IntentInput | Record<string, unknown>)[],
  options: Omit<RequestApprovalOptions, 'wait'>,
): Promise<PublishIntentsResult> {
  const prepared = intents.map((intent) => prepareIntent(intent));
  const bus = options.eventBusName ?? DEFAULT_EVENT_BUS;
  const entries = prepared.map((intent) => intentEntry(intent, options.agentId, bus));
  const { eventIds, calls } = await putEntries(entries, {
    eventBridge: eventBridgeFor(options),
    ...(options.retry ? { retry: options.retry } : {}),
    ...timing(options),
  });
  return {
    intents: prepared.map((intent, i) => ({
      intentId: intent.intentId,
      intentHash: intentHash(intent),
      eventId: eventIds[i]!,
    })),
    calls,
  };
}

function timing(options: Timing): Timing {
  return {
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.now ? { now: options.now } : {}),
  };
}
