/**
 * Attacker goal: act on an approval given to something else. A compromised
 * agent reuses an intent id whose review (or approval) belongs to other
 * content or to another agent, spends another agent's grant, or replays a
 * click that names no version or an older one. Safe outcome: the attempt is
 * refused with a clear, audited reason; the request it aimed at is untouched;
 * the agent client never returns APPROVED for an intent it did not publish.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DecisionMismatchError,
  IntentConflictError,
  requestApproval,
  verifyDecision,
} from '../../client/index.js';
import { consumeForCaller } from '../../lambdas/grant/core.js';
import { intentHash } from '../../lambdas/shared/canonical.js';
import { parseAgentRoles } from '../../lambdas/status/caller.js';
import { makeIntent } from '../support/fixtures.js';
import { eventually, USER } from '../support/loop.js';
import { expectAuditedDenial, refusalId, type Sandbox, startSandbox } from './support.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox?.close());

/** The agent's own EventBridge client, pointed at the sandbox's PutEvents endpoint. */
const eventBridge = () =>
  new EventBridgeClient({
    endpoint: sandbox.server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'agent', secretAccessKey: 'agent' },
  });

describe('act on someone else’s approval', () => {
  it('an intent id already used with other content is refused at once, audited, and the first request is untouched', async () => {
    // Prepare: the first intent is under review.
    const first = makeIntent();
    await sandbox.put([first]);
    const before = await sandbox.reviewOpen(first.intentId);
    // Act: the same id with a wider policy, then the first content again (a plain redelivery).
    const other = {
      ...first,
      parameters: { ...first.parameters, policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
    };
    const [conflict] = await sandbox.put([other]);
    const refused = await sandbox.final(refusalId(conflict!));
    const [again] = await sandbox.put([first]);
    // Assess: the conflicting attempt is DENIED under its own id, naming the id it claimed and its own hash.
    expectAuditedDenial(refused, new RegExp(`intent id ${first.intentId} is already used by another intent`));
    expect(refused.request).toMatchObject({
      agentId: 'deploy-bot',
      intentHash: intentHash(other),
      rejected: { claimedIntentId: first.intentId },
    });
    expect((await sandbox.decisions(refusalId(conflict!)))[0]?.detail).toMatchObject({
      status: 'DENIED',
      intentHash: intentHash(other),
    });
    // The redelivery of the original content is idempotent: no refusal, no second request.
    await sandbox.loop.executions.find(({ event }) => event.id === again!.EventId)?.execution.result;
    expect(await sandbox.view(refusalId(again!))).toBeUndefined();
    const after = await sandbox.view(first.intentId);
    expect(after).toMatchObject({ status: 'PENDING', request: { intentHash: before.request.intentHash } });
    expect(after!.audit).toEqual(before.audit);
    // The original review goes on and approves the original content only.
    await sandbox.click(USER.alice, 'approve', first.intentId);
    const decided = await sandbox.final(first.intentId);
    expect(decided.decision).toMatchObject({ status: 'APPROVED', intentHash: intentHash(first) });
    expect(await sandbox.decisions(first.intentId)).toHaveLength(1);
  });

  it('the client never returns APPROVED for an intent it did not publish: reused id -> IntentConflictError', async () => {
    // Prepare: an id approved for one intent.
    const first = makeIntent();
    await sandbox.put([first]);
    await sandbox.reviewOpen(first.intentId);
    await sandbox.click(USER.alice, 'approve', first.intentId);
    expect((await sandbox.final(first.intentId)).status).toBe('APPROVED');
    // Act: the client publishes other content under the same id and waits for "its" decision.
    const other = { ...first, justification: 'Something else entirely: attach AdministratorAccess.' };
    const attempt = requestApproval(other, {
      agentId: 'deploy-bot',
      eventBridge: eventBridge(),
      statusUrl: sandbox.server.url,
      wait: { timeoutMs: 20_000, poll: { baseDelayMs: 20, maxDelayMs: 100 } },
    });
    // Assess: it fails loudly, naming both hashes; the refusal is recorded where the error says.
    const error = await attempt.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IntentConflictError);
    expect(error).toMatchObject({
      intentId: first.intentId,
      publishedHash: intentHash(other),
      existingHash: intentHash(first),
    });
    const refusal = await sandbox.final((error as IntentConflictError).refusalRequestId!);
    expectAuditedDenial(refusal, /already used by another intent/);
  });

  it('a decision bound to another hash never passes the client: DecisionMismatchError / verifyDecision refuse it', async () => {
    // Prepare: an approved decision, read through the status API.
    const first = makeIntent();
    await sandbox.put([first]);
    await sandbox.reviewOpen(first.intentId);
    await sandbox.click(USER.alice, 'approve', first.intentId);
    const decided = await sandbox.final(first.intentId);
    // Act + Assess: the approval does not verify for different content under the same id.
    const other = { ...first, resource: 'arn:aws:iam::123456789012:role/admin' };
    const decision = { ...decided.decision!, intentId: first.intentId, agentId: 'deploy-bot' } as never;
    expect(verifyDecision(decision, other)).toMatchObject({ ok: false, code: 'hash-mismatch' });
    expect(verifyDecision(decision, first)).toMatchObject({ ok: true });
    expect(new DecisionMismatchError(first.intentId, intentHash(other), intentHash(first)).message).toMatch(
      /do not run it/,
    );
  });

  it('another agent reusing an id (even with identical content) is refused and cannot read or cancel the request', async () => {
    const first = makeIntent();
    await sandbox.put([first]);
    await sandbox.reviewOpen(first.intentId);
    const [copy] = await sandbox.put([first], { agentId: 'report-bot' });
    const refused = await sandbox.final(refusalId(copy!));
    expectAuditedDenial(refused, /already used by another intent/);
    expect(refused.request.agentId).toBe('report-bot');
    // Through the client, report-bot is told so at once instead of waiting on deploy-bot's review.
    const error = await requestApproval(first, {
      agentId: 'report-bot',
      eventBridge: eventBridge(),
      statusUrl: sandbox.server.url,
      wait: { timeoutMs: 20_000, poll: { baseDelayMs: 20, maxDelayMs: 100 } },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntentConflictError);
    expect((await sandbox.view(first.intentId))?.status).toBe('PENDING');
    await sandbox.click(USER.bob, 'approve', first.intentId);
    expect((await sandbox.final(first.intentId)).decision?.approvers).toHaveLength(1);
  });

  it('another agent’s grant cannot be spent: the grant API answers as for a missing grant and nothing is consumed', async () => {
    // Prepare: deploy-bot holds a grant.
    const first = makeIntent();
    await sandbox.put([first]);
    await sandbox.reviewOpen(first.intentId);
    await sandbox.click(USER.alice, 'approve', first.intentId);
    const grantId = (await sandbox.final(first.intentId)).decision as unknown as {
      grant: { grantId: string };
    };
    const deps = {
      ddb: sandbox.loop.aws.ddb,
      table: sandbox.loop.aws.table,
      now: () => new Date(),
      agentRoles: parseAgentRoles(
        JSON.stringify({
          'arn:aws:iam::000000000000:role/deploy-bot': 'deploy-bot',
          'arn:aws:iam::000000000000:role/report-bot': 'report-bot',
        }),
      ),
    };
    // Act: report-bot's role calls the grant API with deploy-bot's grant id.
    const stolen = await consumeForCaller(deps, {
      grantId: grantId.grant.grantId,
      callerArn: 'arn:aws:sts::000000000000:assumed-role/report-bot/session',
    });
    // Assess: refused like an unknown grant; the owner can still spend it once.
    expect(stolen.statusCode).toBe(404);
    const own = await consumeForCaller(deps, {
      grantId: grantId.grant.grantId,
      callerArn: 'arn:aws:sts::000000000000:assumed-role/deploy-bot/session',
    });
    expect(own.statusCode).toBe(200);
  });

  it('an Approve whose value carries no version is refused as stale, audited, and never counted', async () => {
    const intent = makeIntent();
    await sandbox.put([intent]);
    await sandbox.reviewOpen(intent.intentId);
    // Act: a hand-made click with the bare request id.
    expect(await sandbox.click(USER.alice, 'approve', intent.intentId, intent.intentId)).toBe(200);
    // An empty version is not a button value Countersign draws: refused as invalid, before any request is read.
    expect(await sandbox.click(USER.bob, 'approve', intent.intentId, `${intent.intentId}@`)).toBe(400);
    // Assess
    const view = await eventually(async () => {
      const v = await sandbox.view(intent.intentId);
      return v?.audit.some((r) => r.kind === 'refused') ? v : undefined;
    });
    expect(view.status).toBe('PENDING');
    expect(view.votes).toEqual([]);
    expect(view.audit.filter((r) => r.kind === 'refused')).toMatchObject([
      { actor: { slackUserId: USER.alice }, data: { code: 'stale-form' } },
    ]);
    expect(sandbox.loop.slack!.sent('chat.postEphemeral', USER.alice).at(-1)?.text).toMatch(
      /names no version of the request/,
    );
    // From the current card it counts.
    await sandbox.click(USER.alice, 'approve', intent.intentId);
    expect((await sandbox.final(intent.intentId)).status).toBe('APPROVED');
  });

  it('a click from the card of another version (another intent’s hash) is refused as stale', async () => {
    const intent = makeIntent();
    const elsewhere = makeIntent();
    await sandbox.put([intent]);
    await sandbox.reviewOpen(intent.intentId);
    const otherVersion = `${intent.intentId}@${intentHash(elsewhere).slice('sha256:'.length, 'sha256:'.length + 16)}`;
    await sandbox.click(USER.alice, 'approve', intent.intentId, otherVersion);
    const view = await eventually(async () => {
      const v = await sandbox.view(intent.intentId);
      return v?.audit.some((r) => r.kind === 'refused') ? v : undefined;
    });
    expect(view).toMatchObject({ status: 'PENDING', votes: [] });
    expect(view.audit.find((r) => r.kind === 'refused')?.data).toMatchObject({ code: 'stale-form' });
    await sandbox.click(USER.alice, 'approve', intent.intentId);
    expect((await sandbox.final(intent.intentId)).status).toBe('APPROVED');
  });
});
