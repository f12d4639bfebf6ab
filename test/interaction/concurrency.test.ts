/**
 * Invariant 4: exactly one final decision under concurrent clicks. Twenty
 * eligible people (and one person twenty times) click Approve at once.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { directoryWithApprovers, type Harness, startHarness, USERS } from './harness.js';

let h: Harness;
let approvers: string[];
beforeAll(async () => {
  const extended = directoryWithApprovers(20);
  approvers = extended.approvers;
  h = await startHarness({ directory: extended.directory });
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  h.reset();
});

describe('20 concurrent approve clicks', () => {
  it('from 20 different eligible users: one decision, one SendTaskSuccess, everyone else told who decided', async () => {
    // Prepare
    const request = await h.seed();
    const clicks = approvers.map((user) => h.click(user, 'approve', request.intentId));

    // Act
    const results = await Promise.all(clicks.map((click) => h.send(click)));

    // Assess
    const outcomes = results.map((r) => r.outcome);
    expect(outcomes.filter((o) => o === 'approved')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'approved').every((o) => o === 'late')).toBe(true);
    expect(results.every((r) => r.statusCode === 200)).toBe(true);
    const stored = await h.request(request.intentId);
    expect(stored?.status).toBe('APPROVED');
    const winner = stored!.decision!.decidedBy!.slackUserId;
    expect(approvers).toContain(winner);
    expect(h.fakeAws.tasks.callsOf('SendTaskSuccess')).toHaveLength(1);
    expect(h.fakeAws.tasks.calls).toHaveLength(1);
    const losers = approvers.filter((u) => u !== winner);
    for (const loser of losers) {
      const told = h.slack.sent('chat.postEphemeral', loser);
      expect(told).toHaveLength(1);
      expect(told[0]!.text).toContain(`already approved by <@${winner}>`);
    }
    const chain = await h.verifiedChain(request.intentId);
    // Every counted vote is audited; votes that lost the race to the decision were never counted.
    expect(chain.filter((r) => r.kind === 'vote')).toHaveLength(stored!.approvals.length);
  });

  it('from one user 20 times: one vote, one decision, one SendTaskSuccess', async () => {
    // Prepare
    const request = await h.seed({ review: { quorum: 2 } });
    const clicks = Array.from({ length: 20 }, () => h.click(USERS.alice, 'approve', request.intentId));

    // Act
    const results = await Promise.all(clicks.map((click) => h.send(click)));

    // Assess: quorum 2 cannot be met by one person.
    const outcomes = results.map((r) => r.outcome);
    expect(outcomes.filter((o) => o === 'voted')).toHaveLength(1);
    expect(
      outcomes.filter((o) => o !== 'voted').every((o) => o === 'already-voted' || o === 'replayed'),
    ).toBe(true);
    const stored = await h.request(request.intentId);
    expect(stored?.status).toBe('PENDING');
    expect(stored?.approvals.map((a) => a.slackUserId)).toEqual([USERS.alice]);
    expect(h.fakeAws.tasks.calls).toEqual([]);

    // Act again: a second person completes the quorum.
    const final = await h.send(h.click(USERS.bob, 'approve', request.intentId));

    // Assess
    expect(final.outcome).toBe('approved');
    expect(h.fakeAws.tasks.callsOf('SendTaskSuccess')).toHaveLength(1);
  });

  it('approve clicks and deny submissions racing: exactly one decision and one task callback', async () => {
    // Prepare: half the approvers open the deny form first (a deny decides only on submission).
    const request = await h.seed();
    const deniers = approvers.filter((_, i) => i % 2 === 1);
    const forms = [];
    for (const user of deniers) {
      await h.send(h.click(user, 'deny', request.intentId));
      forms.push(h.submission(user, h.lastView('countersign.deny')!, { reason: `no (${user})` }));
    }
    expect(forms).toHaveLength(deniers.length);
    const clicks = approvers
      .filter((_, i) => i % 2 === 0)
      .map((user) => h.click(user, 'approve', request.intentId));

    // Act: every approval and every denial at once.
    const results = await Promise.all([...clicks, ...forms].map((r) => h.send(r)));

    // Assess
    const decided = results.filter((r) => r.outcome === 'approved' || r.outcome === 'denied');
    expect(decided).toHaveLength(1);
    expect(h.fakeAws.tasks.calls).toHaveLength(1);
    const stored = await h.request(request.intentId);
    expect(stored?.status).toBe(decided[0]!.outcome === 'approved' ? 'APPROVED' : 'DENIED');
    expect(h.fakeAws.tasks.calls[0]!.operation).toBe(
      stored?.status === 'APPROVED' ? 'SendTaskSuccess' : 'SendTaskFailure',
    );
  });
});
