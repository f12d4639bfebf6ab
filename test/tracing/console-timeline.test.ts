/**
 * The console's timeline: the waterfall renderer places bars on one time axis
 * and escapes every value; in chromium, a decided request's Timeline (next to
 * its audit trail) shows the exported spans. Screenshot:
 * test/artifacts/console-timeline.png.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { createSandboxServer, type SandboxServer } from '../../sandbox/server.js';
import type { Timeline } from '../../sandbox/trace-timeline.js';
import { launchBrowser } from '../support/browser.js';
import { makeIntent } from '../support/fixtures.js';
import { click, decisionFor, eventually, publish, reviewOpen, sharedLoop, USER } from '../support/loop.js';

type Renderer = { renderTimeline(t: Timeline): string; formatDuration(ms: number): string };
// The console is plain browser JavaScript; a computed path keeps the type checker out of it.
const RENDERER = '../../sandbox/console/timeline.js';
const renderer = (await import(RENDERER)) as Renderer;
const SCREENSHOT = resolve(import.meta.dirname, '../artifacts/console-timeline.png');

const span = (name: string, start: number, end: number, attributes: Record<string, string> = {}) => ({
  spanId: name.padEnd(16, '0').slice(0, 16),
  name,
  start,
  end,
  attributes,
  events: [],
  status: 'unset' as const,
});

describe('waterfall renderer', () => {
  it('places each span on the request span’s time axis, request span first', () => {
    const html = renderer.renderTimeline({
      traceId: 'a'.repeat(32),
      exported: true,
      spans: [
        span('countersign.vote', 2000, 240_000, { 'countersign.vote': 'approve' }),
        {
          ...span('countersign.review', 0, 241_000),
          events: [{ name: 'countersign.escalation', at: 180_000 }],
        },
        span('countersign.evaluate', 0, 1000),
      ],
    });
    const names = [...html.matchAll(/data-span="([^"]+)"/g)].map((m) => m[1]);
    expect(names).toEqual(['countersign.review', 'countersign.evaluate', 'countersign.vote']);
    expect(html).toContain('left:0.830%;width:max(2px,98.755%)'); // vote: 2 s → 240 s of 241 s
    expect(html).toContain('left:74.689%'); // the escalation mark at 180 s
    expect(html).toContain('4 min 1 s');
    expect(html).toContain('vote=approve');
  });

  it('escapes every value', () => {
    const html = renderer.renderTimeline({
      traceId: '<b>t</b>',
      exported: false,
      spans: [span('countersign.review', 0, 1, { 'countersign.approver': '<img src=x onerror=alert(1)>' })],
    });
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>t</b>');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('timeline in chromium', () => {
  let loop: CountersignLoop;
  let server: SandboxServer;
  let browser: Browser | undefined;
  beforeAll(async () => {
    loop = await sharedLoop();
    server = await createSandboxServer(loop, { port: 0 });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('a decided request’s timeline shows its exported spans next to the audit trail', async () => {
    // Prepare: an approved request, exported
    const intent = makeIntent({
      context: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    });
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    await click(loop, USER.alice, 'approve', intent.intentId);
    await eventually(() => decisionFor(loop, intent.intentId));
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    // Act
    await page.goto(`${server.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.click('[data-filter="all"]');
    const card = page.locator(`article[data-request-id="${intent.intentId}"]`);
    await card.waitFor();
    await card.locator('details[data-timeline] summary').click();
    await card.locator('.timeline-row[data-span="countersign.decision"]').waitFor();
    // Assess
    const rows = await card
      .locator('.timeline-row')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-span')));
    expect(rows).toEqual(
      expect.arrayContaining([
        'countersign.review',
        'countersign.evaluate',
        'countersign.notify',
        'countersign.vote',
      ]),
    );
    await expect(card.locator('details[data-timeline] summary').textContent()).resolves.toMatch(/exported/);
    await expect(card.locator('.timeline-note').textContent()).resolves.toContain('00f067aa0ba902b7');
    expect(await card.locator('details[data-audit]').count()).toBe(1);
    expect(errors).toEqual([]);
    await mkdir(resolve(SCREENSHOT, '..'), { recursive: true });
    await card.screenshot({ path: SCREENSHOT });
  });
});
