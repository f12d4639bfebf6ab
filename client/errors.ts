/** Errors the agent client throws. Each has a stable `name` callers can switch on. */

/** The intent failed the local schema check; nothing was sent. */
export class IntentValidationError extends Error {
  override name = 'IntentValidationError';
  constructor(
    message: string,
    /** Each problem with the dotted path of the field it concerns. */
    readonly issues: { path: string; message: string }[],
  ) {
    super(message);
  }
}

/** The intent is larger than EventBridge accepts; nothing was sent. */
export class IntentTooLargeError extends Error {
  override name = 'IntentTooLargeError';
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`intent is ${bytes} bytes; the limit is ${limit} bytes (refused before sending)`);
  }
}

/** PutEvents failed for good: a non-retryable error, or retries ran out. */
export class PublishError extends Error {
  override name = 'PublishError';
  constructor(
    message: string,
    /** Entries that were never accepted, with the last error code of each. */
    readonly failed: { index: number; errorCode: string; errorMessage: string }[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The status API answered with an error (other than "not found yet"). */
export class StatusApiError extends Error {
  override name = 'StatusApiError';
  constructor(
    message: string,
    readonly httpStatus: number,
  ) {
    super(message);
  }
}

/** No decision arrived before the timeout. */
export class DecisionTimeoutError extends Error {
  override name = 'DecisionTimeoutError';
  constructor(
    readonly intentId: string,
    readonly timeoutMs: number,
    /** The last status seen (PENDING, or undefined when the request was never seen). */
    readonly lastStatus: string | undefined,
  ) {
    super(
      `no decision for ${intentId} within ${Math.round(timeoutMs / 1000)} s (last status: ${lastStatus ?? 'not yet recorded'})`,
    );
  }
}

/** No AWS credentials could be found for signing or publishing. */
export class CredentialsError extends Error {
  override name = 'CredentialsError';
}

/**
 * The intent id was already used by another intent (other content, or another
 * agent's): the workflow refused this intent instead of joining that request,
 * so no decision about that id is a decision about this intent.
 */
export class IntentConflictError extends Error {
  override name = 'IntentConflictError';
  constructor(
    readonly intentId: string,
    /** Hash of the intent this agent published. */
    readonly publishedHash: string,
    /** Hash of the intent the id already names; undefined when it is another agent's (not visible). */
    readonly existingHash: string | undefined,
    /** Where the refusal of this publication is recorded (status API and decision event), when known. */
    readonly refusalRequestId?: string,
    /** The workflow's reason, when the refusal was read. */
    readonly reason?: string,
  ) {
    super(
      `intent id ${intentId} already names another intent${existingHash ? ` (${existingHash})` : ''}, not the one published (${publishedHash}); ` +
        `it was refused, not joined${refusalRequestId ? ` (refusal recorded as request ${refusalRequestId})` : ''}: publish under a new intent id`,
    );
  }
}

/**
 * A decision arrived whose intent hash is neither the hash of the intent this
 * agent published nor of its approved modification: it approves something
 * else, and nothing may run on it.
 */
export class DecisionMismatchError extends Error {
  override name = 'DecisionMismatchError';
  constructor(
    readonly intentId: string,
    /** Hash of the intent this agent published. */
    readonly publishedHash: string,
    /** Hash the decision is bound to. */
    readonly decidedHash: string,
  ) {
    super(
      `the decision for ${intentId} is bound to ${decidedHash}, not to the intent published (${publishedHash}) or an approved modification of it: do not run it`,
    );
  }
}
