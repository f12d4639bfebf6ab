/**
 * The Insights page and the audit report in a real browser (chromium driven
 * by playwright-core): a reviewer opens Insights from the approval console,
 * and both the page and the `audit report` file show exactly the figures of
 * `audit export`'s summary over the same sandbox trail and period.
 * Screenshots land in test/artifacts/ (docs/images/ holds copies).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { createSandboxServer, type SandboxServer } from '../../sandbox/server.js';
import { launchBrowser } from '../support/browser.js';
import { makeIntent } from '../support/fixtures.js';
import { decisionFor, eventually, newIntentId, publish, sharedLoop } from '../support/loop.js';

const ARTIFACTS = resolve(import.meta.dirname, '../artifacts');
const FIGURES = ['requests', 'approved', 'denied', 'expired', 'cancelled', 'pending', 'decided', 'automatic'];

let loop: CountersignLoop;
let server: SandboxServer;
let browser: Browser | undefined;
let dir: string;
let saved: NodeJS.ProcessEnv;

beforeAll(async () => {
  loop = await sharedLoop();
  server = await createSandboxServer(loop, { port: 0 });
  dir = await mkdtemp(join(tmpdir(), 'countersign-insights-'));
  await writeFile(join(dir, 'digest-public.pem'), loop.digests.key.publicKeyPem);
  saved = { ...process.env };
  Object.assign(process.env, loop.aws.env(), { AWS_EC2_METADATA_DISABLED: 'true' });
}, 180_000);

afterAll(async () => {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
  Object.assign(process.env, saved);
  await browser?.close();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  const err: string[] = [];
  const code = await main(argv, { out: () => {}, err: (l) => err.push(l), cwd: dir });
  return { code, err };
}

/** The `data-figure` values a page shows. */
async function pageFigures(page: Page): Promise<Record<string, string>> {
  return page.$$eval('[data-figure]', (nodes) => {
    const found: Record<string, string> = {};
    for (const node of nodes) {
      const name = node.getAttribute('data-figure')!;
      found[name] ??= node.textContent ?? '';
    }
    return found;
  });
}

/** export's summary of a period, as the names the pages use. */
async function exportSummary(from: string, to: string): Promise<Record<string, string>> {
  const run = await cli(
    'audit',
    'export',
    '--bucket',
    loop.aws.bucket,
    '--public-key',
    'digest-public.pem',
    '--from',
    from,
    '--to',
    to,
    '--format',
    'jsonl',
    '--out',
    'rows.jsonl',
    '--summary',
    'summary.json',
  );
  if (run.code !== 0) throw new Error(`audit export failed: ${run.err.join('\n')}`);
  const s = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8'));
  return {
    requests: String(s.requests),
    approved: String(s.byOutcome.APPROVED),
    denied: String(s.byOutcome.DENIED),
    expired: String(s.byOutcome.EXPIRED),
    cancelled: String(s.byOutcome.CANCELLED),
    pending: String(s.byOutcome.PENDING),
    decided: String(s.decided),
    automatic: String(s.automatic),
  };
}

const pick = (f: Record<string, string>) => Object.fromEntries(FIGURES.map((k) => [k, f[k]]));

describe('Insights and the audit report in chromium', () => {
  it('the Insights page, reached from the console, shows export’s summary of the sandbox trail', async () => {
    // Prepare: a dev read-only request through the bus, which policy allows at once.
    const intent = makeIntent({
      intentId: newIntentId(),
      action: 's3:GetObject',
      resource: 'arn:aws:s3:::dev-build-artifacts/payments/build-1842.log',
      environment: 'dev',
      parameters: { bucket: 'dev-build-artifacts', key: 'payments/build-1842.log' },
    });
    publish(loop, intent);
    await eventually(() => decisionFor(loop, intent.intentId), 60_000);
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));

    // Act: from the console to Insights; other tests' reviews may still be ending, so compare once the trail is still.
    await page.goto(`${server.url}/`);
    await page.click('a.insights-link');
    await page.waitForSelector('[data-figure="requests"]');
    let shown: Record<string, string> = {};
    let exported: Record<string, string> = {};
    for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt > 0) await page.reload();
      shown = await pageFigures(page);
      exported = await exportSummary(shown.from!, shown.to!);
      if (JSON.stringify(pick(shown)) === JSON.stringify(exported)) break;
    }

    // Assess
    expect(pick(shown)).toEqual(exported);
    expect(Number(shown.requests)).toBeGreaterThan(0);
    expect(shown.verified).toBe('true');
    expect(await page.textContent('body')).toContain(intent.intentId);
    expect(errors).toEqual([]);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'insights.png'), fullPage: false });
  }, 180_000);

  it('the audit report file opens offline and shows the same figures as export', async () => {
    // Prepare
    browser ??= await launchBrowser();
    const context = await browser.newContext({ offline: true, viewport: { width: 1280, height: 1600 } });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    let shown: Record<string, string> = {};
    let exported: Record<string, string> = {};

    // Act
    for (let attempt = 0; attempt < 5; attempt++) {
      const report = await cli(
        'audit',
        'report',
        '--bucket',
        loop.aws.bucket,
        '--public-key',
        'digest-public.pem',
        '--from',
        new Date(Date.now() - 86_400_000).toISOString(),
        '--to',
        new Date(Date.now() + 3_600_000).toISOString(),
        '--out',
        'report.html',
      );
      expect(report.code, report.err.join('\n')).toBe(0);
      await page.goto(pathToFileURL(join(dir, 'report.html')).href);
      shown = await pageFigures(page);
      exported = await exportSummary(shown.from!, shown.to!);
      if (JSON.stringify(pick(shown)) === JSON.stringify(exported)) break;
    }

    // Assess
    expect(pick(shown)).toEqual(exported);
    expect(requests.filter((url) => !url.startsWith('file:'))).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: false });
    // The context goes with the browser in afterAll: the packaged single-process build ends with its last context.
  }, 180_000);
});
