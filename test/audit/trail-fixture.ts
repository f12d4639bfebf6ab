/**
 * A realistic audit trail for the audit tests: five requests written with the
 * real appendAudit across four UTC hours (one of them empty), and the signed
 * digests of every hour, on dynalite + s3rver with a local P-256 key.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { type DigestDeps, writeDigest } from '../../lambdas/digest/core.js';
import { type AuditActor, type AuditDeps, type AuditKind, appendAudit } from '../../lambdas/shared/audit.js';
import { intentHash } from '../../lambdas/shared/canonical.js';
import { type DigestSigner, localSigner } from '../../lambdas/shared/digest.js';
import type { Intent } from '../../lambdas/shared/intent.js';
import type { RequestDecision } from '../../lambdas/shared/store.js';
import { archiveAuditRecords, type LocalAws } from '../support/local-aws.js';

/** A settable clock. */
export function testClock(iso: string) {
  let t = Date.parse(iso);
  return {
    now: () => new Date(t),
    set(next: string) {
      t = Date.parse(next);
    },
  };
}

/** A fresh P-256 key pair and a signer over it. */
export function p256(): { privateKey: KeyObject; publicKey: KeyObject; signer: DigestSigner } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, signer: localSigner(privateKey) };
}

/** The hours the fixture trail spans: 09, 10, 11 with records, 12 empty. */
export const TRAIL_HOURS = [
  '2025-03-04T09:00:00.000Z',
  '2025-03-04T10:00:00.000Z',
  '2025-03-04T11:00:00.000Z',
  '2025-03-04T12:00:00.000Z',
];
/** A verifier clock well after the trail, with every digest written. */
export const AFTER_TRAIL = new Date('2025-03-04T14:30:00.000Z');

const intent = (intentId: string, action: string, resource: string, environment = 'prod'): Intent => ({
  intentId,
  action,
  resource,
  environment,
  justification: `needed for ${intentId}`,
  parameters: { target: resource },
  agent: {
    model: 'claude-test',
    sessionId: `sess-${intentId}`,
    onBehalfOf: 'dana@example.com',
    owner: 'olu@example.com',
  },
});

const agent = (agentId: string): AuditActor => ({
  type: 'agent',
  source: `countersign.agent.${agentId}`,
  agentId,
});
const human = (slackUserId: string, email: string): AuditActor => ({ type: 'human', slackUserId, email });
const policy = (...policies: string[]): AuditActor => ({ type: 'policy', policies });

interface Step {
  at: string;
  kind: AuditKind;
  actor: AuditActor;
  data: Record<string, unknown>;
}

function decision(
  status: RequestDecision['status'],
  automatic: boolean,
  decidedAt: string,
  hash: string,
  policies: string[],
  approvers: RequestDecision['approvers'] = [],
  reason = status.toLowerCase(),
): RequestDecision {
  return { status, automatic, reason, decidedAt, approvers, policies, intentHash: hash };
}

/** The fixture's requests: id, created at, and steps. */
export function trailScript(): Array<{
  requestId: string;
  createdAt: string;
  intentHash: string;
  steps: Step[];
}> {
  const i1 = intent('req-alpha-0001', 'iam:AttachRolePolicy', 'arn:aws:iam::111122223333:role/app, "prod"');
  const i2 = intent('req-bravo-0002', 'data:Export', 's3://analytics/exports/q1', 'staging');
  const i3 = intent('req-charlie-0003', 'iam:CreateAccessKey', 'arn:aws:iam::111122223333:user/ci');
  const i5 = intent('req-echo-0005', 'ec2:TerminateInstances', 'i-0abc\nline two');
  const [h1, h2, h3, h5] = [i1, i2, i3, i5].map(intentHash) as [string, string, string, string];
  const h4 = intentHash({ intentId: 'bad', action: 42 });
  const approver = { slackUserId: 'U0SEC', email: 'sam@example.com', at: '2025-03-04T10:05:00.000Z' };
  return [
    {
      requestId: 'req-alpha-0001',
      createdAt: '2025-03-04T09:50:00.000Z',
      intentHash: h1,
      steps: [
        {
          at: '2025-03-04T09:50:00.000Z',
          kind: 'requested',
          actor: agent('deploy-bot'),
          data: { intent: i1 },
        },
        {
          at: '2025-03-04T09:50:00.100Z',
          kind: 'policy-evaluated',
          actor: policy('prod-iam-review'),
          data: { outcome: 'review' },
        },
        {
          at: '2025-03-04T09:50:01.000Z',
          kind: 'reviewers-notified',
          actor: { type: 'system', component: 'review' },
          data: {},
        },
        {
          at: '2025-03-04T10:05:00.000Z',
          kind: 'vote',
          actor: human('U0SEC', 'sam@example.com'),
          data: { vote: 'approve' },
        },
        {
          at: '2025-03-04T10:05:00.500Z',
          kind: 'decided',
          actor: human('U0SEC', 'sam@example.com'),
          data: {
            final: true,
            decision: decision(
              'APPROVED',
              false,
              '2025-03-04T10:05:00.000Z',
              h1,
              ['prod-iam-review'],
              [approver],
            ),
          },
        },
        {
          at: '2025-03-04T10:05:01.000Z',
          kind: 'announced',
          actor: { type: 'system', component: 'announce' },
          data: {},
        },
      ],
    },
    {
      requestId: 'req-bravo-0002',
      createdAt: '2025-03-04T10:20:00.000Z',
      intentHash: h2,
      steps: [
        {
          at: '2025-03-04T10:20:00.000Z',
          kind: 'requested',
          actor: agent('report-bot'),
          data: { intent: i2 },
        },
        {
          at: '2025-03-04T10:20:00.100Z',
          kind: 'policy-evaluated',
          actor: policy('staging-allow'),
          data: { outcome: 'allow' },
        },
        {
          at: '2025-03-04T10:20:01.000Z',
          kind: 'decided',
          actor: policy('staging-allow'),
          data: {
            final: true,
            decision: decision('APPROVED', true, '2025-03-04T10:20:01.000Z', h2, ['staging-allow']),
          },
        },
      ],
    },
    {
      requestId: 'req-charlie-0003',
      createdAt: '2025-03-04T10:40:00.000Z',
      intentHash: h3,
      steps: [
        {
          at: '2025-03-04T10:40:00.000Z',
          kind: 'requested',
          actor: agent('deploy-bot'),
          data: { intent: i3 },
        },
        {
          at: '2025-03-04T10:40:00.100Z',
          kind: 'policy-evaluated',
          actor: policy('prod-iam-review'),
          data: { outcome: 'review' },
        },
        {
          at: '2025-03-04T10:40:01.000Z',
          kind: 'reviewers-notified',
          actor: { type: 'system', component: 'review' },
          data: {},
        },
        {
          at: '2025-03-04T11:40:00.000Z',
          kind: 'expired',
          actor: policy('prod-iam-review'),
          data: {
            final: true,
            decision: decision('EXPIRED', true, '2025-03-04T11:40:00.000Z', h3, ['prod-iam-review']),
          },
        },
      ],
    },
    {
      requestId: 'invalid-evt-0004',
      createdAt: '2025-03-04T11:10:00.000Z',
      intentHash: h4,
      steps: [
        {
          at: '2025-03-04T11:10:00.000Z',
          kind: 'rejected',
          actor: agent('broken-bot'),
          data: { reason: 'invalid intent: action' },
        },
        {
          at: '2025-03-04T11:10:00.500Z',
          kind: 'decided',
          actor: policy(),
          data: {
            final: true,
            decision: decision('DENIED', true, '2025-03-04T11:10:00.500Z', h4, [], [], 'invalid intent'),
          },
        },
      ],
    },
    {
      requestId: 'req-echo-0005',
      createdAt: '2025-03-04T11:30:00.000Z',
      intentHash: h5,
      steps: [
        { at: '2025-03-04T11:30:00.000Z', kind: 'requested', actor: agent('ops-bot'), data: { intent: i5 } },
        {
          at: '2025-03-04T11:30:00.100Z',
          kind: 'policy-evaluated',
          actor: policy('prod-ec2-review'),
          data: { outcome: 'review' },
        },
        {
          at: '2025-03-04T11:45:00.000Z',
          kind: 'cancelled',
          actor: { type: 'system', component: 'record' },
          data: {
            final: true,
            decision: decision('CANCELLED', false, '2025-03-04T11:45:00.000Z', h5, ['prod-ec2-review']),
          },
        },
      ],
    },
  ];
}

/** Number of records the fixture writes. */
export const TRAIL_RECORDS = 18;

const archiving = new WeakSet<LocalAws>();

/** Writes the fixture's records (in time order, interleaved as they would be) and the digest of every hour. */
export async function writeTrail(
  aws: LocalAws,
  signer: DigestSigner,
  options: { digests?: boolean } = {},
): Promise<{ deps: DigestDeps; clock: ReturnType<typeof testClock> }> {
  const clock = testClock(TRAIL_HOURS[0]!);
  if (!archiving.has(aws)) {
    archiveAuditRecords(aws);
    archiving.add(aws);
  }
  const auditDeps: AuditDeps = { ddb: aws.ddb, table: aws.table, now: clock.now };
  const steps = trailScript()
    .flatMap((r) => r.steps.map((step) => ({ ...step, request: r })))
    .sort((a, b) => (a.at < b.at ? -1 : 1));
  for (const step of steps) {
    clock.set(step.at);
    await appendAudit(auditDeps, step.request, {
      kind: step.kind,
      actor: step.actor,
      intentHash: step.request.intentHash,
      data: step.data,
    });
  }
  await aws.stream.drained();
  const deps: DigestDeps = { ...auditDeps, s3: aws.s3, bucket: aws.bucket, retentionDays: 1, signer };
  if (options.digests === false) return { deps, clock };
  for (const hour of TRAIL_HOURS) {
    clock.set(new Date(Date.parse(hour) + 3_900_000).toISOString());
    await writeDigest(deps, new Date(hour));
  }
  return { deps, clock };
}

/** Every object in a bucket, key -> text. */
export async function snapshotBucket(s3: S3Client, bucket: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let token: string | undefined;
  do {
    const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const object of list.Contents ?? []) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key! }));
      out.set(object.Key!, await got.Body!.transformToString('utf8'));
    }
    token = list.IsTruncated ? list.NextContinuationToken : undefined;
  } while (token);
  return out;
}
