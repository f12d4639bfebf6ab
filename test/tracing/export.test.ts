/**
 * The trace exporter against real parts: a request and its trail in dynalite,
 * the SDK's OTLP/HTTP exporter, the sandbox's OTLP receiver, and the API key
 * header from a Secrets Manager secret (the fake AWS on 127.0.0.1). Every
 * failure ends as dropped spans reported once, never as a thrown error.
 */

import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditDeps, appendAudit } from '../../lambdas/shared/audit.js';
import {
  handlerTraceExport,
  requestTraceExporter,
  secretHeaders,
  traceExportFromEnv,
} from '../../lambdas/shared/tracing.js';
import { requestTrace } from '../../lambdas/shared/tracing-context.js';
import { type RunningFakeAws, startFakeAws } from '../../sandbox/fake-aws.js';
import { type RunningOtlpReceiver, startOtlpReceiver } from '../../sandbox/otlp-receiver.js';
import { seedPendingRequest } from '../support/fixtures.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';

let aws: LocalAws;
let fake: RunningFakeAws;
let receiver: RunningOtlpReceiver;
let deps: AuditDeps;

beforeAll(async () => {
  [aws, fake, receiver] = await Promise.all([startLocalAws(), startFakeAws(), startOtlpReceiver()]);
  deps = { ddb: aws.ddb, table: aws.table, now: () => new Date() };
});
afterAll(async () => {
  await Promise.all([aws?.close(), fake?.close(), receiver?.close()]);
});

async function decidedRequest() {
  const request = await seedPendingRequest(deps);
  await appendAudit(
    deps,
    { requestId: request.intentId, createdAt: request.createdAt },
    {
      kind: 'decided',
      actor: { type: 'human', slackUserId: 'U0ALICE01', email: 'alice@example.com' },
      intentHash: request.intentHash,
      data: { final: true, decision: { status: 'APPROVED', automatic: false, approvers: [] } },
    },
  );
  return request;
}

/** A Secrets Manager client of the fake AWS. */
const secretsClient = () =>
  new SecretsManagerClient({
    endpoint: fake.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });

function collect() {
  const drops: { count: number; reason: string }[] = [];
  return { drops, onDropped: (count: number, reason: string) => drops.push({ count, reason }) };
}

describe('requestTraceExporter', () => {
  it('exports the request with the API key header read from Secrets Manager once', async () => {
    // Prepare
    const request = await decidedRequest();
    const arn = fake.setSecret('countersign/otlp', JSON.stringify({ 'x-api-key': 'k-123' }));
    const sm = secretsClient();
    const { drops, onDropped } = collect();
    const exporter = requestTraceExporter(
      { endpoint: receiver.url, timeoutMs: 2000, headers: secretHeaders(sm, arn) },
      onDropped,
    );
    const readsBefore = fake.secretReads.length;
    // Act
    const xrayHeader = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const first = await exporter(deps, request.intentId, { xrayHeader });
    await exporter(deps, request.intentId, { xrayHeader });
    // Assess
    expect(first).toEqual({ exported: 3, dropped: 0 });
    expect(drops).toEqual([]);
    expect(fake.secretReads.length - readsBefore).toBe(1);
    expect(receiver.headers().at(-1)).toMatchObject({
      'x-api-key': 'k-123',
      'content-type': 'application/json',
    });
    const spans = receiver.trace(requestTrace(request.intentId).traceId);
    expect(spans.map((s) => s.name)).toEqual([
      'countersign.review',
      'countersign.notify',
      'countersign.decision',
    ]);
    expect(spans[0]!.links[0]).toMatchObject({ traceId: '5759e988bd862e3fe1be46a994272793' });
  });

  it.each([
    ['a refusing endpoint', () => receiver.failNext(1, 400), () => receiver.url],
    ['an endpoint that is not there', () => {}, () => 'http://127.0.0.1:9/v1/traces'],
    ['a stalled endpoint (past the deadline)', () => receiver.stall(1500), () => receiver.url],
  ])('%s: spans dropped and counted, nothing thrown, within the deadline', async (_name, breakIt, url) => {
    // Prepare
    const request = await decidedRequest();
    const { drops, onDropped } = collect();
    const exporter = requestTraceExporter({ endpoint: url(), timeoutMs: 500 }, onDropped);
    breakIt();
    try {
      // Act
      const started = Date.now();
      const outcome = await exporter(deps, request.intentId);
      // Assess
      expect(Date.now() - started).toBeLessThan(1400);
      expect(outcome).toMatchObject({ exported: 0, dropped: 3, error: expect.any(String) });
      expect(drops).toEqual([{ count: 3, reason: expect.any(String) }]);
    } finally {
      receiver.failNext(0);
      receiver.stall(0);
    }
  });

  it('a headers secret that is not a JSON object of strings drops the spans with the reason', async () => {
    const request = await decidedRequest();
    const arn = fake.setSecret('countersign/otlp-bad', JSON.stringify({ 'x-api-key': 42 }));
    const sm = secretsClient();
    const { drops, onDropped } = collect();
    const exporter = requestTraceExporter(
      { endpoint: receiver.url, timeoutMs: 1000, headers: secretHeaders(sm, arn) },
      onDropped,
    );
    const outcome = await exporter(deps, request.intentId);
    expect(outcome).toMatchObject({ exported: 0 });
    expect(drops.map((d) => d.reason).join()).toMatch(/string values/);
  });

  it('a store that cannot be read drops, never throws', async () => {
    const { drops, onDropped } = collect();
    const exporter = requestTraceExporter({ endpoint: receiver.url, timeoutMs: 500 }, onDropped);
    const outcome = await exporter({ ddb: aws.ddb, table: 'no-such-table' }, 'intent-00000001');
    expect(outcome).toMatchObject({ exported: 0, dropped: 1 });
    expect(drops).toHaveLength(1);
  });
});

describe('configuration', () => {
  it('export is off without COUNTERSIGN_OTLP_ENDPOINT: the handler hook does nothing', async () => {
    expect(traceExportFromEnv(() => {}, {})).toBeUndefined();
    const hook = handlerTraceExport('record', () => {}, {});
    const before = receiver.spans().length;
    await hook(deps, (await decidedRequest()).intentId);
    expect(receiver.spans().length).toBe(before);
  });

  it('the handler hook exports to the configured endpoint and links the invocation X-Ray trace', async () => {
    const request = await decidedRequest();
    const warnings: unknown[] = [];
    const hook = handlerTraceExport('record', (_m, extra) => warnings.push(extra), {
      COUNTERSIGN_OTLP_ENDPOINT: receiver.url,
      _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    await hook(deps, request.intentId);
    const [root] = receiver.trace(requestTrace(request.intentId).traceId);
    expect(root).toMatchObject({ name: 'countersign.review' });
    expect(root!.links).toHaveLength(1);
    expect(warnings).toEqual([]);
  });

  it.each([
    [{ COUNTERSIGN_OTLP_ENDPOINT: 'not a url' }, /Invalid URL/],
    [{ COUNTERSIGN_OTLP_ENDPOINT: 'ftp://collector/v1/traces' }, /must be an http\(s\) URL/],
    [{ COUNTERSIGN_OTLP_ENDPOINT: 'https://c/v1/traces', COUNTERSIGN_OTLP_TIMEOUT_MS: '0' }, /1 to 30000/],
  ])('%j fails the cold start with a reason', (env, reason) => {
    expect(() => traceExportFromEnv(() => {}, env)).toThrow(reason);
  });
});
