/** Evidence export: rows and summary over the fixture trail, RFC 4180 CSV, JSON Lines. */
import { describe, expect, it } from 'vitest';
import { buildEvidence, CSV_COLUMNS, csvField, quantile, toCsv, toJsonl } from '../../audit/export.js';
import { type AuditRecord, GENESIS_HASH } from '../../lambdas/shared/audit.js';
import { trailScript } from './trail-fixture.js';

/** The fixture's records as the verifier returns them (hash values do not matter to the export). */
function fixtureRecords(): AuditRecord[] {
  return trailScript().flatMap((request) =>
    request.steps.map((step, i) => ({
      v: 1 as const,
      requestId: request.requestId,
      seq: i + 1,
      at: step.at,
      kind: step.kind,
      actor: step.actor,
      intentHash: request.intentHash,
      data: step.data,
      prevHash: GENESIS_HASH,
      hash: GENESIS_HASH,
    })),
  );
}

/** A strict RFC 4180 parser, to prove the CSV round-trips. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else if (c === '"' || c === '\n' || c === '\r') throw new Error(`bare ${JSON.stringify(c)} at ${i}`);
    else field += c;
    i++;
  }
  if (field !== '' || row.length) throw new Error('missing final CRLF');
  return rows;
}

describe('buildEvidence', () => {
  const { rows, summary } = buildEvidence(fixtureRecords(), {
    from: new Date('2025-03-04T00:00:00Z'),
    to: new Date('2025-03-05T00:00:00Z'),
  });

  it('builds one row per request from the requested and final records', () => {
    expect(rows.map((r) => [r.requestId, r.outcome, r.automatic, r.timeToDecisionSeconds])).toEqual([
      ['req-alpha-0001', 'APPROVED', false, 900],
      ['req-bravo-0002', 'APPROVED', true, 1],
      ['req-charlie-0003', 'EXPIRED', true, 3600],
      ['invalid-evt-0004', 'DENIED', true, 0.5],
      ['req-echo-0005', 'CANCELLED', false, 900],
    ]);
    expect(rows[0]).toMatchObject({
      agent: 'deploy-bot',
      model: 'claude-test',
      owner: 'olu@example.com',
      onBehalfOf: 'dana@example.com',
      action: 'iam:AttachRolePolicy',
      environment: 'prod',
      policies: ['prod-iam-review'],
      approvers: [{ slackUserId: 'U0SEC', email: 'sam@example.com', at: '2025-03-04T10:05:00.000Z' }],
      requestedAt: '2025-03-04T09:50:00.000Z',
      decidedAt: '2025-03-04T10:05:00.000Z',
    });
    expect(rows[0]!.intentHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(rows[3]).toMatchObject({
      agent: 'broken-bot',
      action: '',
      reason: 'invalid intent',
      policies: [],
    });
  });

  it('summarizes counts by outcome, median and p90 time to decision, and the automatic share', () => {
    expect(summary).toEqual({
      from: '2025-03-04T00:00:00.000Z',
      to: '2025-03-05T00:00:00.000Z',
      requests: 5,
      byOutcome: { APPROVED: 2, DENIED: 1, EXPIRED: 1, CANCELLED: 1, PENDING: 0 },
      decided: 5,
      timeToDecisionSeconds: { median: 900, p90: 3600 },
      automatic: 3,
      automaticShare: 0.6,
    });
  });

  it('keeps only requests created in [from, to), and shows an undecided one as PENDING', () => {
    const records = fixtureRecords().filter(
      (r) => !(r.requestId === 'req-echo-0005' && r.kind === 'cancelled'),
    );
    const window = buildEvidence(records, {
      from: new Date('2025-03-04T10:00:00Z'),
      to: new Date('2025-03-04T12:00:00Z'),
    });
    expect(window.rows.map((r) => r.requestId)).toEqual([
      'req-bravo-0002',
      'req-charlie-0003',
      'invalid-evt-0004',
      'req-echo-0005',
    ]);
    expect(window.rows[3]).toMatchObject({
      outcome: 'PENDING',
      automatic: null,
      decidedAt: null,
      timeToDecisionSeconds: null,
    });
    expect(window.summary.byOutcome.PENDING).toBe(1);
    expect(window.summary.decided).toBe(3);
    expect(window.summary.timeToDecisionSeconds).toEqual({ median: 1, p90: 3600 });
  });

  it('writes RFC 4180 CSV that round-trips commas, quotes and newlines', () => {
    const csv = toCsv(rows);
    const parsed = parseCsv(csv);
    expect(parsed[0]).toEqual([...CSV_COLUMNS]);
    expect(parsed).toHaveLength(6);
    expect(parsed.every((r) => r.length === CSV_COLUMNS.length)).toBe(true);
    expect(parsed[1]![6]).toBe('arn:aws:iam::111122223333:role/app, "prod"');
    expect(csv).toContain('"arn:aws:iam::111122223333:role/app, ""prod"""');
    expect(parsed[5]![6]).toBe('i-0abc\nline two');
    expect(parsed[1]![9]).toBe('sam@example.com 2025-03-04T10:05:00.000Z');
    expect(parsed[2]![11]).toBe('true');
  });

  it('writes JSON Lines, one row object per line', () => {
    const lines = toJsonl(rows).trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(JSON.parse(lines[4]!)).toEqual(rows[4]);
  });
});

describe('export helpers', () => {
  it('quotes a CSV field only when it must', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\r\nlines')).toBe('"two\r\nlines"');
    expect(csvField('=SUM(A1)')).toBe('=SUM(A1)');
  });

  it('takes nearest-rank quantiles', () => {
    expect(quantile([], 0.5)).toBeNull();
    expect(quantile([5], 0.9)).toBe(5);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5)).toBe(5);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9);
  });
});
