/**
 * Request quotas through the whole offline loop (the synthesized workflow
 * running the real handlers): an agent over its quota gets DENIED "rate
 * limited" from Evaluate straight to Record, audited, no Review step and no
 * card; another agent is unaffected; the flood posts one inert alert card.
 * The quota is the repository's `quota-ssm-commands` (5/hour).
 *
 * The loop and its counters are shared with other files, so earlier intents
 * of this agent and class in this hour only make the quota stricter: the test
 * sends enough to be over it whatever ran before.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readChain } from '../../lambdas/shared/audit.js';
import { getRequest } from '../../lambdas/shared/store.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { makeIntent } from '../support/fixtures.js';
import { cardFor, decisionFor, eventually, newIntentId, publish, sharedLoop } from '../support/loop.js';

const LIMIT = 5;
const INSTANCE = 'arn:aws:ec2:us-east-1:123456789012:instance/i-0fedcba98765432100';
let loop: CountersignLoop;

beforeAll(async () => {
  loop = await sharedLoop();
  // One hour window for the whole test.
  const left = 3_600_000 - (Date.now() % 3_600_000);
  if (left < 90_000) await new Promise((r) => setTimeout(r, left + 1000));
}, 150_000);

const store = () => ({ ddb: loop.aws.ddb, table: loop.aws.table });
/** The decision event's detail for an intent, once published. */
const decided = async (intentId: string) =>
  (await eventually(() => decisionFor(loop, intentId), 30_000)).detail as unknown as {
    intentId: string;
    status: string;
    reason: string;
  };

describe('request quotas in the loop', () => {
  it('over the quota: DENIED "rate limited" at once, audited, no review and no card; one inert alert', async () => {
    const intents = Array.from({ length: LIMIT + 2 }, () =>
      makeIntent({ intentId: newIntentId(), action: 'ssm:SendCommand', resource: INSTANCE }),
    );
    for (const intent of intents) publish(loop, intent);
    const decisions = await Promise.all(intents.map((i) => decided(i.intentId)));
    const limited = decisions.filter((d) => d.reason.startsWith('rate limited'));
    expect(limited.length).toBeGreaterThanOrEqual(2);
    for (const decision of limited) {
      expect(decision).toMatchObject({ status: 'DENIED', automatic: true, approvers: [] });
      const id = decision.intentId;
      const request = await getRequest(store(), id);
      expect(request).toMatchObject({
        status: 'DENIED',
        rateLimited: { outcome: 'over-quota', actionClass: 'ssm' },
      });
      expect(request?.taskToken).toBeUndefined();
      expect(request?.review).toBeUndefined();
      expect(cardFor(loop, id)).toBeUndefined();
      const kinds = (await readChain(store(), id)).map((r) => r.kind);
      expect(kinds).toContain('rate-limited');
      expect(kinds).not.toContain('reviewers-notified');
      expect(kinds.at(-1)).toBe('decided');
    }
    // One alert for deploy-bot's ssm flood in this quota window (an earlier file's flood may have had
    // its own alert in the previous hour), its values as plain_text data.
    const window = (await getRequest(store(), limited[0]!.intentId))?.rateLimited?.window;
    const inWindow = (ts: string) =>
      Number(ts) * 1000 >= Date.parse(window!.start) && Number(ts) * 1000 < Date.parse(window!.end);
    const alerts = loop
      .slack!.sent('chat.postMessage')
      .filter((m) => m.text === 'Countersign: an agent is over its request quota')
      .filter((m) => inWindow(m.ts))
      .filter((m) => JSON.stringify(m.blocks).includes('"text":"deploy-bot"'))
      .filter((m) => JSON.stringify(m.blocks).includes('"text":"ssm"'));
    expect(alerts).toHaveLength(1);
    const fields = (alerts[0]!.blocks as { fields?: { type: string; text: string }[] }[]).flatMap(
      (b) => b.fields ?? [],
    );
    expect(fields.find((f) => f.text === 'deploy-bot')?.type).toBe('plain_text');
    expect(fields.find((f) => f.text === '*Agent*')?.type).toBe('mrkdwn');
  });

  it('another agent’s intent of the same class is still reviewed', async () => {
    const intent = makeIntent({
      intentId: newIntentId(),
      action: 'ssm:SendCommand',
      resource: 'arn:aws:ec2:us-east-1:111122223333:instance/i-0dev0000000000002',
      environment: 'dev',
      agent: { owner: 'frank@example.com' },
    });
    publish(loop, intent, 'report-bot');
    await eventually(() => cardFor(loop, intent.intentId), 30_000);
    expect((await getRequest(store(), intent.intentId))?.rateLimited).toBeUndefined();
  });
});
