/**
 * The poster's settings from its environment, read once at cold start (a bad
 * value fails the cold start, naming the variable). The stack sets them from
 * the `cardQueue` config; the defaults are Slack's documented per-channel
 * posting limit (about one message a second, short bursts tolerated).
 */
import { optionalEnv } from '../shared/env.js';
import { type Pace, paceProblem } from './token-bucket.js';

/** Cards a second per channel. */
export const DEFAULT_RATE_PER_SECOND = 1;
/** Cards that may go out back to back. */
export const DEFAULT_BURST = 3;
/** More waiting cards than this show the queue message instead. */
export const DEFAULT_BACKLOG_THRESHOLD = 20;
/** A drainer's lease: renewed before every card, so only a crashed poster's lease runs out. */
export const LEASE_MS = 30_000;
/** Time budget of one run outside Lambda (the sandbox), which has no `getRemainingTimeInMillis`. */
export const LOCAL_BUDGET_MS = 60_000;

/** Environment variables of the poster. */
export const POSTER_ENV = {
  ratePerSecond: 'COUNTERSIGN_CARD_RATE_PER_SECOND',
  burst: 'COUNTERSIGN_CARD_BURST',
  backlogThreshold: 'COUNTERSIGN_CARD_BACKLOG_THRESHOLD',
} as const;

function numberEnv(name: string, fallback: number): number {
  const raw = optionalEnv(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number, got "${raw}"`);
  return value;
}

/** Pace, backlog threshold, lease and local budget from the environment. */
export function paceFromEnv(): {
  pace: Pace;
  backlogThreshold: number;
  leaseMs: number;
  localBudgetMs: number;
} {
  const pace = {
    ratePerSecond: numberEnv(POSTER_ENV.ratePerSecond, DEFAULT_RATE_PER_SECOND),
    burst: numberEnv(POSTER_ENV.burst, DEFAULT_BURST),
  };
  const problem = paceProblem(pace);
  if (problem) throw new Error(`card pace refused: ${problem}`);
  const backlogThreshold = numberEnv(POSTER_ENV.backlogThreshold, DEFAULT_BACKLOG_THRESHOLD);
  if (!Number.isInteger(backlogThreshold) || backlogThreshold < 1)
    throw new Error(`${POSTER_ENV.backlogThreshold} must be a whole number of at least 1`);
  return { pace, backlogThreshold, leaseMs: LEASE_MS, localBudgetMs: LOCAL_BUDGET_MS };
}
