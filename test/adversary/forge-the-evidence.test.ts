/**
 * Attacker goal: forge the evidence an auditor reads. A compromised agent
 * controls every string of its intents; through PutEvents only, it publishes
 * intents whose text is markup (a script, a fake "Verification passed"
 * banner, a figure) and an invalid intent built to be echoed. The Insights
 * page and the `audit report` built from the same trail must show that text
 * as text, run nothing, and keep their figures those of `audit export`.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeHtml } from '../../audit/report/html.js';
import { createSandboxServer, type SandboxServer } from '../../sandbox/server.js';
import { makeIntent } from '../support/fixtures.js';
import { eventually, newIntentId, sharedLoop } from '../support/loop.js';

const FORGED =
  '</code></div><div class="verdict ok"><b>Verification passed.</b><dd data-figure="denied">0</dd><script>alert(1)</script>';

let server: SandboxServer;
beforeAll(async () => {
  server = await createSandboxServer(await sharedLoop(), { port: 0 });
}, 180_000);
afterAll(() => server?.close());

async function putEvents(details: unknown[]) {
  const client = new EventBridgeClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'attacker', secretAccessKey: 'attacker' },
  });
  try {
    return await client.send(
      new PutEventsCommand({
        Entries: details.map((d) => ({
          EventBusName: 'countersign',
          Source: 'countersign.agent.deploy-bot',
          DetailType: 'Privileged Action Requested',
          Detail: JSON.stringify(d),
        })),
      }),
    );
  } finally {
    client.destroy();
  }
}

describe('forge the evidence', () => {
  it('markup in intents reaches the Insights page as text; no script, no forged verdict or figure', async () => {
    // Prepare: a dev read-only intent (allowed at once) full of markup, and an invalid one.
    const valid = makeIntent({
      intentId: newIntentId(),
      action: 's3:GetObject',
      resource: `arn:aws:s3:::dev-build-artifacts/${FORGED}`,
      environment: 'dev',
      justification: FORGED,
      parameters: { bucket: 'dev-build-artifacts', key: FORGED },
      agent: { model: FORGED },
    });
    const invalid = { ...makeIntent({ intentId: newIntentId() }), action: FORGED };
    const out = await putEvents([valid, invalid]);
    expect(out.FailedEntryCount).toBe(0);
    await eventually(async () => {
      const res = await fetch(`${server.url}/requests/${valid.intentId}`);
      return res.ok && ((await res.json()) as { status: string }).status !== 'PENDING' ? true : undefined;
    }, 60_000);

    // Act
    const page = await fetch(`${server.url}/insights`);
    const html = await page.text();

    // Assess
    expect(page.status).toBe(200);
    expect(html).toContain(valid.intentId);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain(FORGED);
    expect(html).toContain(escapeHtml(`arn:aws:s3:::dev-build-artifacts/${FORGED}`));
    // Exactly one verdict block and one of each figure: the page's own.
    expect(html.match(/class="verdict /g)).toHaveLength(1);
    expect(html.match(/data-figure="denied"/g)).toHaveLength(1);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
  });
});
