/**
 * The owner is bound at registration: addAgent puts it (and the agent's
 * environments) in the handlers' COUNTERSIGN_AGENTS, and Evaluate refuses
 * what contradicts it, as an audited denial.
 */
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EvaluateDeps, evaluate } from '../../lambdas/evaluate/core.js';
import { readChain } from '../../lambdas/shared/audit.js';
import { evaluateIntent } from '../../lambdas/shared/policy.js';
import {
  AGENTS_ENV,
  parseAgentRegistry,
  type VerificationContext,
  verifyIntent,
} from '../../lambdas/shared/registration.js';
import { getRequest } from '../../lambdas/shared/store.js';
import { loadConfig } from '../../lib/config.js';
import { CountersignStack } from '../../lib/countersign-stack.js';
import { CDK_CONTEXT, TEST_ENV, TEST_POLICY_BUNDLE, testApp } from '../infra/support.js';
import { makeIntent, sandboxVerification } from '../support/fixtures.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';
import { newIntentId } from '../support/loop.js';

const config = loadConfig(CDK_CONTEXT.countersign);
const newStack = () =>
  new CountersignStack(testApp(), 'Countersign', { env: TEST_ENV, config, policyBundle: TEST_POLICY_BUNDLE });
const role = (stack: CountersignStack, id: string) =>
  new iam.Role(stack, id, { assumedBy: new iam.AccountRootPrincipal() });

describe('addAgent binds the owner (synth)', () => {
  it('puts the canonical owner and environments in the Evaluate and interaction handlers’ COUNTERSIGN_AGENTS', () => {
    // Prepare
    const stack = newStack();
    stack.addAgent(role(stack, 'DeployBot'), 'deploy-bot', { owner: 'Erin+Bot@Example.com' });
    stack.addAgent(role(stack, 'ReportBot'), 'report-bot', {
      owner: 'frank@example.com',
      environments: ['development'],
    });
    // Act
    const template = Template.fromStack(stack);
    // Assess
    const registries = Object.values(template.findResources('AWS::Lambda::Function'))
      .map(
        (fn) =>
          (fn.Properties as { Environment?: { Variables?: Record<string, string> } }).Environment?.Variables,
      )
      .filter((vars) => vars?.[AGENTS_ENV] !== undefined)
      .map((vars) => parseAgentRegistry(vars![AGENTS_ENV]!));
    expect(registries).toHaveLength(2); // Evaluate and the interaction handler
    for (const registry of registries) {
      expect(registry).toEqual({
        'deploy-bot': { owner: 'erin@example.com' },
        'report-bot': { owner: 'frank@example.com', environments: ['dev'] },
      });
    }
  });

  it.each([
    ['no owner', {}, /deploy-bot.*owner is not a string/],
    ['an owner that is not an email', { owner: 'erin' }, /deploy-bot.*owner is not an email/],
    ['a lookalike owner', { owner: 'er\u0456n@example.com' }, /deploy-bot.*U\+0456/],
    [
      'an unconfigured environment',
      { owner: 'erin@example.com', environments: ['qa'] },
      /deploy-bot.*"qa" is not in countersign.environments/,
    ],
  ])('refuses %s at synth, naming the agent', (_name, options, message) => {
    const stack = newStack();
    expect(() => stack.addAgent(role(stack, 'Bot'), 'deploy-bot', options as { owner: string })).toThrow(
      message,
    );
  });

  it('refuses registering one agent id with two owners', () => {
    const stack = newStack();
    stack.addAgent(role(stack, 'A'), 'deploy-bot', { owner: 'erin@example.com' });
    expect(() => stack.addAgent(role(stack, 'B'), 'deploy-bot', { owner: 'mallory@example.com' })).toThrow(
      /already registered with owner erin@example.com/,
    );
  });
});

describe('verifyIntent', () => {
  const ctx: VerificationContext = sandboxVerification();

  it('binds the registered owner; a sub-addressed or case-changed claim of the same owner is accepted as that owner', () => {
    const verified = verifyIntent(
      ctx,
      'deploy-bot',
      makeIntent({ agent: { owner: 'Erin+bot@Example.com' } }),
    );
    expect(verified).toMatchObject({ ok: true, facts: { owner: 'erin@example.com', environment: 'prod' } });
  });

  it.each([
    ['an unregistered agent', 'ghost-bot', {}, /agent "ghost-bot" is not registered/],
    [
      'a claimed owner other than the registered one',
      'deploy-bot',
      { agent: { owner: 'dave@example.com' } },
      /agent.owner "dave@example.com" is not the owner registered for agent "deploy-bot" \(erin@example.com\)/,
    ],
    [
      'a punycode on-behalf-of',
      'deploy-bot',
      { agent: { onBehalfOf: 'carol@xn--exmple-cua.com' } },
      /agent.onBehalfOf has the punycode domain/,
    ],
    [
      'a declared environment the resource contradicts',
      'deploy-bot',
      { environment: 'dev' },
      /environment "dev" does not match .* "prod" \(account 123456789012 is in environments.prod.accounts\)/,
    ],
    [
      'a resource outside the agent’s registered environments',
      'report-bot',
      { agent: { owner: 'frank@example.com' } },
      /registered for dev only/,
    ],
  ] as const)('refuses %s with a reason', (_name, agentId, overrides, reason) => {
    const verified = verifyIntent(ctx, agentId, makeIntent(overrides));
    expect(verified.ok).toBe(false);
    expect(verified.ok ? '' : verified.reason).toMatch(reason);
  });

  it('accepts an alias of the derived environment and keeps what was declared', () => {
    const verified = verifyIntent(ctx, 'deploy-bot', makeIntent({ environment: 'production' }));
    expect(verified).toMatchObject({
      ok: true,
      facts: { environment: 'prod', declaredEnvironment: 'production', environmentSource: 'account' },
    });
  });

  it('an intent nothing places is evaluated in "unknown", whatever it declares', () => {
    const verified = verifyIntent(
      ctx,
      'deploy-bot',
      makeIntent({ environment: 'dev', resource: 'warehouse/orders' }),
    );
    expect(verified).toMatchObject({
      ok: true,
      facts: { environment: 'unknown', declaredEnvironment: 'dev', environmentSource: 'none' },
    });
  });
});

describe('Evaluate refuses what contradicts the registration (core, dynalite)', () => {
  let aws: LocalAws;
  let deps: EvaluateDeps;
  const ctx = sandboxVerification();
  beforeAll(async () => {
    aws = await startLocalAws({ table: 'registration-test', bucket: 'registration-test' });
    deps = {
      ddb: aws.ddb,
      table: aws.table,
      now: () => new Date(),
      policy: evaluateIntent,
      verify: (agentId, intent) => verifyIntent(ctx, agentId, intent),
      defaults: { approverGroup: 'security-approvers', timeoutSeconds: 3600 },
    };
  });
  afterAll(() => aws.close());
  const event = (detail: unknown, agentId = 'deploy-bot') => ({
    id: `evt-${newIntentId()}`,
    source: `countersign.agent.${agentId}`,
    'detail-type': 'Privileged Action Requested',
    detail,
    executionId: `exec-${newIntentId()}`,
  });

  it('an intent from an unregistered agent is denied and audited; nothing is evaluated', async () => {
    const intent = makeIntent({ intentId: newIntentId() });
    const evaluation = await evaluate(deps, event(intent, 'ghost-bot'));
    expect(evaluation).toMatchObject({ outcome: 'deny', reason: expect.stringMatching(/not registered/) });
    const chain = await readChain(deps, intent.intentId);
    expect(chain.map((r) => r.kind)).toEqual(['rejected']);
    expect(chain[0]!.data.reason).toMatch(/agent "ghost-bot" is not registered/);
    expect((await getRequest(deps, intent.intentId))?.rejected?.reason).toMatch(/not registered/);
  });

  it('a verified intent stores the registered owner and the derived environment on the request and in its audit', async () => {
    const intent = makeIntent({ intentId: newIntentId(), agent: { owner: 'ERIN+ops@example.com' } });
    await evaluate(deps, event(intent));
    const stored = await getRequest(deps, intent.intentId);
    expect(stored?.verified).toEqual({
      owner: 'erin@example.com',
      onBehalfOf: 'carol@example.com',
      environment: 'prod',
      declaredEnvironment: 'prod',
      environmentSource: 'account',
    });
    const requested = (await readChain(deps, intent.intentId)).find((r) => r.kind === 'requested');
    expect(requested?.data.verified).toEqual(stored?.verified);
  });
});
