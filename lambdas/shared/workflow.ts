/**
 * Shapes that travel through the approval workflow's state. State names are a
 * contract too: the local runner overrides Lambda tasks by name.
 */
import type { RateLimitVerdict, ReviewPlan } from './store.js';

/** Names of the workflow's states. */
export const STATE = {
  evaluate: 'Evaluate',
  outcome: 'Outcome',
  review: 'Review',
  record: 'Record',
  announce: 'Announce',
  announceFailClosed: 'AnnounceFailClosed',
  duplicate: 'DuplicateIgnored',
  recordFailed: 'RecordFailed',
  announceFailed: 'AnnounceFailed',
} as const;

/** Error names the interaction handler uses with SendTaskFailure. */
export const REVIEW_ERROR = {
  denied: 'Countersign.Denied',
  cancelled: 'Countersign.Cancelled',
} as const;

/**
 * The error Record throws when it could not post a break-glass approval's
 * broadcast or post-hoc review item; the workflow retries Record on it.
 */
export const BREAK_GLASS_NOTICE_ERROR = 'Countersign.BreakGlassNoticeFailed';

/** What Evaluate returns (stored at `$.evaluation`). */
export interface Evaluation {
  requestId: string;
  outcome: 'allow' | 'deny' | 'review' | 'duplicate';
  agentId: string;
  intentHash: string;
  reason: string;
  policies: string[];
  /** Present when outcome is `review`. */
  review?: ReviewPlan;
  /** Present when the intent was denied on its agent's request quota (Record posts the flood alert). */
  rateLimited?: RateLimitVerdict;
}

/** The EventBridge event as the workflow receives it. */
export interface BusEvent {
  id?: string;
  source?: string;
  'detail-type'?: string;
  time?: string;
  detail?: unknown;
}

/** The workflow state as Evaluate and Record receive it. */
export interface WorkflowState extends BusEvent {
  executionId?: string;
  evaluation?: Evaluation;
  review?: { status?: string; intentId?: string };
  failure?: { Error?: string; Cause?: string };
}
