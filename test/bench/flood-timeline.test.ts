import { describe, expect, it } from 'vitest';
import { busyRate, busySeconds, spans, timelineOf } from '../../bench/flood-timeline.js';
import type { AuditRecord } from '../../lambdas/shared/audit-record.js';

const record = (kind: AuditRecord['kind'], at: string, data: Record<string, unknown> = {}): AuditRecord => ({
  v: 1,
  requestId: 'r1',
  seq: 1,
  at,
  kind,
  actor: { type: 'system', component: 'test' },
  intentHash: 'h',
  data,
  prevHash: '0',
  hash: '1',
});

describe('flood bench timeline', () => {
  it('reads when a request was evaluated, queued and carded from its chain', () => {
    const t = timelineOf(Date.parse('2026-01-01T00:00:00.000Z'), [
      record('requested', '2026-01-01T00:00:01.000Z'),
      record('policy-evaluated', '2026-01-01T00:00:01.010Z'),
      record('card-posted', '2026-01-01T00:00:03.500Z', {
        channel: 'C1',
        queuedAt: '2026-01-01T00:00:01.200Z',
      }),
      record('card-posted', '2026-01-01T00:00:09.000Z', {
        channel: 'C2',
        queuedAt: '2026-01-01T00:00:08.000Z',
      }),
    ]);
    expect(t.evaluatedAt! - t.publishedAt).toBe(1000);
    expect(t.queuedAt! - t.publishedAt).toBe(1200);
    expect(t.postedAt! - t.publishedAt).toBe(3500);
    expect(t.channel).toBe('C1');
  });

  it('leaves out what a request never reached, and a card record without its queue time', () => {
    const denied = timelineOf(0, [record('requested', '1970-01-01T00:00:00.300Z')]);
    expect(denied).toEqual({ publishedAt: 0, evaluatedAt: 300 });
    const odd = timelineOf(0, [record('card-posted', '1970-01-01T00:00:01.000Z', { channel: 'C1' })]);
    expect(odd.postedAt).toBeUndefined();
    expect(spans([denied, odd], 'publishedAt', 'evaluatedAt')).toEqual([300]);
    expect(spans([denied, odd], 'queuedAt', 'postedAt')).toEqual([]);
  });

  it('counts overlapping busy intervals once and the gaps between them not at all', () => {
    expect(
      busySeconds([
        { from: 0, to: 2000 },
        { from: 1000, to: 3000 },
        { from: 5000, to: 6000 },
        { from: 5200, to: 5500 },
        { from: 7000, to: 7000 },
      ]),
    ).toBe(4);
    expect(busySeconds([])).toBe(0);
  });

  it('rates a channel over the time cards waited, not over its idle stretches', () => {
    // Two cards a minute apart, each posted a second after it was queued: one a second while busy.
    const rate = busyRate([
      { publishedAt: 0, queuedAt: 0, postedAt: 1000 },
      { publishedAt: 60_000, queuedAt: 60_000, postedAt: 61_000 },
      { publishedAt: 0, evaluatedAt: 10 },
    ]);
    expect(rate).toEqual({ cards: 2, busySeconds: 2, perSecond: 1 });
  });
});
