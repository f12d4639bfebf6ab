/**
 * Policy decision for an intent. This first rule sends every intent to review by
 * one member of the configured approver group; the Cedar policy set replaces it.
 */
import type { Intent } from './intent.js';
import type { ReviewPlan } from './store.js';

/** Defaults policy falls back to. */
export interface PolicyDefaults {
  approverGroup: string;
  timeoutSeconds: number;
}

/** The outcome of policy for one intent. */
export interface IntentVerdict {
  outcome: 'allow' | 'deny' | 'review';
  reason: string;
  policies: string[];
  review?: ReviewPlan;
  warnings: string[];
}

/** Evaluates an intent. */
export function evaluateIntent(
  _input: { intent: Intent; agentId: string },
  defaults: PolicyDefaults,
): IntentVerdict {
  return {
    outcome: 'review',
    reason: 'every privileged action needs one approval from the approver group',
    policies: ['default-review'],
    review: {
      quorum: 1,
      timeoutSeconds: defaults.timeoutSeconds,
      approverGroups: [defaults.approverGroup],
      approverEmails: [],
      policies: ['default-review'],
      masked: [],
      editable: [],
    },
    warnings: [],
  };
}
