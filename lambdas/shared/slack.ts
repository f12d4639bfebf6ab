/**
 * The Slack Web API clients the handlers use. Two profiles: the background
 * client of handlers with a whole Lambda invocation to spend (Review, Record,
 * Reminder), and the answer-window client of the interaction handler, which
 * must answer Slack within 3 s (and open a modal before the `trigger_id`
 * expires, also 3 s). Each handler builds its client once per cold start.
 */
import { type RetryOptions, WebClient } from '@slack/web-api';

/**
 * Bounded retries. A 429 makes the client wait for the `Retry-After` seconds
 * Slack sends (the client pauses its queue for that long, because
 * `rejectRateLimitedCalls` is false), then retry; network errors and 5xx are
 * retried with a short back-off. The library default (ten retries over about
 * thirty minutes) would outlive any Lambda invocation.
 */
export const SLACK_RETRY: RetryOptions = {
  retries: 2,
  factor: 2,
  minTimeout: 100,
  maxTimeout: 1_000,
  randomize: true,
};

/** Per-request timeout in milliseconds; a hung connection must not eat the invocation. */
export const SLACK_TIMEOUT_MS = 5_000;

/** One retry after a short pause: a second attempt fits the answer window, a third would not. */
export const SLACK_WINDOW_RETRY: RetryOptions = {
  retries: 1,
  factor: 1,
  minTimeout: 50,
  maxTimeout: 50,
  randomize: false,
};

/** Per-request timeout inside the answer window. */
export const SLACK_WINDOW_TIMEOUT_MS = 1_000;

/**
 * What the interaction handler may spend on Slack calls per invocation, from
 * its start: Slack wants the answer (and `views.open`) within 3 s, and the
 * rest of the answer (DynamoDB, Step Functions) needs a margin.
 */
export const SLACK_WINDOW_BUDGET_MS = 2_300;

/**
 * The per-invocation deadline of the answer-window client. The client is
 * built once per cold start; the handler calls {@link AnswerWindow.open} at the
 * start of every invocation. A call after the deadline fails at once, and one
 * in flight is aborted when the deadline passes, so a slow Slack cannot hold
 * the answer past the window.
 */
export interface AnswerWindow {
  /** Starts a window of `budgetMs` from now (default {@link SLACK_WINDOW_BUDGET_MS}). */
  open(budgetMs?: number): void;
  /** Milliseconds left, or `undefined` when no window is open. */
  remaining(): number | undefined;
}

/** A fresh, closed answer window. */
export function answerWindow(clock: () => number = Date.now): AnswerWindow {
  let deadline: number | undefined;
  return {
    open(budgetMs = SLACK_WINDOW_BUDGET_MS) {
      deadline = clock() + budgetMs;
    },
    remaining: () => (deadline === undefined ? undefined : deadline - clock()),
  };
}

/** Thrown (and not retried usefully) when a Slack call would start after the window closed. */
export class AnswerWindowSpentError extends Error {
  constructor() {
    super('the Slack answer window is spent');
    this.name = 'AnswerWindowSpentError';
  }
}

const baseUrl = (apiUrl?: string) =>
  apiUrl ? { slackApiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/` } : {};

/**
 * Builds the background Web API client for a bot token. `apiUrl` points it at
 * another Slack API base (the local fake Slack in tests and the sandbox); it
 * defaults to Slack itself.
 */
export function createSlackClient(token: string, apiUrl?: string): WebClient {
  return new WebClient(token, {
    ...baseUrl(apiUrl),
    retryConfig: SLACK_RETRY,
    rejectRateLimitedCalls: false,
    timeout: SLACK_TIMEOUT_MS,
  });
}

/**
 * Builds the card poster's client: a 429 is rejected at once (with Slack's
 * `Retry-After`) instead of waited out inside the client, because the poster
 * paces the channel itself and decides whether the wait fits its time.
 * Network errors and 5xx are retried as for {@link createSlackClient}.
 */
export function createPosterSlackClient(token: string, apiUrl?: string): WebClient {
  return new WebClient(token, {
    ...baseUrl(apiUrl),
    retryConfig: SLACK_RETRY,
    rejectRateLimitedCalls: true,
    timeout: SLACK_TIMEOUT_MS,
  });
}

/**
 * Builds the answer-window client: about 1 s per request, one retry, and a
 * 429 rejected at once (waiting out `Retry-After` would miss the window; the
 * caller answers with an apology and nothing changes). With `window`, every
 * request is also bounded by the invocation's deadline.
 */
export function createWindowSlackClient(token: string, apiUrl?: string, window?: AnswerWindow): WebClient {
  return new WebClient(token, {
    ...baseUrl(apiUrl),
    retryConfig: SLACK_WINDOW_RETRY,
    rejectRateLimitedCalls: true,
    timeout: SLACK_WINDOW_TIMEOUT_MS,
    ...(window ? { fetch: windowedFetch(window) } : {}),
  });
}

function windowedFetch(window: AnswerWindow): typeof fetch {
  return async (input, init) => {
    const left = window.remaining();
    if (left === undefined) return fetch(input, init);
    if (left <= 0) throw new AnswerWindowSpentError();
    const signals = [AbortSignal.timeout(left), ...(init?.signal ? [init.signal] : [])];
    return fetch(input, { ...init, signal: AbortSignal.any(signals) });
  };
}
