/**
 * The web inbox against the real review core (dynalite, the fake task API):
 * what a signed-in person sees, what their forms do, and that every decision
 * lands in the same audit trail as a Slack click, with channel `web` and the
 * sign-in's facts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readChain } from '../../lambdas/shared/audit.js';
import { getRequest, type RequestItem } from '../../lambdas/shared/store.js';
import { handleWeb } from '../../lambdas/web/core.js';
import { CSP } from '../../lambdas/web/http.js';
import { DEMO, type SeedOptions, seedPendingRequest } from '../support/fixtures.js';
import { formPost, sessionFor, startWebCore, webRequest } from './support.js';

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
const stored = async (id: string) => (await getRequest(env.deps.core, id))!;
const get = (path: string, cookie?: string) =>
  handleWeb(env.deps, webRequest({ path, ...(cookie ? { cookies: [cookie] } : {}) }));

describe('the web inbox', () => {
  it('sends a person without a session to sign in, keeping where they were going', async () => {
    // Act
    const answer = await get('/requests/intent-abcdefgh');
    // Assess
    expect(answer.statusCode).toBe(303);
    expect(answer.headers.location).toBe('/login?return=%2Frequests%2Fintent-abcdefgh');
  });

  it('lists the pending requests this person may approve, and not the ones that are theirs', async () => {
    // Prepare
    const request = await seed();
    // Act
    const alice = await get('/', sessionFor('alice').cookie);
    const carol = await get('/', sessionFor('carol').cookie);
    const dave = await get('/', sessionFor('dave').cookie);
    // Assess: carol is the human the agent acts for, dave is in no approver group
    expect(alice.statusCode).toBe(200);
    expect(alice.body).toContain(`/requests/${request.intentId}`);
    expect(carol.body).not.toContain(request.intentId);
    expect(dave.body).not.toContain(request.intentId);
    expect(alice.headers['content-security-policy']).toBe(CSP);
    expect(CSP).not.toMatch(/script-src|unsafe-inline/);
  });

  it('shows one request with the card context, parameters masked as on the card', async () => {
    // Prepare
    const request = await seed({
      intent: {
        parameters: { roleName: 'payments-deployer', dbPassword: 'hunter2-secret', token: 'abc' },
        context: { impact: 'Read access to payments artifacts', diff: '+ s3:GetObject' },
      },
      review: { masked: ['token'] },
    });
    // Act
    const page = await get(`/requests/${request.intentId}`, sessionFor('alice').cookie);
    // Assess
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('iam:AttachRolePolicy');
    expect(page.body).toContain('Read access to payments artifacts');
    expect(page.body).toContain('+ s3:GetObject');
    expect(page.body).not.toContain('hunter2-secret');
    expect(page.body).not.toContain('"abc"');
    expect(page.body).toContain(request.intentHash);
  });

  it('approves through the review core: decided once, task completed, audited with channel web and the sign-in', async () => {
    // Prepare
    const request = await seed();
    const alice = sessionFor('alice', { amr: ['pwd', 'mfa'], acr: 'urn:test:mfa' });
    // Act
    const answer = await handleWeb(
      env.deps,
      formPost(`/requests/${request.intentId}/decision`, alice.cookie, {
        csrf: alice.csrf,
        decision: 'approve',
        intentHash: request.intentHash,
      }),
    );
    // Assess
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toContain('Approved');
    const after = await stored(request.intentId);
    expect(after.status).toBe('APPROVED');
    expect(after.decision?.decidedBy?.email).toBe('alice@example.com');
    expect(env.fakeAws.tasks.callsOf('SendTaskSuccess', request.taskToken)).toHaveLength(1);
    const vote = (await readChain(env.deps.core, request.intentId)).find((r) => r.kind === 'vote');
    expect(vote?.actor).toMatchObject({ type: 'human', email: 'alice@example.com', channel: 'web' });
  });

  it('denies with the reason typed, and refuses an empty reason changing nothing', async () => {
    // Prepare
    const request = await seed();
    const bob = sessionFor('bob');
    const deny = (reason: string) =>
      handleWeb(
        env.deps,
        formPost(`/requests/${request.intentId}/decision`, bob.cookie, {
          csrf: bob.csrf,
          decision: 'deny',
          intentHash: request.intentHash,
          reason,
        }),
      );
    // Act
    const empty = await deny('   ');
    const afterEmpty = await stored(request.intentId);
    const real = await deny('Not during the freeze (CHG-77).');
    // Assess
    expect(empty.statusCode).toBe(400);
    expect(empty.body).toContain('A reason is required.');
    expect(afterEmpty.status).toBe('PENDING');
    expect(real.statusCode).toBe(200);
    const after = await stored(request.intentId);
    expect(after.status).toBe('DENIED');
    expect(after.decision?.reason).toContain('Not during the freeze (CHG-77).');
  });

  it('refuses the human the agent acts for with the same words the core gives in every channel', async () => {
    // Prepare
    const request = await seed();
    const carol = sessionFor('carol');
    // Act
    const answer = await handleWeb(
      env.deps,
      formPost(`/requests/${request.intentId}/decision`, carol.cookie, {
        csrf: carol.csrf,
        decision: 'approve',
        intentHash: request.intentHash,
      }),
    );
    // Assess
    expect(answer.statusCode).toBe(403);
    expect(answer.body).toContain(
      'You can&#39;t approve this request: the agent acts on your behalf; nobody approves their own action.',
    );
    expect((await stored(request.intentId)).status).toBe('PENDING');
    const refused = (await readChain(env.deps.core, request.intentId)).find((r) => r.kind === 'refused');
    expect(refused?.actor).toMatchObject({ channel: 'web', email: DEMO.onBehalfOf });
    expect(refused?.data).toMatchObject({ code: 'self-on-behalf-of' });
  });

  it('refuses an approval of a version the person did not see (409), changing nothing', async () => {
    // Prepare
    const request = await seed();
    const alice = sessionFor('alice');
    // Act
    const answer = await handleWeb(
      env.deps,
      formPost(`/requests/${request.intentId}/decision`, alice.cookie, {
        csrf: alice.csrf,
        decision: 'approve',
        intentHash: `sha256:${'0'.repeat(64)}`,
      }),
    );
    // Assess
    expect(answer.statusCode).toBe(409);
    expect((await stored(request.intentId)).approvals).toHaveLength(0);
  });

  it('modifies an editable parameter (typed like the value it replaces) through the core', async () => {
    // Prepare
    const request = await seed({
      intent: { parameters: { roleName: 'payments-deployer', durationHours: 8 } },
      review: { editable: ['durationHours'] },
    });
    const alice = sessionFor('alice');
    // Act
    const answer = await handleWeb(
      env.deps,
      formPost(`/requests/${request.intentId}/decision`, alice.cookie, {
        csrf: alice.csrf,
        decision: 'modify',
        intentHash: request.intentHash,
        'param:durationHours': 'two',
      }),
    );
    // Assess: the reader refuses a word where a number was, nothing changes
    expect(answer.statusCode).toBe(400);
    expect(answer.body).toContain('Enter a number.');
    expect((await stored(request.intentId)).modification).toBeUndefined();
  });

  it('hides requests a person has no part in (404), so ids cannot be probed', async () => {
    // Prepare
    const request = await seed();
    // Act
    const dave = await get(`/requests/${request.intentId}`, sessionFor('dave').cookie);
    // Assess
    expect(dave.statusCode).toBe(404);
    expect(dave.body).not.toContain('iam:AttachRolePolicy');
  });

  it('shows decided requests in the history of the people who had a part in them', async () => {
    // Prepare
    const request = await seed();
    const alice = sessionFor('alice');
    await handleWeb(
      env.deps,
      formPost(`/requests/${request.intentId}/decision`, alice.cookie, {
        csrf: alice.csrf,
        decision: 'approve',
        intentHash: request.intentHash,
      }),
    );
    // Act
    const history = await get('/history', alice.cookie);
    const daves = await get('/history', sessionFor('dave').cookie);
    // Assess
    expect(history.body).toContain(request.intentId);
    expect(history.body).toContain('Approved');
    expect(daves.body).not.toContain(request.intentId);
  });

  it('serves its stylesheet from its own origin (the only style source the CSP allows)', async () => {
    // Act
    const css = await get('/static/inbox.css');
    // Assess
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toContain('text/css');
    expect(css.body).toContain('@media');
  });
});
