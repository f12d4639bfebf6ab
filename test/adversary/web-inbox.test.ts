/**
 * Attacker goals against the web inbox, through its HTTP interface only (the
 * handler's requests and answers): make a signed-in approver's browser approve
 * without them (CSRF), become someone else by editing a cookie, use another
 * person's session or token, and make agent text pass for the inbox's own
 * words or markup. Each case asserts the safe outcome and that nothing changed.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readChain } from '../../lambdas/shared/audit.js';
import { getRequest, type RequestItem } from '../../lambdas/shared/store.js';
import { handleWeb } from '../../lambdas/web/core.js';
import {
  LOGIN_COOKIE,
  newSession,
  SESSION_COOKIE,
  sealLogin,
  sealSession,
} from '../../lambdas/web/session.js';
import { type SeedOptions, seedPendingRequest } from '../support/fixtures.js';
import {
  formPost,
  ORIGIN,
  SESSION_KEY,
  sessionFor,
  signInOf,
  startWebCore,
  webRequest,
} from '../web/support.js';

let env: Awaited<ReturnType<typeof startWebCore>>;
beforeAll(async () => {
  env = await startWebCore();
});
afterAll(async () => env.close());
beforeEach(() => env.fakeAws.tasks.reset());

async function seed(options: SeedOptions = {}): Promise<RequestItem> {
  const request = await seedPendingRequest({ ...env.deps.core }, options);
  env.fakeAws.tasks.register(request.taskToken!);
  return request;
}
const approveForm = (request: RequestItem, csrf: string | undefined) => ({
  ...(csrf !== undefined ? { csrf } : {}),
  decision: 'approve',
  intentHash: request.intentHash,
});

/** Nothing happened to the request: still pending, no vote, no task completed, no human record. */
async function untouched(request: RequestItem) {
  const after = (await getRequest(env.deps.core, request.intentId))!;
  expect(after.status).toBe('PENDING');
  expect(after.approvals).toHaveLength(0);
  expect(env.fakeAws.tasks.callsOf('SendTaskSuccess', request.taskToken)).toHaveLength(0);
  const kinds = (await readChain(env.deps.core, request.intentId)).map((r) => r.kind);
  expect(kinds).not.toContain('vote');
  expect(kinds).not.toContain('decided');
}

describe('cross-site request forgery', () => {
  it('refuses an approval posted without the anti-forgery token, with a wrong one, or from another site', async () => {
    // Prepare
    const request = await seed();
    const alice = sessionFor('alice');
    const path = `/requests/${request.intentId}/decision`;
    const attempts = [
      formPost(path, alice.cookie, approveForm(request, undefined)),
      formPost(path, alice.cookie, approveForm(request, 'x'.repeat(43))),
      {
        ...formPost(path, alice.cookie, approveForm(request, alice.csrf)),
        headers: { origin: 'https://evil.example' },
      },
      {
        ...formPost(path, alice.cookie, approveForm(request, alice.csrf)),
        headers: { origin: ORIGIN, 'sec-fetch-site': 'cross-site' },
      },
    ];
    for (const attempt of attempts) {
      // Act
      const answer = await handleWeb(env.deps, attempt);
      // Assess
      expect(answer.statusCode).toBe(403);
      expect(answer.body).toContain('Nothing changed');
    }
    await untouched(request);
  });

  it("refuses one person's anti-forgery token with another person's session", async () => {
    // Prepare
    const request = await seed();
    const alice = sessionFor('alice');
    const bob = sessionFor('bob');
    // Act
    const answer = await handleWeb(
      env.deps,
      formPost(`/requests/${request.intentId}/decision`, bob.cookie, approveForm(request, alice.csrf)),
    );
    // Assess
    expect(answer.statusCode).toBe(403);
    await untouched(request);
  });
});

describe('cookie tampering', () => {
  /** A session cookie whose payload was edited (the mac left as it was). */
  function edited(cookie: string, edit: (session: Record<string, unknown>) => void) {
    const value = cookie.slice(`${SESSION_COOKIE}=`.length);
    const [v, payload, mac] = value.split('.') as [string, string, string];
    const session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    edit(session);
    return `${SESSION_COOKIE}=${v}.${Buffer.from(JSON.stringify(session)).toString('base64url')}.${mac}`;
  }

  it('signs out a person who edits their session into an approver, another person or a longer life', async () => {
    // Prepare
    const request = await seed();
    const dave = sessionFor('dave');
    const tampered = [
      edited(dave.cookie, (s) => {
        (s.signIn as { groups: string[] }).groups = ['security-approvers'];
      }),
      edited(dave.cookie, (s) => {
        (s.signIn as { email: string }).email = 'alice@example.com';
      }),
      edited(dave.cookie, (s) => {
        s.expiresAt = 9_999_999_999;
      }),
      `${SESSION_COOKIE}=v1.e30.AAAA`,
      `${SESSION_COOKIE}=garbage`,
    ];
    for (const cookie of tampered) {
      // Act
      const page = await handleWeb(env.deps, webRequest({ path: '/', cookies: [cookie] }));
      const post = await handleWeb(
        env.deps,
        formPost(`/requests/${request.intentId}/decision`, cookie, approveForm(request, dave.csrf)),
      );
      // Assess
      expect(page.statusCode).toBe(303);
      expect(page.headers.location).toMatch(/^\/login/);
      expect(post.statusCode).toBe(401);
    }
    await untouched(request);
  });

  it('refuses a sign-in state cookie presented as a session, an expired session, and a session under another key', async () => {
    // Prepare
    const request = await seed();
    const now = Math.floor(Date.now() / 1000);
    const alice = newSession(signInOf('alice'), now);
    const login = sealLogin(SESSION_KEY, {
      state: 's'.repeat(43),
      nonce: 'n'.repeat(43),
      codeVerifier: 'v'.repeat(43),
      returnTo: '/',
      expiresAt: now + 600,
    });
    const cookies = [
      `${SESSION_COOKIE}=${login}`,
      `${SESSION_COOKIE}=${sealSession(SESSION_KEY, { ...alice, expiresAt: now - 1 })}`,
      `${SESSION_COOKIE}=${sealSession('another-deployment-key-0123456789abcdef', alice)}`,
      `${LOGIN_COOKIE}=${sealSession(SESSION_KEY, alice)}`,
    ];
    for (const cookie of cookies) {
      // Act
      const answer = await handleWeb(
        env.deps,
        formPost(`/requests/${request.intentId}/decision`, cookie, approveForm(request, alice.csrf)),
      );
      // Assess
      expect(answer.statusCode).toBe(401);
    }
    await untouched(request);
  });

  it('never redirects a sign-in to another site (no open redirect through return)', async () => {
    // Prepare
    const now = Math.floor(Date.now() / 1000);
    const returned: string[] = [];
    const deps = {
      ...env.deps,
      signIn: {
        start: async ({ returnTo }: { returnTo: string }) => {
          returned.push(returnTo);
          return {
            url: 'https://idp.test.example/authorize',
            login: {
              state: 's'.repeat(43),
              nonce: 'n'.repeat(43),
              codeVerifier: 'v'.repeat(43),
              returnTo,
              expiresAt: now + 60,
            },
          };
        },
        finish: env.deps.signIn.finish,
      },
    };
    for (const target of [
      'https://evil.example/',
      '//evil.example',
      '/\\evil.example',
      '/requests/../../x',
    ]) {
      // Act
      await handleWeb(deps, webRequest({ path: '/login', query: new URLSearchParams({ return: target }) }));
    }
    // Assess
    expect(returned).toEqual(['/', '/', '/', '/']);
  });
});

describe('hostile agent text in the page', () => {
  it('shows markup, scripts, forms and direction overrides as inert, marked data', async () => {
    // Prepare
    const request = await seed({
      intent: {
        justification:
          '</pre><script>document.forms[1].submit()</script><form action="https://evil.example"><button>Approve</button></form>',
        resource: 'arn:aws:s3:::bucket"><img src=x onerror=alert(1)>',
        parameters: { note: '\u202E✅ Approved by security' },
        context: { impact: '<div class="notice done"><p>Already approved by alice@example.com</p></div>' },
      },
    });
    // Act
    const page = await handleWeb(
      env.deps,
      webRequest({ path: `/requests/${request.intentId}`, cookies: [sessionFor('alice').cookie] }),
    );
    // Assess: only our own markup; the agent's shows escaped, inside marked agent-text boxes
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toMatch(/<script|<img|<div class="notice|action="https:\/\/evil/i);
    expect(page.body).toContain('&lt;/pre&gt;&lt;script&gt;');
    expect(page.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(page.body).toContain('\\u202E');
    expect(page.body).toContain('Contains hidden or direction-changing characters');
    expect(page.body.match(/<form /g)).toHaveLength(3); // sign out, approve, deny: ours alone
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    await untouched(request);
  });
});
