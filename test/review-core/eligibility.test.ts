/**
 * Who may vote, decided directly on the core's eligibility functions: the
 * invariants no rule can turn off (unresolved never votes, agents never vote,
 * nobody approves their own action), the review-plan rule, the Cedar rule
 * adapter, and the break-glass exception with its conditions. Every refusal
 * carries the code audit records and cards rely on.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  type ApprovalRule,
  checkBreakGlass,
  checkVoter,
  policyRule,
  reviewPlanRule,
} from '../../lambdas/review-core/eligibility.js';
import type { HumanIdentity, ResolvedIdentity } from '../../lambdas/shared/identity.js';
import type { ApprovalQuestion } from '../../lambdas/shared/policy.js';
import type { RequestItem, ReviewPlan } from '../../lambdas/shared/store.js';
import { makeIntent, makeReviewPlan } from '../support/fixtures.js';

const OWNER = 'owner@example.com';
const PRINCIPAL = 'principal@example.com';

function human(email: string, groups: string[] = []): HumanIdentity {
  return {
    kind: 'human',
    slackUserId: 'U0HUMAN01',
    email,
    name: 'someone',
    displayName: 'Someone',
    groups,
  };
}

function request(overrides: { review?: Partial<ReviewPlan> | null; urgent?: boolean } = {}): RequestItem {
  const intent = makeIntent({
    agent: { owner: OWNER, onBehalfOf: PRINCIPAL },
    ...(overrides.urgent ? { context: { urgency: 'urgent' } } : {}),
  });
  return {
    pk: `REQUEST#${intent.intentId}`,
    sk: 'REQUEST',
    intentId: intent.intentId,
    agentId: 'deploy-bot',
    source: 'countersign.agent.deploy-bot',
    status: 'PENDING',
    intent,
    intentHash: 'hash',
    createdAt: '2026-06-01T12:00:00.000Z',
    ...(overrides.review === null ? {} : { review: makeReviewPlan(overrides.review ?? {}) }),
    approvals: [],
    voterIds: [],
  };
}

/** A rule that records whether it was asked and answers as told. */
function recordingRule(allowed: boolean) {
  const calls: Parameters<ApprovalRule>[0][] = [];
  const rule: ApprovalRule = (input) => {
    calls.push(input);
    return allowed ? { allowed: true, via: 'rule:yes' } : { allowed: false, reason: 'rule says no' };
  };
  return { rule, calls };
}

describe('reviewPlanRule', () => {
  it('refuses everyone on a request without a review plan', () => {
    // Act
    const verdict = reviewPlanRule({
      request: request({ review: null }),
      approver: human('a@example.com'),
      vote: 'approve',
    });

    // Assess
    expect(verdict).toEqual({ allowed: false, reason: 'the request has no review plan' });
  });

  it('allows a member of an approver group, naming the group', () => {
    // Act
    const verdict = reviewPlanRule({
      request: request({ review: { approverGroups: ['sre', 'security'] } }),
      approver: human('a@example.com', ['security']),
      vote: 'approve',
    });

    // Assess
    expect(verdict).toEqual({ allowed: true, via: 'group:security' });
  });

  it('allows an email the plan lists, compared canonically', () => {
    // Act
    const verdict = reviewPlanRule({
      request: request({ review: { approverGroups: [], approverEmails: ['Lead+Reviews@Example.com'] } }),
      approver: human('lead@example.com'),
      vote: 'approve',
    });

    // Assess
    expect(verdict).toEqual({ allowed: true, via: 'email:lead@example.com' });
  });

  it('refuses someone the plan does not list even when it lists other emails', () => {
    // Act
    const verdict = reviewPlanRule({
      request: request({ review: { approverGroups: [], approverEmails: ['lead@example.com'] } }),
      approver: human('mallory@example.com'),
      vote: 'approve',
    });

    // Assess
    expect(verdict).toEqual({ allowed: false, reason: 'you are not one of the approvers of this request' });
  });

  it('tells a non-member which groups approve', () => {
    // Act
    const verdict = reviewPlanRule({
      request: request({ review: { approverGroups: ['sre', 'security'] } }),
      approver: human('mallory@example.com', ['marketing']),
      vote: 'approve',
    });

    // Assess
    expect(verdict).toEqual({ allowed: false, reason: 'you are not a member of @sre or @security' });
  });
});

describe('policyRule', () => {
  it('refuses without asking the engine when the request has no review plan', () => {
    // Prepare
    const canApprove = vi.fn();

    // Act
    const verdict = policyRule(canApprove)({
      request: request({ review: null }),
      approver: human('a@example.com'),
      vote: 'approve',
    });

    // Assess
    expect(verdict).toEqual({ allowed: false, reason: 'the request has no review plan' });
    expect(canApprove).not.toHaveBeenCalled();
  });

  it('asks the engine about a human (never a bot) with the plan and the verified facts', () => {
    // Prepare
    const asked: ApprovalQuestion[] = [];
    const item = request({ review: { policies: ['p'] } });
    item.verified = {
      owner: OWNER,
      onBehalfOf: PRINCIPAL,
      environment: 'prod',
      declaredEnvironment: 'prod',
      environmentSource: 'account',
    };

    // Act
    const verdict = policyRule((question) => {
      asked.push(question);
      return { allowed: true, reason: 'ok', policies: ['approve-sre', 'default-review'] };
    })({ request: item, approver: human('a@example.com', ['sre']), vote: 'approve' });

    // Assess
    expect(verdict).toEqual({ allowed: true, via: 'policy:approve-sre,default-review' });
    expect(asked).toEqual([
      {
        intent: item.intent,
        agentId: 'deploy-bot',
        plan: item.review,
        approver: { slackUserId: 'U0HUMAN01', email: 'a@example.com', groups: ['sre'], isBot: false },
        verified: item.verified,
      },
    ]);
  });

  it('names the review plan when the engine allows without naming a policy', () => {
    // Act
    const verdict = policyRule(() => ({ allowed: true, reason: 'ok', policies: [] }))({
      request: request(),
      approver: human('a@example.com'),
      vote: 'approve',
    });

    // Assess
    expect(verdict).toEqual({ allowed: true, via: 'policy:review-plan' });
  });

  it("passes the engine's refusal reason on", () => {
    // Act
    const verdict = policyRule(() => ({
      allowed: false,
      reason: 'forbidden by no-contractors',
      policies: [],
    }))({
      request: request(),
      approver: human('a@example.com'),
      vote: 'approve',
    });

    // Assess
    expect(verdict).toEqual({ allowed: false, reason: 'forbidden by no-contractors' });
  });
});

describe('checkVoter: the invariants come before any rule', () => {
  const unresolved: ResolvedIdentity = { kind: 'unresolved', slackUserId: 'U0X', reason: 'Slack is down' };
  const bot: ResolvedIdentity = { kind: 'bot', slackUserId: 'B0X', name: 'deploy-bot' };

  it.each(['approve', 'deny'] as const)(
    'an unresolved identity may not %s, whatever the rule says',
    async (vote) => {
      // Prepare
      const { rule, calls } = recordingRule(true);

      // Act
      const check = await checkVoter(request(), unresolved, vote, rule);

      // Assess
      expect(check).toEqual({
        ok: false,
        code: 'unresolved',
        reason: 'your identity could not be resolved (Slack is down)',
      });
      expect(calls).toEqual([]);
    },
  );

  it.each(['approve', 'deny'] as const)('an agent (bot) may not %s, whatever the rule says', async (vote) => {
    // Prepare
    const { rule, calls } = recordingRule(true);

    // Act
    const check = await checkVoter(request(), bot, vote, rule);

    // Assess
    expect(check).toEqual({ ok: false, code: 'agent', reason: 'agents and bots never vote on requests' });
    expect(calls).toEqual([]);
  });

  it('a human whose email is a lookalike is unresolved, whatever the rule says', async () => {
    // Prepare
    const { rule, calls } = recordingRule(true);

    // Act
    const check = await checkVoter(request(), human('c\u0430rol@example.com'), 'approve', rule);

    // Assess
    expect(check).toMatchObject({
      ok: false,
      code: 'unresolved',
      reason: expect.stringMatching(/^your email /),
    });
    expect(calls).toEqual([]);
  });

  it.each([
    [
      'the owner the intent declares',
      'Owner+x@Example.com',
      'self-owner',
      'you own the agent that asked for this action; nobody approves their own action',
    ],
    [
      'the human the agent acts for',
      'PRINCIPAL@example.com',
      'self-on-behalf-of',
      'the agent acts on your behalf; nobody approves their own action',
    ],
  ])('%s may not approve, even when the rule would allow it', async (_who, email, code, reason) => {
    // Prepare
    const { rule, calls } = recordingRule(true);

    // Act
    const check = await checkVoter(request(), human(email), 'approve', rule);

    // Assess
    expect(check).toEqual({ ok: false, code, reason });
    expect(calls).toEqual([]);
  });

  it.each([
    [
      'the verified owner',
      { owner: 'registered@example.com', onBehalfOf: 'x@example.com' },
      'registered@example.com',
      'self-owner',
    ],
    [
      'the verified on-behalf-of human',
      { owner: 'y@example.com', onBehalfOf: 'boss@example.com' },
      'boss@example.com',
      'self-on-behalf-of',
    ],
  ])('%s may not approve although the intent names someone else', async (_who, facts, email, code) => {
    // Prepare
    const item = request();
    item.verified = {
      ...facts,
      environment: 'prod',
      declaredEnvironment: 'prod',
      environmentSource: 'account',
    };
    const { rule } = recordingRule(true);

    // Act
    const check = await checkVoter(item, human(email), 'approve', rule);

    // Assess
    expect(check).toMatchObject({ ok: false, code });
  });

  it('the owner and the on-behalf-of human may withdraw (deny) their own request without the rule', async () => {
    // Prepare
    const { rule, calls } = recordingRule(false);

    // Act
    const owner = await checkVoter(request(), human(OWNER), 'deny', rule);
    const principal = await checkVoter(request(), human(PRINCIPAL), 'deny', rule);

    // Assess
    expect(owner).toEqual({ ok: true, approver: human(OWNER), via: 'owner-withdrawal' });
    expect(principal).toEqual({ ok: true, approver: human(PRINCIPAL), via: 'principal-withdrawal' });
    expect(calls).toEqual([]);
  });

  it('anyone else needs the rule to deny, and the rule is told it is a deny', async () => {
    // Prepare
    const { rule, calls } = recordingRule(false);

    // Act
    const check = await checkVoter(request(), human('outsider@example.com'), 'deny', rule);

    // Assess
    expect(check).toEqual({ ok: false, code: 'not-eligible', reason: 'rule says no' });
    expect(calls.map((c) => c.vote)).toEqual(['deny']);
  });

  it('an eligible human approves through the rule, which names how', async () => {
    // Prepare
    const item = request();
    const { rule, calls } = recordingRule(true);

    // Act
    const check = await checkVoter(item, human('reviewer@example.com'), 'approve', rule);

    // Assess
    expect(check).toEqual({ ok: true, approver: human('reviewer@example.com'), via: 'rule:yes' });
    expect(calls).toEqual([{ request: item, approver: human('reviewer@example.com'), vote: 'approve' }]);
  });
});

describe("checkVoter: the agent's currently registered owner", () => {
  it('may not approve although the stored request names another owner', async () => {
    // Prepare: the registry is read once per module load, so load a fresh copy under it.
    vi.resetModules();
    const before = process.env.COUNTERSIGN_AGENTS;
    process.env.COUNTERSIGN_AGENTS = JSON.stringify({ 'deploy-bot': { owner: 'New.Owner@example.com' } });
    try {
      const fresh = await import('../../lambdas/review-core/eligibility.js');
      const { rule } = recordingRule(true);

      // Act
      const registered = await fresh.checkVoter(request(), human('new.owner@example.com'), 'approve', rule);
      const breakGlass = fresh.checkBreakGlass(
        request({ urgent: true, review: { breakGlass: true, responderEmails: ['new.owner@example.com'] } }),
        human('new.owner@example.com'),
      );

      // Assess
      expect(registered).toMatchObject({ ok: false, code: 'self-owner' });
      expect(breakGlass).toMatchObject({ ok: false, code: 'self-owner' });
    } finally {
      if (before === undefined) delete process.env.COUNTERSIGN_AGENTS;
      else process.env.COUNTERSIGN_AGENTS = before;
      vi.resetModules();
    }
  });
});

describe('checkBreakGlass', () => {
  const open = { breakGlass: true, responderGroups: ['oncall'], responderEmails: ['pager@example.com'] };

  it('lets the responder the agent acts for approve an urgent request policy opened to break-glass', () => {
    // Act
    const check = checkBreakGlass(request({ urgent: true, review: open }), human(PRINCIPAL, ['oncall']));

    // Assess
    expect(check).toEqual({ ok: true, approver: human(PRINCIPAL, ['oncall']), via: 'break-glass' });
  });

  it('accepts a responder policy names by email, compared canonically', () => {
    // Prepare
    const item = request({
      urgent: true,
      review: { breakGlass: true, responderEmails: ['Principal@Example.com'] },
    });

    // Act
    const check = checkBreakGlass(item, human(PRINCIPAL));

    // Assess
    expect(check).toMatchObject({ ok: true, via: 'break-glass' });
  });

  it.each([
    [
      'unresolved',
      { kind: 'unresolved', slackUserId: 'U0X', reason: 'gone' },
      'unresolved',
      'your identity could not be resolved (gone)',
    ],
    ['a bot', { kind: 'bot', slackUserId: 'B0X', name: 'bot' }, 'agent', 'agents and bots never approve'],
  ] as const)('refuses %s', (_who, identity, code, reason) => {
    // Act
    const check = checkBreakGlass(request({ urgent: true, review: open }), identity);

    // Assess
    expect(check).toEqual({ ok: false, code, reason });
  });

  it('refuses a lookalike email as unresolved', () => {
    // Act
    const check = checkBreakGlass(
      request({ urgent: true, review: open }),
      human('princ\u0456pal@example.com'),
    );

    // Assess
    expect(check).toMatchObject({ ok: false, code: 'unresolved' });
  });

  it('never lets the owner break glass, even as a named responder', () => {
    // Prepare
    const item = request({ urgent: true, review: { ...open, responderEmails: [OWNER] } });

    // Act
    const check = checkBreakGlass(item, human(OWNER, ['oncall']));

    // Assess
    expect(check).toEqual({
      ok: false,
      code: 'self-owner',
      reason:
        'you own the agent that asked for this action; owners never approve, not even on the break-glass path',
    });
  });

  it.each([
    [
      'policy does not allow break-glass',
      { review: { ...open, breakGlass: false }, urgent: true },
      'policy does not allow break-glass for this request',
    ],
    [
      'there is no review plan',
      { review: null, urgent: true },
      'policy does not allow break-glass for this request',
    ],
    [
      'the request is not urgent',
      { review: open, urgent: false },
      'break-glass is only for requests the agent marks urgent',
    ],
  ] as const)('refuses when %s', (_why, shape, reason) => {
    // Act
    const check = checkBreakGlass(request(shape), human(PRINCIPAL, ['oncall']));

    // Assess
    expect(check).toEqual({ ok: false, code: 'not-eligible', reason });
  });

  it('refuses a responder the agent does not act for: approvers use Approve', () => {
    // Act
    const check = checkBreakGlass(
      request({ urgent: true, review: open }),
      human('pager@example.com', ['oncall']),
    );

    // Assess
    expect(check).toEqual({
      ok: false,
      code: 'not-eligible',
      reason: 'only the responder the agent acts for may break glass; approvers use Approve',
    });
  });

  it('refuses the human the agent acts for when policy does not name them a responder, listing who is', () => {
    // Act
    const check = checkBreakGlass(request({ urgent: true, review: open }), human(PRINCIPAL, ['marketing']));

    // Assess
    expect(check).toEqual({
      ok: false,
      code: 'not-eligible',
      reason:
        'policy does not name you a break-glass responder for this action (responders: @oncall, pager@example.com); the agent acting for you does not make you one',
    });
  });

  it('says nobody is a responder when policy names none', () => {
    // Act
    const check = checkBreakGlass(request({ urgent: true, review: { breakGlass: true } }), human(PRINCIPAL));

    // Assess
    expect(check).toMatchObject({ ok: false, reason: expect.stringContaining('(responders: nobody)') });
  });
});
