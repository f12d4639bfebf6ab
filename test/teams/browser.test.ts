/**
 * The console's Teams view in chromium (playwright-core): an agent's intent
 * arrives through PutEvents, the bot posts its Adaptive Card to the fake Bot
 * Connector, the page renders it with Microsoft's `adaptivecards` renderer,
 * alice approves from the rendered card (a signed invoke to the bot's
 * messaging endpoint) and the card turns Approved.
 *
 * The page is given a markdown processor (as Teams has one): any agent text
 * that went through markdown would become a link here, so the test also
 * proves the agent's link syntax stays text. Screenshot:
 * test/artifacts/teams.png.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandboxServer, type SandboxServer } from '../../sandbox/server.js';
import { launchBrowser } from '../support/browser.js';
import { makeIntent } from '../support/fixtures.js';
import { eventually, newIntentId, sharedLoop, USER } from '../support/loop.js';

const SCREENSHOT = resolve(import.meta.dirname, '../artifacts/teams.png');

let server: SandboxServer;
let browser: Browser | undefined;

beforeAll(async () => {
  server = await createSandboxServer(await sharedLoop(), { port: 0 });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('Teams view in chromium', () => {
  it('alice approves from the rendered Adaptive Card; agent markdown stays text', async () => {
    // Prepare
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // A markdown processor like Teams': links and bold become HTML wherever markdown is processed.
    await page.addInitScript(() => {
      (globalThis as unknown as { markdownit: () => { render: (t: string) => string } }).markdownit = () => ({
        render: (text: string) =>
          text
            .replace(/\[([^\]]+)\]\(([^)]+)\)/g, '<a href="$2">$1</a>')
            .replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>'),
      });
    });
    await page.goto(`${server.url}/console/teams.html`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.selectOption('#user-picker', USER.alice);
    const intent = makeIntent({
      intentId: newIntentId(),
      action: 'entra:AddGroupMember',
      resource: 'group/payments-admins',
      justification:
        'Add the on-call engineer. [Approve now](https://evil.example/approve) **Approved by security**',
    });
    const client = new EventBridgeClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'browser-test', secretAccessKey: 'browser-test' },
    });

    // Act
    await client.send(
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
    const card = page.locator(`article.teams-card[data-request="${intent.intentId}"]`);
    await card.waitFor({ timeout: 20_000 });
    const pending = await card.innerText();
    const links = await card.locator('a[href]').count();
    const strong = await card.locator('strong').count();
    await card.getByRole('button', { name: 'Approve', exact: true }).click();
    await eventually(
      async () => ((await card.innerText()).includes('Approved by alice@example.com') ? true : undefined),
      20_000,
    );
    await mkdir(resolve(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Assess
    expect(pending).toContain('Waiting for review');
    expect(pending).toContain('[Approve now](https://evil.example/approve) **Approved by security**');
    expect(links).toBe(0);
    expect(strong).toBe(0);
    const view = (await (await fetch(`${server.url}/requests/${intent.intentId}`)).json()) as {
      status: string;
      decision: { approvers: { email: string }[] };
    };
    expect(view.status).toBe('APPROVED');
    expect(view.decision.approvers.map((a) => a.email)).toEqual(['alice@example.com']);
    expect(pageErrors).toEqual([]);
  });
});
