/**
 * The CLI's OAuth device authorization grant against the local OpenID
 * provider: the command prints a URL and a code, the person confirms on the
 * IdP's pages (driven here over HTTP as a browser would), and the command
 * gets an access token whose audience is the approval API and which the
 * deployment's verifier accepts as that person.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceGrant } from '../../cli/approve.js';
import type { CliIo } from '../../cli/main.js';
import { createTokenVerifier } from '../../lambdas/identity/token-verifier.js';
import { API_SCOPE, type LocalIdp, startLocalIdp } from '../../sandbox/idp.js';

let idp: LocalIdp;
beforeAll(async () => {
  idp = await startLocalIdp({ redirectUris: ['http://localhost:4012/callback'] });
}, 60_000);
afterAll(async () => idp?.close());

/** A user agent with a cookie jar that follows the IdP's pages. */
function userAgent() {
  const cookies = new Map<string, string>();
  return async (url: string, form?: Record<string, string>) => {
    const response = await fetch(url, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
    return response;
  };
}

/** Confirms a device code on the IdP's pages as `email`, with the one-time code. */
async function confirmDevice(verificationUrl: string, email: string): Promise<void> {
  const go = userAgent();
  const subject = idp.people.find((p) => p.email === email)!.subject;
  let response = await go(verificationUrl);
  for (let hops = 0; hops < 20; hops++) {
    const location = response.headers.get('location');
    const here = response.url || verificationUrl;
    if (location) {
      response = await go(new URL(location, idp.issuer).href);
      continue;
    }
    const html = await response.text();
    if (html.includes('Your device is signed in')) return;
    // The device pages' forms (the confirm form, and the callback page's self-submitting form).
    const confirm = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
    const uid = /\/interaction\/([\w-]+)\//.exec(html)?.[1];
    if (uid && html.includes(`/interaction/${uid}/login`)) {
      const otp = await go(`${idp.issuer}/interaction/${uid}/login`, { subject });
      const code = /data-code="(\d{6})"/.exec(await otp.text())![1]!;
      response = await go(`${idp.issuer}/interaction/${uid}/otp`, { code });
    } else if (uid && html.includes(`/interaction/${uid}/consent`)) {
      response = await go(`${idp.issuer}/interaction/${uid}/consent`, {});
    } else if (confirm) {
      const fields = Object.fromEntries(
        [...confirm[2]!.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [
          m[1]!,
          m[2]!,
        ]),
      );
      response = await go(new URL(confirm[1]!, idp.issuer).href, fields);
    } else {
      throw new Error(`unexpected IdP page at ${here}: ${html.slice(0, 400)}`);
    }
  }
  throw new Error('the device confirmation did not finish');
}

describe('countersign approve: device authorization grant', () => {
  it('gets an access token for the approval API as the person who confirmed the code', async () => {
    // Prepare
    let confirmed: Promise<void> | undefined;
    const io: CliIo = {
      out: () => {},
      err: (line) => {
        const url = /open (\S+) and confirm/.exec(line)?.[1];
        if (url) confirmed = confirmDevice(url, 'alice@example.com');
      },
      cwd: '.',
    };
    // Act
    const token = await deviceGrant(
      {
        api: 'http://localhost:4012',
        issuer: idp.issuer,
        clientId: idp.cli.clientId,
        audience: idp.apiAudience,
        scope: `openid email profile groups ${API_SCOPE}`,
      },
      io,
    );
    await confirmed;
    // Assess
    const verifier = createTokenVerifier({
      issuer: idp.issuer,
      clientId: idp.web.clientId,
      apiAudience: idp.apiAudience,
      clockToleranceSeconds: 60,
    });
    const signIn = await verifier.verifyAccessToken(token.accessToken);
    expect(signIn).toMatchObject({ email: 'alice@example.com', via: 'bearer' });
    expect(signIn.amr).toContain('mfa');
    expect(token.expiresAt).toBeGreaterThan(Date.now() / 1000);
  }, 60_000);
});
