/**
 * Local validation and publishing of intents: the same zod schema the workflow
 * uses, the size limit checked before anything is sent, and PutEvents with
 * retries of exactly the entries that failed.
 */
import { randomUUID } from 'node:crypto';
import {
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import {
  AGENT_SOURCE_PREFIX,
  agentIdSchema,
  INTENT_DETAIL_TYPE,
  type Intent,
  intentDataProblem,
  intentSchema,
  MAX_INTENT_BYTES,
} from '../lambdas/shared/intent.js';
import { parseStrictJson } from '../lambdas/shared/strict-json.js';
import { type BackoffOptions, backoffDelay, defaultSleep, type Timing } from './backoff.js';
import { CredentialsError, IntentTooLargeError, IntentValidationError, PublishError } from './errors.js';

/** Anything that can send a PutEvents command: an `EventBridgeClient`, or a test double. */
export interface PutEventsSender {
  send(command: PutEventsCommand): Promise<PutEventsCommandOutput>;
}

/** An intent as an agent writes it: everything but `intentId` is required. */
export type IntentInput = Omit<Intent, 'intentId'> & { intentId?: string };

/** Default bus name. */
export const DEFAULT_EVENT_BUS = 'countersign';
/** EventBridge's limit on entries per PutEvents call. */
export const MAX_ENTRIES_PER_CALL = 10;
/** EventBridge's limit on one entry (Source + DetailType + Detail + Resources), in bytes. */
export const MAX_ENTRY_BYTES = 256 * 1024;

/**
 * Per-entry error codes that no retry can fix. Any other code (InternalFailure,
 * ThrottlingException, ...) is treated as transient and retried.
 */
const PERMANENT_ENTRY_ERRORS = new Set([
  'AccessDeniedException',
  'InvalidArgument',
  'MalformedDetail',
  'NotAuthorizedForSourceException',
  'NotAuthorizedForDetailTypeException',
  'ResourceNotFoundException',
  'ValidationException',
]);

/**
 * Validates an intent locally: fills in `intentId` (a random UUID) when
 * absent, refuses raw JSON with duplicate keys, refuses what the workflow
 * refuses before its schema (`intentDataProblem`: `__proto__` keys, nesting
 * past 24 levels, NUL, unpaired surrogates, inexact numbers), refuses an
 * intent larger than {@link MAX_INTENT_BYTES}, and parses it
 * with the workflow's own schema. Returns the parsed intent, which is what is
 * sent and hashed (the schema trims text fields).
 *
 * @throws IntentTooLargeError before any schema check when the intent is too large
 * @throws IntentValidationError naming each offending field
 */
export function prepareIntent(input: IntentInput | Record<string, unknown> | string): Intent {
  if (typeof input === 'string') {
    // Raw JSON: refuse what JSON.parse would silently resolve (duplicate keys) before it is lost.
    const parsed = parseStrictJson(input);
    if (!parsed.ok) {
      throw new IntentValidationError(`invalid intent: (root): ${parsed.reason}`, [
        { path: '(root)', message: parsed.reason },
      ]);
    }
    return prepareIntent(parsed.value as Record<string, unknown>);
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new IntentValidationError('invalid intent: (root): must be a JSON object', [
      { path: '(root)', message: 'must be a JSON object' },
    ]);
  }
  const withId = { ...input, intentId: (input as { intentId?: unknown }).intentId ?? randomUUID() };
  let text: string | undefined;
  try {
    text = JSON.stringify(withId);
  } catch {
    // Too deep for JSON.stringify, or not JSON: the data rules name why.
  }
  const bytes = text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_INTENT_BYTES) throw new IntentTooLargeError(bytes, MAX_INTENT_BYTES);
  const problem =
    intentDataProblem(withId) ?? (text === undefined ? '(root): not serialisable JSON' : undefined);
  if (problem) {
    const at = problem.indexOf(': ');
    throw new IntentValidationError(`invalid intent: ${problem}`, [
      { path: at > 0 ? problem.slice(0, at) : '(root)', message: at > 0 ? problem.slice(at + 2) : problem },
    ]);
  }
  const parsed = intentSchema.safeParse(withId);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({
      path: issue.path.length > 0 ? issue.path.join('.') : '(root)',
      message: issue.message,
    }));
    throw new IntentValidationError(
      `invalid intent: ${issues
        .slice(0, 10)
        .map((i) => `${i.path}: ${i.message}`)
        .join('; ')}`,
      issues,
    );
  }
  return parsed.data;
}

/** Checks an agent id and returns its EventBridge source. */
export function agentSource(agentId: string): string {
  if (!agentIdSchema.safeParse(agentId).success) {
    throw new IntentValidationError(`invalid agent id "${agentId}": must be 1-64 of [a-z0-9._-]`, [
      { path: 'agentId', message: 'must be 1-64 of [a-z0-9._-], starting alphanumeric' },
    ]);
  }
  return `${AGENT_SOURCE_PREFIX}${agentId}`;
}

/** The PutEvents entry of an intent. */
export function intentEntry(intent: Intent, agentId: string, eventBusName: string): PutEventsRequestEntry {
  const entry = {
    EventBusName: eventBusName,
    Source: agentSource(agentId),
    DetailType: INTENT_DETAIL_TYPE,
    Detail: JSON.stringify(intent),
  };
  const bytes = Buffer.byteLength(entry.Source + entry.DetailType + entry.Detail, 'utf8');
  if (bytes > MAX_ENTRY_BYTES) throw new IntentTooLargeError(bytes, MAX_ENTRY_BYTES);
  return entry;
}

/** Options of {@link putEntries}. */
export interface PutEntriesOptions extends Timing {
  eventBridge: PutEventsSender;
  /** Backoff between retries of failed entries. */
  retry?: BackoffOptions;
}

/** Result of {@link putEntries}: the EventBridge event id of each entry, in order. */
export interface PutEntriesResult {
  eventIds: string[];
  /** PutEvents calls made, retries included. */
  calls: number;
}

/**
 * Puts entries on the bus, at most {@link MAX_ENTRIES_PER_CALL} per call. On a
 * partial failure (`FailedEntryCount > 0`) only the entries that failed with a
 * transient code are sent again, after an exponential backoff with full
 * jitter, until every entry is accepted or attempts run out. Entries already
 * accepted are never sent twice by this function.
 *
 * @throws PublishError on a permanent entry error, when attempts run out, or when the call itself fails
 */
export async function putEntries(
  entries: PutEventsRequestEntry[],
  options: PutEntriesOptions,
): Promise<PutEntriesResult> {
  const sleep = options.sleep ?? defaultSleep;
  const maxAttempts = options.retry?.maxAttempts ?? 6;
  const eventIds: (string | undefined)[] = entries.map(() => undefined);
  const lastError = new Map<number, { errorCode: string; errorMessage: string }>();
  let pending = entries.map((_, index) => index);
  let calls = 0;

  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > 1) await sleep(backoffDelay(attempt - 1, options.retry, options.random));
    const stillFailing: number[] = [];
    for (let start = 0; start < pending.length; start += MAX_ENTRIES_PER_CALL) {
      const batch = pending.slice(start, start + MAX_ENTRIES_PER_CALL);
      calls++;
      let out: PutEventsCommandOutput;
      try {
        out = await options.eventBridge.send(
          new PutEventsCommand({ Entries: batch.map((i) => entries[i]!) }),
        );
      } catch (error) {
        throw callError(error, entries[batch[0]!]!);
      }
      const results = out.Entries ?? [];
      batch.forEach((index, position) => {
        const result = results[position];
        if (result?.EventId && !result.ErrorCode) {
          eventIds[index] = result.EventId;
          return;
        }
        const errorCode = result?.ErrorCode ?? 'MissingResult';
        const errorMessage = result?.ErrorMessage ?? 'PutEvents returned no result for this entry';
        if (PERMANENT_ENTRY_ERRORS.has(errorCode) || /does not exist/i.test(errorMessage)) {
          throw permanentError(entries[index]!, index, errorCode, errorMessage);
        }
        lastError.set(index, { errorCode, errorMessage });
        stillFailing.push(index);
      });
    }
    pending = stillFailing;
    if (pending.length > 0 && attempt >= maxAttempts) {
      const failed = pending.map((index) => ({ index, ...lastError.get(index)! }));
      throw new PublishError(
        `PutEvents: ${failed.length} of ${entries.length} entries still failing after ${attempt} attempts (${failed[0]!.errorCode}: ${failed[0]!.errorMessage})`,
        failed,
      );
    }
  }
  return { eventIds: eventIds as string[], calls };
}

function permanentError(
  entry: PutEventsRequestEntry,
  index: number,
  code: string,
  message: string,
): PublishError {
  const bus = entry.EventBusName ?? 'default';
  const hint =
    /does not exist/i.test(message) || code === 'ResourceNotFoundException'
      ? `event bus "${bus}" does not exist in this account and region (check the bus name and AWS_REGION)`
      : code === 'AccessDeniedException' || code.startsWith('NotAuthorized')
        ? `not allowed to publish as ${entry.Source} on bus "${bus}" (the role needs grantPublish(role, '<agentId>'))`
        : `PutEvents refused the entry`;
  return new PublishError(`${hint}: ${code}: ${message}`, [
    { index, errorCode: code, errorMessage: message },
  ]);
}

/** A clear error for a failed PutEvents call (after the SDK's own retries). */
export function callError(error: unknown, entry: PutEventsRequestEntry): Error {
  const name = (error as { name?: string } | undefined)?.name ?? '';
  const message = (error as Error | undefined)?.message ?? String(error);
  const bus = entry.EventBusName ?? 'default';
  if (name === 'CredentialsProviderError' || /credential/i.test(message)) {
    return new CredentialsError(
      `no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (${message})`,
    );
  }
  if (/region is missing/i.test(message)) {
    return new PublishError('no AWS region: set AWS_REGION (or a profile with a region)', [], {
      cause: error,
    });
  }
  if (name === 'ResourceNotFoundException') {
    return new PublishError(
      `event bus "${bus}" does not exist in this account and region (ResourceNotFoundException): check the bus name and AWS_REGION`,
      [],
      { cause: error },
    );
  }
  if (name === 'AccessDeniedException') {
    return new PublishError(
      `not allowed to publish as ${entry.Source} on bus "${bus}" (AccessDeniedException): the agent's role needs grantPublish(role, '<agentId>')`,
      [],
      { cause: error },
    );
  }
  return new PublishError(`PutEvents failed: ${name ? `${name}: ` : ''}${message}`, [], { cause: error });
}
