/**
 * The Lambda handler module as deployed: configured only by environment
 * variables (AWS endpoints through the SDK's standard variables), secret read
 * once per cold start from the fake Secrets Manager, Function URL events in,
 * one metric per outcome out.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HttpRequest } from '../../lambdas/interaction/payload.js';
import { FAKE_SLACK_TOKEN } from '../../sandbox/fake-slack.js';
import { type Harness, SIGNING_SECRET, startHarness, USERS } from './harness.js';

type Handler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

let h: Harness;
let savedEnv: NodeJS.ProcessEnv;
let secretArn: string;
const HANDLER = '../../lambdas/interaction/handler.js';

async function loadHandler(): Promise<Handler> {
  vi.resetModules(); // a fresh cold start: module-scope config, clients and secret cache
  return ((await import(HANDLER)) as { handler: Handler }).handler;
}

function event(click: HttpRequest): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': click.headers['x-slack-request-timestamp']!,
      'x-slack-signature': click.headers['x-slack-signature']!,
    },
    body: click.rawBody.toString('base64'),
    isBase64Encoded: true,
    requestContext: {} as APIGatewayProxyEventV2['requestContext'],
  };
}

beforeAll(async () => {
  h = await startHarness();
  secretArn = h.fakeAws.setSecret(
    'countersign/slack',
    JSON.stringify({ botToken: FAKE_SLACK_TOKEN, signingSecret: SIGNING_SECRET }),
  );
  savedEnv = { ...process.env };
  Object.assign(process.env, h.aws.env(), h.fakeAws.env(), {
    COUNTERSIGN_AUDIT_RETENTION_DAYS: '1',
    COUNTERSIGN_SLACK_SECRET_ARN: secretArn,
    COUNTERSIGN_SLACK_API_URL: h.slack.url,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
});
afterAll(async () => {
  process.env = savedEnv;
  vi.resetModules();
  vi.restoreAllMocks();
  await h.close();
});
beforeEach(() => {
  h.reset();
  h.fakeAws.secretReads.length = 0;
});

describe('interaction handler', () => {
  it('approves from a base64 Function URL event, reading the secret once per cold start and emitting a metric per outcome', async () => {
    // Prepare
    const handler = await loadHandler();
    const request = await h.seed();
    const addMetric = vi.spyOn(Metrics.prototype, 'addMetric');
    const publish = vi.spyOn(Metrics.prototype, 'publishStoredMetrics').mockImplementation(function (
      this: Metrics,
    ) {
      return this;
    });

    // Act
    const approved = await handler(event(h.click(USERS.alice, 'approve', request.intentId)));
    const late = await handler(event(h.click(USERS.bob, 'approve', request.intentId)));
    const forged = await handler(
      event({ ...h.click(USERS.bob, 'approve', request.intentId), rawBody: Buffer.from('x') }),
    );

    // Assess
    expect([approved.statusCode, late.statusCode, forged.statusCode]).toEqual([200, 200, 401]);
    expect(approved.body).toBe('');
    expect((await h.request(request.intentId))?.status).toBe('APPROVED');
    expect(h.fakeAws.tasks.callsOf('SendTaskSuccess', request.taskToken)).toHaveLength(1);
    expect(h.fakeAws.secretReads).toEqual([secretArn]);
    const emitted = addMetric.mock.calls.map(([name, unit, value]) => `${name}:${unit}:${value}`);
    expect(publish).toHaveBeenCalledTimes(3);
    expect(emitted).toEqual([
      'InteractionApproved:Count:1',
      'InteractionLate:Count:1',
      'InteractionSignatureRejected:Count:1',
    ]);
    addMetric.mockRestore();
    publish.mockRestore();
  });

  it('fails closed with 500 when the Slack secret is not filled in', async () => {
    // Prepare
    h.fakeAws.setSecret(secretArn, '{"botToken":"","signingSecret":""}');
    const handler = await loadHandler();
    const request = await h.seed();
    const publish = vi.spyOn(Metrics.prototype, 'publishStoredMetrics').mockImplementation(function (
      this: Metrics,
    ) {
      return this;
    });

    // Act
    const result = await handler(event(h.click(USERS.alice, 'approve', request.intentId)));
    publish.mockRestore();
    h.fakeAws.setSecret(
      secretArn,
      JSON.stringify({ botToken: FAKE_SLACK_TOKEN, signingSecret: SIGNING_SECRET }),
    );

    // Assess
    expect(result.statusCode).toBe(500);
    expect((await h.request(request.intentId))?.status).toBe('PENDING');
    expect(h.fakeAws.tasks.calls).toEqual([]);
  });

  it('fails the cold start when a required variable is missing, naming it', async () => {
    // Prepare
    const table = process.env.COUNTERSIGN_TABLE_NAME;
    delete process.env.COUNTERSIGN_TABLE_NAME;

    // Act
    const loading = loadHandler();

    // Assess
    await expect(loading).rejects.toThrow('COUNTERSIGN_TABLE_NAME');
    process.env.COUNTERSIGN_TABLE_NAME = table;
  });
});
