/**
 * Finds a Chromium without any system package, for printing reports to PDF
 * and for the browser tests:
 * 1. `COUNTERSIGN_CHROMIUM`, when set (a path to a chromium or chrome binary);
 * 2. a system chromium or chrome, when one is installed;
 * 3. `@sparticuz/chromium`, a Chromium build shipped inside an npm package
 *    (unpacked to the temp directory on first use).
 * playwright-core drives it; both are loaded only when a browser is needed.
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/** System locations tried after `COUNTERSIGN_CHROMIUM`. */
export const SYSTEM_CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** Flags every launch uses: no sandbox (containers, root), no GPU, nothing that calls home. */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Flags of the packaged build that weaken the page's security; a page that shows evidence keeps them off. */
const UNWANTED = new Set(['--disable-web-security', '--allow-running-insecure-content']);

/** Where the browser comes from and how to launch it. */
export interface FoundBrowser {
  source: 'COUNTERSIGN_CHROMIUM' | 'system' | '@sparticuz/chromium';
  executablePath: string;
  args: string[];
}

/** Finds a browser as described above; `env` and `candidates` are injectable for tests of the finder itself. */
export async function findBrowser(
  env: NodeJS.ProcessEnv = process.env,
  candidates: readonly string[] = SYSTEM_CHROMIUM,
): Promise<FoundBrowser> {
  const configured = env.COUNTERSIGN_CHROMIUM;
  if (configured) {
    if (!existsSync(configured))
      throw new Error(`COUNTERSIGN_CHROMIUM is set to ${configured}, which does not exist`);
    return { source: 'COUNTERSIGN_CHROMIUM', executablePath: configured, args: CHROMIUM_FLAGS };
  }
  const system = candidates.find((path) => existsSync(path));
  if (system) return { source: 'system', executablePath: system, args: CHROMIUM_FLAGS };
  const { default: packaged } = await import('@sparticuz/chromium');
  const args = [...new Set([...packaged.args.filter((a) => !UNWANTED.has(a)), ...CHROMIUM_FLAGS])];
  return { source: '@sparticuz/chromium', executablePath: await packaged.executablePath(), args };
}

/** Launches the found browser headless with playwright-core. */
export async function launchBrowser(found?: FoundBrowser): Promise<Browser> {
  const browser = found ?? (await findBrowser());
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: browser.executablePath, args: browser.args, headless: true });
}

/**
 * Prints a self-contained HTML page to PDF (A4, backgrounds on). The page is
 * set as content, not loaded from a URL, and every request it would make is
 * aborted: the report needs none.
 */
export async function printPdf(html: string, path: string): Promise<void> {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.route('**/*', (route) => route.abort());
    await page.setContent(html, { waitUntil: 'load' });
    await page.pdf({
      path,
      format: 'A4',
      printBackground: true,
      margin: { top: '12mm', bottom: '12mm', left: '10mm', right: '10mm' },
    });
  } finally {
    await browser.close();
  }
}
