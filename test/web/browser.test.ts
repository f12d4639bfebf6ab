/**
 * The web inbox in chromium against the sandbox loop and the local OpenID
 * provider: an approver signs in (the sandbox IdP's pages, a one-time code),
 * approves, and the audit record carries channel `web` and the sign-in's
 * `amr`; the human the agent acts for is refused in the inbox with the very
 * sentence Slack gives her; a step-up request is approved after a fresh
 * multi-factor sign-in. Screenshots of the inbox at desktop and phone width.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChain } from '../../lambdas/shared/audit.js';
import { type LocalIdp, startLocalIdp } from '../../sandbox/idp.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { sandboxWebIdp, startWebServer, type WebServer, webDepsForLoop } from '../../sandbox/web-server.js';
import { launchBrowser } from '../support/browser.js';
import { makeIntent } from '../support/fixtures.js';
import {
  click,
  eventually,
  newIntentId,
  publish,
  request,
  reviewOpen,
  sharedLoop,
  USER,
} from '../support/loop.js';

/**
 * Where the screenshots go: test/artifacts/web-inbox/, or the README's
 * docs/images/ when COUNTERSIGN_UPDATE_SCREENSHOTS=1 (so a test run leaves
 * the tracked images alone).
 */
const IMAGES = process.env.COUNTERSIGN_UPDATE_SCREENSHOTS
  ? resolve(import.meta.dirname, '../../docs/images')
  : resolve(import.meta.dirname, '../artifacts/web-inbox');

let loop: CountersignLoop;
let idp: LocalIdp;
let web: WebServer;
let browser: Browser;
let context: BrowserContext | undefined;

beforeAll(async () => {
  await mkdir(IMAGES, { recursive: true });
  loop = await sharedLoop();
  // The IdP starts after the server (it needs the redirect URI): its settings are read per request.
  web = await startWebServer((origin) => webDepsForLoop(loop, sandboxWebIdp(idp), origin), { port: 0 });
  idp = await startLocalIdp({ redirectUris: [web.redirectUri] });
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await web?.close();
  await idp?.close();
});

/** A failure that says what the page showed. */
async function showing(page: Page, cause: unknown): Promise<Error> {
  return new Error(`${page.url()}: ${(await page.locator('body').innerText()).slice(0, 600)}`, { cause });
}

/** Signs a person in at the local IdP, from wherever the inbox sent the browser. */
async function signIn(page: Page, email: string, mfa: boolean): Promise<void> {
  try {
    await signInSteps(page, email, mfa);
  } catch (error) {
    throw await showing(page, error);
  }
}

async function signInSteps(page: Page, email: string, mfa: boolean): Promise<void> {
  const person = idp.people.find((p) => p.email === email)!;
  await page.waitForSelector('#person');
  await page.selectOption('#person', person.subject);
  await page.click('button:has-text("Continue")');
  if (mfa) {
    const code = (await page.getAttribute('#otp-code', 'data-code'))!;
    await page.fill('#code', code);
    await page.click('button:has-text("Verify")');
  } else {
    await page.click('button:has-text("Skip")');
  }
  const allow = page.locator('button:has-text("Allow")');
  await page.waitForURL((url) => url.href.startsWith(web.url) || url.pathname.includes('/interaction/'));
  if (!page.url().startsWith(web.url) && (await allow.count())) await allow.click();
  await page.waitForURL((url) => url.href.startsWith(web.url));
}

/** A pending request from the agent, its review open. */
async function pending(overrides: Parameters<typeof makeIntent>[0] = {}) {
  const intent = makeIntent({ intentId: newIntentId(), ...overrides });
  publish(loop, intent);
  await reviewOpen(loop, intent.intentId);
  return intent;
}

/**
 * A fresh page with no cookies (no inbox or IdP session) at a viewport size.
 * One context for the file: the packaged Chromium runs single-process, and
 * closing a context can take the browser with it.
 */
async function freshPage(width: number, height: number): Promise<Page> {
  context ??= await browser.newContext();
  await context.clearCookies();
  const page = await context.newPage();
  await page.setViewportSize({ width, height });
  return page;
}

describe('web inbox in chromium', () => {
  it('alice signs in with a one-time code, approves, and the audit record carries channel web and amr', async () => {
    // Prepare
    const intent = await pending({
      justification:
        'Deploy pipeline needs read access to the payments artifacts (INC-4211). <b>not bold</b>',
      context: {
        impact: 'payments-deployer can read s3://payments-artifacts',
        diff: '+ arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
      },
    });
    const page = await freshPage(1280, 900);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    // Act
    await page.goto(`${web.url}/`);
    await signIn(page, 'alice@example.com', true);
    await page.waitForSelector(`a[href="/requests/${intent.intentId}"]`).catch(async (e) => {
      throw await showing(page, e);
    });
    await page.screenshot({ path: resolve(IMAGES, 'web-inbox-desktop.png'), fullPage: true });
    await page.click(`a[href="/requests/${intent.intentId}"]`);
    await page.waitForSelector('button.primary');
    await expect(page.locator('pre.agent-text').first().textContent()).resolves.toContain('<b>not bold</b>');
    await page.screenshot({ path: resolve(IMAGES, 'web-inbox-request.png'), fullPage: true });
    await page.click('button.primary');
    await page.waitForSelector('.notice.done').catch(async (e) => {
      throw await showing(page, e);
    });
    // Assess
    await expect(page.locator('.notice.done').textContent()).resolves.toContain('Approved');
    const stored = await eventually(async () => {
      const r = await request(loop, intent.intentId);
      return r?.status === 'APPROVED' ? r : undefined;
    });
    expect(stored.decision?.decidedBy?.email).toBe('alice@example.com');
    const chain = await readChain({ ddb: loop.aws.ddb, table: loop.aws.table }, intent.intentId);
    const vote = chain.find((r) => r.kind === 'vote');
    expect(vote?.actor).toMatchObject({ channel: 'web', email: 'alice@example.com' });
    expect(JSON.stringify(vote)).toContain('"mfa"');
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('refuses carol, the human the agent acts for, with the sentence Slack gives her', async () => {
    // Prepare
    const intent = await pending();
    const page = await freshPage(390, 844);
    // Act: the inbox
    await page.goto(`${web.url}/requests/${intent.intentId}`);
    await signIn(page, 'carol@example.com', false);
    await page.waitForSelector('button.primary');
    await page.click('button.primary');
    await page.waitForSelector('.notice.refused');
    const inInbox = (await page.locator('.notice.refused p').textContent())?.trim();
    await page.screenshot({ path: resolve(IMAGES, 'web-inbox-phone.png'), fullPage: true });
    // Act: Slack
    await click(loop, USER.carol, 'approve', intent.intentId);
    const inSlack = loop.slack!.sent('chat.postEphemeral', USER.carol).at(-1)?.text;
    // Assess
    expect(inInbox).toBe(inSlack);
    expect(inInbox).toContain('nobody approves their own action');
    expect((await request(loop, intent.intentId))?.status).toBe('PENDING');
    const refusals = (await readChain({ ddb: loop.aws.ddb, table: loop.aws.table }, intent.intentId)).filter(
      (r) => r.kind === 'refused',
    );
    expect(refusals.map((r) => (r.actor as { channel: string }).channel).sort()).toEqual(['slack', 'web']);
    await page.close();
  }, 120_000);

  it('a step-up request: a one-factor session is refused, and after a fresh multi-factor sign-in the approval counts', async () => {
    // Prepare: a request whose policy asks for mfa within 10 minutes (policies/25-account-access.cedar)
    const intent = await pending({
      action: 'sso:CreateAccountAssignment',
      resource: 'arn:aws:sso::123456789012:permissionSet/ssoins-1/ps-1',
      parameters: { principalId: 'u-1', targetId: '123456789012' },
    });
    const page = await freshPage(1280, 900);
    await page.goto(`${web.url}/requests/${intent.intentId}`);
    await signIn(page, 'bob@example.com', false);
    // Act: approve with a one-factor session
    await page.click('button.primary');
    await page.waitForSelector('.notice.refused');
    const refusal = await page.locator('.notice.refused p').textContent();
    await page.screenshot({ path: resolve(IMAGES, 'web-inbox-step-up.png') });
    const voteless = await request(loop, intent.intentId);
    // Act: sign in again, with the one-time code, and approve
    await page.click('.notice.refused a.button');
    await signIn(page, 'bob@example.com', true);
    await page.waitForSelector('button.primary');
    await page.click('button.primary');
    await page.waitForSelector('.notice.done').catch(async (e) => {
      throw await showing(page, e);
    });
    // Assess
    expect(refusal).toMatch(/multi-factor|mfa|sign-in/i);
    expect(voteless?.approvals).toHaveLength(0);
    const stored = await eventually(async () => {
      const r = await request(loop, intent.intentId);
      return r?.status === 'APPROVED' ? r : undefined;
    });
    expect(stored.decision?.decidedBy?.email).toBe('bob@example.com');
    const chain = await readChain({ ddb: loop.aws.ddb, table: loop.aws.table }, intent.intentId);
    expect(chain.find((r) => r.kind === 'refused')?.data).toMatchObject({ code: 'step-up-required' });
    expect(JSON.stringify(chain.find((r) => r.kind === 'vote'))).toContain('"mfa"');
    await page.close();
  }, 120_000);
});
