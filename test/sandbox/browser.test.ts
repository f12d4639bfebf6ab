/**
 * The approval console in a real browser: Debian chromium driven by
 * playwright-core. A request is created through the PutEvents API, alice is
 * picked in the console, approves, and the card turns Approved. The screenshot
 * lands in test/artifacts/console.png.
 *
 * The browser comes from test/support/browser.ts: COUNTERSIGN_CHROMIUM, a
 * system chromium, or the Chromium packaged in @sparticuz/chromium, so no
 * system package is needed.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandboxServer, type SandboxServer } from '../../sandbox/server.js';
import { launchBrowser } from '../support/browser.js';
import { makeIntent } from '../support/fixtures.js';
import { eventually, newIntentId, sharedLoop, USER } from '../support/loop.js';

const SCREENSHOT = resolve(import.meta.dirname, '../artifacts/console.png');

let server: SandboxServer;
let browser: Browser | undefined;

beforeAll(async () => {
  server = await createSandboxServer(await sharedLoop(), { port: 0 });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('approval console in chromium', () => {
  it('alice approves a pending request in the console and the card shows Approved', async () => {
    // Prepare
    browser = await launchBrowser();
    // The console is open and live before the intent arrives: the shared test loop's reviews
    // expire after a few seconds, so the click must not wait on the page's start.
    const page = await browser.newPage({ viewport: { width: 1360, height: 1100 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${server.url}/`);
    await page.waitForSelector('body[data-ready="true"][data-live="true"]');
    await page.selectOption('#user-picker', USER.alice);
    const intent = makeIntent({ intentId: newIntentId() });
    const client = new EventBridgeClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'browser-test', secretAccessKey: 'browser-test' },
    });
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: 'countersign',
            Source: 'countersign.agent.deploy-bot',
            DetailType: 'Privileged Action Requested',
            Detail: JSON.stringify(intent),
          },
        ],
      }),
    );
    client.destroy();
    expect(out.FailedEntryCount).toBe(0);
    await eventually(async () => {
      const res = await fetch(`${server.url}/requests/${intent.intentId}`);
      const view = res.ok ? ((await res.json()) as { request: { card?: unknown } }) : undefined;
      return view?.request.card;
    });

    // Act
    const card = page.locator(`article[data-request-id="${intent.intentId}"]`);
    await card.waitFor();
    await expect(card.locator('.bk-header').textContent()).resolves.toContain('Privileged action review');
    await expect(card.textContent()).resolves.toContain(intent.action);
    await clickUntilSent(page, card.locator('button[data-action-id="approve"]'));
    // No latency bound here (the machine is shared; speed lives in the benchmarks): the
    // decision must reach the console, however long the loaded machine takes.
    await page
      .waitForSelector(`article[data-request-id="${intent.intentId}"][data-status="APPROVED"]`, {
        timeout: 45_000,
      })
      .catch(async (error: Error) => {
        const stored = (await (await fetch(`${server.url}/requests/${intent.intentId}`)).json()) as {
          status?: string;
          votes?: unknown;
        };
        throw new Error(
          `the console never showed ${intent.intentId} approved (sandbox says ${JSON.stringify(stored.status)}, votes ${JSON.stringify(stored.votes)}, page errors ${JSON.stringify(pageErrors)}): ${error.message}`,
        );
      });

    // Assess
    await expect(card.textContent()).resolves.toMatch(/Approved by\s*@alice/);
    await expect(card.locator('button[data-action-id="approve"]').count()).resolves.toBe(0);
    const view = (await (await fetch(`${server.url}/requests/${intent.intentId}`)).json()) as {
      status: string;
      votes: { slackUserId: string }[];
    };
    expect(view.status).toBe('APPROVED');
    expect(view.votes.map((v) => v.slackUserId)).toEqual([USER.alice]);
    expect(pageErrors).toEqual([]);
    await card.scrollIntoViewIfNeeded();
    await mkdir(resolve(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(existsSync(SCREENSHOT)).toBe(true);
  });
});

/**
 * Clicks until the console has sent the click to the sandbox: a live update
 * may re-render the card between Playwright finding the button and the click
 * landing, and a click on the replaced node reaches nothing. A second Approve
 * by the same person is harmless (one vote per person).
 */
async function clickUntilSent(page: Page, button: Locator): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const sent = page.waitForResponse((r) => r.url().endsWith('/api/click'), { timeout: 3_000 });
    await button.click();
    try {
      await sent;
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}
