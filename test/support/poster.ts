/**
 * The card poster's dependencies for tests that run its core directly: a
 * real Slack client against the fake Slack, the table on dynalite, the real
 * clock and timers (or injected ones), and runs recorded instead of invoked.
 */
import type { WebClient } from '@slack/web-api';
import type { PosterDeps } from '../../lambdas/poster/core.js';
import type { StoreDeps } from '../../lambdas/shared/store.js';

/** Poster deps over a store and a Slack client; every field can be overridden. */
export function posterDeps(
  store: StoreDeps & { now?: () => Date },
  slack: Pick<WebClient, 'chat'>,
  overrides: Partial<PosterDeps> = {},
): PosterDeps & { reruns: string[]; failures: { requestId: string; reason: string }[] } {
  const reruns: string[] = [];
  const failures: { requestId: string; reason: string }[] = [];
  return {
    ddb: store.ddb,
    table: store.table,
    now: store.now ?? (() => new Date()),
    slack: async () => slack,
    pace: { ratePerSecond: 1000, burst: 1000 },
    backlogThreshold: 20,
    leaseMs: 30_000,
    holder: `test-${Math.random().toString(36).slice(2)}`,
    remainingMs: () => 60_000,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    kickAgain: async (channel) => {
      reruns.push(channel);
    },
    failReview: async (request, reason) => {
      failures.push({ requestId: request.intentId, reason });
    },
    reruns,
    failures,
    ...overrides,
  };
}
