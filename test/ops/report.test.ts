/**
 * `countersign audit report` end to end on dynalite + s3rver: the report is
 * built from the verified trail only, its figures equal `audit export`'s
 * summary, it states the verification it ran (and that command gives the
 * same answer), names the public key's fingerprint, maps every control, opens
 * with no network, says FAILED over a tampered trail, and prints to PDF.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReportFigures } from '../../audit/report/figures.js';
import { escapeHtml, renderReport } from '../../audit/report/html.js';
import { main } from '../../cli/main.js';
import { publicKeyFingerprint } from '../../lambdas/shared/digest.js';
import { p256, snapshotBucket, writeTrail } from '../audit/trail-fixture.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';

let aws: LocalAws;
let dir: string;
let saved: NodeJS.ProcessEnv;
const keys = p256();
const PERIOD = ['--from', '2025-03-04T09:00:00Z', '--to', '2025-03-04T13:00:00Z'];

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), cwd: dir });
  return { code, out, err };
}

/** The `data-figure` values of a report page. */
function figures(html: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const m of html.matchAll(/data-figure="([a-z0-9-]+)"[^>]*>([^<]*)</g)) found[m[1]!] ??= m[2]!;
  return found;
}

beforeAll(async () => {
  saved = { ...process.env };
  aws = await startLocalAws({ table: 'ops-report', bucket: 'ops-report' });
  Object.assign(process.env, aws.env(), { AWS_EC2_METADATA_DISABLED: 'true' });
  dir = await mkdtemp(join(tmpdir(), 'countersign-report-'));
  await writeFile(
    join(dir, 'digest-key.b64'),
    `${keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}\n`,
  );
  await writeTrail(aws, keys.signer);
});

afterAll(async () => {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
  Object.assign(process.env, saved);
  await aws?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('countersign audit report', () => {
  it('writes a self-contained report whose figures equal audit export’s summary', async () => {
    // Act
    const report = await run(
      'audit',
      'report',
      '--bucket',
      aws.bucket,
      '--public-key',
      'digest-key.b64',
      ...PERIOD,
      '--out',
      'report.html',
    );
    const exported = await run(
      'audit',
      'export',
      '--bucket',
      aws.bucket,
      '--public-key',
      'digest-key.b64',
      ...PERIOD,
      '--format',
      'jsonl',
      '--summary',
      'summary.json',
    );

    // Assess
    expect(report.code).toBe(0);
    expect(report.out).toEqual([`report: ${join(dir, 'report.html')}`]);
    const html = await readFile(join(dir, 'report.html'), 'utf8');
    const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8'));
    expect(exported.code).toBe(0);
    const f = figures(html);
    expect({
      requests: Number(f.requests),
      APPROVED: Number(f.approved),
      DENIED: Number(f.denied),
      EXPIRED: Number(f.expired),
      CANCELLED: Number(f.cancelled),
      PENDING: Number(f.pending),
      decided: Number(f.decided),
      automatic: Number(f.automatic),
      median: Number(f['median-seconds']),
      p90: Number(f['p90-seconds']),
    }).toEqual({
      requests: summary.requests,
      ...summary.byOutcome,
      decided: summary.decided,
      automatic: summary.automatic,
      median: summary.timeToDecisionSeconds.median,
      p90: summary.timeToDecisionSeconds.p90,
    });
    expect(summary.requests).toBe(5);
    expect(f.verified).toBe('true');
    expect(f['key-fingerprint']).toBe(`sha256:${publicKeyFingerprint(keys.publicKey)}`);
  });

  it('states the verification it ran: that command, run by an auditor, gives the same answer', async () => {
    const html = await readFile(join(dir, 'report.html'), 'utf8');
    const command = /Re-run it: <code>([^<]+)<\/code>/.exec(html)?.[1];
    expect(command).toBe(
      `countersign audit verify --bucket ${aws.bucket} --public-key digest-key.b64 --from 2025-03-04T09:00:00.000Z --to 2025-03-04T13:00:00.000Z`,
    );
    const rerun = await run(...command!.split(' ').slice(1));
    expect(rerun.code).toBe(0);
    expect(html).toContain(`Result: <code>${escapeHtml(rerun.out.join(' | '))}</code>`);
  });

  it('maps every control, shows the charts, and needs no network to open', async () => {
    const html = await readFile(join(dir, 'report.html'), 'utf8');
    for (const id of [
      'CC6.1',
      'CC6.2',
      'CC6.3',
      'CC7.2',
      'CC8.1',
      'AC-2',
      'AC-3',
      'AC-5',
      'AC-6',
      'AU-2',
      'AU-3',
      'AU-9',
      'AU-10',
      'AU-11',
      'AU-12',
    ])
      expect(html, id).toContain(`id="control-${id}"`);
    for (const chart of [
      'over-time',
      'time-to-decision',
      'approver-load',
      'top-agents',
      'top-actions',
      'break-glass',
      'unapproved',
    ])
      expect(html, chart).toContain(`id="chart-${chart}"`);
    // The one expired request is an exception of the monitoring control, named by id.
    expect(html).toMatch(
      /<section class="control" id="control-CC7.2">[\s\S]*?1 requests expired unanswered and were denied \(req-charlie-0003\)/,
    );
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
    expect(html).not.toMatch(/<script|<link|<img|src=|url\(/i);
  });

  it('over a tampered trail the report says FAILED, lists the problem, and the command exits 1', async () => {
    // Prepare: a second bucket copy with one record changed.
    const objects = await snapshotBucket(aws.s3, aws.bucket);
    const key = [...objects.keys()].find((k) => k.startsWith('records/'))!;
    const original = objects.get(key)!;
    await aws.s3.send(
      new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: original.replace('"seq":1', '"seq":1 ') }),
    );
    try {
      // Act
      const result = await run(
        'audit',
        'report',
        '--bucket',
        aws.bucket,
        '--public-key',
        'digest-key.b64',
        ...PERIOD,
        '--out',
        'tampered.html',
      );

      // Assess
      expect(result.code).toBe(1);
      const html = await readFile(join(dir, 'tampered.html'), 'utf8');
      expect(figures(html).verified).toBe('false');
      expect(html).toContain('Verification FAILED');
      expect(html).toMatch(/modified: record records\/[^<]+/);
      expect(result.err.join('\n')).toMatch(/verification FAILED/);
    } finally {
      await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: original }));
    }
  });

  it('--pdf prints the report through chromium', async () => {
    const result = await run(
      'audit',
      'report',
      '--bucket',
      aws.bucket,
      '--public-key',
      'digest-key.b64',
      ...PERIOD,
      '--out',
      'print.html',
      '--pdf',
    );
    expect(result.code).toBe(0);
    expect(result.out).toContain(`pdf: ${join(dir, 'print.pdf')}`);
    const pdf = await readFile(join(dir, 'print.pdf'));
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.length).toBeGreaterThan(10_000);
  }, 120_000);

  it('refuses a report without a public key or a period, changing nothing', async () => {
    const noKey = await run('audit', 'report', '--bucket', aws.bucket, ...PERIOD);
    expect(noKey.code).toBe(2);
    expect(noKey.err.join('\n')).toMatch(/--public-key FILE is required/);
    const noPeriod = await run('audit', 'report', '--bucket', aws.bucket, '--public-key', 'digest-key.b64');
    expect(noPeriod.code).toBe(2);
    expect(noPeriod.err.join('\n')).toMatch(/--from and --to are required/);
  });
});

describe('the report page', () => {
  it('shows agent-written text as text: names, actions and ids never become markup', () => {
    const hostile = '<img src=x onerror=alert(1)><script>fetch("https://evil.example")</script>';
    const figuresIn = buildReportFigures({
      verify: {
        ok: true,
        problems: [],
        warnings: [],
        digestCount: 0,
        recordCount: 1,
        requestCount: 1,
        pendingCount: 0,
        signaturesChecked: true,
        records: [
          {
            v: 1,
            requestId: 'req-x',
            seq: 1,
            at: '2025-03-04T10:00:00.000Z',
            kind: 'requested',
            actor: { type: 'agent', source: 'countersign.agent.x', agentId: hostile },
            intentHash: 'sha256:x',
            data: { intent: { action: hostile, resource: hostile, environment: hostile, agent: {} } },
            prevHash: '0'.repeat(64),
            hash: 'f'.repeat(64),
          },
        ],
      },
      from: new Date('2025-03-04T00:00:00Z'),
      to: new Date('2025-03-05T00:00:00Z'),
      keyFingerprints: ['ab'],
      command: 'countersign audit verify',
      source: hostile,
    });
    const html = renderReport(figuresIn);
    expect(html).not.toMatch(/<img|<script/i);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('unapproved actions in the report', () => {
  it('counts the detector’s CloudTrail findings of the period as exceptions, with their ids, and only those', () => {
    const verify = (records: unknown[]) => ({
      ok: true,
      problems: [],
      warnings: [],
      digestCount: 0,
      recordCount: records.length,
      requestCount: records.length,
      pendingCount: 0,
      signaturesChecked: true,
      records,
    });
    const finding = (requestId: string, at: string) => ({
      v: 1,
      requestId,
      seq: 1,
      at,
      kind: 'unapproved-action',
      actor: { type: 'system', component: 'detector' },
      intentHash: 'sha256:none',
      data: { eventName: 'AttachRolePolicy', reasons: ['no consumed grant covers this call'] },
      prevHash: '0'.repeat(64),
      hash: 'e'.repeat(64),
    });
    const f = buildReportFigures({
      verify: verify([
        finding('unapproved-in-period', '2025-03-04T10:00:00.000Z'),
        finding('unapproved-before', '2025-03-03T10:00:00.000Z'),
      ]) as Parameters<typeof buildReportFigures>[0]['verify'],
      from: new Date('2025-03-04T00:00:00Z'),
      to: new Date('2025-03-05T00:00:00Z'),
      keyFingerprints: ['ab'],
      command: 'countersign audit verify',
      source: 'test',
    });
    expect(f.unapproved).toMatchObject({ count: 1, detected: 1, requestIds: ['unapproved-in-period'] });
    const html = renderReport(f);
    expect(html).toContain('1 calls found in CloudTrail with no approval behind them');
    expect(html).toContain('unapproved-in-period');
    expect(html).not.toContain('unapproved-before');
  });
});
