/**
 * The fixture audit trail as data: five requests across four UTC hours (one of
 * them empty), the clock and key helpers, with no AWS client. The trail is
 * written by the real writers on local servers (trail-fixture.ts) or built in
 * memory by the real record and digest code (memory-trail.ts).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { AuditActor, AuditKind } from '../../lambdas/shared/audit-record.js';
import { intentHash } from '../../lambdas/shared/canonical.js';
import { type DigestSigner, localSigner } from '../../lambdas/shared/digest.js';
import type { Intent } from '../../lambdas/shared/intent.js';
import type { RequestDecision } from '../../lambdas/shared/store.js';

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

export interface Step {
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

/** When each hour's digest is written: five minutes after the hour after it began (its settle time). */
export const digestWrittenAt = (hour: string) => new Date(Date.parse(hour) + 3_900_000);
