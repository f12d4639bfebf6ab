/** Evaluate's core against dynalite: retries of one execution versus replayed events. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EvaluateDeps, evaluate } from '../../lambdas/evaluate/core.js';
import { readChain } from '../../lambdas/shared/audit.js';
import { evaluateIntent } from '../../lambdas/shared/policy.js';
import { verifyIntent } from '../../lambdas/shared/registration.js';
import { makeIntent, sandboxVerification } from '../support/fixtures.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';
import { newIntentId } from '../support/loop.js';

let aws: LocalAws;
let deps: EvaluateDeps;
const trusted = sandboxVerification();
beforeAll(async () => {
  aws = await startLocalAws({ table: 'evaluate-test', bucket: 'evaluate-test' });
  deps = {
    ddb: aws.ddb,
    table: aws.table,
    now: () => new Date(),
    policy: evaluateIntent,
    verify: (agentId, intent) => verifyIntent(trusted, agentId, intent),
    defaults: { approverGroup: 'security-approvers', timeoutSeconds: 3600 },
  };
});
afterAll(() => aws.close());

const event = (detail: unknown, executionId: string) => ({
  id: `evt-${executionId}`,
  source: 'countersign.agent.deploy-bot',
  'detail-type': 'Privileged Action Requested',
  detail,
  executionId,
});

describe('evaluate', () => {
  it('a retry of the same execution carries on with its own request instead of calling it a duplicate', async () => {
    const intent = makeIntent({ intentId: newIntentId() });
    const first = await evaluate(deps, event(intent, 'exec-1'));
    const retry = await evaluate(deps, event(intent, 'exec-1'));
    expect(first.outcome).toBe('review');
    expect(retry).toEqual(first);
    const kinds = (await readChain(deps, intent.intentId)).map((r) => r.kind);
    expect(kinds).toEqual(['requested', 'policy-evaluated']);
  });

  it('a retry of the same execution with an invalid intent still ends in its audited denial', async () => {
    const detail = { ...makeIntent({ intentId: newIntentId() }), parameters: 'not-an-object' };
    const first = await evaluate(deps, event(detail, 'exec-r'));
    const retry = await evaluate(deps, event(detail, 'exec-r'));
    expect(first.outcome).toBe('deny');
    expect(retry).toEqual(first);
    expect((await readChain(deps, detail.intentId)).map((r) => r.kind)).toEqual(['rejected']);
  });

  it('the policy evaluation names the policy set that decided (its digest)', async () => {
    const intent = makeIntent({ intentId: newIntentId() });
    await evaluate(deps, event(intent, 'exec-d'));
    const evaluated = (await readChain(deps, intent.intentId)).find((r) => r.kind === 'policy-evaluated');
    expect(evaluated?.data.policyDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('the same intent in another execution is a duplicate and writes nothing', async () => {
    const intent = makeIntent({ intentId: newIntentId() });
    await evaluate(deps, event(intent, 'exec-a'));
    const replay = await evaluate(deps, event(intent, 'exec-b'));
    expect(replay.outcome).toBe('duplicate');
    expect(await readChain(deps, intent.intentId)).toHaveLength(2);
  });
});
