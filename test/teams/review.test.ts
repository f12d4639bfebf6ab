/**
 * A review end to end in Teams: signed invoke activities from the fake Bot
 * Connector into the Teams channel, the real review core over dynalite and
 * s3rver, the fake Step Functions for the task token, Graph for identity, and
 * the Bot Connector and Slack for repainting every card of the request.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { evaluateIntent } from '../../lambdas/shared/policy.js';
import { getRequest } from '../../lambdas/shared/store.js';
import { teamsVoterId } from '../../lambdas/teams/directory.js';
import { entraIdOf } from '../../sandbox/fake-teams.js';
import { makeIntent } from '../support/fixtures.js';
import { cardText, startTeamsHarness, type TeamsHarness, USERS } from './harness.js';

let h: TeamsHarness;
beforeAll(async () => {
  h = await startTeamsHarness();
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => h.reset());

const slackUpdates = (ts: string) => h.slack.sent('chat.update').filter((m) => m.ts === ts);

describe('Teams: approve, deny, modify', () => {
  it('an approver approves in Teams: decided once, the task token completed, both cards repainted, audited as Teams', async () => {
    // Prepare
    const request = await h.seedBoth();

    // Act
    const answer = await h.clickTeams(USERS.alice, 'approve', request);

    // Assess
    expect(answer.statusCode).toBe(200);
    expect(answer.outcome).toBe('approved');
    expect(answer.invoke?.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(answer.text).toContain('Approved by alice@example.com');
    const stored = await h.request(request.intentId);
    expect(stored?.status).toBe('APPROVED');
    expect(stored?.decision).toMatchObject({
      decidedBy: { slackUserId: teamsVoterId(entraIdOf(USERS.alice)), email: 'alice@example.com' },
      approvers: [expect.objectContaining({ email: 'alice@example.com' })],
    });
    expect(h.fakeAws.tasks.callsOf('SendTaskSuccess')).toHaveLength(1);
    const teamsCard = await h.teamsCard(request);
    expect(cardText(teamsCard)).toContain('Approved by alice@example.com');
    expect(JSON.stringify(teamsCard)).not.toContain('"verb":"approve"');
    expect(JSON.stringify(slackUpdates(request.card!.ts).at(-1)?.blocks)).toContain('Approved');
    const chain = await h.verifiedChain(request.intentId);
    expect(chain.at(-1)).toMatchObject({
      kind: 'vote',
      actor: { type: 'human', email: 'alice@example.com', channel: 'teams' },
    });
  });

  it('deny needs a reason: an empty one changes nothing; with one the request is denied with it', async () => {
    // Prepare
    const request = await h.seedBoth();

    // Act
    const empty = await h.clickTeams(USERS.bob, 'deny', request, { reason: '   ' });
    const denied = await h.clickTeams(USERS.bob, 'deny', request, { reason: 'No change ticket for this.' });

    // Assess
    expect(empty.outcome).toBe('invalid');
    expect(empty.text).toContain('A reason is required.');
    expect(denied.outcome).toBe('denied');
    const stored = await h.request(request.intentId);
    expect(stored?.status).toBe('DENIED');
    expect(stored?.decision?.reason).toBe('Denied by Bob Brown: No change ticket for this.');
    expect(h.fakeAws.tasks.callsOf('SendTaskFailure')).toHaveLength(1);
    expect(cardText(await h.teamsCard(request))).toContain('No change ticket for this.');
  });

  it('modify: the changed parameters are evaluated again and approved as the modifier’s vote', async () => {
    // Prepare: a production export whose row limit policy lets approvers change.
    const intent = {
      action: 'data:Export',
      resource: 'warehouse/orders',
      parameters: { dataset: 'orders', rowLimit: 50_000, destination: 's3://exports/orders' },
    };
    const verdict = evaluateIntent(
      { intent: makeIntent(intent), agentId: 'deploy-bot' },
      { approverGroup: 'security-approvers', timeoutSeconds: 3600 },
    );
    expect(verdict.review?.editable).toContain('rowLimit');
    h.teamsDeps.evaluateIntent = evaluateIntent;
    const request = await h.seedBoth({ intent, review: verdict.review! });

    // Act
    const bad = await h.clickTeams(USERS.alice, 'modify', request, { 'param:rowLimit': 'lots' });
    const answer = await h.clickTeams(USERS.alice, 'modify', request, { 'param:rowLimit': '10000' });

    // Assess
    expect(bad.outcome).toBe('form-errors');
    const stored = await h.request(request.intentId);
    expect(stored?.modification?.parameters).toMatchObject({ rowLimit: 10_000 });
    expect(['approved', 'modified']).toContain(answer.outcome);
    expect(cardText(await h.teamsCard(request))).toContain('Modified by alice@example.com');
  });
});

describe('Teams and Slack: one request, one decision', () => {
  it('quorum 2: a Slack approval and a Teams approval decide it, and each vote repaints both cards', async () => {
    // Prepare
    const request = await h.seedBoth({ review: { quorum: 2 } });

    // Act
    await h.send(h.click(USERS.alice, 'approve', request.intentId));
    const afterSlack = await h.teamsCard(request);
    const answer = await h.clickTeams(USERS.bob, 'approve', request);

    // Assess
    expect(cardText(afterSlack)).toContain('1 of 2 approvals: alice@example.com');
    expect(answer.outcome).toBe('approved');
    const stored = await h.request(request.intentId);
    expect(stored?.status).toBe('APPROVED');
    expect(stored?.approvals.map((a) => a.email)).toEqual(['alice@example.com', 'bob@example.com']);
    expect(JSON.stringify(slackUpdates(request.card!.ts).at(-1)?.blocks)).toContain('Approved');
    expect(cardText(await h.teamsCard(request))).toMatch(/Approved by bob@example\.com/);
  });

  it('one person has one vote across channels: alice in Slack then alice in Teams does not meet a quorum of 2', async () => {
    // Prepare
    const request = await h.seedBoth({ review: { quorum: 2 } });

    // Act
    await h.send(h.click(USERS.alice, 'approve', request.intentId));
    const again = await h.clickTeams(USERS.alice, 'approve', request);

    // Assess
    expect(again.outcome).toBe('already-voted');
    const stored = await h.request(request.intentId);
    expect(stored?.status).toBe('PENDING');
    expect(stored?.approvals).toHaveLength(1);
    expect(h.fakeAws.tasks.callsOf('SendTaskSuccess')).toHaveLength(0);
  });

  it('a click on a decided request is told who decided and changes nothing', async () => {
    // Prepare
    const request = await h.seedBoth();
    await h.send(h.click(USERS.alice, 'approve', request.intentId));

    // Act
    const late = await h.clickTeams(USERS.bob, 'deny', request, { reason: 'too late' });

    // Assess
    expect(late.outcome).toBe('late');
    expect(late.text).toMatch(/already approved by U0ALICE01/);
    expect((await h.request(request.intentId))?.status).toBe('APPROVED');
  });
});

describe('Teams: refused tokens change nothing (401)', () => {
  const cases: Array<[string, Parameters<TeamsHarness['clickTeams']>[4], string]> = [
    ['a token signed by a key the metadata does not publish', { token: { foreignKey: true } }, 'unknown-key'],
    [
      'an expired token (beyond the 5-minute skew)',
      { token: { expiresIn: -600, issuedAt: -4000 } },
      'expired',
    ],
    ['a token for another bot', { token: { audience: 'another-bot-app-id' } }, 'wrong-audience'],
    ['a token from another issuer', { token: { issuer: 'https://sts.windows.net/evil/' } }, 'wrong-issuer'],
    [
      'a token issued for another serviceUrl than the activity names',
      { token: { serviceUrl: 'https://smba.trafficmanager.net/emea/' } },
      'service-url-mismatch',
    ],
    ['no token at all', { authorization: '' }, 'missing'],
    ['a token that is not a JWT', { authorization: 'Bearer not-a-jwt' }, 'malformed'],
  ];
  it.each(cases)('%s', async (_name, options, code) => {
    // Prepare
    const request = await h.seedBoth();

    // Act
    const answer = await h.clickTeams(USERS.alice, 'approve', request, {}, options);

    // Assess
    expect(answer.statusCode).toBe(401);
    expect(answer.code).toBe(code);
    const stored = await getRequest(h.deps, request.intentId);
    expect(stored?.status).toBe('PENDING');
    expect(stored?.approvals).toEqual([]);
    expect(h.fakeAws.tasks.calls).toHaveLength(0);
    expect((await h.verifiedChain(request.intentId)).map((r) => r.kind)).toEqual([
      'requested',
      'reviewers-notified',
    ]);
  });

  it('a token within the clock skew is accepted', async () => {
    const request = await h.seedBoth();
    const answer = await h.clickTeams(
      USERS.alice,
      'approve',
      request,
      {},
      { token: { expiresIn: -120, issuedAt: -3600 } },
    );
    expect(answer.outcome).toBe('approved');
  });

  it('after the Bot Framework rotates its key, activities signed with the new key verify (the key set is fetched again)', async () => {
    // Prepare: the verifier has cached the current key set.
    const first = await h.seedBoth();
    expect((await h.clickTeams(USERS.alice, 'approve', first)).outcome).toBe('approved');
    await h.teams.rotateKey();
    const second = await h.seedBoth();

    // Act
    const answer = await h.clickTeams(USERS.alice, 'approve', second);

    // Assess
    expect(answer.outcome).toBe('approved');
  });
});

describe('Teams: refused clicks', () => {
  it('a stale card version (the request was modified since) is refused and audited', async () => {
    const request = await h.seedBoth();
    const answer = await h.clickTeams(USERS.alice, 'approve', request, { seenHash: '0123456789abcdef' });
    expect(answer.outcome).toBe('refused');
    expect(answer.code).toBe('stale-form');
    expect((await h.request(request.intentId))?.status).toBe('PENDING');
    expect((await h.verifiedChain(request.intentId)).at(-1)).toMatchObject({
      kind: 'refused',
      actor: { channel: 'teams' },
      data: expect.objectContaining({ code: 'stale-form' }),
    });
  });

  it('the same activity delivered twice is applied once', async () => {
    const request = await h.seedBoth({ review: { quorum: 2 } });
    const first = await h.clickTeams(USERS.alice, 'approve', request, {}, { id: 'f:replayed-activity' });
    const again = await h.clickTeams(USERS.alice, 'approve', request, {}, { id: 'f:replayed-activity' });
    expect(first.outcome).toBe('voted');
    expect(again.outcome).toBe('replayed');
    expect((await h.request(request.intentId))?.approvals).toHaveLength(1);
  });

  it('an activity from another tenant is refused before anything is looked up', async () => {
    const request = await h.seedBoth();
    const answer = await h.clickTeams(
      USERS.alice,
      'approve',
      request,
      {},
      { tenantId: '11111111-2222-4333-8444-555555555555' },
    );
    expect(answer.outcome).toBe('wrong-tenant');
    expect(answer.invoke).toMatchObject({ statusCode: 403, type: 'application/vnd.microsoft.error' });
    expect((await h.request(request.intentId))?.status).toBe('PENDING');
  });

  it.each([
    ['a person in no approver group', USERS.dave, 'not-eligible'],
    ['a directory user without an email', USERS.noEmail, 'unresolved'],
    ['the agent’s bot account (not a directory user)', USERS.agent, 'unresolved'],
    ['the human the agent acts for', USERS.carol, 'self-on-behalf-of'],
    ['the agent’s owner', USERS.erin, 'self-owner'],
  ])('%s cannot approve; the card says why', async (_name, user, code) => {
    const request = await h.seedBoth();
    const answer = await h.clickTeams(user, 'approve', request);
    expect(answer.outcome).toBe('refused');
    expect(answer.code).toBe(code);
    expect(answer.text).toMatch(/You can't approve this request/);
    expect((await h.request(request.intentId))?.status).toBe('PENDING');
  });

  it('refresh is per person: whoever approved from Teams sees that their approval counts', async () => {
    const request = await h.seedBoth({ review: { quorum: 2 } });
    await h.clickTeams(USERS.alice, 'approve', request);
    const alice = await h.clickTeams(USERS.alice, 'refresh', request);
    const bob = await h.clickTeams(USERS.bob, 'refresh', request);
    expect(alice.text).toMatch(/You approved this request at /);
    expect(bob.text).not.toMatch(/You approved/);
    expect(bob.text).toContain('1 of 2 approvals: alice@example.com');
  });

  it('refresh and view show the current card without changing anything', async () => {
    const request = await h.seedBoth();
    const refreshed = await h.clickTeams(USERS.dave, 'refresh', request);
    const full = await h.clickTeams(USERS.dave, 'view', request);
    expect(refreshed.outcome).toBe('shown');
    expect(refreshed.text).toContain('Waiting for review');
    expect(full.text).toContain('Privileged action review: full request');
    expect((await h.verifiedChain(request.intentId)).map((r) => r.kind)).toEqual([
      'requested',
      'reviewers-notified',
    ]);
  });
});
