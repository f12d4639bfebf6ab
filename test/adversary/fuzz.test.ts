/**
 * Property-based attack on the whole loop: fast-check generates intents
 * (ordinary and hostile parameters — prototype keys, empty keys, NUL,
 * unpaired surrogates, inexact numbers, deep nesting, duplicate keys in the
 * raw text — and owners / on-behalf-of humans who are also approvers) and
 * sequences of Slack clicks (Approve with the card's value, with none, with a
 * wrong or arbitrary one; Deny with a reason) by approvers, the agent's own
 * humans and the agent's Slack user. Every case goes through PutEvents,
 * signed Slack payloads and the status API, and must keep the invariants:
 * - no self-approval: the owner, the on-behalf-of human and the agent never
 *   count as approvers;
 * - exactly one final decision per request (one decision event, one final
 *   audit record), and every accepted intent ends final;
 * - every refusal of a click by the agent's own humans is audited;
 * - the hash on the status API and the card's Approve button is the
 *   canonical hash of the intent as published.
 *
 * Run time is bounded (COUNTERSIGN_FUZZ_RUNS, default 12 cases); fast-check
 * prints the seed and path of a failing case: replay with
 * COUNTERSIGN_FUZZ_SEED=<seed>.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intentHash } from '../../lambdas/shared/canonical.js';
import { approveButtonValue } from '../../lambdas/shared/card.js';
import { parseIntent } from '../../lambdas/shared/intent.js';
import { makeIntent } from '../support/fixtures.js';
import { denyWithReason, eventually, request, USER } from '../support/loop.js';
import { type RequestView, type Sandbox, startSandbox } from './support.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox?.close());

const RUNS = Number(process.env.COUNTERSIGN_FUZZ_RUNS ?? 12);
const SEED = process.env.COUNTERSIGN_FUZZ_SEED ? Number(process.env.COUNTERSIGN_FUZZ_SEED) : undefined;

const EMAIL: Record<string, string> = {
  [USER.alice]: 'alice@example.com',
  [USER.bob]: 'bob@example.com',
  [USER.carol]: 'carol@example.com',
  [USER.erin]: 'erin@example.com',
};
const AGENT_USER = 'U0AGENT08';

/** A parameter value: ordinary JSON, or one of the values the store or an executor would misread. */
const hostileValue = fc.constantFrom('1e400', '12345678901234567890', '1e-200', '"a\\u0000b"', '"\\ud800x"');
const valueText = fc.oneof(
  { weight: 8, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: hostileValue },
  { weight: 1, arbitrary: fc.integer({ min: 20, max: 40 }).map((n) => `${'['.repeat(n)}1${']'.repeat(n)}`) },
);
const keyText = fc.oneof(
  { weight: 8, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', '') },
);
/** `parameters` as raw key / value texts, possibly with duplicate keys. */
const parameterEntries = fc.array(fc.tuple(keyText, valueText), { maxLength: 5 });
const toText = (entries: [string, string][]) =>
  `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;

type ClickPlan = {
  user: string;
  kind: 'approve' | 'approve-bare' | 'approve-wrong' | 'approve-any' | 'deny';
  any: string;
};
const clickPlan = fc.record({
  user: fc.constantFrom(USER.alice, USER.bob, USER.carol, USER.erin, AGENT_USER),
  kind: fc.constantFrom('approve', 'approve', 'approve-bare', 'approve-wrong', 'approve-any', 'deny'),
  any: fc.string({ maxLength: 40 }),
}) as fc.Arbitrary<ClickPlan>;

const caseArb = fc.record({
  parameters: parameterEntries,
  owner: fc.constantFrom('erin@example.com', 'alice@example.com'),
  onBehalfOf: fc.constantFrom('carol@example.com', 'alice@example.com'),
  environment: fc.constantFrom('prod', 'staging'),
  clicks: fc.array(clickPlan, { maxLength: 4 }),
});

async function settleOrReview(intentId: string): Promise<RequestView> {
  return eventually(async () => {
    const view = await sandbox.view(intentId);
    if (view?.request.finalizedAt) return view;
    return view?.request.card && view.audit.some((r) => r.kind === 'card-posted') ? view : undefined;
  }, 15_000);
}

describe('fuzzing intents and interactions through the loop', () => {
  it('keeps the invariants on every generated case', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        // Publish through PutEvents, the parameters as raw text.
        const base = makeIntent({
          environment: c.environment,
          agent: { owner: c.owner, onBehalfOf: c.onBehalfOf },
        });
        // A replacer function: the text may hold `$` patterns that replace() would expand.
        const text = JSON.stringify({ ...base, parameters: '__P__' }).replace('"__P__"', () =>
          toText(c.parameters),
        );
        const keys = c.parameters.map(([k]) => k);
        const duplicates = new Set(keys).size !== keys.length;
        const [entry] = await sandbox.put([text]);
        // Refused at the bus exactly when the raw text has duplicate keys (two parsers would disagree).
        expect(entry?.ErrorCode !== undefined).toBe(duplicates);
        if (entry?.ErrorCode) {
          expect(entry.ErrorMessage).toMatch(/duplicate key/);
          expect(await sandbox.view(base.intentId)).toBeUndefined();
          return;
        }
        const parsed = parseIntent(JSON.parse(text));
        let view = await settleOrReview(base.intentId);

        if (!parsed.ok) {
          // Invalid: denied at evaluation, audited with the reason, never reviewed.
          expect(view.request.card).toBeUndefined();
        } else {
          // The hash shown everywhere is the canonical hash of what was published, every own key included.
          expect(view.request.intentHash).toBe(intentHash(JSON.parse(text)));
          expect(view.request.intentHash).toBe(intentHash(parsed.intent));
        }
        const self = new Set<string>([c.owner, c.onBehalfOf]);
        if (view.request.card) {
          const card = sandbox.loop
            .slack!.sent('chat.postMessage')
            .find((m) => JSON.stringify(m.blocks ?? []).includes(`"value":"${base.intentId}@`));
          expect(JSON.stringify(card?.blocks)).toContain(
            approveButtonValue(view.request as Parameters<typeof approveButtonValue>[0]),
          );
          const selfClicks: string[] = [];
          for (const click of c.clicks) {
            const before = await sandbox.view(base.intentId);
            if (before?.status !== 'PENDING') break;
            if (click.kind === 'deny') {
              await denyWithReason(sandbox.loop, click.user, base.intentId);
              continue;
            }
            const value = {
              approve: undefined,
              'approve-bare': base.intentId,
              'approve-wrong': `${base.intentId}@0123456789abcdef`,
              'approve-any': click.any,
            }[click.kind];
            // A click after the decision is late (told who decided), not refused: only a self-click
            // on an undecided request must leave a refusal in the trail.
            const undecided = !(await request(sandbox.loop, base.intentId))?.decision;
            await sandbox.click(click.user, 'approve', base.intentId, value);
            const email = EMAIL[click.user];
            if (
              undecided &&
              click.kind === 'approve' &&
              (click.user === AGENT_USER || (email && self.has(email)))
            )
              selfClicks.push(click.user);
          }
          // Every refused click by the agent's own humans (or the agent) is in the trail.
          const trail = (await sandbox.view(base.intentId))!.audit;
          for (const user of selfClicks) {
            expect(trail.some((r) => r.kind === 'refused' && r.actor.slackUserId === user)).toBe(true);
          }
          // End the review if it is still open: bob is never the agent's human here.
          if ((await sandbox.view(base.intentId))?.status === 'PENDING') {
            await denyWithReason(sandbox.loop, USER.bob, base.intentId);
          }
        }

        // Exactly one final decision, audited once, announced once; nobody approved their own action.
        view = await sandbox.final(base.intentId);
        expect(view.audit.filter((r) => r.data.final === true)).toHaveLength(1);
        expect(await sandbox.decisions(base.intentId)).toHaveLength(1);
        const approvers = [...(view.decision?.approvers ?? []), ...view.votes];
        for (const approver of approvers) {
          expect(self.has(approver.email)).toBe(false);
          expect(approver.slackUserId).not.toBe(AGENT_USER);
        }
        if (!parsed.ok) expect(view.status).toBe('DENIED');
      }),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), endOnFailure: true },
    );
  }, 120_000);
});
