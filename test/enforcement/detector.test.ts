/**
 * The detector on dynalite and the fake Slack, fed CloudTrail events the fake
 * STS writes for calls made with real minted (or long-term) keys: a call
 * through Countersign's credentials within its grant is accepted; a call
 * without a matching grant is audited on its own chain, alerted once and
 * counted; Countersign's own roles are recognised.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handleCloudTrailEvent, unapprovedRequestId } from '../../lambdas/detector/core.js';
import { GENESIS_HASH, hashRecord, readChain } from '../../lambdas/shared/audit.js';
import { loadDirectory, type RunningFakeSlack, startFakeSlack } from '../../sandbox/fake-slack.js';
import {
  ACCOUNT,
  AGENT_ROLE,
  busEvent,
  decided,
  detectorDeps,
  mintedKey,
  OWN_ROLE,
  type Rig,
  startRig,
} from './support.js';

let rig: Rig;
let slack: RunningFakeSlack;
beforeAll(async () => {
  rig = await startRig('detector');
  slack = await startFakeSlack({ directory: loadDirectory() });
});
afterAll(async () => {
  await slack.close();
  await rig.close();
});
beforeEach(() => slack.reset());

const attach = (
  policyArn = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
  roleName = 'payments-deployer',
) => ({
  action: 'iam:AttachRolePolicy',
  resource: `arn:aws:iam::${ACCOUNT}:role/${roleName}`,
  eventSource: 'iam.amazonaws.com',
  requestParameters: { roleName, policyArn },
  context: { 'iam:PolicyARN': policyArn },
});

describe('detector', () => {
  it('accepts the approved call made with the minted credentials, within the grant', async () => {
    // Prepare
    const { grantId, request } = await decided(rig.deps);
    const key = await mintedKey(rig, grantId);
    const deps = detectorDeps(rig, slack);
    // Act
    const call = rig.sts.call(key, { ...attach(), at: new Date(rig.clock.now.getTime() + 5_000) });
    const verdict = await handleCloudTrailEvent(deps, busEvent(call.event));
    // Assess
    expect(call.allowed).toBe(true);
    expect(verdict).toEqual({ kind: 'approved', requestId: request.intentId });
    expect(deps.counted).toEqual([]);
    expect(slack.messages).toEqual([]);
  });

  it('flags the same call made with the agent’s own keys: audited on its own chain, alerted once, counted', async () => {
    await decided(rig.deps);
    const deps = detectorDeps(rig, slack);
    const call = rig.sts.call(
      'AKIAAGENTLONGTERM',
      attach(),
      `arn:aws:sts::${ACCOUNT}:assumed-role/deploy-bot-agent/s1`,
    );
    const event = busEvent(call.event);

    const verdict = await handleCloudTrailEvent(deps, event);
    const again = await handleCloudTrailEvent(deps, event); // EventBridge delivers at least once

    expect(verdict).toMatchObject({ kind: 'unapproved' });
    expect(again).toMatchObject({ kind: 'unapproved', duplicate: true });
    const chain = await readChain(rig.deps, unapprovedRequestId(call.event.eventID));
    expect(chain).toHaveLength(1);
    expect(chain[0]).toMatchObject({
      kind: 'unapproved-action',
      prevHash: GENESIS_HASH,
      actor: { type: 'system', component: 'detector' },
      data: {
        eventId: call.event.eventID,
        principal: `arn:aws:sts::${ACCOUNT}:assumed-role/deploy-bot-agent/s1`,
        action: 'iam.amazonaws.com AttachRolePolicy',
      },
    });
    expect(chain[0]!.hash).toBe(hashRecord(chain[0]!));
    expect(deps.counted).toEqual(['UnapprovedActions']);
    const cards = slack.sent('chat.postMessage');
    expect(cards).toHaveLength(1);
    expect(cards[0]!.channel).toBe('C0APPROVAL');
    const text = JSON.stringify(cards[0]!.blocks);
    for (const shown of [
      call.event.eventID,
      'deploy-bot-agent/s1',
      'AttachRolePolicy',
      call.event.eventTime,
    ]) {
      expect(text).toContain(shown);
    }
  });

  it('flags a minted session used on a neighbour resource, or after its grant expired', async () => {
    const { grantId } = await decided(rig.deps, { ttlSeconds: 300 });
    const key = await mintedKey(rig, grantId);
    const deps = detectorDeps(rig, slack);
    const other = rig.sts.call(key, { ...attach(undefined, 'billing-admin'), at: rig.clock.now });
    expect(other.allowed).toBe(false); // the session policy refuses it at AWS already
    expect(await handleCloudTrailEvent(deps, busEvent(other.event))).toMatchObject({
      kind: 'unapproved',
      reasons: ['requestParameters.roleName is not the approved value'],
    });
    const late = rig.sts.call(key, { ...attach(), at: new Date(rig.clock.now.getTime() + 301_000) });
    expect(await handleCloudTrailEvent(deps, busEvent(late.event))).toMatchObject({
      kind: 'unapproved',
      reasons: ['the call is outside the grant window'],
    });
  });

  it('flags an approved request whose grant was never exchanged (no executor session made the call)', async () => {
    const { request } = await decided(rig.deps);
    const deps = detectorDeps(rig, slack);
    // The agent sets the approved intent id as its own session's source identity.
    const event = rig.sts.call(
      'AKIAAGENT',
      attach(),
      `arn:aws:sts::${ACCOUNT}:assumed-role/deploy-bot-agent/s2`,
    ).event;
    event.userIdentity.sessionContext = {
      ...event.userIdentity.sessionContext,
      sourceIdentity: request.intentId,
    };
    const verdict = await handleCloudTrailEvent(deps, busEvent(event));
    expect(verdict).toMatchObject({ kind: 'unapproved' });
    expect((verdict as { reasons: string[] }).reasons).toEqual([
      'the caller is not a Countersign executor role',
      'the grant of the approved request was never consumed',
    ]);
  });

  it('recognises Countersign’s own roles and ignores calls outside the catalog', async () => {
    const deps = detectorDeps(rig, slack);
    const own = rig.sts.call(
      'AKIAOWN',
      attach(),
      `arn:aws:sts::${ACCOUNT}:assumed-role/countersign-grant-function/fn`,
    );
    expect(await handleCloudTrailEvent(deps, busEvent(own.event))).toEqual({ kind: 'own', role: OWN_ROLE });
    const read = rig.sts.call('AKIAAGENT', { ...attach(), action: 'iam:GetRole' }, AGENT_ROLE);
    expect(await handleCloudTrailEvent(deps, busEvent(read.event))).toMatchObject({ kind: 'ignored' });
    expect(slack.messages).toEqual([]);
  });

  it('keeps the audit record and the metric when Slack fails, and posts the card on the retried delivery', async () => {
    const deps = detectorDeps(rig, slack);
    const event = busEvent(rig.sts.call('AKIAX', attach(), `arn:aws:iam::${ACCOUNT}:user/intruder`).event);
    slack.setFailure('chat.postMessage', 'channel_not_found', 1);
    await expect(handleCloudTrailEvent(deps, event)).rejects.toThrow();
    expect(deps.counted).toEqual(['UnapprovedActions']);
    expect(await handleCloudTrailEvent(deps, event)).toMatchObject({ kind: 'unapproved' });
    expect(deps.counted).toEqual(['UnapprovedActions']);
    expect(slack.sent('chat.postMessage')).toHaveLength(1);
    expect(await readChain(rig.deps, unapprovedRequestId(event.detail.eventID))).toHaveLength(1);
    expect(await handleCloudTrailEvent(deps, event)).toMatchObject({ duplicate: true });
  });
});
