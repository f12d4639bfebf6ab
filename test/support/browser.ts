/**
 * Finds a Chromium for the browser tests without any system package:
 * 1. `COUNTERSIGN_CHROMIUM`, when set (a path to a chromium or chrome binary);
 * 2. a system chromium or chrome, when one is installed;
 * 3. `@sparticuz/chromium`, a Chromium build shipped inside an npm package
 *    (unpacked to the temp directory on first use).
 * So `npm test` needs Node and npm only.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

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

/** Flags of the packaged build that weaken the page's security; a test of what a page shows keeps them off. */
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
  return chromium.launch({ executablePath: browser.executablePath, args: browser.args, headless: true });
}
