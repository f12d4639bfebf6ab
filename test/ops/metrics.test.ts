/**
 * Operational metrics: what each handler publishes (pure functions over what
 * it already holds), that the Powertools sink writes CloudWatch EMF in one
 * namespace with the dimension the dashboard and alarms query, and the
 * pending-review figures read back from the audit rows on dynalite.
 */
import { randomUUID } from 'node:crypto';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  type HeadObjectCommandInput,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ArchivableRecord, archiveBatch } from '../../lambdas/archive/core.js';
import { type AuditRecord, appendAudit } from '../../lambdas/shared/audit.js';
import { sha256Base64 } from '../../lambdas/shared/canonical.js';
import type { DecisionDetail } from '../../lambdas/shared/intent.js';
import {
  archivedRecordMetrics,
  decisionMetrics,
  digestMetrics,
  METRIC,
  type MetricPoint,
  pendingMetrics,
  rubberStampSecondsFromEnv,
} from '../../lambdas/shared/metrics.js';
import { powertoolsSink, publishSafely } from '../../lambdas/shared/metrics-emf.js';
import { MAX_REVIEW_TIMEOUT_SECONDS, readPendingReviews } from '../../lambdas/shared/metrics-pending.js';
import { LIMITS } from '../../lib/policy-bundle.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';

const T0 = Date.parse('2026-03-04T10:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

function record(
  kind: AuditRecord['kind'],
  data: Record<string, unknown>,
  actor?: AuditRecord['actor'],
): AuditRecord {
  return {
    v: 1,
    requestId: 'req-1',
    seq: 1,
    at: at(0),
    kind,
    actor: actor ?? { type: 'system', component: 'test' },
    intentHash: 'sha256:x',
    data,
    prevHash: '0'.repeat(64),
    hash: 'f'.repeat(64),
  };
}

const named = (points: MetricPoint[], name: string) => points.filter((p) => p.name === name);

describe('metrics from archived audit records', () => {
  it('an intent counts for its agent, and the archive lag is the record’s age when it reached the bucket', () => {
    const points = archivedRecordMetrics(
      record(
        'requested',
        {},
        { type: 'agent', source: 'countersign.agent.deploy-bot', agentId: 'deploy-bot' },
      ),
      new Date(T0 + 42_000),
    );
    expect(points).toEqual([
      { name: METRIC.archiveLag, unit: 'Seconds', value: 42 },
      { name: METRIC.intents, unit: 'Count', value: 1, dimension: { name: 'Agent', value: 'deploy-bot' } },
    ]);
  });

  it('a refusal counts under its reason code; a shadow policy that would have changed the outcome is counted', () => {
    const refused = archivedRecordMetrics(record('refused', { code: 'self-owner' }), new Date(T0));
    expect(named(refused, METRIC.refusals)).toEqual([
      { name: METRIC.refusals, unit: 'Count', value: 1, dimension: { name: 'Reason', value: 'self-owner' } },
    ]);
    const evaluated = archivedRecordMetrics(
      record('policy-evaluated', {
        outcome: 'allow',
        shadow: { outcome: 'deny', changed: true, policies: ['trial-no-ec2'] },
      }),
      new Date(T0),
    );
    expect(named(evaluated, METRIC.policyOutcomes)[0]?.dimension).toEqual({
      name: 'Outcome',
      value: 'allow',
    });
    expect(named(evaluated, METRIC.shadowChanges)).toEqual([
      {
        name: METRIC.shadowChanges,
        unit: 'Count',
        value: 1,
        dimension: { name: 'Policy', value: 'trial-no-ec2' },
      },
    ]);
    const unchanged = archivedRecordMetrics(
      record('policy-evaluated', {
        outcome: 'allow',
        shadow: { outcome: 'allow', changed: false, policies: [] },
      }),
      new Date(T0),
    );
    expect(named(unchanged, METRIC.shadowChanges)).toEqual([]);
  });

  it('agent-controlled text never becomes a dimension value as is', () => {
    const hostile = archivedRecordMetrics(
      record('rejected', { reason: 'x' }, { type: 'agent', source: 's', agentId: 'bot\n{"Namespace":"x"}' }),
      new Date(T0),
    );
    expect(named(hostile, METRIC.intents)[0]?.dimension).toEqual({ name: 'Agent', value: 'other' });
    const longAction = decisionMetrics(
      decision({ status: 'DENIED', automatic: false }),
      { createdAt: at(0), intent: { action: `${'x'.repeat(200)}:Do` }, review: {} },
      { rubberStampSeconds: 10 },
    );
    expect(named(longAction, METRIC.timeToDecision)[0]?.dimension).toEqual({
      name: 'ActionClass',
      value: 'other',
    });
  });
});

function decision(overrides: Omit<Partial<DecisionDetail>, 'traceId'>): DecisionDetail {
  return {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    intentId: 'req-1',
    agentId: 'deploy-bot',
    status: 'APPROVED',
    automatic: false,
    approvers: [],
    reason: 'r',
    intentHash: 'sha256:x',
    policies: ['p'],
    decidedAt: at(600),
    ...overrides,
  };
}

describe('metrics of a final decision', () => {
  const card = { ts: `${T0 / 1000 + 60}.000100` }; // the card was posted a minute after the request

  it('time to decision by action class, approvals per approver, and a rubber stamp only for the quick one', () => {
    const points = decisionMetrics(
      decision({
        approvers: [
          { slackUserId: 'U1', email: 'alice@example.com', at: at(64) }, // 4 s after the card
          { slackUserId: 'U2', email: 'bob@example.com', at: at(600) },
        ],
      }),
      { createdAt: at(0), intent: { action: 'iam:AttachRolePolicy' }, review: {}, card },
      { rubberStampSeconds: 10 },
    );
    expect(named(points, METRIC.decisions)[0]?.dimension).toEqual({ name: 'Status', value: 'APPROVED' });
    expect(named(points, METRIC.timeToDecision)).toEqual([
      {
        name: METRIC.timeToDecision,
        unit: 'Seconds',
        value: 600,
        dimension: { name: 'ActionClass', value: 'iam' },
      },
    ]);
    expect(named(points, METRIC.approvals).map((p) => p.dimension?.value)).toEqual([
      'alice@example.com',
      'bob@example.com',
    ]);
    expect(named(points, METRIC.rubberStamps).map((p) => p.dimension?.value)).toEqual(['alice@example.com']);
  });

  it('the threshold is configurable: at 3 s nobody rubber-stamped', () => {
    const points = decisionMetrics(
      decision({ approvers: [{ slackUserId: 'U1', email: 'alice@example.com', at: at(64) }] }),
      { createdAt: at(0), intent: { action: 'iam:X' }, review: {}, card },
      { rubberStampSeconds: 3 },
    );
    expect(named(points, METRIC.rubberStamps)).toEqual([]);
  });

  it('a policy decision has no time to decision; an expiry and a break-glass approval are counted', () => {
    const automatic = decisionMetrics(
      decision({ status: 'DENIED', automatic: true }),
      { createdAt: at(0), intent: { action: 'iam:X' } },
      { rubberStampSeconds: 10 },
    );
    expect(named(automatic, METRIC.timeToDecision)).toEqual([]);
    const expired = decisionMetrics(decision({ status: 'EXPIRED', automatic: true }), undefined, {
      rubberStampSeconds: 10,
    });
    expect(named(expired, METRIC.expiries)).toHaveLength(1);
    const breakGlass = decisionMetrics(decision({ breakGlass: true }), undefined, { rubberStampSeconds: 10 });
    expect(named(breakGlass, METRIC.breakGlass)).toHaveLength(1);
  });

  it('reads the rubber-stamp threshold from the environment and refuses nonsense', () => {
    expect(rubberStampSecondsFromEnv({})).toBe(10);
    expect(rubberStampSecondsFromEnv({ COUNTERSIGN_RUBBER_STAMP_SECONDS: '30' })).toBe(30);
    expect(() => rubberStampSecondsFromEnv({ COUNTERSIGN_RUBBER_STAMP_SECONDS: 'soon' })).toThrow(
      /COUNTERSIGN_RUBBER_STAMP_SECONDS must be a whole number of seconds/,
    );
  });

  it('digest runs: written digests are the heartbeat, gaps are counted', () => {
    expect(digestMetrics([{ status: 'written', gapBefore: 'digests/x' }, { status: 'exists' }])).toEqual([
      { name: METRIC.digestsWritten, unit: 'Count', value: 1 },
      { name: METRIC.digestGaps, unit: 'Count', value: 1 },
    ]);
  });

  it('a run without gaps and no pending review publish only what an idle month must (each metric costs a month)', () => {
    expect(digestMetrics([{ status: 'written' }])).toEqual([
      { name: METRIC.digestsWritten, unit: 'Count', value: 1 },
    ]);
    expect(pendingMetrics([], new Date('2026-01-01T00:00:00Z'))).toEqual([
      { name: METRIC.pending, unit: 'Count', value: 0 },
      { name: METRIC.stuck, unit: 'Count', value: 0 },
    ]);
  });
});

describe('the Powertools sink', () => {
  it('writes one EMF document per point in the Countersign namespace, with service and the point’s dimension', () => {
    // Prepare: the sandbox and tests disable metrics; this test wants to see them.
    const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      // Act
      powertoolsSink(new Metrics({ namespace: 'Countersign', serviceName: 'countersign' }))([
        {
          name: METRIC.approvals,
          unit: 'Count',
          value: 1,
          dimension: { name: 'Approver', value: 'alice@example.com' },
        },
        { name: METRIC.pending, unit: 'Count', value: 3 },
      ]);
    } finally {
      write.mockRestore();
      if (disabled === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
      else process.env.POWERTOOLS_METRICS_DISABLED = disabled;
    }

    // Assess
    const docs = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.includes('_aws'))
      .map((l) => JSON.parse(l));
    expect(docs).toHaveLength(2);
    expect(docs[0]._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'Countersign',
      Dimensions: [['service', 'Approver']],
      Metrics: [{ Name: 'Approvals', Unit: 'Count' }],
    });
    expect(docs[0]).toMatchObject({ service: 'countersign', Approver: 'alice@example.com', Approvals: 1 });
    expect(docs[1]._aws.CloudWatchMetrics[0].Dimensions).toEqual([['service']]);
    expect(docs[1].PendingReviews).toBe(3);
  });

  it('a failure to build metrics is reported, never thrown into the handler', () => {
    const warnings: string[] = [];
    publishSafely(
      () => {
        throw new Error('sink down');
      },
      () => [],
      (message) => warnings.push(message),
    );
    expect(warnings).toEqual(['metrics not published']);
  });
});

describe('with dynalite', () => {
  let aws: LocalAws;
  beforeAll(async () => {
    aws = await startLocalAws({ table: 'ops-metrics', bucket: 'ops-metrics' });
  });
  afterAll(() => aws.close());

  it('pending reviews come from the audit rows: count, oldest age, and the ones past their timeout', async () => {
    // Prepare: one decided, one pending within its timeout, one pending past it.
    const now = new Date();
    const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);
    const open = async (id: string, createdMinutesAgo: number, timeoutMinutes: number, decided: boolean) => {
      const request = {
        requestId: `${id}-${randomUUID()}`,
        createdAt: minutesAgo(createdMinutesAgo).toISOString(),
      };
      const deps = { ddb: aws.ddb, table: aws.table, now: () => minutesAgo(createdMinutesAgo) };
      const actor = { type: 'system' as const, component: 'test' };
      await appendAudit(deps, request, { kind: 'requested', actor, intentHash: 'h', data: {} });
      await appendAudit(deps, request, {
        kind: 'policy-evaluated',
        actor,
        intentHash: 'h',
        data: { outcome: 'review', expiresAt: minutesAgo(createdMinutesAgo - timeoutMinutes).toISOString() },
      });
      if (decided)
        await appendAudit({ ...deps, now: () => now }, request, {
          kind: 'decided',
          actor,
          intentHash: 'h',
          data: { final: true },
        });
      return request.requestId;
    };
    await open('decided', 30, 60, true);
    const waiting = await open('waiting', 20, 60, false);
    const stuck = await open('stuck', 120, 60, false);

    // Act
    const pending = await readPendingReviews({ ddb: aws.ddb, table: aws.table }, now);
    const points = pendingMetrics(pending, now);

    // Assess
    expect(pending.map((p) => p.requestId)).toEqual([stuck, waiting]);
    expect(points).toEqual([
      { name: METRIC.pending, unit: 'Count', value: 2 },
      { name: METRIC.oldestPending, unit: 'Seconds', value: 7200 },
      { name: METRIC.stuck, unit: 'Count', value: 1 },
    ]);
  });

  it('the lookback covers the longest timeout policy allows', () => {
    expect(MAX_REVIEW_TIMEOUT_SECONDS).toBe(LIMITS.maxTimeoutSeconds);
  });

  it('the archive reports each record it put, once: a redelivered batch reports nothing new', async () => {
    // Prepare: real stream records of real audit rows; an S3 that honours If-None-Match (s3rver does not).
    const rows: DynamoDBRecord[] = [];
    aws.stream.subscribe(async (event) => {
      rows.push(...event.Records);
      return { batchItemFailures: [] };
    });
    const request = { requestId: `arch-${randomUUID()}`, createdAt: new Date().toISOString() };
    const deps = { ddb: aws.ddb, table: aws.table, now: () => new Date() };
    for (const kind of ['requested', 'policy-evaluated'] as const)
      await appendAudit(deps, request, {
        kind,
        actor: { type: 'system', component: 't' },
        intentHash: 'h',
        data: {},
      });
    await aws.stream.drained();

    const mine = {
      Records: rows.filter((r) => r.dynamodb?.NewImage?.pk?.S === `REQUEST#${request.requestId}`),
    };
    const archived: ArchivableRecord[] = [];
    const archive = {
      s3: conditionalS3(),
      bucket: 'b',
      retentionDays: 1,
      archived: (i: ArchivableRecord) => archived.push(i),
    };

    // Act
    await archiveBatch(archive, mine);
    await archiveBatch(archive, mine);

    // Assess
    expect(archived.map((a) => a.record.kind)).toEqual(['requested', 'policy-evaluated']);
  });
});

/** An in-memory S3 with conditional PUT and checksums, the two things s3rver lacks. */
function conditionalS3(): S3Client {
  const objects = new Map<string, string>();
  return {
    async send(command: { input: unknown }) {
      if (command instanceof PutObjectCommand) {
        const input = command.input as PutObjectCommandInput;
        if (objects.has(input.Key!))
          throw Object.assign(new Error('precondition'), {
            name: 'PreconditionFailed',
            $metadata: { httpStatusCode: 412 },
          });
        objects.set(input.Key!, String(input.Body));
        return {};
      }
      const text = objects.get((command.input as HeadObjectCommandInput).Key!);
      return { ChecksumSHA256: text === undefined ? undefined : sha256Base64(text) };
    },
  } as unknown as S3Client;
}
