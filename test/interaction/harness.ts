/**
 * Shared wiring for the interaction tests: dynalite + s3rver, the fake Slack
 * and the fake Step Functions, the core's dependencies over them, and helpers
 * to seed a pending request and to build signed Slack clicks.
 */
import { randomUUID } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { expect } from 'vitest';
import {
  type CoreLogger,
  handleInteraction,
  type InteractionDeps,
  type InteractionResult,
} from '../../lambdas/interaction/core.js';
import type { HttpRequest } from '../../lambdas/interaction/payload.js';
import { signSlackRequest } from '../../lambdas/interaction/signature.js';
import {
  type AuditRecord,
  auditObjectKey,
  GENESIS_HASH,
  hashRecord,
  readChain,
} from '../../lambdas/shared/audit.js';
import { canonicalJson } from '../../lambdas/shared/canonical.js';
import { approveButtonValue } from '../../lambdas/shared/card.js';
import { createIdentityResolver } from '../../lambdas/shared/identity.js';
import { createWindowSlackClient } from '../../lambdas/shared/slack.js';
import { getRequest, type RequestItem } from '../../lambdas/shared/store.js';
import { type RunningFakeAws, startFakeAws } from '../../sandbox/fake-aws.js';
import {
  FAKE_SLACK_TOKEN,
  loadDirectory,
  type RunningFakeSlack,
  type SlackDirectory,
  startFakeSlack,
} from '../../sandbox/fake-slack.js';
import { type OpenedView, signedViewSubmission } from '../../sandbox/slack-click.js';
import { DEMO, type SeedOptions, seedPendingRequest } from '../support/fixtures.js';
import {
  archiveAuditRecords,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalAws,
  startLocalAws,
} from '../support/local-aws.js';

/** Slack user ids of the sandbox directory. */
export const USERS = {
  alice: 'U0ALICE01',
  bob: 'U0BOB0002',
  carol: 'U0CAROL03',
  dave: 'U0DAVE004',
  erin: 'U0ERIN005',
  frank: 'U0FRANK06',
  grace: 'U0GRACE07',
  agent: 'U0AGENT08',
  noEmail: 'U0NOMAIL9',
  unknown: 'U0NOBODY0',
  /** A contractor who is also in security-approvers. */
  heidi: 'U0HEIDI10',
} as const;

export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';

/** A logger that keeps what it is told. */
export function captureLogger(): CoreLogger & {
  entries: { level: string; message: string; extra: unknown[] }[];
} {
  const entries: { level: string; message: string; extra: unknown[] }[] = [];
  const log =
    (level: string) =>
    (message: string, ...extra: unknown[]) => {
      entries.push({ level, message, extra });
    };
  return { entries, info: log('info'), warn: log('warn'), error: log('error') };
}

/** The sandbox directory plus `n` extra members of security-approvers (`U0APPR001`...). */
export function directoryWithApprovers(n: number): { directory: SlackDirectory; approvers: string[] } {
  const directory = loadDirectory();
  const approvers = Array.from({ length: n }, (_, i) => `U0APPR${String(i + 1).padStart(3, '0')}`);
  directory.users.push(
    ...approvers.map((id, i) => ({
      id,
      name: `approver${i + 1}`,
      realName: `Approver ${i + 1}`,
      email: `approver${i + 1}@example.com`,
    })),
  );
  const group = directory.groups.find((g) => g.handle === DEMO.approverGroup)!;
  group.users.push(...approvers);
  return { directory, approvers };
}

export interface Harness {
  aws: LocalAws;
  slack: RunningFakeSlack;
  fakeAws: RunningFakeAws;
  deps: InteractionDeps;
  logger: ReturnType<typeof captureLogger>;
  /** Fixes the clock (undefined = real time). */
  setNow(date: Date | undefined): void;
  /** Seeds a PENDING request with a card in the fake Slack and a registered task token. */
  seed(options?: SeedOptions): Promise<RequestItem>;
  /** A signed Slack block_actions request for a click on Approve / Deny. */
  click(
    user: string,
    vote: 'approve' | 'deny',
    requestId: string,
    options?: { actionId?: string },
  ): HttpRequest;
  /** A signed view_submission of an opened modal (inputs by block id). */
  submission(
    user: string,
    view: OpenedView,
    inputs?: Record<string, string>,
    overrides?: { privateMetadata?: string; callbackId?: string },
  ): HttpRequest;
  /** The newest modal opened in the fake Slack (optionally with this callback id). */
  lastView(callbackId?: string): OpenedView | undefined;
  /** Clicks Deny and submits `reason` (when a form opened); returns the submission's result. */
  denyWithReason(user: string, requestId: string, reason?: string): Promise<InteractionResult>;
  /** Runs the core. */
  send(request: HttpRequest): Promise<InteractionResult>;
  request(requestId: string): Promise<RequestItem | undefined>;
  /** Reads the audit chain and checks every link and hash. */
  verifiedChain(requestId: string): Promise<AuditRecord[]>;
  /** Resets the fakes' records between tests. */
  reset(): void;
  close(): Promise<void>;
}

/** Starts everything the interaction core talks to. */
export async function startHarness(
  options: {
    directory?: SlackDirectory /** Clock of the fake Slack's rate limits. */;
    slackClock?: () => number;
  } = {},
): Promise<Harness> {
  const aws = await startLocalAws();
  archiveAuditRecords(aws);
  const slack = await startFakeSlack({
    directory: options.directory ?? loadDirectory(),
    ...(options.slackClock ? { clock: options.slackClock } : {}),
  });
  const fakeAws = await startFakeAws();
  const sfn = new SFNClient({ endpoint: fakeAws.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  // The interaction handler's client profile: 1 s timeout, one retry, a 429 rejected at once.
  const slackClient = createWindowSlackClient(FAKE_SLACK_TOKEN, slack.url);
  const logger = captureLogger();
  let fixedNow: Date | undefined;
  const approveValues = new Map<string, string>();
  const now = () => fixedNow ?? new Date();
  const deps: InteractionDeps = {
    ddb: aws.ddb,
    table: aws.table,
    sfn,
    slack: slackClient,
    signingSecret: SIGNING_SECRET,
    now,
    logger,
    identity: createIdentityResolver(slackClient),
  };

  const harness: Harness = {
    aws,
    slack,
    fakeAws,
    deps,
    logger,
    setNow(date) {
      fixedNow = date;
    },
    async seed(seedOptions = {}) {
      const ts = slack.addMessage({ channel: DEMO.channel, text: 'review card' });
      const taskToken = seedOptions.taskToken ?? `task-token-${randomUUID()}`;
      fakeAws.tasks.register(taskToken);
      const seeded = await seedPendingRequest(deps, {
        card: { channel: DEMO.channel, ts },
        ...seedOptions,
        taskToken,
      });
      approveValues.set(seeded.intentId, approveButtonValue(seeded));
      return seeded;
    },
    click(user, vote, requestId, clickOptions = {}) {
      // Approve carries the version its card showed, as the card's button does (seeded requests).
      const actionId = clickOptions.actionId ?? vote;
      const value = actionId.startsWith('approve') ? (approveValues.get(requestId) ?? requestId) : requestId;
      const payload = {
        type: 'block_actions',
        user: { id: user, username: user.toLowerCase() },
        api_app_id: 'A0COUNTER',
        trigger_id: `trigger-${randomUUID()}`,
        channel: { id: DEMO.channel, name: 'countersign-approvals' },
        container: { type: 'message', channel_id: DEMO.channel, message_ts: '1.000001' },
        actions: [{ type: 'button', block_id: 'review', action_id: actionId, value }],
      };
      const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
      const timestamp = String(Math.floor(now().getTime() / 1000));
      return {
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-slack-request-timestamp': timestamp,
          'x-slack-signature': signSlackRequest(SIGNING_SECRET, timestamp, body),
        },
        rawBody: Buffer.from(body, 'utf8'),
      };
    },
    submission(user, view, inputs = {}, overrides = {}) {
      const signed = signedViewSubmission(
        SIGNING_SECRET,
        { userId: user, view, inputs, ...overrides },
        now(),
      );
      return { headers: signed.headers, rawBody: Buffer.from(signed.body, 'utf8') };
    },
    lastView(callbackId) {
      return [...slack.views.values()]
        .reverse()
        .find((v) => callbackId === undefined || v.view.callback_id === callbackId);
    },
    async denyWithReason(user, requestId, reason = 'No change ticket.') {
      const before = slack.views.size;
      const opened = await handleInteraction(deps, harness.click(user, 'deny', requestId));
      if (slack.views.size === before) return opened;
      return handleInteraction(
        deps,
        harness.submission(user, harness.lastView('countersign.deny')!, { reason }),
      );
    },
    send: (request) => handleInteraction(deps, request),
    request: (requestId) => getRequest(deps, requestId),
    async verifiedChain(requestId) {
      const chain = await readChain(deps, requestId);
      chain.forEach((record, i) => {
        expect(record.seq).toBe(i + 1);
        expect(record.prevHash).toBe(i === 0 ? GENESIS_HASH : chain[i - 1]!.hash);
        expect(record.hash).toBe(hashRecord(record));
      });
      const last = chain.at(-1);
      if (last) {
        // The newest record is also archived in S3, byte for byte the canonical JSON that was hashed.
        await aws.stream.drained();
        const { createdAt } = (await getRequest(deps, requestId))!;
        const object = await aws.s3.send(
          new GetObjectCommand({ Bucket: aws.bucket, Key: auditObjectKey(createdAt, requestId, last.seq) }),
        );
        expect(await object.Body!.transformToString()).toBe(canonicalJson(last));
      }
      return chain;
    },
    reset() {
      slack.reset();
      fakeAws.tasks.reset();
      logger.entries.length = 0;
      fixedNow = undefined;
    },
    async close() {
      sfn.destroy();
      await slack.close();
      await fakeAws.close();
      await aws.close();
    },
  };
  return harness;
}
