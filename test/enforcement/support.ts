/**
 * Shared set-up of the enforcement tests: dynalite (through the sandbox's
 * local AWS), the fake STS, a real STS client pointed at it, and requests
 * approved (optionally with an approver's modification) as Record leaves them.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { STSClient } from '@aws-sdk/client-sts';
import type { DetectorDeps } from '../../lambdas/detector/core.js';
import { type Catalog, parseCatalog } from '../../lambdas/grant/catalog.js';
import { type ExchangeDeps, exchangeForCaller } from '../../lambdas/grant/exchange.js';
import type { AuditDeps } from '../../lambdas/shared/audit.js';
import { approvedIntentHash } from '../../lambdas/shared/canonical.js';
import { createGrant } from '../../lambdas/shared/grants.js';
import { createSlackClient } from '../../lambdas/shared/slack.js';
import { finalize, type RequestDecision, type RequestItem } from '../../lambdas/shared/store.js';
import { parseAgentRoles } from '../../lambdas/status/caller.js';
import { FAKE_SLACK_TOKEN } from '../../sandbox/fake-slack.js';
import { type CloudTrailEvent, type FakeSts, startFakeSts } from '../../sandbox/fake-sts.js';
import { type IntentOverrides, seedPendingRequest } from '../support/fixtures.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';

/** The repository's catalog, validated as the handlers load it. */
export const CATALOG: Catalog = parseCatalog(
  readFileSync(resolve(import.meta.dirname, '../../policies/enforcement.json'), 'utf8'),
);

export const ACCOUNT = '123456789012';
export const EXECUTORS = {
  'iam-changes': `arn:aws:iam::${ACCOUNT}:role/countersign-executor-iam-changes`,
  'kms-operations': `arn:aws:iam::${ACCOUNT}:role/countersign-executor-kms-operations`,
};
/** Countersign's grant function role: the only caller the executor roles trust. */
export const GRANT_FUNCTION_KEY = 'AKIAGRANTFUNCTION';
export const AGENT_ROLE = `arn:aws:iam::${ACCOUNT}:role/deploy-bot-agent`;
export const AGENT_SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/deploy-bot-agent/session-1`;
export const OTHER_AGENT_SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/report-bot-agent/session-9`;

/** A running enforcement rig. */
export interface Rig {
  aws: LocalAws;
  sts: FakeSts;
  deps: ExchangeDeps;
  clock: { now: Date };
  close(): Promise<void>;
}

/** Starts dynalite and the fake STS; the STS client signs as the grant function. */
export async function startRig(name: string): Promise<Rig> {
  const aws = await startLocalAws({ table: `countersign-${name}`, bucket: `countersign-${name}-audit` });
  const sts = await startFakeSts({
    account: ACCOUNT,
    trust: Object.fromEntries(Object.values(EXECUTORS).map((arn) => [arn, [GRANT_FUNCTION_KEY]])),
  });
  const clock = { now: new Date('2026-03-01T12:00:00.000Z') };
  const deps: ExchangeDeps = {
    ddb: aws.ddb,
    table: aws.table,
    now: () => clock.now,
    agentRoles: parseAgentRoles(
      JSON.stringify([
        { roleArn: AGENT_ROLE, agentId: 'deploy-bot' },
        { roleArn: `arn:aws:iam::${ACCOUNT}:role/report-bot-agent`, agentId: 'report-bot' },
      ]),
    ),
    catalog: CATALOG,
    executors: EXECUTORS,
    sts: new STSClient({
      endpoint: sts.url,
      region: 'us-east-1',
      credentials: { accessKeyId: GRANT_FUNCTION_KEY, secretAccessKey: 'grant-function-secret' },
    }),
  };
  return {
    aws,
    sts,
    deps,
    clock,
    close: async () => {
      await sts.close();
      await aws.close();
    },
  };
}

/** Seeds a request and decides it as Record does: APPROVED with a grant, or another final status. */
export async function decided(
  deps: AuditDeps,
  options: {
    intent?: IntentOverrides;
    status?: RequestDecision['status'];
    /** The approver's modified parameters. */
    parameters?: Record<string, unknown>;
    ttlSeconds?: number;
    /** For a final status other than APPROVED: leave a grant item anyway (as if written before the status changed). */
    staleGrant?: boolean;
  } = {},
): Promise<{ request: RequestItem; grantId: string; decision: RequestDecision }> {
  const request = await seedPendingRequest(deps, { intent: options.intent });
  const status = options.status ?? 'APPROVED';
  const grantId = randomUUID();
  const now = deps.now();
  const decision: RequestDecision = {
    status,
    automatic: false,
    reason: status === 'APPROVED' ? 'approved by reviewers' : `${status.toLowerCase()} by test`,
    decidedAt: now.toISOString(),
    approvers: [],
    policies: ['review-prod-iam-change'],
    intentHash: approvedIntentHash(request.intent!, options.parameters),
    ...(options.parameters ? { parameters: options.parameters } : {}),
    ...(status === 'APPROVED'
      ? {
          grant: {
            grantId,
            expiresAt: new Date(now.getTime() + (options.ttlSeconds ?? 1800) * 1000).toISOString(),
            singleUse: true as const,
          },
        }
      : {}),
  };
  const won = await finalize(deps, request.intentId, decision);
  if (!won.won) throw new Error('finalize lost');
  const expiresAt = new Date(now.getTime() + (options.ttlSeconds ?? 1800) * 1000).toISOString();
  await createGrant(
    deps,
    request,
    options.staleGrant ? { ...decision, grant: { grantId, expiresAt, singleUse: true } } : decision,
  );
  return { request, grantId, decision };
}

/** Countersign's own (non-executor) role in the tests: the grant function's. */
export const OWN_ROLE = `arn:aws:iam::${ACCOUNT}:role/countersign-grant-function`;

/** Detector dependencies over the rig's table and a fake Slack; `counted` collects metric data. */
export function detectorDeps(
  rig: Rig,
  slack: { url: string },
  counted: string[] = [],
): DetectorDeps & { counted: string[]; warnings: string[] } {
  const warnings: string[] = [];
  const client = createSlackClient(FAKE_SLACK_TOKEN, slack.url);
  return {
    ddb: rig.aws.ddb,
    table: rig.aws.table,
    now: () => rig.clock.now,
    catalog: CATALOG,
    executors: EXECUTORS,
    ownRoles: [OWN_ROLE],
    channel: 'C0APPROVAL',
    slack: async () => client,
    countUnapproved: () => counted.push('UnapprovedActions'),
    warn: (message) => warnings.push(message),
    counted,
    warnings,
  };
}

/** Exchanges an approved grant as the agent; returns the minted access key id. */
export async function mintedKey(rig: Rig, grantId: string): Promise<string> {
  const answer = await exchangeForCaller(rig.deps, { grantId, callerArn: AGENT_SESSION });
  if (answer.statusCode !== 200) throw new Error(`exchange refused: ${JSON.stringify(answer.body)}`);
  return (answer.body as { credentials: { accessKeyId: string } }).credentials.accessKeyId;
}

/** The EventBridge event CloudTrail puts on the default bus for a call. */
export function busEvent(detail: CloudTrailEvent) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'AWS API Call via CloudTrail',
    source: `aws.${detail.eventSource.split('.')[0]}`,
    account: ACCOUNT,
    time: detail.eventTime,
    region: 'us-east-1',
    resources: [],
    detail,
  };
}
