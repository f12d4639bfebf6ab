/**
 * Attacker goal: get a production action treated as something milder by
 * declaring another environment. Policy keys on the environment Countersign
 * derives from the resource (countersign.environments in cdk.json: account
 * 123456789012 and arn:aws:s3:::prod-* are prod, arn:aws:s3:::dev-* is dev),
 * never on the declared one. Driven only through PutEvents and signed Slack
 * payloads; each case asserts the safe outcome and its audit record.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { makeIntent } from '../support/fixtures.js';
import { cardValues, readBack } from '../support/inert.js';
import {
  cardFor,
  decisionFor,
  denyWithReason,
  eventually,
  newIntentId,
  publish,
  request,
  reviewOpen,
  sharedLoop,
  USER,
  verifiedChain,
} from '../support/loop.js';

let loop: CountersignLoop;
beforeAll(async () => {
  loop = await sharedLoop();
});

const PROD_BUCKET = 'arn:aws:s3:::prod-customer-exports';
const intentOn = (action: string, resource: string, environment: string) =>
  makeIntent({
    intentId: newIntentId(),
    action,
    resource,
    environment,
    parameters: { bucket: resource.split(':::')[1]! },
  });

describe('adversary: lie about the environment', () => {
  it('s3:GetObject on a prod bucket declared "dev" is not auto-allowed: refused with the derived environment, audited, no card', async () => {
    // Act
    const intent = intentOn('s3:GetObject', `${PROD_BUCKET}/2026-q3/accounts.csv`, 'dev');
    publish(loop, intent);
    // Assess
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail).toMatchObject({ status: 'DENIED', automatic: true, approvers: [] });
    expect(decision.detail.grant).toBeUndefined();
    expect(String(decision.detail.reason)).toMatch(
      /environment "dev" does not match the environment Countersign derives for this intent: "prod" \(resource matches environments\.prod\.resources\)/,
    );
    expect(cardFor(loop, intent.intentId)).toBeUndefined();
    expect((await verifiedChain(loop, intent.intentId)).map((r) => r.kind)).toContain('rejected');
  });

  it.each(['production', 'prod'])(
    's3:DeleteBucket on a prod bucket declared "%s" hits the destructive-action forbid',
    async (declared) => {
      const intent = intentOn('s3:DeleteBucket', PROD_BUCKET, declared);
      publish(loop, intent);
      const decision = await eventually(() => decisionFor(loop, intent.intentId));
      expect(decision.detail).toMatchObject({
        status: 'DENIED',
        automatic: true,
        policies: ['deny-prod-data-destruction'],
      });
      expect(cardFor(loop, intent.intentId)).toBeUndefined();
      const evaluated = (await verifiedChain(loop, intent.intentId)).find(
        (r) => r.kind === 'policy-evaluated',
      );
      expect(evaluated).toMatchObject({ data: { outcome: 'deny' } });
      expect((await request(loop, intent.intentId))?.verified).toMatchObject({
        environment: 'prod',
        declaredEnvironment: declared,
      });
    },
  );

  it('s3:DeleteBucket on a prod bucket declared "dev" is refused before policy, never reviewed as dev', async () => {
    const intent = intentOn('s3:DeleteBucket', PROD_BUCKET, 'dev');
    publish(loop, intent);
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail).toMatchObject({ status: 'DENIED', automatic: true });
    expect(String(decision.detail.reason)).toMatch(/derives .*"prod"/);
    expect(cardFor(loop, intent.intentId)).toBeUndefined();
  });

  it('a resource nothing places is "unknown": declared "dev", a read is still not auto-allowed; the card shows it unverified', async () => {
    const intent = intentOn('s3:GetObject', 'arn:aws:s3:::unlisted-bucket/report.csv', 'dev');
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    expect((await request(loop, intent.intentId))?.verified).toMatchObject({
      environment: 'unknown',
      environmentSource: 'none',
    });
    const shown = JSON.stringify(card.blocks);
    expect(shown).toContain('unverified');
    const declared = cardValues(card.blocks ?? []).find(
      (v) => v.label === 'Environment declared by the agent',
    );
    expect(declared && readBack(declared)).toBe('dev');
    // Nobody approves it: it ends denied (here the sandbox's short default review timeout expires it).
    await denyWithReason(loop, USER.bob, intent.intentId);
    const decision = await eventually(() => decisionFor(loop, intent.intentId), 15_000);
    expect(['DENIED', 'EXPIRED']).toContain(decision.detail.status);
    expect(decision.detail.grant).toBeUndefined();
  });

  it('control: a read on a real dev bucket is still auto-allowed, also under an alias of dev', async () => {
    const intent = intentOn('s3:GetObject', 'arn:aws:s3:::dev-build-artifacts/build.log', 'development');
    publish(loop, intent);
    const decision = await eventually(() => decisionFor(loop, intent.intentId));
    expect(decision.detail).toMatchObject({
      status: 'APPROVED',
      automatic: true,
      policies: ['allow-dev-read-only'],
    });
  });
});
