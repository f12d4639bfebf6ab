/**
 * Countersign's operational metrics, as data. Pure functions turn what a
 * handler already holds (an archived audit record, a final decision, the
 * audit rows of a period) into metric points; `metrics-emf.ts` publishes them
 * through Powertools (CloudWatch embedded metric format). One namespace,
 * `Countersign`; every point also carries Powertools' `service` dimension,
 * `countersign`. docs/operations.md lists every metric, its unit and
 * dimensions, and the alarms on them.
 *
 * Dimension values that come from an agent (its action's service) are cut to
 * a safe alphabet and length: a hostile agent must not mint unbounded metric
 * names or smuggle text into dashboards.
 */
import type { AuditRecord } from './audit-record.js';
import type { DecisionDetail } from './intent.js';

/** CloudWatch namespace of every Countersign metric. */
export const METRICS_NAMESPACE = 'Countersign';
/** Powertools `service` dimension value of every metric published here. */
export const METRICS_SERVICE = 'countersign';

/** Metric names, one per concept. */
export const METRIC = {
  /** Intents received (a `requested` or `rejected` record), by `Agent`. */
  intents: 'IntentsReceived',
  /** Policy outcomes at evaluation, by `Outcome` (`allow`, `deny`, `review`, `rejected`). */
  policyOutcomes: 'PolicyOutcomes',
  /** Intents whose `@mode("shadow")` policies would have changed the outcome, by `Policy`. */
  shadowChanges: 'ShadowOutcomeChanges',
  /** Refused review commands, by `Reason` (the review core's refusal code). */
  refusals: 'Refusals',
  /** Final decisions, by `Status`. */
  decisions: 'Decisions',
  /** Reviews that expired unanswered. */
  expiries: 'ReviewsExpired',
  /** Seconds from request to a human's decision, by `ActionClass` (p50/p90 on the dashboard). */
  timeToDecision: 'TimeToDecision',
  /** Approvals counted in final decisions, by `Approver` (load and fatigue). */
  approvals: 'Approvals',
  /** Approvals given within the rubber-stamp threshold of the card being posted, by `Approver`. */
  rubberStamps: 'RubberStampApprovals',
  /** Break-glass approvals (reviewed afterwards). */
  breakGlass: 'BreakGlassApprovals',
  /** Seconds between an audit record being written and its object reaching the bucket. */
  archiveLag: 'ArchiveLagSeconds',
  /** Digest objects written (the heartbeat the digest-overdue alarm watches). */
  digestsWritten: 'DigestsWritten',
  /** Hours missing from the digest chain when a digest was written. */
  digestGaps: 'DigestGapHours',
  /** Requests still pending review. */
  pending: 'PendingReviews',
  /** Age in seconds of the oldest pending review. */
  oldestPending: 'OldestPendingAgeSeconds',
  /** Pending reviews past their policy timeout (a stuck review: nothing expired them). */
  stuck: 'StuckReviews',
  /** Intents denied on their agent's request quota (or whose quota could not be checked), by `ActionClass`. */
  rateLimited: 'RateLimited',
} as const;

/** A metric name of {@link METRIC}. */
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** One value to publish. */
export interface MetricPoint {
  name: MetricName;
  unit: 'Count' | 'Seconds';
  value: number;
  /** At most one dimension besides `service`, so every point is one CloudWatch series. */
  dimension?: { name: string; value: string };
}

/** Where metric points go (Powertools in the Lambdas, an array in tests). */
export type MetricSink = (points: readonly MetricPoint[]) => void;

/** Settings of the decision metrics. */
export interface DecisionMetricOptions {
  /** An approval this many seconds or fewer after the card was posted counts as a rubber stamp. */
  rubberStampSeconds: number;
}

/** Default rubber-stamp threshold (`COUNTERSIGN_RUBBER_STAMP_SECONDS`). */
export const DEFAULT_RUBBER_STAMP_SECONDS = 10;

/** Environment variable of the rubber-stamp threshold. */
export const RUBBER_STAMP_ENV = 'COUNTERSIGN_RUBBER_STAMP_SECONDS';

const count = (name: MetricName, dimension?: MetricPoint['dimension']): MetricPoint => ({
  name,
  unit: 'Count',
  value: 1,
  ...(dimension ? { dimension } : {}),
});

/**
 * A dimension value safe to publish: letters, digits and `._@+-` only, at
 * most 64 characters; anything else becomes `other`.
 */
export function dimensionValue(raw: unknown): string {
  return typeof raw === 'string' && /^[A-Za-z0-9._@+-]{1,64}$/.test(raw) ? raw : 'other';
}

/** The action class of an intent action: its service prefix (`iam:AttachRolePolicy` -> `iam`). */
export function actionClass(action: unknown): string {
  if (typeof action !== 'string') return 'other';
  return dimensionValue(action.split(':', 1)[0]?.toLowerCase());
}

/** Points for one audit record that has just reached the bucket. */
export function archivedRecordMetrics(record: AuditRecord, archivedAt: Date): MetricPoint[] {
  const points: MetricPoint[] = [
    {
      name: METRIC.archiveLag,
      unit: 'Seconds',
      value: Math.max(0, (archivedAt.getTime() - Date.parse(record.at)) / 1000),
    },
  ];
  const data = record.data;
  switch (record.kind) {
    case 'requested':
    case 'rejected': {
      const agent = record.actor.type === 'agent' ? record.actor.agentId : undefined;
      points.push(count(METRIC.intents, { name: 'Agent', value: dimensionValue(agent) }));
      if (record.kind === 'rejected')
        points.push(count(METRIC.policyOutcomes, { name: 'Outcome', value: 'rejected' }));
      break;
    }
    case 'policy-evaluated': {
      points.push(count(METRIC.policyOutcomes, { name: 'Outcome', value: dimensionValue(data.outcome) }));
      const shadow = data.shadow as { changed?: unknown; policies?: unknown } | undefined;
      if (shadow?.changed === true) {
        const policies = Array.isArray(shadow.policies) ? shadow.policies : [];
        for (const policy of policies.length ? policies : ['other'])
          points.push(count(METRIC.shadowChanges, { name: 'Policy', value: dimensionValue(policy) }));
      }
      break;
    }
    case 'refused':
      points.push(count(METRIC.refusals, { name: 'Reason', value: dimensionValue(data.code) }));
      break;
    case 'rate-limited':
      // The class is the canonical one Evaluate counted under (a policy-named service or `other`).
      points.push(
        count(METRIC.rateLimited, { name: 'ActionClass', value: dimensionValue(data.actionClass) }),
      );
      break;
    default:
  }
  return points;
}

/** What {@link decisionMetrics} reads of the request. */
export interface DecidedRequest {
  createdAt: string;
  intent?: { action?: string };
  /** Present when policy asked for a review. */
  review?: unknown;
  /** Slack message of the card; `ts` is the post time in epoch seconds. */
  card?: { ts: string };
}

/** Points for a final decision: outcome, time to decision, approver load, rubber stamps, break-glass. */
export function decisionMetrics(
  decision: DecisionDetail,
  request: DecidedRequest | undefined,
  options: DecisionMetricOptions,
): MetricPoint[] {
  const points: MetricPoint[] = [count(METRIC.decisions, { name: 'Status', value: decision.status })];
  if (decision.status === 'EXPIRED') points.push(count(METRIC.expiries));
  if (decision.breakGlass) points.push(count(METRIC.breakGlass));
  if (!request) return points;
  if (request.review && !decision.automatic && decision.status !== 'CANCELLED') {
    points.push({
      name: METRIC.timeToDecision,
      unit: 'Seconds',
      value: Math.max(0, (Date.parse(decision.decidedAt) - Date.parse(request.createdAt)) / 1000),
      dimension: { name: 'ActionClass', value: actionClass(request.intent?.action) },
    });
  }
  if (decision.status !== 'APPROVED') return points;
  const postedAt = request.card ? Number(request.card.ts) * 1000 : Number.NaN;
  for (const approver of decision.approvers) {
    const who = { name: 'Approver', value: dimensionValue(approver.email) };
    points.push(count(METRIC.approvals, who));
    const seconds = (Date.parse(approver.at) - postedAt) / 1000;
    if (Number.isFinite(seconds) && seconds <= options.rubberStampSeconds)
      points.push(count(METRIC.rubberStamps, who));
  }
  return points;
}

/** One request's state as the audit rows of a period show it. */
export interface PendingReview {
  requestId: string;
  requestedAt: string;
  /** When policy said it expires (`policy-evaluated` `expiresAt`), if it was sent to review. */
  expiresAt?: string;
}

const FINAL_KINDS = new Set(['decided', 'expired', 'cancelled']);

/**
 * The reviews pending at `now`, from the audit records of a window at least
 * as long as the longest review timeout: a request whose `policy-evaluated`
 * record sent it to review and that has no final record.
 */
export function pendingReviews(records: Iterable<AuditRecord>, now: Date): PendingReview[] {
  const byRequest = new Map<
    string,
    { requestedAt?: string; expiresAt?: string; review: boolean; final: boolean }
  >();
  for (const r of records) {
    const entry = byRequest.get(r.requestId) ?? { review: false, final: false };
    if (r.kind === 'requested') entry.requestedAt = r.at;
    if (r.kind === 'policy-evaluated' && r.data.outcome === 'review') {
      entry.review = true;
      if (typeof r.data.expiresAt === 'string') entry.expiresAt = r.data.expiresAt;
    }
    if (FINAL_KINDS.has(r.kind) && r.data.final === true) entry.final = true;
    byRequest.set(r.requestId, entry);
  }
  const pending: PendingReview[] = [];
  for (const [requestId, e] of byRequest) {
    if (!e.review || e.final || !e.requestedAt || Date.parse(e.requestedAt) > now.getTime()) continue;
    pending.push({
      requestId,
      requestedAt: e.requestedAt,
      ...(e.expiresAt ? { expiresAt: e.expiresAt } : {}),
    });
  }
  return pending.sort((a, b) => (a.requestedAt < b.requestedAt ? -1 : 1));
}

/**
 * Points for the pending reviews: how many, how many are past their timeout,
 * and the oldest one's age when there is one. A metric costs a monthly fee in
 * every month it gets a point: the age of no review is left out, so an idle
 * stack pays for the two counts only (docs/scale.md).
 */
export function pendingMetrics(pending: readonly PendingReview[], now: Date): MetricPoint[] {
  const oldest = pending[0];
  const stuck = pending.filter((p) => p.expiresAt !== undefined && Date.parse(p.expiresAt) < now.getTime());
  return [
    { name: METRIC.pending, unit: 'Count', value: pending.length },
    ...(oldest
      ? [
          {
            name: METRIC.oldestPending,
            unit: 'Seconds' as const,
            value: Math.max(0, (now.getTime() - Date.parse(oldest.requestedAt)) / 1000),
          },
        ]
      : []),
    { name: METRIC.stuck, unit: 'Count', value: stuck.length },
  ];
}

/**
 * Points for one digest run: digests written (the heartbeat, every run) and
 * chain gaps, only when a gap was found (each also logged as an error): a run
 * without gaps adds no point, so an idle month pays for no gap metric.
 */
export function digestMetrics(results: readonly { status: string; gapBefore?: string }[]): MetricPoint[] {
  const gaps = results.filter((r) => r.gapBefore).length;
  return [
    {
      name: METRIC.digestsWritten,
      unit: 'Count',
      value: results.filter((r) => r.status === 'written').length,
    },
    ...(gaps > 0 ? [{ name: METRIC.digestGaps, unit: 'Count' as const, value: gaps }] : []),
  ];
}

/** The rubber-stamp threshold from the environment (whole seconds, 0–3600), or the default. */
export function rubberStampSecondsFromEnv(env: Record<string, string | undefined> = process.env): number {
  const raw = env[RUBBER_STAMP_ENV];
  if (raw === undefined || raw === '') return DEFAULT_RUBBER_STAMP_SECONDS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 3600)
    throw new Error(`${RUBBER_STAMP_ENV} must be a whole number of seconds from 0 to 3600, got "${raw}"`);
  return n;
}
