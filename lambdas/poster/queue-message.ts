/**
 * The channel's one "queue" message: shown instead of a wall of cards while
 * more reviews wait than the backlog threshold, updated in place as the queue
 * changes, and finally saying the queue is clear. Pure, so the text is tested
 * directly. Agent ids are agent-controlled strings: each is shown masked and
 * as an inert inline code span (inlineValue), like every agent value on a card;
 * the rest is Countersign's own words.
 */
import type { KnownBlock } from '@slack/types';
import { inlineValue } from '../shared/agent-text.js';
import type { QueueEntry } from '../shared/card-queue.js';
import { maskText } from '../shared/masking.js';

/** Agents named in the message (the rest are summed up). */
export const TOP_AGENTS = 3;
/** Longest agent id shown (inlineValue marks the cut). */
const AGENT_ID_MAX = 60;

/** What the queue message says. */
export interface QueueSummary {
  waiting: number;
  /** The agents with the most waiting, most first (at most {@link TOP_AGENTS}). */
  topAgents: { agentId: string; waiting: number }[];
  /** Agents beyond the top ones, and how many they have waiting. */
  otherAgents: number;
  otherWaiting: number;
  /** Age of the oldest waiting request, in seconds. */
  oldestSeconds: number;
}

/** Summarises the waiting entries at `nowMs`. */
export function summarize(entries: readonly QueueEntry[], nowMs: number): QueueSummary {
  const byAgent = new Map<string, number>();
  let oldest = nowMs;
  for (const entry of entries) {
    byAgent.set(entry.agentId, (byAgent.get(entry.agentId) ?? 0) + 1);
    const at = Date.parse(entry.enqueuedAt);
    if (Number.isFinite(at)) oldest = Math.min(oldest, at);
  }
  const ranked = [...byAgent.entries()]
    .map(([agentId, waiting]) => ({ agentId, waiting }))
    .sort((a, b) => b.waiting - a.waiting || a.agentId.localeCompare(b.agentId));
  const top = ranked.slice(0, TOP_AGENTS);
  const rest = ranked.slice(TOP_AGENTS);
  return {
    waiting: entries.length,
    topAgents: top,
    otherAgents: rest.length,
    otherWaiting: rest.reduce((n, a) => n + a.waiting, 0),
    oldestSeconds: Math.max(0, Math.round((nowMs - oldest) / 1000)),
  };
}

/** "3 min", "45 s", "2 h 5 min". */
export function age(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Where approvers see every waiting request: the web inbox, or how to list them without one. */
function whereToSee(webInboxUrl: string | undefined): string {
  const inbox = webInboxUrl?.replace(/\/+$/, '');
  return inbox
    ? `Review them in the <${inbox}|web inbox>, where every waiting request is listed.`
    : 'No web inbox is configured: list the waiting requests with `aws dynamodb query --index-name byStatus` on the Countersign table (status `PENDING`), and add `webInboxUrl` to review them outside Slack.';
}

/** The message while a backlog is shown. */
export function queueMessage(
  summary: QueueSummary,
  threshold: number,
  webInboxUrl?: string,
): { text: string; blocks: KnownBlock[] } {
  const agents = summary.topAgents.map(
    (a) => `• ${inlineValue(maskText(a.agentId), AGENT_ID_MAX)}: ${a.waiting} waiting`,
  );
  if (summary.otherAgents > 0)
    agents.push(
      `• ${summary.otherAgents} other agent${summary.otherAgents === 1 ? '' : 's'}: ${summary.otherWaiting} waiting`,
    );
  const text = `:inbox_tray: Countersign review queue: ${summary.waiting} reviews waiting, oldest ${age(summary.oldestSeconds)}.`;
  return {
    text,
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `:inbox_tray: *Countersign review queue* — *${summary.waiting}* reviews are waiting (oldest for ${age(summary.oldestSeconds)}). More than ${threshold} are waiting, so their cards are held back instead of filling this channel; each agent's first waiting request still gets its card here.`,
        },
      },
      { type: 'section', text: { type: 'mrkdwn', text: `*Waiting by agent*\n${agents.join('\n')}` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: whereToSee(webInboxUrl) }] },
    ],
  };
}

/** The message once the backlog is below the threshold again. */
export function queueClearMessage(waiting: number): { text: string; blocks: KnownBlock[] } {
  const text =
    waiting === 0
      ? ':white_check_mark: Countersign review queue is clear.'
      : `:white_check_mark: Countersign review queue is back to normal: the ${waiting} waiting reviews are posted as cards.`;
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
}
