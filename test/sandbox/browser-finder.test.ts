/**
 * The browser finder's order: COUNTERSIGN_CHROMIUM (an error when it names
 * nothing), else a system chromium or chrome, else @sparticuz/chromium. The
 * last case runs with no candidate at all, as on a machine with Node and npm
 * only, and launches the packaged browser.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHROMIUM_FLAGS, findBrowser, launchBrowser } from '../support/browser.js';

describe('browser finder', () => {
  it('COUNTERSIGN_CHROMIUM wins, and a wrong path is a clear error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'finder-'));
    const binary = join(dir, 'chrome');
    await writeFile(binary, '');
    await expect(findBrowser({ COUNTERSIGN_CHROMIUM: binary }, ['/bin/sh'])).resolves.toEqual({
      source: 'COUNTERSIGN_CHROMIUM',
      executablePath: binary,
      args: CHROMIUM_FLAGS,
    });
    await expect(findBrowser({ COUNTERSIGN_CHROMIUM: join(dir, 'none') })).rejects.toThrow(
      /COUNTERSIGN_CHROMIUM is set to .*none, which does not exist/,
    );
  });

  it('a system browser comes next', async () => {
    const found = await findBrowser({}, ['/nonexistent/chromium', '/bin/sh']);
    expect(found).toEqual({ source: 'system', executablePath: '/bin/sh', args: CHROMIUM_FLAGS });
  });

  it('with neither, the Chromium inside @sparticuz/chromium launches headless', async () => {
    const found = await findBrowser({}, []);
    expect(found.source).toBe('@sparticuz/chromium');
    expect(found.args).toEqual(expect.arrayContaining(CHROMIUM_FLAGS));
    expect(found.args).not.toContain('--disable-web-security');
    const browser = await launchBrowser(found);
    try {
      const page = await browser.newPage();
      await page.setContent('<p id="x">&lt;inert&gt;</p>');
      await expect(page.textContent('#x')).resolves.toBe('<inert>');
    } finally {
      await browser.close();
    }
  });
});
