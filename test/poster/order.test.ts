/**
 * The card queue's order, as its sort key encodes it: fair across agents
 * first (each agent's first waiting request before anyone's second), then
 * most urgent, then soonest expiry, then oldest. And which entries are
 * posted above the backlog threshold: only each agent's first.
 */
import { describe, expect, it } from 'vitest';
import { postable, rankOf } from '../../lambdas/poster/core.js';
import { type QueueEntry, queueSortKey, urgencyOf } from '../../lambdas/shared/card-queue.js';

const key = (over: Partial<Parameters<typeof queueSortKey>[0]>) =>
  queueSortKey({
    rank: 1,
    urgency: 1,
    expiresAt: '2026-12-02T13:00:00.000Z',
    enqueuedAt: '2026-12-02T12:00:00.000Z',
    requestId: 'r',
    ...over,
  });
const sorted = (keys: Record<string, string>) =>
  Object.entries(keys)
    .sort(([, a], [, b]) => a.localeCompare(b))
    .map(([name]) => name);

describe('card queue order', () => {
  it('interleaves agents by rank: another agent’s first request goes before a flooder’s second', () => {
    expect(
      sorted({
        flooder1: key({ rank: 1, requestId: 'f1', enqueuedAt: '2026-12-02T11:00:00.000Z' }),
        flooder2: key({ rank: 2, requestId: 'f2', enqueuedAt: '2026-12-02T11:00:01.000Z' }),
        flooder3: key({ rank: 3, requestId: 'f3', enqueuedAt: '2026-12-02T11:00:02.000Z' }),
        other1: key({ rank: 1, requestId: 'o1', enqueuedAt: '2026-12-02T11:59:00.000Z' }),
      }),
    ).toEqual(['flooder1', 'other1', 'flooder2', 'flooder3']);
  });

  it('rank 10 sorts after rank 9 (fixed width), and absurd ranks are clamped', () => {
    expect(key({ rank: 9 }) < key({ rank: 10 })).toBe(true);
    expect(key({ rank: 5_000_000 })).toContain('#999999#');
    expect(key({ rank: -3 })).toContain('ITEM#000001#');
  });

  it('within a rank: urgent plans first, then the soonest expiry, then the oldest', () => {
    expect(
      sorted({
        normalLate: key({ expiresAt: '2026-12-02T18:00:00.000Z' }),
        normalSoon: key({ expiresAt: '2026-12-02T12:30:00.000Z' }),
        urgent: key({ urgency: 0, expiresAt: '2026-12-03T00:00:00.000Z' }),
        noExpiry: key({ expiresAt: undefined }),
        normalSoonNewer: key({
          expiresAt: '2026-12-02T12:30:00.000Z',
          enqueuedAt: '2026-12-02T12:00:05.000Z',
        }),
      }),
    ).toEqual(['urgent', 'normalSoon', 'normalSoonNewer', 'normalLate', 'noExpiry']);
  });

  it('step-up and multi-approver plans are urgent; the rest are not', () => {
    expect(urgencyOf({ review: { stepUp: { maxAgeSeconds: 300 } } as never })).toBe(0);
    expect(urgencyOf({ review: { quorum: 2 } as never })).toBe(0);
    expect(urgencyOf({ review: { quorum: 1 } as never })).toBe(1);
    expect(urgencyOf({})).toBe(1);
  });

  it('a hostile request id cannot reorder the queue: the id is the last part of the key', () => {
    const hostile = key({ rank: 2, requestId: 'ITEM#000000#0#0000' });
    const honest = key({ rank: 1, requestId: 'z' });
    expect(honest < hostile).toBe(true);
    expect(rankOf({ sk: hostile })).toBe(2);
  });

  it('above the backlog threshold only each agent’s first waiting request is posted', () => {
    const entry = (rank: number, agentId: string): QueueEntry => ({
      pk: 'CARDQUEUE#C1',
      sk: key({ rank, requestId: `${agentId}-${rank}` }),
      requestId: `${agentId}-${rank}`,
      agentId,
      agentKey: agentId,
      enqueuedAt: '2026-12-02T12:00:00.000Z',
    });
    const entries = [entry(1, 'a'), entry(1, 'b'), entry(2, 'a'), entry(3, 'a')];
    expect(postable(entries, 10).map((e) => e.requestId)).toEqual(['a-1', 'b-1', 'a-2', 'a-3']);
    expect(postable(entries, 3).map((e) => e.requestId)).toEqual(['a-1', 'b-1']);
  });
});
