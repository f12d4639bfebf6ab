/** The sandbox's grant endpoint: the status API's `POST /grants/{id}/consume`, over HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandboxServer, type SandboxServer } from '../../sandbox/server.js';
import { makeIntent } from '../support/fixtures.js';
import { decisionFor, eventually, newIntentId, publish, sharedLoop, verifiedChain } from '../support/loop.js';

let server: SandboxServer;
beforeAll(async () => {
  server = await createSandboxServer(await sharedLoop(), { port: 0 });
});
afterAll(() => server?.close());

const consume = (grantId: string) =>
  fetch(`${server.url}/grants/${encodeURIComponent(grantId)}/consume`, { method: 'POST' }).then(
    async (res) => ({
      status: res.status,
      body: (await res.json()) as { consumed?: boolean; error?: string; grant?: { intentHash: string } },
    }),
  );

describe('sandbox grant endpoint', () => {
  it('a grant is spent exactly once, however many consumers race, and the spend is audited', async () => {
    // Prepare: a dev read-only action, approved by policy with a single-use grant.
    const loop = await sharedLoop();
    const intent = makeIntent({
      intentId: newIntentId(),
      environment: 'dev',
      action: 's3:GetObject',
      resource: 'arn:aws:s3:::dev-logs/app.log',
    });
    publish(loop, intent);
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    const grant = decision.detail.grant as { grantId: string };
    expect(grant.grantId).toBeTruthy();
    // Act
    const answers = await Promise.all(Array.from({ length: 10 }, () => consume(grant.grantId)));
    // Assess
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(9);
    expect(answers.find((a) => a.status === 200)?.body.grant?.intentHash).toBe(decision.detail.intentHash);
    const chain = await verifiedChain(loop, intent.intentId);
    expect(chain.filter((r) => r.kind === 'grant-consumed')).toHaveLength(1);
  });

  it('an unknown grant is 404 and changes nothing', async () => {
    const answer = await consume('grant-that-does-not-exist');
    expect(answer).toMatchObject({ status: 404, body: { error: 'not_found' } });
  });
});
