/**
 * Invariants 1 and 2: nobody approves their own action (not the agent, its
 * owner or its on-behalf-of human), an unresolved identity is refused, and so
 * is anyone outside the approvers. Each refusal is audited, explained to the
 * clicker ephemerally, and leaves the request PENDING with no task callback.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handleInteraction } from '../../lambdas/interaction/core.js';
import { createIdentityResolver } from '../../lambdas/shared/identity.js';
import { type Harness, startHarness, USERS } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  h.reset();
});

describe('self-approval and identity matrix', () => {
  it.each([
    ['the agent owner (erin)', USERS.erin, 'self-owner', 'you own the agent', 'erin@example.com'],
    [
      'the on-behalf-of human (carol)',
      USERS.carol,
      'self-on-behalf-of',
      'the agent acts on your behalf',
      'carol@example.com',
    ],
    ['an unknown Slack user', USERS.unknown, 'unresolved', 'does not exist', undefined],
    ['a Slack user with no email', USERS.noEmail, 'unresolved', 'has no email', undefined],
    [
      'a user outside the approver group (dave)',
      USERS.dave,
      'not-eligible',
      'not a member of @security-approvers',
      'dave@example.com',
    ],
    ['the agent itself (a bot user)', USERS.agent, 'agent', 'agents and bots never vote', undefined],
  ])('refuses %s', async (_who, user, code, why, email) => {
    // Prepare
    const request = await h.seed();

    // Act
    const result = await h.send(h.click(user, 'approve', request.intentId));

    // Assess
    expect(result).toEqual({ statusCode: 200, body: '', outcome: 'refused' });
    const stored = await h.request(request.intentId);
    expect(stored?.status).toBe('PENDING');
    expect(stored?.approvals).toEqual([]);
    expect(h.fakeAws.tasks.calls).toEqual([]);
    const chain = await h.verifiedChain(request.intentId);
    expect(chain.map((r) => r.kind)).toEqual(['requested', 'reviewers-notified', 'refused']);
    expect(chain[2]!.actor).toEqual({
      type: 'human',
      slackUserId: user,
      ...(email ? { email } : {}),
      channel: 'slack',
    });
    expect(chain[2]!.data).toMatchObject({ vote: 'approve', code });
    expect(String(chain[2]!.data.reason)).toContain(why);
    // Asked of Slack even for a user Slack does not know (Slack then answers user_not_found).
    const ephemerals = h.slack.calls.filter((c) => c.method === 'chat.postEphemeral');
    expect(ephemerals).toHaveLength(1);
    expect(ephemerals[0]!.params.user).toBe(user);
    expect(ephemerals[0]!.params.text).toContain("You can't approve this request");
    expect(ephemerals[0]!.params.text).toContain(why);
    expect(h.slack.sent('chat.update')).toEqual([]);
  });

  it('compares emails case-insensitively', async () => {
    // Prepare: the intent names the owner in another case than Slack's profile.
    const request = await h.seed({ intent: { agent: { owner: 'ERIN@Example.COM' } } });

    // Act
    const result = await h.send(h.click(USERS.erin, 'approve', request.intentId));

    // Assess
    expect(result.outcome).toBe('refused');
    expect((await h.verifiedChain(request.intentId)).at(-1)!.data).toMatchObject({ code: 'self-owner' });
  });

  it('refuses self-approval even when the plan lists the person by email', async () => {
    // Prepare
    const request = await h.seed({ review: { approverEmails: ['carol@example.com'] } });

    // Act
    const result = await h.send(h.click(USERS.carol, 'approve', request.intentId));

    // Assess
    expect(result.outcome).toBe('refused');
    expect((await h.request(request.intentId))?.status).toBe('PENDING');
  });

  it('refuses when Slack cannot be asked about group membership (fail closed)', async () => {
    // Prepare
    const request = await h.seed({ review: { approverGroups: ['security-leads'] } });
    h.slack.setFailure('usergroups.list', 'ratelimited', 10);
    const deps = { ...h.deps, identity: createIdentityResolver(h.deps.slack) }; // nothing cached

    // Act
    const result = await handleInteraction(deps, h.click(USERS.grace, 'approve', request.intentId));

    // Assess
    expect(result.outcome).toBe('refused');
    expect((await h.verifiedChain(request.intentId)).at(-1)!.data).toMatchObject({ code: 'unresolved' });
    expect(h.fakeAws.tasks.calls).toEqual([]);
  });

  it('lets the same user approve once they are in a group the plan names', async () => {
    // Prepare: grace is in security-leads only.
    const request = await h.seed({ review: { approverGroups: ['security-leads'] } });

    // Act
    const result = await h.send(h.click(USERS.grace, 'approve', request.intentId));

    // Assess
    expect(result.outcome).toBe('approved');
  });

  it('applies an injected eligibility rule after the invariants', async () => {
    // Prepare
    const request = await h.seed();
    const asked: string[] = [];
    const deps = {
      ...h.deps,
      canApprove: ({ approver }: { approver: { email: string } }) => {
        asked.push(approver.email);
        return { allowed: true as const, via: 'test-rule' };
      },
    };

    // Act
    const owner = await handleInteraction(deps, h.click(USERS.erin, 'approve', request.intentId));
    const outsider = await handleInteraction(deps, h.click(USERS.dave, 'approve', request.intentId));

    // Assess: the rule never sees the owner; it lets dave in.
    expect(owner.outcome).toBe('refused');
    expect(outsider.outcome).toBe('approved');
    expect(asked).toEqual(['dave@example.com']);
  });
});
