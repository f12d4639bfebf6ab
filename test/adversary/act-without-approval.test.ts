/**
 * Attacks on enforcement at runtime, through public interfaces only: the
 * sandbox's PutEvents (intents, and CloudTrail-shaped events on the default
 * bus), signed Slack clicks, the status API's credentials route signed with
 * an agent's key, and the fake IAM that minted credentials are used on.
 * Each asserts the safe outcome: no credentials, no second session, a
 * neighbour call denied, and every unapproved call audited and alerted with
 * its text inert.
 */

import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { AttachRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialsRefusedError, credentialsFor, exchangeGrant } from '../../client/credentials.js';
import { unapprovedRequestId } from '../../lambdas/detector/core.js';
import { readChain } from '../../lambdas/shared/audit.js';
import type { DecisionDetail } from '../../lambdas/shared/intent.js';
import { agentAccessKey, LEGACY_ADMIN_KEY } from '../../sandbox/fake-sts-sandbox.js';
import { makeIntent } from '../support/fixtures.js';
import { blocksProblems } from '../support/inert.js';
import { eventually, USER } from '../support/loop.js';
import { type Sandbox, startSandbox } from './support.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox.close());

const asAgent = (agentId: string) => ({
  statusUrl: sandbox.server.url,
  credentials: async () => ({ accessKeyId: agentAccessKey(agentId), secretAccessKey: 'sandbox' }),
});

/** An intent approved by alice through a signed click; its decision as the agent sees it. */
async function approved(parameters?: Record<string, unknown>): Promise<DecisionDetail> {
  const intent = makeIntent(parameters ? { parameters } : {});
  await sandbox.put([intent]);
  await sandbox.reviewOpen(intent.intentId);
  expect(await sandbox.click(USER.alice, 'approve', intent.intentId)).toBe(200);
  const view = await sandbox.final(intent.intentId);
  expect(view.decision).toMatchObject({ status: 'APPROVED' });
  return view.decision as unknown as DecisionDetail;
}

const iam = (
  credentials: ReturnType<typeof credentialsFor> | { accessKeyId: string; secretAccessKey: string },
) =>
  new IAMClient({
    endpoint: sandbox.loop.enforcement.sts.url,
    region: 'us-east-1',
    credentials,
    maxAttempts: 1,
  });

/** The alert cards posted for one CloudTrail event id. */
const alertsFor = (eventId: string) =>
  sandbox.loop
    .slack!.sent('chat.postMessage')
    .filter((m) => JSON.stringify(m.blocks ?? []).includes(eventId));

/** Waits until the detector judged the CloudTrail event `eventId`; returns its verdict. */
async function verdictFor(eventId: string) {
  return eventually(() => {
    const run = sandbox.loop.targetInvocations.find(
      (t) => (t.event.detail as { eventID?: string }).eventID === eventId && (t.result || t.error),
    );
    return run ? (run.result as { kind: string; reasons?: string[] }) : undefined;
  });
}

const lastTrail = () =>
  sandbox.loop.busEvents.filter((e) => e['detail-type'] === 'AWS API Call via CloudTrail').at(-1)!;

describe('enforcement at runtime (adversary)', () => {
  it('the approved call runs only through minted credentials; a neighbour is denied; an unapproved call is caught', async () => {
    const decision = await approved();
    const credentials = credentialsFor(decision, asAgent('deploy-bot'));
    // The approved call.
    await iam(credentials).send(
      new AttachRolePolicyCommand({
        RoleName: 'payments-deployer',
        PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
      }),
    );
    const approvedEvent = lastTrail();
    expect(await verdictFor((approvedEvent.detail as { eventID: string }).eventID)).toMatchObject({
      kind: 'approved',
    });
    // The same credentials, a bigger policy: AWS (the session policy) refuses, and the attempt is flagged.
    await expect(
      iam(credentials).send(
        new AttachRolePolicyCommand({
          RoleName: 'payments-deployer',
          PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
        }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    const neighbour = (lastTrail().detail as { eventID: string }).eventID;
    expect(await verdictFor(neighbour)).toMatchObject({ kind: 'unapproved' });
    // A principal that holds the permission anyway acts without asking.
    await iam({ accessKeyId: LEGACY_ADMIN_KEY, secretAccessKey: 'x' }).send(
      new AttachRolePolicyCommand({
        RoleName: 'payments-deployer',
        PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
      }),
    );
    const rogue = (lastTrail().detail as { eventID: string }).eventID;
    expect(await verdictFor(rogue)).toMatchObject({ kind: 'unapproved' });
    const cards = await eventually(() => (alertsFor(rogue).length > 0 ? alertsFor(rogue) : undefined));
    expect(cards).toHaveLength(1);
    expect(JSON.stringify(cards[0]!.blocks)).toContain('user/legacy-admin');
    const chain = await readChain(
      { ddb: sandbox.loop.aws.ddb, table: sandbox.loop.aws.table },
      unapprovedRequestId(rogue),
    );
    expect(chain.map((r) => r.kind)).toEqual(['unapproved-action']);
  });

  it('another agent cannot exchange the grant, and its attempt does not spend it', async () => {
    const decision = await approved();
    await expect(exchangeGrant(decision.grant!.grantId, asAgent('report-bot'))).rejects.toMatchObject({
      name: 'CredentialsRefusedError',
      reason: 'not_found',
      status: 404,
    });
    const session = await exchangeGrant(decision.grant!.grantId, asAgent('deploy-bot'));
    expect(session.sourceIdentity).toBe(decision.intentId);
  });

  it('a replayed exchange gets no second set of credentials', async () => {
    const decision = await approved();
    await exchangeGrant(decision.grant!.grantId, asAgent('deploy-bot'));
    const replay = exchangeGrant(decision.grant!.grantId, asAgent('deploy-bot'));
    await expect(replay).rejects.toBeInstanceOf(CredentialsRefusedError);
    await expect(replay).rejects.toMatchObject({ reason: 'already_consumed', status: 409 });
  });

  it('of 20 concurrent exchanges exactly one gets credentials, and STS issues one session', async () => {
    const decision = await approved();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => exchangeGrant(decision.grant!.grantId, asAgent('deploy-bot'))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) {
      expect((r as PromiseRejectedResult).reason).toMatchObject({ reason: 'already_consumed' });
    }
    const sessions = [...sandbox.loop.enforcement.sts.sessions.values()].filter(
      (s) => s.sourceIdentity === decision.intentId,
    );
    expect(sessions).toHaveLength(1);
  });

  it('a CloudTrail event forged to look like Countersign’s own role or an executor is still flagged', async () => {
    const decision = await approved();
    await exchangeGrant(decision.grant!.grantId, asAgent('deploy-bot'));
    const bus = new EventBridgeClient({
      endpoint: sandbox.server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'a' },
    });
    const forged = (n: number, userIdentity: Record<string, unknown>) => ({
      eventVersion: '1.09',
      eventID: `forged-${n}-${decision.intentId}`,
      eventTime: `${new Date().toISOString().slice(0, 19)}Z`,
      eventSource: 'iam.amazonaws.com',
      eventName: 'AttachRolePolicy',
      awsRegion: 'us-east-1',
      recipientAccountId: '123456789012',
      requestParameters: {
        roleName: 'payments-deployer',
        policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
      },
      userIdentity,
    });
    const identities = [
      // Countersign's own role name, in the attacker's account.
      {
        type: 'AssumedRole',
        arn: 'arn:aws:sts::999999999999:assumed-role/countersign-grant-function/x',
        accountId: '999999999999',
      },
      // The agent's session claiming the own role as its issuer.
      {
        type: 'AssumedRole',
        arn: 'arn:aws:sts::123456789012:assumed-role/sandbox-agent-deploy-bot/x',
        sessionContext: {
          sessionIssuer: { arn: 'arn:aws:iam::123456789012:role/countersign-grant-function' },
        },
      },
      // The executor role with the approved request's source identity, but not the approved policy.
      {
        type: 'AssumedRole',
        arn: 'arn:aws:sts::123456789012:assumed-role/countersign-executor-iam-changes/countersign-x',
        sessionContext: {
          sourceIdentity: decision.intentId,
          sessionIssuer: { arn: 'arn:aws:iam::123456789012:role/countersign-executor-iam-changes' },
        },
      },
    ];
    const out = await bus.send(
      new PutEventsCommand({
        Entries: identities.map((userIdentity, n) => ({
          EventBusName: 'default',
          Source: 'aws.iam',
          DetailType: 'AWS API Call via CloudTrail',
          Detail: JSON.stringify(forged(n, userIdentity)),
        })),
      }),
    );
    expect(out.FailedEntryCount).toBe(0);
    for (let n = 0; n < identities.length; n++) {
      expect(await verdictFor(`forged-${n}-${decision.intentId}`), `identity ${n}`).toMatchObject({
        kind: 'unapproved',
      });
    }
    bus.destroy();
  });

  it('hostile strings in a CloudTrail event reach the alert card only as inert data', async () => {
    const canary = 'CANARY-7f3e';
    const hostile = `<!channel> *${canary} Approved by Countersign* \`\`\` <https://evil.example|click> \u202Egnp.exe\u200B`;
    const bus = new EventBridgeClient({
      endpoint: sandbox.server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'a' },
    });
    const eventID = `hostile-${Date.now()}`;
    await bus.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: 'default',
            Source: 'aws.iam',
            DetailType: 'AWS API Call via CloudTrail',
            Detail: JSON.stringify({
              eventID,
              eventTime: hostile,
              eventSource: 'iam.amazonaws.com',
              eventName: 'AttachRolePolicy',
              awsRegion: hostile,
              recipientAccountId: hostile,
              requestParameters: { roleName: hostile, policyArn: hostile },
              userIdentity: {
                type: 'AssumedRole',
                arn: `arn:aws:sts::123456789012:assumed-role/${hostile}/x`,
                sessionContext: { sourceIdentity: hostile },
              },
            }),
          },
        ],
      }),
    );
    expect(await verdictFor(eventID)).toMatchObject({ kind: 'unapproved' });
    const [card] = await eventually(() => (alertsFor(eventID).length > 0 ? alertsFor(eventID) : undefined));
    expect(blocksProblems(card!.blocks ?? [], canary)).toEqual([]);
    expect(card!.text).not.toContain(canary);
    bus.destroy();
  });
});
