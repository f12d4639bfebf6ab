/**
 * The agent client against a local PutEvents + status endpoint: local
 * validation and size refusal, retries of exactly the failed entries, clear
 * errors, and polling for the decision with backoff.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DecisionMismatchError,
  DecisionTimeoutError,
  getStatus,
  IntentConflictError,
  IntentTooLargeError,
  IntentValidationError,
  PublishError,
  prepareIntent,
  publishIntents,
  requestApproval,
  StatusApiError,
  waitForDecision,
} from '../../client/index.js';
import { intentHash } from '../../lambdas/shared/canonical.js';
import { makeIntent } from '../support/fixtures.js';
import { type FakeEndpoint, startFakeEndpoint, TEST_CREDENTIALS } from './fake-endpoint.js';

const noSleep = { sleep: async () => undefined, random: () => 0.5 };

function eventBridge(endpoint: FakeEndpoint) {
  return new EventBridgeClient({
    endpoint: endpoint.url,
    region: 'us-east-1',
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
  });
}

/** An intent without an id, as an agent writes it. */
function draft() {
  const { intentId: _id, ...rest } = makeIntent();
  return rest;
}

describe('requestApproval: publishing', () => {
  let flaky: FakeEndpoint;
  beforeAll(async () => {
    // Every intent fails its first two attempts with a transient code, one in three also with throttling.
    flaky = await startFakeEndpoint({
      failures: (entry, attempt) => {
        const id = JSON.parse(entry.Detail!).intentId as string;
        const fails = id.charCodeAt(id.length - 1) % 3 === 0 ? 2 : 1;
        if (attempt <= fails) return attempt === 1 ? 'InternalFailure' : 'ThrottlingException';
        return undefined;
      },
    });
  });
  afterAll(() => flaky.close());

  it('generates an intent id, publishes as countersign.agent.<agentId> and returns the hash of what was sent', async () => {
    // Prepare
    const endpoint = await startFakeEndpoint();
    try {
      // Act
      const result = await requestApproval(draft(), {
        agentId: 'deploy-bot',
        eventBridge: eventBridge(endpoint),
      });
      // Assess
      expect(result.intentId).toMatch(/^[0-9a-f-]{36}$/);
      expect(endpoint.delivered).toHaveLength(1);
      const [entry] = endpoint.delivered;
      expect(entry).toMatchObject({
        Source: 'countersign.agent.deploy-bot',
        DetailType: 'Privileged Action Requested',
        EventBusName: 'countersign',
      });
      const detail = JSON.parse(entry!.Detail!);
      expect(detail.intentId).toBe(result.intentId);
      expect(result.intentHash).toBe(intentHash(detail));
    } finally {
      await endpoint.close();
    }
  });

  it('partial failures: retries only the failed entries, every intent is delivered exactly once', async () => {
    // Prepare
    const intents = Array.from({ length: 25 }, () => draft());
    const delays: number[] = [];
    // Act
    const result = await publishIntents(intents, {
      agentId: 'deploy-bot',
      eventBridge: eventBridge(flaky),
      sleep: async (ms) => {
        delays.push(ms);
      },
      random: () => 0.99,
    });
    // Assess
    expect(result.intents).toHaveLength(25);
    for (const { intentId } of result.intents) expect(flaky.deliveriesOf(intentId)).toBe(1);
    expect(flaky.delivered.length).toBeGreaterThanOrEqual(25);
    // First round: 25 entries in 3 calls (10 + 10 + 5); later rounds carry only the failures.
    const [first, second, third, ...retries] = flaky.calls.slice(-result.calls);
    expect([first!.length, second!.length, third!.length]).toEqual([10, 10, 5]);
    const retried = retries.flat();
    expect(retried.length).toBeGreaterThan(0);
    expect(retried.length).toBeLessThan(25 * 2);
    for (const id of retried) expect(result.intents.map((i) => i.intentId)).toContain(id);
    // Exponential backoff with jitter between rounds: 0.99 * 100, 0.99 * 200.
    expect(delays).toEqual([99, 198]);
  });

  it('requestApproval retries a failed single entry and delivers it once', async () => {
    const result = await requestApproval(draft(), {
      agentId: 'deploy-bot',
      eventBridge: eventBridge(flaky),
      ...noSleep,
    });
    expect(flaky.deliveriesOf(result.intentId)).toBe(1);
  });

  it('gives up after the bounded attempts, naming the error', async () => {
    const endpoint = await startFakeEndpoint({ failures: () => 'InternalFailure' });
    try {
      const error = await requestApproval(draft(), {
        agentId: 'deploy-bot',
        eventBridge: eventBridge(endpoint),
        retry: { maxAttempts: 3 },
        ...noSleep,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PublishError);
      expect((error as Error).message).toMatch(/still failing after 3 attempts \(InternalFailure/);
      expect(endpoint.calls).toHaveLength(3);
      expect(endpoint.delivered).toHaveLength(0);
    } finally {
      await endpoint.close();
    }
  });

  it('does not retry a permanent entry error', async () => {
    const endpoint = await startFakeEndpoint({ failures: () => 'AccessDeniedException' });
    try {
      const error = await requestApproval(draft(), {
        agentId: 'deploy-bot',
        eventBridge: eventBridge(endpoint),
        ...noSleep,
      }).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/not allowed to publish as countersign.agent.deploy-bot/);
      expect(endpoint.calls).toHaveLength(1);
    } finally {
      await endpoint.close();
    }
  });

  it('an unknown bus is a clear error (per entry, as the sandbox answers, and as ResourceNotFoundException)', async () => {
    const endpoint = await startFakeEndpoint();
    try {
      const perEntry = await requestApproval(draft(), {
        agentId: 'deploy-bot',
        eventBusName: 'no-such-bus',
        eventBridge: eventBridge(endpoint),
      }).catch((e: unknown) => e);
      expect((perEntry as Error).message).toMatch(/event bus "no-such-bus" does not exist/);
      endpoint.failNextCalls(1, 'ResourceNotFoundException', 400, 'Event bus countersign does not exist.');
      const whole = await requestApproval(draft(), {
        agentId: 'deploy-bot',
        eventBridge: eventBridge(endpoint),
      }).catch((e: unknown) => e);
      expect((whole as Error).message).toMatch(
        /event bus "countersign" does not exist .*ResourceNotFoundException/,
      );
    } finally {
      await endpoint.close();
    }
  });

  it('missing credentials are named as such', async () => {
    const endpoint = await startFakeEndpoint();
    try {
      const client = new EventBridgeClient({
        endpoint: endpoint.url,
        region: 'us-east-1',
        credentials: async () => {
          throw Object.assign(new Error('Could not load credentials from any providers'), {
            name: 'CredentialsProviderError',
          });
        },
      });
      const error = await requestApproval(draft(), { agentId: 'deploy-bot', eventBridge: client }).catch(
        (e: unknown) => e,
      );
      expect((error as Error).name).toBe('CredentialsError');
      expect((error as Error).message).toMatch(/no AWS credentials/);
    } finally {
      await endpoint.close();
    }
  });
});

describe('requestApproval: local validation (nothing is sent)', () => {
  let endpoint: FakeEndpoint;
  beforeAll(async () => {
    endpoint = await startFakeEndpoint();
  });
  afterAll(() => endpoint.close());

  it.each([
    [
      'agent.owner',
      (i: Record<string, unknown>) => ({ ...i, agent: { ...(i.agent as object), owner: 'not-an-email' } }),
    ],
    ['action', (i: Record<string, unknown>) => ({ ...i, action: 'attach the policy' })],
    ['environment', (i: Record<string, unknown>) => ({ ...i, environment: 'Production!' })],
    ['justification', (i: Record<string, unknown>) => ({ ...i, justification: undefined })],
    ['surprise', (i: Record<string, unknown>) => ({ ...i, surprise: true })],
  ])('names the field: %s', async (field, mutate) => {
    const error = await requestApproval(mutate(draft()), {
      agentId: 'deploy-bot',
      eventBridge: eventBridge(endpoint),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntentValidationError);
    expect((error as Error).message).toContain(field === 'surprise' ? '(root)' : `${field}:`);
    if (field === 'surprise') expect((error as Error).message).toContain('surprise');
    expect(endpoint.calls).toHaveLength(0);
  });

  it('refuses an intent over 256 KiB before sending', async () => {
    const big = { ...draft(), parameters: { blob: 'x'.repeat(256 * 1024) } };
    const error = await requestApproval(big, {
      agentId: 'deploy-bot',
      eventBridge: eventBridge(endpoint),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntentTooLargeError);
    expect((error as Error).message).toMatch(/limit is 262144 bytes \(refused before sending\)/);
    expect(endpoint.calls).toHaveLength(0);
  });

  it('refuses an invalid agent id', async () => {
    const error = await requestApproval(draft(), {
      agentId: 'Deploy Bot',
      eventBridge: eventBridge(endpoint),
    }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/invalid agent id "Deploy Bot"/);
    expect(endpoint.calls).toHaveLength(0);
  });
});

describe('waiting for the decision', () => {
  let endpoint: FakeEndpoint;
  beforeAll(async () => {
    endpoint = await startFakeEndpoint();
  });
  afterAll(() => endpoint.close());

  const approved = (intentId: string, hash = 'sha256:x') => ({
    intentId,
    agentId: 'deploy-bot',
    status: 'APPROVED',
    decision: {
      intentId,
      agentId: 'deploy-bot',
      status: 'APPROVED',
      automatic: false,
      approvers: [],
      reason: 'approved by reviewers',
      intentHash: hash,
      policies: [],
      decidedAt: '2026-01-01T00:00:00.000Z',
      grant: { grantId: 'g-123456789', expiresAt: '2026-01-01T00:15:00.000Z', singleUse: true },
    },
    grant: { grantId: 'g-123456789', expiresAt: '2026-01-01T00:15:00.000Z', singleUse: true },
  });

  it('polls with growing delays (404 while not yet recorded, then PENDING) until the decision, and signs each call', async () => {
    // Prepare
    const intentId = 'intent-wait-0001';
    endpoint.setStatus(intentId, (poll) =>
      poll === 1
        ? { status: 404, body: { error: 'not_found' } }
        : poll < 5
          ? { status: 200, body: { intentId, status: 'PENDING', decision: null, grant: null } }
          : { status: 200, body: approved(intentId) },
    );
    const delays: number[] = [];
    // Act
    const decision = await waitForDecision(intentId, {
      statusUrl: endpoint.url,
      credentials: TEST_CREDENTIALS,
      sleep: async (ms) => {
        delays.push(ms);
      },
      random: () => 0.5,
      poll: { baseDelayMs: 100, maxDelayMs: 400 },
    });
    // Assess
    expect(decision).toMatchObject({ intentId, status: 'APPROVED', grant: { grantId: 'g-123456789' } });
    expect(delays).toEqual([100, 200, 400, 400]);
    const calls = endpoint.statusCalls.filter((c) => c.path === `/requests/${intentId}`);
    expect(calls).toHaveLength(5);
    for (const call of calls)
      expect(String(call.headers.authorization)).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDAGENTTEST\/\d{8}\/us-east-1\/execute-api\/aws4_request/,
      );
  });

  it('times out with the last status', async () => {
    const intentId = 'intent-wait-0002';
    endpoint.setStatus(intentId, () => ({
      status: 200,
      body: { intentId, status: 'PENDING', decision: null },
    }));
    let clock = 0;
    const error = await waitForDecision(intentId, {
      statusUrl: endpoint.url,
      credentials: TEST_CREDENTIALS,
      timeoutMs: 1000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DecisionTimeoutError);
    expect((error as Error).message).toMatch(
      /no decision for intent-wait-0002 within 1 s \(last status: PENDING\)/,
    );
  });

  it('reads the sandbox shape too ({ status, decision as stored, request })', async () => {
    const intentId = 'intent-wait-0003';
    const { decision } = approved(intentId);
    const { intentId: _i, agentId: _a, ...stored } = decision;
    endpoint.setStatus(intentId, () => ({
      status: 200,
      body: {
        status: 'APPROVED',
        votes: [],
        decision: stored,
        request: { intentId, agentId: 'deploy-bot', finalizedAt: '2026-01-01T00:00:01.000Z' },
        audit: [],
      },
    }));
    const status = await getStatus(intentId, { statusUrl: endpoint.url, credentials: TEST_CREDENTIALS });
    expect(status).toMatchObject({
      intentId,
      status: 'APPROVED',
      decision: { intentId, agentId: 'deploy-bot', status: 'APPROVED' },
      grant: { grantId: 'g-123456789' },
    });
  });

  it('sandbox shape: a click the workflow has not finalized yet reads as PENDING', async () => {
    const intentId = 'intent-wait-0005';
    const { decision } = approved(intentId);
    endpoint.setStatus(intentId, () => ({
      status: 200,
      body: {
        status: 'APPROVED',
        decision: { ...decision, grant: undefined },
        request: { intentId, agentId: 'deploy-bot' },
      },
    }));
    const status = await getStatus(intentId, { statusUrl: endpoint.url, credentials: TEST_CREDENTIALS });
    expect(status).toEqual({ intentId, agentId: 'deploy-bot', status: 'PENDING' });
  });

  it('a 403 (not a registered agent role) is an error, not a wait', async () => {
    const intentId = 'intent-wait-0004';
    endpoint.setStatus(intentId, () => ({
      status: 403,
      body: { error: 'forbidden', message: 'caller x is not a registered Countersign agent role' },
    }));
    const error = await getStatus(intentId, { statusUrl: endpoint.url, credentials: TEST_CREDENTIALS }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StatusApiError);
    expect((error as StatusApiError).httpStatus).toBe(403);
  });

  it('requestApproval with wait returns the decision', async () => {
    const publishTo = await startFakeEndpoint();
    try {
      const intent = makeIntent();
      endpoint.setStatus(intent.intentId, (poll) =>
        poll < 2
          ? { status: 404, body: { error: 'not_found' } }
          : { status: 200, body: approved(intent.intentId, intentHash(intent)) },
      );
      const result = await requestApproval(intent, {
        agentId: 'deploy-bot',
        eventBridge: eventBridge(publishTo),
        statusUrl: endpoint.url,
        credentials: TEST_CREDENTIALS,
        wait: { timeoutMs: 10_000 },
        ...noSleep,
      });
      expect(result).toMatchObject({ intentId: intent.intentId, decision: { status: 'APPROVED' } });
      expect(result.timedOut).toBeUndefined();
    } finally {
      await publishTo.close();
    }
  });

  it('requestApproval never returns an approval bound to another hash: DecisionMismatchError', async () => {
    // Prepare: the status API answers APPROVED for this id, but for other content.
    const publishTo = await startFakeEndpoint();
    try {
      const intent = makeIntent();
      endpoint.setStatus(intent.intentId, () => ({
        status: 200,
        body: approved(
          intent.intentId,
          'sha256:0000000000000000000000000000000000000000000000000000000000000000',
        ),
      }));
      // Act
      const error = await requestApproval(intent, {
        agentId: 'deploy-bot',
        eventBridge: eventBridge(publishTo),
        statusUrl: endpoint.url,
        credentials: TEST_CREDENTIALS,
        wait: { timeoutMs: 10_000 },
        ...noSleep,
      }).catch((e: unknown) => e);
      // Assess
      expect(error).toBeInstanceOf(DecisionMismatchError);
      expect(error).toMatchObject({ intentId: intent.intentId, publishedHash: intentHash(intent) });
    } finally {
      await publishTo.close();
    }
  });

  it('requestApproval fails at once when the id holds another intent: IntentConflictError', async () => {
    const publishTo = await startFakeEndpoint();
    try {
      const intent = makeIntent();
      endpoint.setStatus(intent.intentId, () => ({
        status: 200,
        body: {
          intentId: intent.intentId,
          agentId: 'deploy-bot',
          status: 'PENDING',
          intentHash: 'sha256:other',
          decision: null,
          grant: null,
        },
      }));
      const error = await requestApproval(intent, {
        agentId: 'deploy-bot',
        eventBridge: eventBridge(publishTo),
        statusUrl: endpoint.url,
        credentials: TEST_CREDENTIALS,
        wait: { timeoutMs: 10_000 },
        ...noSleep,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IntentConflictError);
      expect(error).toMatchObject({ existingHash: 'sha256:other', publishedHash: intentHash(intent) });
      expect((error as Error).message).toMatch(/refusal recorded as request invalid-/);
    } finally {
      await publishTo.close();
    }
  });

  it('prepareIntent refuses raw JSON with duplicate keys and keys that would vanish from the hash', () => {
    const intent = makeIntent();
    const text = JSON.stringify(intent).replace('"parameters":{', '"parameters":{"roleName":"admin",');
    expect(() => prepareIntent(text)).toThrow(/duplicate key "roleName" at parameters/);
    const proto = JSON.stringify(intent).replace('"parameters":{', '"parameters":{"__proto__":{"x":1},');
    expect(() => prepareIntent(proto)).toThrow(IntentValidationError);
    expect(() => prepareIntent(JSON.parse(proto))).toThrow(/key "__proto__" is refused/);
    expect(prepareIntent(JSON.stringify(intent))).toEqual(intent);
  });
});
