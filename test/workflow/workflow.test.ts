/**
 * The synthesized ASL, run by aws-local-stepfunctions with the real handler
 * modules, against dynalite, s3rver, a fake Slack and the fake task-callback
 * API: every path from intent to announced decision.
 */
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditObjectKey } from '../../lambdas/shared/audit.js';
import { canonicalJson } from '../../lambdas/shared/canonical.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { makeIntent } from '../support/fixtures.js';
import {
  cardFor,
  click,
  currentCard,
  decisionFor,
  denyWithReason,
  eventually,
  newIntentId,
  publish,
  request,
  reviewOpen,
  sharedLoop,
  USER,
  verifiedChain,
} from '../support/loop.js';

let loop: CountersignLoop;
beforeAll(async () => {
  loop = await sharedLoop();
});

/** A production IAM change: policy `review-prod-iam-change`, one approval from security-approvers. */
const iamChange = () => makeIntent({ intentId: newIntentId() });

const cardText = (blocks: unknown) => JSON.stringify(blocks ?? []);

describe('approval workflow', () => {
  it('approve: the card is posted, one approval decides, the decision is announced with a grant and audited', async () => {
    // Prepare
    const intent = iamChange();
    // Act
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    const answer = await click(loop, USER.alice, 'approve', intent.intentId);
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    // Assess
    expect(answer.statusCode).toBe(200);
    expect(decision.detail).toMatchObject({
      intentId: intent.intentId,
      agentId: 'deploy-bot',
      status: 'APPROVED',
      automatic: false,
      approvers: [expect.objectContaining({ slackUserId: USER.alice, email: 'alice@example.com' })],
      grant: expect.objectContaining({ singleUse: true }),
    });
    expect(decision.detail.intentHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(decision.detail.policies).toContain('review-prod-iam-change');
    expect((await request(loop, intent.intentId))?.status).toBe('APPROVED');
    const successes = loop.fakeAws.tasks
      .callsOf('SendTaskSuccess')
      .filter((c) => c.output?.includes(intent.intentId));
    expect(successes).toHaveLength(1);
    expect(successes[0]?.result).toBe('ok');
    const chain = await verifiedChain(loop, intent.intentId);
    expect(chain.map((r) => r.kind)).toEqual([
      'requested',
      'policy-evaluated',
      'reviewers-notified',
      'card-posted',
      'vote',
      'decided',
    ]);
    const text = cardText(currentCard(loop, card)?.blocks);
    expect(text).toContain('Approved');
    expect(text).not.toContain('"action_id":"approve"');
  });

  it('the card carries the request id, never the task token', async () => {
    const intent = iamChange();
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    const stored = await request(loop, intent.intentId);
    expect(stored?.taskToken).toBeTruthy();
    expect(JSON.stringify(card)).not.toContain(stored!.taskToken!);
    await denyWithReason(loop, USER.bob, intent.intentId);
    await eventually(() => decisionFor(loop, intent.intentId));
  });

  it('deny: one deny ends the review as DENIED, announced and audited', async () => {
    const intent = iamChange();
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    await denyWithReason(loop, USER.bob, intent.intentId);
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail).toMatchObject({ status: 'DENIED', automatic: false });
    expect(decision.detail.grant).toBeUndefined();
    expect(String(decision.detail.reason)).toMatch(/bob/i);
    expect(String(decision.detail.reason)).toContain('Not now: no change ticket.');
    const chain = await verifiedChain(loop, intent.intentId);
    // Bob's deciding vote carries his reason; Record's final record carries the decision.
    expect(chain.at(-2)).toMatchObject({
      kind: 'vote',
      actor: { type: 'human', slackUserId: USER.bob },
      data: expect.objectContaining({ vote: 'deny', denyReason: 'Not now: no change ticket.' }),
    });
    expect(chain.at(-1)).toMatchObject({
      kind: 'decided',
      actor: { type: 'human', slackUserId: USER.bob },
      data: expect.objectContaining({ final: true, decision: expect.objectContaining({ status: 'DENIED' }) }),
    });
  });

  it('timeout: an unanswered review expires into a denial and the card says EXPIRED', async () => {
    // staging + an action no policy names: the default review with the (short) default timeout.
    const intent = makeIntent({
      intentId: newIntentId(),
      environment: 'staging',
      action: 'ec2:RebootInstances',
      resource: 'arn:aws:ec2:us-east-1:210987654321:instance/i-0staging',
    });
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    const decision = await eventually(() => decisionFor(loop, intent.intentId), 15_000);
    expect(decision.detail).toMatchObject({ status: 'EXPIRED', automatic: true });
    expect(decision.detail.grant).toBeUndefined();
    expect((await request(loop, intent.intentId))?.status).toBe('EXPIRED');
    expect(cardText(currentCard(loop, card)?.blocks)).toContain('Expired');
    const chain = await verifiedChain(loop, intent.intentId);
    expect(chain.at(-1)?.kind).toBe('expired');
    // A click after expiry changes nothing and is told why.
    await click(loop, USER.alice, 'approve', intent.intentId);
    expect((await request(loop, intent.intentId))?.status).toBe('EXPIRED');
  });

  it('duplicate intent: a replayed event starts no second review', async () => {
    const intent = iamChange();
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    publish(loop, intent);
    publish(loop, { ...intent, justification: 'same id, different content' });
    const [, ...replays] = loop.executionsFor(intent.intentId);
    expect(replays).toHaveLength(2);
    await Promise.all(replays.map((e) => e.result));
    const cards = loop
      .slack!.sent('chat.postMessage')
      .filter((m) => cardText(m.blocks).includes(intent.intentId));
    expect(cards).toHaveLength(1);
    await click(loop, USER.alice, 'approve', intent.intentId);
    await eventually(() => decisionFor(loop, intent.intentId));
    await Promise.all(loop.executionsFor(intent.intentId).map((e) => e.result));
    expect(loop.decisions.filter((e) => e.detail.intentId === intent.intentId)).toHaveLength(1);
  });

  it('handler failure: Slack refusing the card ends in an audited denial, not a lost request', async () => {
    const intent = iamChange();
    loop.slack!.setFailure('chat.postMessage', 'channel_not_found', 1, (p) =>
      JSON.stringify(p).includes(intent.intentId),
    );
    publish(loop, intent);
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail).toMatchObject({ status: 'DENIED', automatic: true });
    expect(String(decision.detail.reason)).toMatch(/Countersign failed/);
    const chain = await verifiedChain(loop, intent.intentId);
    expect(chain.at(-1)).toMatchObject({ kind: 'decided', data: expect.objectContaining({ final: true }) });
  });

  it('quorum: a privilege escalation needs two distinct approvals; the card shows progress', async () => {
    const intent = makeIntent({
      intentId: newIntentId(),
      action: 'iam:AttachRolePolicy',
      parameters: { policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess', roleName: 'payments-deployer' },
    });
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    expect((await request(loop, intent.intentId))?.review?.quorum).toBe(2);
    await click(loop, USER.alice, 'approve', intent.intentId);
    await click(loop, USER.alice, 'approve', intent.intentId); // the same person twice counts once
    expect((await request(loop, intent.intentId))?.status).toBe('PENDING');
    expect(cardText(currentCard(loop, card)?.blocks)).toContain('1 of 2 approvals');
    await click(loop, USER.bob, 'approve', intent.intentId);
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail.status).toBe('APPROVED');
    expect((decision.detail.approvers as { slackUserId: string }[]).map((a) => a.slackUserId)).toEqual([
      USER.alice,
      USER.bob,
    ]);
  });

  it('self-approval is refused in the workflow too: the on-behalf-of human cannot approve', async () => {
    const intent = iamChange();
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    await click(loop, USER.carol, 'approve', intent.intentId);
    expect((await request(loop, intent.intentId))?.status).toBe('PENDING');
    const chain = await verifiedChain(loop, intent.intentId);
    expect(chain.at(-1)).toMatchObject({
      kind: 'refused',
      actor: { type: 'human', slackUserId: USER.carol },
    });
    await click(loop, USER.alice, 'approve', intent.intentId);
    expect((await eventually(() => decisionFor(loop, intent.intentId))).detail.status).toBe('APPROVED');
  });

  it('Cedar decides who may approve: a contractor in the approver group is refused on a prod request', async () => {
    const intent = iamChange();
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    await click(loop, USER.heidi, 'approve', intent.intentId);
    expect((await request(loop, intent.intentId))?.status).toBe('PENDING');
    const refusal = (await verifiedChain(loop, intent.intentId)).at(-1);
    expect(refusal).toMatchObject({ kind: 'refused', actor: { slackUserId: USER.heidi } });
    expect(JSON.stringify(refusal?.data)).toContain('approve-no-contractors-in-prod');
    const ephemeral = loop.slack!.sent('chat.postEphemeral', USER.heidi).at(-1);
    expect(ephemeral?.text).toMatch(/approve-no-contractors-in-prod/);
    await denyWithReason(loop, USER.bob, intent.intentId);
    await eventually(() => decisionFor(loop, intent.intentId));
  });

  it('policy allow: a dev read-only action is approved automatically without a card', async () => {
    const intent = makeIntent({
      intentId: newIntentId(),
      environment: 'dev',
      action: 's3:GetObject',
      resource: 'arn:aws:s3:::dev-artifacts/build.log',
    });
    publish(loop, intent);
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail).toMatchObject({ status: 'APPROVED', automatic: true, approvers: [] });
    expect(decision.detail.policies).toContain('allow-dev-read-only');
    expect(cardFor(loop, intent.intentId)).toBeUndefined();
  });

  it('policy deny: an account-destroying action is denied without a card', async () => {
    const intent = makeIntent({
      intentId: newIntentId(),
      action: 'organizations:LeaveOrganization',
      resource: 'arn:aws:organizations::123456789012:account/o-1/123456789012',
    });
    publish(loop, intent);
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail).toMatchObject({ status: 'DENIED', automatic: true });
    expect(decision.detail.policies).toContain('deny-account-destruction');
    expect(cardFor(loop, intent.intentId)).toBeUndefined();
  });
});

describe('bad input ends DENIED with a reason, and nothing reaches Slack', () => {
  const cases: [string, () => Record<string, unknown>, RegExp][] = [
    [
      'a missing field',
      () => {
        const { justification: _j, ...rest } = makeIntent({ intentId: newIntentId() });
        return rest;
      },
      /justification/,
    ],
    [
      'a wrong type',
      () => ({ ...makeIntent({ intentId: newIntentId() }), parameters: 'not-an-object' }),
      /parameters/,
    ],
    [
      'a bad email',
      () => {
        const i = makeIntent({ intentId: newIntentId() });
        return { ...i, agent: { ...i.agent, owner: 'nobody' } };
      },
      /agent\.owner/,
    ],
    [
      'an unknown field',
      () => ({ ...makeIntent({ intentId: newIntentId() }), sneaky: true }),
      /sneaky|unrecognized/i,
    ],
    [
      'an intent over 256 KB',
      () => ({ ...makeIntent({ intentId: newIntentId() }), parameters: { blob: 'x'.repeat(270 * 1024) } }),
      /limit is 262144 bytes/,
    ],
  ];

  it.each(cases)('%s', async (_name, build, reason) => {
    const detail = build();
    const before = loop.slack!.sent('chat.postMessage').length;
    const execution = loop.startWorkflow({
      version: '0',
      id: `event-${newIntentId()}`,
      source: 'countersign.agent.deploy-bot',
      'detail-type': 'Privileged Action Requested',
      detail,
    });
    await execution.result;
    const decision = await eventually(() => decisionFor(loop, String(detail.intentId)));
    expect(decision.detail).toMatchObject({ status: 'DENIED', automatic: true });
    expect(String(decision.detail.reason)).toMatch(reason);
    expect(loop.slack!.sent('chat.postMessage').length).toBe(before);
    const chain = await verifiedChain(loop, String(detail.intentId));
    expect(chain.map((r) => r.kind)).toEqual(['rejected', 'decided']);
  });

  it('an event from a source that is not an agent is denied even if it reaches the workflow', async () => {
    const intent = makeIntent({ intentId: newIntentId() });
    const execution = loop.startWorkflow({
      version: '0',
      id: 'evt-1',
      source: 'someone.else',
      'detail-type': 'Privileged Action Requested',
      detail: intent,
    });
    await execution.result;
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail.status).toBe('DENIED');
    expect(String(decision.detail.reason)).toMatch(/not an agent source/);
  });
});

describe('audit objects', () => {
  it('every record is archived to S3 from the table stream, as its canonical JSON under the request prefix', async () => {
    const intent = iamChange();
    publish(loop, intent);
    await reviewOpen(loop, intent.intentId);
    await click(loop, USER.alice, 'approve', intent.intentId);
    await eventually(() => decisionFor(loop, intent.intentId));
    await loop.executionsFor(intent.intentId)[0]!.result; // Record and Announce have run
    await loop.aws.stream.drained(); // and the stream has delivered every record
    const chain = await verifiedChain(loop, intent.intentId);
    const { createdAt } = (await request(loop, intent.intentId))!;
    const prefix = auditObjectKey(createdAt, intent.intentId, 1).replace(/[^/]+$/, '');
    const listed = await loop.aws.s3.send(
      new ListObjectsV2Command({ Bucket: loop.aws.bucket, Prefix: prefix }),
    );
    const keys = (listed.Contents ?? []).map((o) => o.Key!).sort();
    expect(keys).toEqual(chain.map((r) => auditObjectKey(createdAt, intent.intentId, r.seq)));
    for (const [i, key] of keys.entries()) {
      const object = await loop.aws.s3.send(new GetObjectCommand({ Bucket: loop.aws.bucket, Key: key }));
      expect(await object.Body!.transformToString()).toBe(canonicalJson(chain[i]));
    }
  });
});
