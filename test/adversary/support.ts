/**
 * The attacker's view of the sandbox: only what a compromised agent or a
 * curious insider can reach. PutEvents through the sandbox's EventBridge
 * endpoint with an unmodified SDK client, Slack interactions signed as Slack
 * signs them and POSTed over HTTP, and the status API (`GET /requests/<id>`,
 * `GET /events`). Every helper asserts nothing itself except that the
 * sandbox answered.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { expect } from 'vitest';
import { approveButtonValue } from '../../lambdas/shared/card.js';
import { AGENT_SOURCE_PREFIX, CANCEL_DETAIL_TYPE, INTENT_DETAIL_TYPE } from '../../lambdas/shared/intent.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { createSandboxServer, type SandboxServer } from '../../sandbox/server.js';
import { signedClick } from '../../sandbox/slack-click.js';
import { makeIntent } from '../support/fixtures.js';
import { eventually, sharedLoop, USER } from '../support/loop.js';

/** The request as the sandbox's status endpoint shows it. */
export interface RequestView {
  status: string;
  votes: { slackUserId: string; email: string }[];
  decision: {
    status: string;
    reason: string;
    intentHash: string;
    approvers: { slackUserId: string; email: string }[];
  } | null;
  request: {
    intentId: string;
    agentId: string;
    intentHash: string;
    finalizedAt?: string;
    rejected?: { reason: string; claimedIntentId?: string };
    card?: { channel: string; ts: string };
    intent?: Record<string, unknown>;
    modification?: { intentHash: string };
  };
  audit: {
    seq: number;
    kind: string;
    actor: { type: string; slackUserId?: string };
    data: Record<string, unknown>;
  }[];
}

/** The decision event as `GET /events` shows it. */
export interface DecisionEvent {
  detail: { intentId: string; status: string; reason: string; intentHash: string; approvers: unknown[] };
}

/** A sandbox server around the shared loop, with the attacker's clients. */
export interface Sandbox {
  loop: CountersignLoop;
  server: SandboxServer;
  /** PutEvents one entry per detail (a string is sent as is: raw JSON). */
  put(
    details: (string | Record<string, unknown>)[],
    options?: { agentId?: string; detailType?: string },
  ): Promise<PutEventsResultEntry[]>;
  /** `GET /requests/<id>`: undefined on 404. */
  view(requestId: string): Promise<RequestView | undefined>;
  /** Decision events published for a request id. */
  decisions(requestId: string): Promise<DecisionEvent[]>;
  /** Waits until the request is final (finalized, a final audit record, one decision event) and returns it. */
  final(requestId: string, timeoutMs?: number): Promise<RequestView>;
  /** Waits until the review card is posted and the review step finished. */
  reviewOpen(requestId: string): Promise<RequestView>;
  /** A signed click POSTed to /slack/interactions; Approve carries `value` or the current card's value. */
  click(userId: string, actionId: string, requestId: string, value?: string): Promise<number>;
  /** A normal intent still reaches review and an approver can approve it. */
  assertHealthy(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a sandbox server around the shared loop. */
export async function startSandbox(): Promise<Sandbox> {
  const loop = await sharedLoop();
  const server = await createSandboxServer(loop, { port: 0 });
  const client = new EventBridgeClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'agent', secretAccessKey: 'agent' },
    maxAttempts: 1,
  });
  const getJson = async <T>(path: string): Promise<T | undefined> => {
    const res = await fetch(`${server.url}${path}`);
    if (res.status === 404) return undefined;
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };
  const sandbox: Sandbox = {
    loop,
    server,
    async put(details, options = {}) {
      const out = await client.send(
        new PutEventsCommand({
          Entries: details.map((detail) => ({
            EventBusName: loop.config.eventBusName,
            Source: `${AGENT_SOURCE_PREFIX}${options.agentId ?? 'deploy-bot'}`,
            DetailType: options.detailType ?? INTENT_DETAIL_TYPE,
            Detail: typeof detail === 'string' ? detail : JSON.stringify(detail),
          })),
        }),
      );
      return out.Entries ?? [];
    },
    view: (requestId) => getJson<RequestView>(`/requests/${encodeURIComponent(requestId)}`),
    async decisions(requestId) {
      return (await getJson<DecisionEvent[]>(`/events?intentId=${encodeURIComponent(requestId)}`)) ?? [];
    },
    async final(requestId, timeoutMs = 15_000) {
      return eventually(async () => {
        const view = await sandbox.view(requestId);
        if (!view?.request.finalizedAt) return undefined;
        if (!view.audit.some((r) => r.data.final === true)) return undefined;
        return (await sandbox.decisions(requestId)).length > 0 ? view : undefined;
      }, timeoutMs);
    },
    async reviewOpen(requestId) {
      return eventually(async () => {
        const view = await sandbox.view(requestId);
        return view?.request.card &&
          view.audit.some((r) => r.kind === 'reviewers-notified') &&
          view.audit.some((r) => r.kind === 'card-posted')
          ? view
          : undefined;
      });
    },
    async click(userId, actionId, requestId, value) {
      let buttonValue = value ?? requestId;
      if (value === undefined && actionId === 'approve') {
        const view = await sandbox.view(requestId);
        if (view) buttonValue = approveButtonValue(view.request as Parameters<typeof approveButtonValue>[0]);
      }
      const signed = signedClick(loop.signingSecret, { userId, actionId, requestId: buttonValue });
      const res = await fetch(`${server.url}/slack/interactions`, {
        method: 'POST',
        headers: signed.headers,
        body: signed.body,
      });
      await res.text();
      return res.status;
    },
    async assertHealthy() {
      const intent = makeIntent();
      const [entry] = await sandbox.put([intent]);
      expect(entry).toHaveProperty('EventId');
      await sandbox.reviewOpen(intent.intentId);
      expect(await sandbox.click(USER.alice, 'approve', intent.intentId)).toBe(200);
      const view = await sandbox.final(intent.intentId);
      expect(view.decision).toMatchObject({ status: 'APPROVED' });
    },
    async close() {
      client.destroy();
      await server.close();
    },
  };
  return sandbox;
}

/** Publishes a cancellation of `intentId` as `agentId`. */
export function cancelAs(sandbox: Sandbox, agentId: string, intentId: string) {
  return sandbox.put([{ intentId, reason: 'no longer needed' }], { agentId, detailType: CANCEL_DETAIL_TYPE });
}

/** The id under which an event's refusal is recorded when its intent cannot have its own id. */
export const refusalId = (entry: PutEventsResultEntry) => `invalid-${entry.EventId}`;

/** Asserts a request ended DENIED by policy-free validation with a reason matching `reason`, fully audited. */
export function expectAuditedDenial(view: RequestView, reason: RegExp): void {
  expect(view.status).toBe('DENIED');
  expect(view.decision?.reason).toMatch(reason);
  expect(view.decision?.approvers).toEqual([]);
  expect(view.audit[0]).toMatchObject({ kind: 'rejected' });
  expect(view.audit.filter((r) => r.data.final === true)).toHaveLength(1);
}
