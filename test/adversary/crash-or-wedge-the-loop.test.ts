/**
 * Attacker goal: crash or wedge the loop, or make an intent vanish. A
 * compromised agent sends what parsers, validators, canonicalisers and
 * DynamoDB each read differently or choke on. Safe outcome for every case: a
 * clear refusal at PutEvents (nothing accepted) or an audited DENIED with the
 * reason (nothing lost, nothing reaches Slack), and afterwards a normal intent
 * still reaches review and is approved.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intentHash } from '../../lambdas/shared/canonical.js';
import { makeIntent } from '../support/fixtures.js';
import { expectAuditedDenial, type Sandbox, startSandbox } from './support.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox?.close());

/** An intent's JSON with `"parameters"` replaced by raw JSON text. */
function withRawParameters(raw: string) {
  const intent = makeIntent();
  const text = JSON.stringify({ ...intent, parameters: '__RAW__' }).replace('"__RAW__"', () => raw);
  return { intent, text };
}
const nested = (levels: number) => `${'{"a":'.repeat(levels)}"x"${'}'.repeat(levels)}`;

/** Publishes raw text, expects it accepted, and returns the request once final. */
async function publishAndSettle(text: string, intentId: string) {
  const [entry] = await sandbox.put([text]);
  expect(entry).toHaveProperty('EventId');
  const view = await sandbox.final(intentId);
  // No message names it (other requests' queued cards may be posted meanwhile).
  expect(
    sandbox.loop.slack!.sent('chat.postMessage').filter((m) => JSON.stringify(m).includes(intentId)),
  ).toEqual([]);
  return view;
}

describe('crash or wedge the loop', () => {
  it.each([
    ['nesting one level past the limit (25)', nested(24), /nested deeper than 24 levels/],
    ['nesting of 1,000 levels (the most EventBridge processes)', nested(999), /nested deeper than 24 levels/],
    ['a __proto__ parameter', '{"__proto__":{"isAdmin":true},"roleName":"x"}', /key "__proto__" is refused/],
    [
      'a nested constructor key',
      '{"policy":{"Statement":[{"constructor":{"prototype":1}}]}}',
      /key "constructor" is refused/,
    ],
    ['a prototype key', '{"prototype":"x"}', /key "prototype" is refused/],
    ['an empty key', '{"":"x"}', /empty keys are refused/],
    ['an unpaired UTF-16 surrogate', '{"roleName":"payments\\ud800"}', /unpaired UTF-16 surrogate/],
    ['a NUL character', '{"roleName":"payments\\u0000-admin"}', /NUL character/],
    ['a number past a double (1e400)', '{"limit":1e400}', /not finite/],
    ['an integer past 2^53', '{"limit":12345678901234567890}', /beyond ±2\^53−1/],
    ['a number below DynamoDB’s range', '{"limit":1e-200}', /smaller in magnitude than DynamoDB stores/],
  ])('%s ends as an audited DENIED with the reason', async (_name, raw, reason) => {
    // Prepare
    const { intent, text } = withRawParameters(raw);
    // Act
    const view = await publishAndSettle(text, intent.intentId);
    // Assess
    expectAuditedDenial(view, reason);
    expect(await sandbox.decisions(intent.intentId)).toHaveLength(1);
  });

  it('an intent over 256 KiB ends as an audited DENIED with the reason', async () => {
    const intent = makeIntent({ parameters: { blob: 'x'.repeat(300 * 1024) } });
    const view = await publishAndSettle(JSON.stringify(intent), intent.intentId);
    expectAuditedDenial(view, /limit is 262144 bytes/);
  });

  it('an intent the request store could not hold (numbers cost more there than in JSON) is denied', async () => {
    // 60,000 small numbers: ~120 KB of JSON, ~ 1.3 MB as DynamoDB counts it with the modified copies.
    const intent = makeIntent({ parameters: { ids: Array.from({ length: 60_000 }, (_, i) => i % 10) } });
    const view = await publishAndSettle(JSON.stringify(intent), intent.intentId);
    expectAuditedDenial(view, /in the request store/);
  });

  it.each([
    ['2,000 levels', 1_998],
    ['100,000 levels', 99_998],
  ])(
    'nesting of %s is refused at PutEvents with the reason, and nothing is accepted',
    async (_name, levels) => {
      // EventBridge documents PutEvents processes at most 1,000 levels; the sandbox refuses deeper Detail.
      const { intent, text } = withRawParameters(nested(levels));
      const executionsBefore = sandbox.loop.executions.length;
      const [entry] = await sandbox.put([text]);
      expect(entry).toMatchObject({ ErrorCode: 'InvalidArgument' });
      expect(entry?.ErrorMessage).toMatch(/nested deeper than 1000 levels/);
      expect(sandbox.loop.executions.length).toBe(executionsBefore);
      expect(await sandbox.view(intent.intentId)).toBeUndefined();
    },
  );

  it('duplicate keys (two executors would read different parameters) are refused at PutEvents', async () => {
    const intent = makeIntent();
    const text = JSON.stringify(intent).replace(
      '"parameters":{',
      '"parameters":{"roleName":"admin","\\u0072oleName":"reader",',
    );
    const [entry] = await sandbox.put([text]);
    expect(entry).toMatchObject({ ErrorCode: 'InvalidArgument' });
    expect(entry?.ErrorMessage).toMatch(/duplicate key "roleName" at parameters/);
    expect(await sandbox.view(intent.intentId)).toBeUndefined();
  });

  it('the hash names exactly what was sent: a key JSON.parse keeps as own is never dropped from it', async () => {
    // Before: {"__proto__": …} vanished during validation, so hash and card omitted it. Now it is refused,
    // and an accepted intent's stored hash is the canonical hash of the detail as sent.
    const intent = makeIntent({ parameters: { roleName: 'payments-deployer', tags: { team: 'payments' } } });
    const [entry] = await sandbox.put([intent]);
    expect(entry).toHaveProperty('EventId');
    const view = await sandbox.reviewOpen(intent.intentId);
    expect(view.request.intentHash).toBe(intentHash(intent));
    await sandbox.click('U0BOB0002', 'approve', intent.intentId);
    expect((await sandbox.final(intent.intentId)).status).toBe('APPROVED');
  });

  it('after all of the above the loop is healthy: a normal intent reaches review and is approved', async () => {
    await sandbox.assertHealthy();
  });
});
