/**
 * One assertion for every test that builds Slack content: the blocks (or the
 * message, or the modal) fit Slack's limits, checked by the same code the fake
 * Slack uses to answer `invalid_blocks` (sandbox/slack-limits.ts).
 */
import { expect } from 'vitest';
import { messageProblems, viewProblems } from '../../sandbox/slack-limits.js';

/** Fails with every broken limit when `blocks` (a message's) or a modal `view` would be refused by Slack. */
export function assertSlackLimits(
  content: unknown[] | { text?: string; blocks?: unknown[] } | { type: 'modal'; blocks: unknown[] },
): void {
  const problems = Array.isArray(content)
    ? messageProblems({ blocks: content })
    : 'type' in content && content.type === 'modal'
      ? viewProblems(content)
      : messageProblems(content);
  expect(problems.map((p) => `${p.error} at ${p.path}: ${p.message}`)).toEqual([]);
}
