/**
 * One offline Countersign loop shared by every test file in the run (handler
 * modules read their environment once per process). Reviews that no policy
 * matches expire after {@link TEST_DEFAULT_TIMEOUT_SECONDS}, so expiry is
 * testable without waiting an hour.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { type AuditRecord, GENESIS_HASH, hashRecord, readChain } from '../../lambdas/shared/audit.js';
import { approveButtonValue } from '../../lambdas/shared/card.js';
import { AGENT_SOURCE_PREFIX, INTENT_DETAIL_TYPE, type Intent } from '../../lambdas/shared/intent.js';
import { getRequest } from '../../lambdas/shared/store.js';
import type { SlackRecordedMessage } from '../../sandbox/fake-slack.js';
import { CountersignLoop } from '../../sandbox/loop.js';
import { type OpenedView, signedClick, signedViewSubmission } from '../../sandbox/slack-click.js';
import { type MethodRateLimit, SLACK_RATE_LIMITS } from '../../sandbox/slack-rate-limits.js';

export const TEST_DEFAULT_TIMEOUT_SECONDS = 2;

/**
 * The default request quota of the shared loop. Every test file shares the
 * loop and its counters, and the suite publishes far more intents a minute as
 * `deploy-bot` than an agent would, so the default is raised out of the way;
 * the quota tests use the `@rate` policy of `policies/70-quotas.cedar`, and
 * the default itself is tested on the Evaluate core (test/workflow/quota.test.ts).
 */
export const TEST_DEFAULT_RATE_LIMIT = '100000/minute';

/**
 * Slack's limits for the shared loop. It serves every test file in one process: some 150 files'
 * cards, clicks and lookups in a quarter of an hour, far denser than a workspace's day. Slack's
 * per-channel posting limit stays as it is (the card queue and the flood tests are about it); the
 * per-method tiers are ten times Slack's, so one file's clicks do not spend the next file's
 * `chat.update` minute. Tests of the tiers themselves use a fake with Slack's own table
 * (test/sandbox/fake-slack-rate-limits.test.ts, test/interaction/answer-window.test.ts).
 */
export const TEST_SLACK_RATE_LIMITS: Readonly<Record<string, MethodRateLimit>> = Object.fromEntries(
  Object.entries(SLACK_RATE_LIMITS).map(([method, limit]) => [
    method,
    limit.scope === 'channel'
      ? limit
      : { ...limit, perMinute: limit.perMinute * 10, burst: limit.burst * 10 },
  ]),
);

const key = Symbol.for('countersign.test.loop');
type Holder = { [key]?: Promise<CountersignLoop> };

/** The shared loop, started on first use. */
export function sharedLoop(): Promise<CountersignLoop> {
  const holder = globalThis as Holder;
  holder[key] ??= CountersignLoop.start({
    defaultReviewTimeoutSeconds: TEST_DEFAULT_TIMEOUT_SECONDS,
    config: { defaultRateLimit: TEST_DEFAULT_RATE_LIMIT },
    slackRateLimits: TEST_SLACK_RATE_LIMITS,
  });
  return holder[key];
}

/** Directory users by name (sandbox/directory.json). */
export const USER = {
  alice: 'U0ALICE01',
  bob: 'U0BOB0002',
  carol: 'U0CAROL03',
  dave: 'U0DAVE004',
  erin: 'U0ERIN005',
  /** A contractor, also in security-approvers. */
  heidi: 'U0HEIDI10',
} as const;

/** Publishes an intent for `agentId` through the bus. */
export function publish(
  loop: CountersignLoop,
  intent: Intent | Record<string, unknown>,
  agentId = 'deploy-bot',
) {
  const [result] = loop.putEvents([
    {
      EventBusName: loop.config.eventBusName,
      Source: `${AGENT_SOURCE_PREFIX}${agentId}`,
      DetailType: INTENT_DETAIL_TYPE,
      Detail: JSON.stringify(intent),
    },
  ]);
  expect(result).toHaveProperty('EventId');
  return result;
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The review card posted for a request (chat.postMessage whose buttons carry the request id). */
export function cardFor(loop: CountersignLoop, requestId: string): SlackRecordedMessage | undefined {
  return loop
    .slack!.sent('chat.postMessage')
    .find((m) => JSON.stringify(m.blocks ?? []).includes(`"value":"${requestId}"`));
}

/**
 * Waits until the review is open for a request: Review's `reviewers-notified`
 * and the poster's `card-posted` records are in the chain. A card alone is not
 * enough: the poster appends its record after the card is up, so a click or
 * cancellation right after the card could interleave with it.
 */
export async function reviewOpen(loop: CountersignLoop, requestId: string): Promise<SlackRecordedMessage> {
  const card = await eventually(() => cardFor(loop, requestId));
  await eventually(async () => {
    const chain = await readChain({ ddb: loop.aws.ddb, table: loop.aws.table }, requestId);
    return chain.some((r) => r.kind === 'reviewers-notified') && chain.some((r) => r.kind === 'card-posted')
      ? true
      : undefined;
  });
  return card;
}

/** The card's current content, after updates. */
export function currentCard(loop: CountersignLoop, card: SlackRecordedMessage) {
  return loop.slack!.message(card.channel, card.ts);
}

/**
 * Clicks a card button as a Slack user, through the interaction handler. An
 * Approve carries what the card's button carries: the request id and the
 * version (hash) of the intent as it stands now, unless `requestId` already
 * names a version (`<id>@<hash>`).
 */
export async function click(
  loop: CountersignLoop,
  userId: string,
  actionId: 'approve' | 'deny' | 'modify' | 'breakglass' | 'view_full' | 'acknowledge',
  requestId: string,
) {
  const stored =
    actionId === 'approve' && !requestId.includes('@') ? await request(loop, requestId) : undefined;
  const value = stored?.intent ? approveButtonValue(stored) : requestId;
  return loop.interact(signedClick(loop.signingSecret, { userId, actionId, requestId: value }));
}

/** The decision event for an intent, once published. */
export function decisionFor(loop: CountersignLoop, intentId: string) {
  return loop.decisions.find((e) => e.detail.intentId === intentId);
}

/** Reads a request. */
export function request(loop: CountersignLoop, requestId: string) {
  return getRequest({ ddb: loop.aws.ddb, table: loop.aws.table }, requestId);
}

/** Reads a request's audit chain and asserts it is intact (seq, links, hashes). */
export async function verifiedChain(loop: CountersignLoop, requestId: string): Promise<AuditRecord[]> {
  const chain = await readChain({ ddb: loop.aws.ddb, table: loop.aws.table }, requestId);
  chain.forEach((record, i) => {
    expect(record.seq).toBe(i + 1);
    expect(record.requestId).toBe(requestId);
    expect(record.prevHash).toBe(i === 0 ? GENESIS_HASH : chain[i - 1]!.hash);
    expect(record.hash).toBe(hashRecord(record));
  });
  return chain;
}

/** A fresh intent id. */
export const newIntentId = () => `intent-${randomUUID()}`;

/** The newest modal the fake Slack holds whose metadata is for `requestId` (any callback when none is given). */
export function openedView(loop: CountersignLoop, callbackId?: string): OpenedView | undefined {
  const views = [...loop.slack!.views.values()];
  return views.reverse().find((v) => callbackId === undefined || v.view.callback_id === callbackId);
}

/** Submits an opened modal as `userId`, with `inputs` by block id, through the interaction handler. */
export function submitView(
  loop: CountersignLoop,
  userId: string,
  view: OpenedView,
  inputs: Record<string, string> = {},
  overrides: { privateMetadata?: string; callbackId?: string } = {},
) {
  return loop.interact(signedViewSubmission(loop.signingSecret, { userId, view, inputs, ...overrides }));
}

/** Clicks Deny, then submits the reason form: the whole deny as a reviewer does it. */
export async function denyWithReason(
  loop: CountersignLoop,
  userId: string,
  requestId: string,
  reason = 'Not now: no change ticket.',
) {
  const before = loop.slack!.views.size;
  const opened = await click(loop, userId, 'deny', requestId);
  if (loop.slack!.views.size === before) return opened; // refused or late: no form was opened
  return submitView(loop, userId, openedView(loop, 'countersign.deny')!, { reason });
}
