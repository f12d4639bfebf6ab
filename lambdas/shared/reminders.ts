/**
 * Reminders and escalation without polling: when a review starts, the Review
 * step schedules one-off wake-ups (EventBridge Scheduler `at(...)` schedules in
 * AWS, timers in the sandbox) at the times policy set, each invoking the
 * reminder handler with a {@link ReminderPayload}. A wake-up for a request that
 * is no longer PENDING does nothing.
 */
import type { ReviewPlan } from './store.js';

/** What a scheduled wake-up carries (the Scheduler target's `Input`). */
export interface ReminderPayload {
  kind: 'reminder' | 'escalation';
  requestId: string;
  /** Seconds before expiry this wake-up was set for. */
  beforeSeconds: number;
}

/** The scheduling port the review core uses; `at` is an absolute time. */
export interface ReminderScheduler {
  schedule(at: Date, payload: ReminderPayload): Promise<void>;
}

/**
 * When to wake up, for a review that expires at `expiresAt`: one reminder per
 * `remindBeforeSeconds`, and — when the plan names someone to escalate to —
 * one escalation halfway between the last reminder and expiry (without
 * reminders: when 90 % of the review window has passed). Times already past
 * are dropped.
 */
export function wakeUps(
  plan: Pick<ReviewPlan, 'remindBeforeSeconds' | 'escalateTo' | 'timeoutSeconds'>,
  expiresAt: Date,
  now: Date,
): { at: Date; payload: Omit<ReminderPayload, 'requestId'> }[] {
  const out: { at: Date; payload: Omit<ReminderPayload, 'requestId'> }[] = [];
  const reminders = [...new Set(plan.remindBeforeSeconds ?? [])].filter((s) => s > 0).sort((a, b) => b - a);
  for (const before of reminders)
    out.push({
      at: new Date(expiresAt.getTime() - before * 1000),
      payload: { kind: 'reminder', beforeSeconds: before },
    });
  if ((plan.escalateTo ?? []).length > 0) {
    const last = reminders.at(-1);
    const before = Math.max(1, Math.round(last !== undefined ? last / 2 : plan.timeoutSeconds * 0.1));
    out.push({
      at: new Date(expiresAt.getTime() - before * 1000),
      payload: { kind: 'escalation', beforeSeconds: before },
    });
  }
  return out.filter((w) => w.at.getTime() > now.getTime());
}

/** A Scheduler schedule name for a wake-up: at most 64 of `[0-9a-zA-Z-_.]`, unique per request and wake-up. */
export function scheduleName(hash: string, payload: Omit<ReminderPayload, 'requestId'>): string {
  return `countersign-${hash.slice(0, 32)}-${payload.kind}-${payload.beforeSeconds}`.slice(0, 64);
}
