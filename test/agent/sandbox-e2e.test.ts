/**
 * The agent side end to end against the sandbox server around the shared
 * offline loop: the client publishes through the sandbox's PutEvents endpoint,
 * a reviewer approves in (fake) Slack, the client waits on the sandbox's
 * status endpoint, verifies the decision, and spends the grant Record created.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeGrant, requestApproval, verifyDecision, waitForDecision } from '../../client/index.js';
import { readChain } from '../../lambdas/shared/audit.js';
import { getGrant } from '../../lambdas/shared/grants.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { createSandboxServer, type SandboxServer } from '../../sandbox/server.js';
import { makeIntent } from '../support/fixtures.js';
import { click, eventually, reviewOpen, sharedLoop, USER } from '../support/loop.js';

let loop: CountersignLoop;
let server: SandboxServer;

beforeAll(async () => {
  loop = await sharedLoop();
  server = await createSandboxServer(loop, { port: 0 });
});
afterAll(() => server?.close());

describe('agent client against the sandbox', () => {
  it('request -> approve in Slack -> wait -> verify -> consume once', async () => {
    // Prepare
    const intent = makeIntent();
    const eventBridge = new EventBridgeClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
    });
    // Act
    const requested = await requestApproval(intent, { agentId: 'deploy-bot', eventBridge });
    await reviewOpen(loop, intent.intentId);
    await click(loop, USER.alice, 'approve', intent.intentId);
    const decision = await waitForDecision(intent.intentId, {
      statusUrl: server.url,
      timeoutMs: 20_000,
      poll: { baseDelayMs: 20, maxDelayMs: 200 },
    });
    // Assess
    expect(decision).toMatchObject({ intentId: intent.intentId, status: 'APPROVED' });
    expect(decision.intentHash).toBe(requested.intentHash);
    const verified = verifyDecision(decision, intent);
    expect(verified.ok).toBe(true);
    const grantId = decision.grant!.grantId;
    // The sandbox shows the finalized request; Record writes the grant item right after.
    const grant = await eventually(() => getGrant({ ddb: loop.aws.ddb, table: loop.aws.table }, grantId));
    expect(grant).toMatchObject({
      intentId: intent.intentId,
      agentId: 'deploy-bot',
      intentHash: requested.intentHash,
    });
    const direct = { ddb: loop.aws.ddb, s3: loop.aws.s3, table: loop.aws.table, bucket: loop.aws.bucket };
    expect(await consumeGrant(grantId, { agentId: 'deploy-bot', direct })).toMatchObject({ ok: true });
    expect(await consumeGrant(grantId, { agentId: 'deploy-bot', direct })).toMatchObject({
      ok: false,
      reason: 'already-consumed',
    });
    const chain = await readChain({ ddb: loop.aws.ddb, table: loop.aws.table }, intent.intentId);
    expect(chain.at(-1)).toMatchObject({
      kind: 'grant-consumed',
      data: expect.objectContaining({ grantId }),
    });
  });
});
