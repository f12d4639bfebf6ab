/** Store and Record rules that keep exactly one decision, for exactly the version approvers saw. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../lambdas/record/core.js';
import { type RequestDecision, recordApproval } from '../../lambdas/shared/store.js';
import { seedPendingRequest } from '../support/fixtures.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';

let aws: LocalAws;
const deps = () => ({ ...aws, retentionDays: 1, now: () => new Date() });
beforeAll(async () => {
  aws = await startLocalAws({ table: 'decisions-test', bucket: 'decisions-test' });
});
afterAll(() => aws.close());

describe('recordApproval', () => {
  it('counts a vote only for the intent version the voter was checked against', async () => {
    // Prepare
    const request = await seedPendingRequest(deps());
    const alice = { slackUserId: 'U0ALICE01', email: 'alice@example.com', at: new Date().toISOString() };
    // Act: a vote checked against another version (a modification landed in between).
    const stale = await recordApproval(deps(), request.intentId, alice, 'sha256:another-version');
    const current = await recordApproval(deps(), request.intentId, alice, request.intentHash);
    // Assess
    expect(stale).toMatchObject({ kind: 'changed', request: { approvals: [] } });
    expect(current).toMatchObject({
      kind: 'counted',
      request: { voterIds: ['U0ALICE01', 'email:alice@example.com'] },
    });
  });

  it('one person is one voter across channels: the same email from another channel id is already voted', async () => {
    const request = await seedPendingRequest(deps());
    const at = new Date().toISOString();
    const fromSlack = { slackUserId: 'U0ALICE01', email: 'alice@example.com', at, channel: 'slack' };
    const fromWeb = { slackUserId: 'alice@example.com', email: 'alice@example.com', at, channel: 'web' };
    expect(await recordApproval(deps(), request.intentId, fromSlack, request.intentHash)).toMatchObject({
      kind: 'counted',
    });
    const again = await recordApproval(deps(), request.intentId, fromWeb, request.intentHash);
    expect(again).toMatchObject({ kind: 'already-voted', request: { approvals: [fromSlack] } });
  });
});

describe('reconcile', () => {
  it('a cancellation stored before Record stands over a policy allow (fail closed)', async () => {
    const request = await seedPendingRequest(deps());
    const cancelled: RequestDecision = {
      status: 'CANCELLED',
      automatic: false,
      reason: 'Cancelled by agent deploy-bot',
      decidedAt: new Date().toISOString(),
      approvers: [],
      policies: [],
      intentHash: request.intentHash,
    };
    const decision = reconcile(
      { status: 'APPROVED', automatic: true, reason: 'allowed by policy', human: false },
      { ...request, status: 'CANCELLED', decision: cancelled },
      ['allow-dev-read-only'],
      new Date().toISOString(),
    );
    expect(decision).toMatchObject({ status: 'CANCELLED', reason: 'Cancelled by agent deploy-bot' });
  });
});
