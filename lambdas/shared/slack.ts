/**
 * The Slack Web API client every handler uses. One factory, so the retry and
 * timeout behaviour is the same everywhere and fits inside a Lambda invocation
 * (and inside Slack's 3 s answer window for the interaction handler).
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

/**
 * Builds a Web API client for a bot token. `apiUrl` points it at another Slack
 * API base (the local fake Slack in tests and the sandbox); it defaults to
 * Slack itself.
 */
export function createSlackClient(token: string, apiUrl?: string): WebClient {
  return new WebClient(token, {
    ...(apiUrl ? { slackApiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/` } : {}),
    retryConfig: SLACK_RETRY,
    rejectRateLimitedCalls: false,
    timeout: SLACK_TIMEOUT_MS,
  });
}
