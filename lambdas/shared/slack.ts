/**
 * The Slack Web API clients the handlers use. Two profiles: the background
 * client of handlers with a whole Lambda invocation to spend (Review, Record,
 * Reminder), and the answer-window client of the interaction handler, which
 * must answer Slack within 3 s (and open a modal before the `trigger_id`
 * expires, also 3 s). Each handler builds its client once per cold start.
 */
import { ErrorCode, type RetryOptions, WebClient } from '@slack/web-api';

/**
 * Bounded retries of network errors and 5xx, with a short back-off. The
 * library default (ten retries over about thirty minutes) would outlive any
 * Lambda invocation. A 429 is waited out before these retries are counted
 * (see {@link SLACK_RATE_LIMIT_BUDGET_MS}); once that budget is spent, the
 * library waits `Retry-After` itself and counts each wait as one of these.
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

/**
 * How long one background call may spend waiting out 429s, in milliseconds.
 * Slack limits `chat.postMessage` to about one message per second per channel:
 * when several Review tasks post to one channel at once, each is answered 429
 * with `Retry-After` and waits its turn. Counting those waits as retries would
 * fail the third card in line; a time budget lets a short queue drain and still
 * ends well inside the handlers' 30 s timeout (then the call fails and the
 * workflow ends it as an audited denial).
 */
export const SLACK_RATE_LIMIT_BUDGET_MS = 20_000;

/**
 * Extra random wait after `Retry-After`, in milliseconds: callers refused at
 * the same moment are told the same whole second, and would otherwise all
 * retry together and be refused together again.
 */
export const SLACK_RATE_LIMIT_JITTER_MS = 1_000;

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
    fetch: retryAfterFetch(),
  });
}

/** Options of {@link retryAfterFetch}; tests inject the sleep and the randomness. */
export interface RetryAfterOptions {
  budgetMs?: number;
  jitterMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/**
 * A `fetch` that waits out a 429: it sleeps `Retry-After` seconds plus a random
 * jitter and sends the same request again, never sooner than Slack asked, for
 * as long as the waits fit in the budget. Each attempt gets its own timeout
 * (the library's signal is armed once per attempt and would expire during the
 * wait). When the next wait would not fit, the 429 goes back to the library.
 */
export function retryAfterFetch(options: RetryAfterOptions = {}): typeof fetch {
  const budget = options.budgetMs ?? SLACK_RATE_LIMIT_BUDGET_MS;
  const jitter = options.jitterMs ?? SLACK_RATE_LIMIT_JITTER_MS;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  return async (input, init) => {
    let spent = 0;
    let response = await fetch(input, init);
    for (;;) {
      if (response.status !== 429) return response;
      const seconds = Number(response.headers.get('retry-after'));
      if (!Number.isFinite(seconds) || seconds < 0) return response;
      const wait = seconds * 1000 + Math.floor(random() * jitter);
      if (spent + wait > budget) return response;
      await response.body?.cancel();
      await sleep(wait);
      spent += wait;
      const { signal: _armed, ...rest } = init ?? {};
      response = await fetch(input, { ...rest, signal: AbortSignal.timeout(SLACK_TIMEOUT_MS) });
    }
  };
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

/** Slack answered 429 to a client that rejects rate-limited calls (the poster's, the answer window's). */
export const isSlackRateLimited = (error: unknown): error is { retryAfter: number } =>
  (error as { code?: string })?.code === ErrorCode.RateLimitedError;
