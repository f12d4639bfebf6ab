/**
 * The sandbox server through its public interfaces only: the unmodified AWS
 * SDK EventBridge client against `POST /`, signed Slack interactions over HTTP,
 * and the JSON status endpoints. Runs around the process-wide shared loop.
 */
import { randomUUID } from 'node:crypto';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveButtonValue } from '../../lambdas/shared/card.js';
import { createSandboxServer, type SandboxServer } from '../../sandbox/server.js';
import { signedClick } from '../../sandbox/slack-click.js';
import { makeIntent } from '../support/fixtures.js';
import { eventually, newIntentId, sharedLoop, USER } from '../support/loop.js';

let server: SandboxServer;
let client: EventBridgeClient;
let signingSecret: string;
/** Every intent this file publishes; any still pending at the end is denied so no execution lingers. */
const published = new Set<string>();

beforeAll(async () => {
  const loop = await sharedLoop();
  signingSecret = loop.signingSecret;
  server = await createSandboxServer(loop, { port: 0 });
  client = new EventBridgeClient({
    endpoint: server.url,
    region: 'eu-central-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'any-secret' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  for (const intentId of published) {
    const view = await getJson<RequestView>(`/requests/${intentId}`).catch(() => undefined);
    if (view?.body.status === 'PENDING') await deny(USER.bob, intentId);
  }
  client?.destroy();
  await server?.close();
});

interface RequestView {
  status: string;
  votes: { slackUserId: string; email: string }[];
  decision: { status: string; approvers: { slackUserId: string }[] } | null;
  request: {
    intentId: string;
    intentHash: string;
    taskToken?: string;
    card?: { channel: string; ts: string };
  };
  audit: { seq: number; kind: string; actor: { type: string; slackUserId?: string } }[];
}
interface Message {
  method: string;
  channel: string;
  ts: string;
  user?: string;
  text?: string;
  blocks?: unknown[];
}
interface DecisionEvent {
  source: string;
  'detail-type': string;
  detail: { intentId: string; status: string; automatic: boolean; approvers: { slackUserId: string }[] };
}

async function getJson<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, body: (await res.json()) as T };
}

const intentEntry = (
  detail: unknown,
  overrides: Partial<PutEventsRequestEntry> = {},
): PutEventsRequestEntry => ({
  EventBusName: 'countersign',
  Source: 'countersign.agent.deploy-bot',
  DetailType: 'Privileged Action Requested',
  Detail: JSON.stringify(detail),
  ...overrides,
});

/** Publishes intents with the AWS SDK client, as an agent would. */
async function publish(...intents: ({ intentId: string } & Record<string, unknown>)[]) {
  for (const intent of intents) published.add(intent.intentId);
  const out = await client.send(new PutEventsCommand({ Entries: intents.map((i) => intentEntry(i)) }));
  expect(out.FailedEntryCount).toBe(0);
  return out;
}

/** The review cards (chat.postMessage) the fake Slack holds for an intent. */
async function cardsFor(intentId: string): Promise<Message[]> {
  const { body } = await getJson<Message[]>('/slack/messages');
  return body.filter(
    (m) =>
      m.method === 'chat.postMessage' && JSON.stringify(m.blocks ?? []).includes(`"value":"${intentId}"`),
  );
}

/** Waits for the card and for its posting to be audited (the poster's `card-posted` record is in the trail). */
async function waitForCard(intentId: string): Promise<Message> {
  const card = await eventually(async () => (await cardsFor(intentId))[0], 10_000);
  await eventually(async () =>
    (await requestView(intentId)).audit.some((r) => r.kind === 'card-posted') ? true : undefined,
  );
  return card;
}

async function decisionsFor(intentId: string): Promise<DecisionEvent[]> {
  return (await getJson<DecisionEvent[]>(`/events?intentId=${encodeURIComponent(intentId)}`)).body;
}

const waitForDecision = (intentId: string, timeoutMs = 10_000) =>
  eventually(async () => (await decisionsFor(intentId))[0], timeoutMs);

async function requestView(intentId: string) {
  const { status, body } = await getJson<RequestView>(`/requests/${encodeURIComponent(intentId)}`);
  expect(status).toBe(200);
  return body;
}

/** POSTs a click to /slack/interactions exactly as Slack would, signed with the app's secret. */
async function clickHttp(
  userId: string,
  actionId: 'approve' | 'deny',
  requestId: string,
  secret = signingSecret,
) {
  // Approve carries the version its card showed, as the card's button does.
  const stored =
    actionId === 'approve'
      ? (await getJson<RequestView>(`/requests/${encodeURIComponent(requestId)}`)).body.request
      : undefined;
  const value = stored ? approveButtonValue(stored) : requestId;
  const signed = signedClick(secret, { userId, actionId, requestId: value });
  const res = await fetch(`${server.url}/slack/interactions`, {
    method: 'POST',
    headers: signed.headers,
    body: signed.body,
  });
  return { status: res.status, body: await res.text() };
}

/**
 * Denies as Slack would: the Deny click, then, when the handler answers it with
 * a reason modal (views.open for this click's trigger id), the submitted modal.
 */
async function deny(userId: string, requestId: string) {
  const signed = signedClick(signingSecret, { userId, actionId: 'deny', requestId });
  const trigger = (JSON.parse(new URLSearchParams(signed.body).get('payload')!) as { trigger_id: string })
    .trigger_id;
  const res = await fetch(`${server.url}/slack/interactions`, {
    method: 'POST',
    headers: signed.headers,
    body: signed.body,
  });
  expect(res.status).toBe(200);
  const { body: views } =
    await getJson<
      { id: string; triggerId?: string; view: { blocks?: { type: string; block_id?: string }[] } }[]
    >('/slack/views');
  const modal = views.find((v) => v.triggerId === trigger);
  if (!modal) return;
  const inputs = Object.fromEntries(
    (modal.view.blocks ?? [])
      .filter((b) => b.type === 'input')
      .map((b) => [b.block_id, 'Not without a change ticket.']),
  );
  const submitted = await fetch(`${server.url}/api/submit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId, viewId: modal.id, inputs }),
  });
  expect(((await submitted.json()) as { status: number }).status).toBe(200);
}

/** A production IAM change: one approval from security-approvers. */
const iamChange = () => makeIntent({ intentId: newIntentId() });

describe('sandbox server: end to end through HTTP and the AWS SDK', () => {
  it('approve: SDK PutEvents -> card in /slack/messages -> signed click -> decision event and audit trail', async () => {
    // Prepare
    const intent = iamChange();
    // Act
    const out = await publish(intent);
    const card = await waitForCard(intent.intentId);
    const answer = await clickHttp(USER.alice, 'approve', intent.intentId);
    const decision = await waitForDecision(intent.intentId);
    // Assess
    expect(out.Entries?.[0]?.EventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(card.channel).toBe('C0APPROVAL');
    expect(answer.status).toBe(200);
    expect(decision).toMatchObject({
      source: 'countersign',
      'detail-type': 'Privileged Action Decided',
      detail: {
        intentId: intent.intentId,
        status: 'APPROVED',
        automatic: false,
        approvers: [expect.objectContaining({ slackUserId: USER.alice })],
      },
    });
    const view = await requestView(intent.intentId);
    expect(view.status).toBe('APPROVED');
    expect(view.votes).toEqual([
      expect.objectContaining({ slackUserId: USER.alice, email: 'alice@example.com' }),
    ]);
    expect(view.decision?.status).toBe('APPROVED');
    expect(view.audit.map((r) => r.kind)).toEqual([
      'requested',
      'policy-evaluated',
      'reviewers-notified',
      'card-posted',
      'vote',
      'decided',
    ]);
    expect(view.audit.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    // The card was updated in place: the latest chat.update for it shows the outcome, without buttons.
    const { body: messages } = await getJson<Message[]>('/slack/messages');
    const updates = messages.filter((m) => m.method === 'chat.update' && m.ts === card.ts);
    expect(JSON.stringify(updates.at(-1)?.blocks)).toContain('Approved');
    expect(JSON.stringify(updates.at(-1)?.blocks)).not.toContain('"action_id":"approve"');
  });

  it('deny: one deny ends the review as DENIED, announced and audited', async () => {
    const intent = iamChange();
    await publish(intent);
    await waitForCard(intent.intentId);
    await deny(USER.bob, intent.intentId);
    const decision = await waitForDecision(intent.intentId);
    expect(decision.detail).toMatchObject({ status: 'DENIED', automatic: false });
    const view = await requestView(intent.intentId);
    expect(view.status).toBe('DENIED');
    expect(view.audit.at(-1)).toMatchObject({
      kind: 'decided',
      actor: { type: 'human', slackUserId: USER.bob },
    });
  });

  it('expiry: an unanswered review (no policy names staging ec2:RebootInstances) expires into EXPIRED', async () => {
    const intent = makeIntent({
      intentId: newIntentId(),
      environment: 'staging',
      action: 'ec2:RebootInstances',
      resource: 'arn:aws:ec2:us-east-1:210987654321:instance/i-0staging',
    });
    await publish(intent);
    await waitForCard(intent.intentId);
    const decision = await waitForDecision(intent.intentId, 15_000);
    expect(decision.detail).toMatchObject({ status: 'EXPIRED', automatic: true });
    const view = await requestView(intent.intentId);
    expect(view.status).toBe('EXPIRED');
    expect(view.audit.at(-1)?.kind).toBe('expired');
  });

  it('a forged signature is refused with 401 and changes nothing', async () => {
    const intent = iamChange();
    await publish(intent);
    await waitForCard(intent.intentId);
    const before = (await requestView(intent.intentId)).audit.length;
    const forged = await clickHttp(USER.alice, 'approve', intent.intentId, 'not-the-signing-secret');
    expect(forged.status).toBe(401);
    const view = await requestView(intent.intentId);
    expect(view.status).toBe('PENDING');
    expect(view.votes).toEqual([]);
    expect(view.audit).toHaveLength(before);
    expect(await decisionsFor(intent.intentId)).toEqual([]);
  });

  it('self-approval is refused: carol (on whose behalf the agent acts) stays PENDING and gets an ephemeral', async () => {
    const intent = iamChange();
    await publish(intent);
    await waitForCard(intent.intentId);
    const ephemeralsBefore = (await getJson<Message[]>(`/api/ephemerals?user=${USER.carol}`)).body.length;
    const answer = await clickHttp(USER.carol, 'approve', intent.intentId);
    expect(answer.status).toBe(200);
    const view = await requestView(intent.intentId);
    expect(view.status).toBe('PENDING');
    expect(view.votes).toEqual([]);
    expect(view.audit.at(-1)).toMatchObject({ kind: 'refused', actor: { slackUserId: USER.carol } });
    const { body: ephemerals } = await getJson<Message[]>(`/api/ephemerals?user=${USER.carol}`);
    expect(ephemerals.length).toBe(ephemeralsBefore + 1);
    expect(ephemerals.at(-1)).toMatchObject({ method: 'chat.postEphemeral', user: USER.carol });
    expect(ephemerals.at(-1)?.text).toMatch(/behalf/i);
    // The messages feed holds the ephemeral too, addressed to carol only.
    const { body: messages } = await getJson<Message[]>('/slack/messages');
    expect(messages.filter((m) => m.method === 'chat.postEphemeral' && m.user === USER.carol).length).toBe(
      ephemerals.length,
    );
    expect(await decisionsFor(intent.intentId)).toEqual([]);
  });

  it('20 concurrent signed approve clicks from eligible approvers make exactly one decision and one event', async () => {
    const intent = iamChange();
    await publish(intent);
    await waitForCard(intent.intentId);
    // Only alice and bob are eligible in the sandbox directory: 10 clicks each, every one signed separately.
    const clickers = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? USER.alice : USER.bob));
    const answers = await Promise.all(clickers.map((user) => clickHttp(user, 'approve', intent.intentId)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    const decision = await waitForDecision(intent.intentId);
    // Every execution of this intent has ended: a (wrong) second decision would be on the bus by now.
    await Promise.all((await sharedLoop()).executionsFor(intent.intentId).map((e) => e.result));
    expect(await decisionsFor(intent.intentId)).toHaveLength(1);
    expect(decision.detail.status).toBe('APPROVED');
    expect(decision.detail.approvers).toHaveLength(1);
    const view = await requestView(intent.intentId);
    expect(view.status).toBe('APPROVED');
    expect(view.audit.filter((r) => r.kind === 'decided')).toHaveLength(1);
    expect(await cardsFor(intent.intentId)).toHaveLength(1);
  });

  it('a duplicate intent (same intentId published twice) gets one card', async () => {
    const intent = iamChange();
    await publish(intent, intent);
    await waitForCard(intent.intentId);
    await publish({ ...intent, justification: 'same intent id, different content' });
    // The replays run through Evaluate and stop there (the first execution still waits for review).
    const [, ...replays] = (await sharedLoop()).executionsFor(intent.intentId);
    expect(replays).toHaveLength(2);
    await Promise.all(replays.map((e) => e.result));
    expect(await cardsFor(intent.intentId)).toHaveLength(1);
    await clickHttp(USER.alice, 'approve', intent.intentId);
    await waitForDecision(intent.intentId);
    expect(await decisionsFor(intent.intentId)).toHaveLength(1);
  });
});

describe('sandbox server: PutEvents speaks the EventBridge wire protocol', () => {
  it('reports per-entry failures with FailedEntryCount, as EventBridge does', async () => {
    const ok = makeIntent({
      intentId: newIntentId(),
      environment: 'dev',
      action: 's3:GetObject',
      resource: 'arn:aws:s3:::dev-artifacts/build.log',
    });
    published.add(ok.intentId);
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          intentEntry(ok),
          intentEntry(ok, { Detail: undefined }),
          intentEntry(ok, { Detail: '{"intentId": "broken' }),
          intentEntry(ok, { EventBusName: 'no-such-bus' }),
          intentEntry(ok, { Source: undefined }),
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(4);
    expect(out.Entries?.[0]?.EventId).toBeTruthy();
    expect(out.Entries?.[0]?.ErrorCode).toBeUndefined();
    expect(out.Entries?.[1]).toMatchObject({
      ErrorCode: 'InvalidArgument',
      ErrorMessage: expect.stringMatching(/Detail/),
    });
    expect(out.Entries?.[2]).toMatchObject({ ErrorCode: 'MalformedDetail' });
    expect(out.Entries?.[3]).toMatchObject({
      ErrorCode: 'InvalidArgument',
      ErrorMessage: expect.stringMatching(/no-such-bus does not exist/),
    });
    expect(out.Entries?.[4]).toMatchObject({
      ErrorCode: 'InvalidArgument',
      ErrorMessage: expect.stringMatching(/Source/),
    });
    // The valid entry went through: the dev read is allowed by policy at once.
    const decision = await waitForDecision(ok.intentId);
    expect(decision.detail).toMatchObject({ status: 'APPROVED', automatic: true });
  });

  it('accepts the bus by ARN as well as by name', async () => {
    const ok = makeIntent({
      intentId: newIntentId(),
      environment: 'dev',
      action: 's3:ListBucket',
      resource: 'arn:aws:s3:::dev-artifacts',
    });
    published.add(ok.intentId);
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          intentEntry(ok, { EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/countersign' }),
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(0);
    await waitForDecision(ok.intentId);
  });

  it('refuses a request with more than 10 entries as a whole (ValidationException)', async () => {
    const entries = Array.from({ length: 11 }, () => intentEntry(makeIntent()));
    await expect(client.send(new PutEventsCommand({ Entries: entries }))).rejects.toMatchObject({
      name: 'ValidationException',
      $metadata: expect.objectContaining({ httpStatusCode: 400 }),
    });
  });

  it('answers an unknown X-Amz-Target with UnknownOperationException (400, AWS JSON error)', async () => {
    const res = await fetch(`${server.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.ListRules' },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-requestid')).toBeTruthy();
    expect(await res.json()).toEqual({
      __type: 'UnknownOperationException',
      message: 'Unknown operation AWSEvents.ListRules',
    });
  });

  it('answers a body that is not JSON with SerializationException', async () => {
    const res = await fetch(`${server.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
      body: 'Entries=1',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { __type: string }).__type).toBe('SerializationException');
  });
});

describe('sandbox server: console endpoints', () => {
  it('GET /requests lists requests newest first with their current card blocks', async () => {
    const intent = iamChange();
    await publish(intent);
    await waitForCard(intent.intentId);
    const { status, body } =
      await getJson<
        { intentId: string; status: string; createdAt: string; blocks: unknown[]; posted: boolean }[]
      >('/requests');
    expect(status).toBe(200);
    const mine = body.find((r) => r.intentId === intent.intentId);
    expect(mine).toMatchObject({ status: 'PENDING', posted: true });
    expect(JSON.stringify(mine?.blocks)).toContain('"action_id":"approve"');
    const times = body.map((r) => r.createdAt);
    expect(times).toEqual([...times].sort().reverse());
    await deny(USER.bob, intent.intentId);
  });

  it('GET /requests/<id> answers 404 JSON for an unknown intent, and never shows the task token', async () => {
    const missing = await getJson<{ error: string }>(`/requests/intent-${randomUUID()}`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('not_found');
    const intent = iamChange();
    await publish(intent);
    await waitForCard(intent.intentId);
    const view = await requestView(intent.intentId);
    expect(view.request.taskToken).toBe('(stored server-side, never shown)');
    await deny(USER.bob, intent.intentId);
  });

  it('POST /api/click signs the click server-side and sends it through /slack/interactions', async () => {
    const intent = iamChange();
    await publish(intent);
    await waitForCard(intent.intentId);
    // The console sends the Approve button's value: the request id and the version the card shows.
    const value = approveButtonValue((await requestView(intent.intentId)).request);
    const res = await fetch(`${server.url}/api/click`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: USER.alice, actionId: 'approve', requestId: value }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 200, ephemerals: [] });
    expect((await waitForDecision(intent.intentId)).detail.status).toBe('APPROVED');
    const bad = await fetch(`${server.url}/api/click`, { method: 'POST', body: '{"userId": 1}' });
    expect(bad.status).toBe(400);
  });

  it('GET /api/directory gives users with their groups for the picker', async () => {
    const { body } = await getJson<{
      users: { id: string; name: string; groups: string[] }[];
      approverGroup: string;
    }>('/api/directory');
    expect(body.approverGroup).toBe('security-approvers');
    expect(body.users.find((u) => u.id === USER.alice)?.groups).toContain('security-approvers');
    expect(body.users.find((u) => u.id === USER.dave)?.groups).toEqual([]);
  });

  it('mounts the fake Slack Web API under /slack/api/<method>', async () => {
    const res = await fetch(`${server.url}/slack/api/users.info`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer xoxb-countersign-fake-slack',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: `user=${USER.alice}`,
    });
    expect(await res.json()).toMatchObject({
      ok: true,
      user: { id: USER.alice, profile: { email: 'alice@example.com' } },
    });
  });

  it('serves the console and its modules, and nothing outside the console folder', async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('id="user-picker"');
    const script = await fetch(`${server.url}/console/blockkit.js`);
    expect(script.headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${server.url}/console/..%2Fserver.ts`)).status).toBe(404);
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });
});
