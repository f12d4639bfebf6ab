/**
 * The figures of an audit report, computed from verified audit records only
 * (the records `verifyTrail` authenticated). The summary is `audit export`'s,
 * computed by the same function over the same rows, so the two always agree.
 */
import type { AuditRecord } from '../../lambdas/shared/audit.js';
import type { FinalStatus } from '../../lambdas/shared/intent.js';
import type { RequestDecision } from '../../lambdas/shared/store.js';
import { buildEvidence, type EvidenceRow, type EvidenceSummary } from '../export.js';
import { formatReport, type Problem, type VerifyReport } from '../verify.js';

/** Outcomes as charted. */
export const OUTCOMES = ['APPROVED', 'DENIED', 'EXPIRED', 'CANCELLED', 'PENDING'] as const;

/** A named count (an approver, an agent, an action, a policy). */
export interface Tally {
  name: string;
  count: number;
}

/** What was verified and how to repeat it. */
export interface VerificationStatement {
  ok: boolean;
  /** `audit verify`'s own output lines for this trail and period. */
  lines: string[];
  problems: Problem[];
  warnings: string[];
  digestCount: number;
  recordCount: number;
  requestCount: number;
  pendingCount: number;
  signaturesChecked: boolean;
  /** SHA-256 (hex) of each public key's DER SubjectPublicKeyInfo the digests were checked against. */
  keyFingerprints: string[];
  /** Where the trail was read from (`s3://bucket`, a directory). */
  source: string;
  /** The `audit verify` command an auditor runs to get the same answer. */
  command: string;
}

/** Everything the report and the Insights page show. */
export interface ReportFigures {
  from: string;
  to: string;
  generatedAt: string;
  verification: VerificationStatement;
  /** `audit export`'s summary of the same period. */
  summary: EvidenceSummary;
  rows: EvidenceRow[];
  /** Requests by outcome per bucket (hour for periods up to two days, else day). */
  overTime: {
    unit: 'hour' | 'day';
    buckets: { start: string; counts: Record<(typeof OUTCOMES)[number], number> }[];
  };
  /** Human decisions by time to decision. */
  timeToDecision: Tally[];
  approverLoad: Tally[];
  topAgents: Tally[];
  topActions: Tally[];
  refusals: Tally[];
  breakGlass: {
    approvals: { requestId: string; approver: string; at: string }[];
    acknowledged: { requestId: string; by: string; at: string }[];
    /** Break-glass approvals no approver has acknowledged yet. */
    unacknowledged: string[];
  };
  /** Grants consumed for requests that were not approved (none while every execution goes through a grant). */
  /**
   * Privileged actions without an approval: calls the detector found in
   * CloudTrail with no consumed grant behind them (`unapproved-action`
   * records, on their own chains), plus grants consumed for requests that
   * were not approved.
   */
  unapproved: { count: number; requestIds: string[]; grantsConsumed: number; detected: number };
  shadow: { evaluated: number; changed: number; byPolicy: Tally[]; changedRequestIds: string[] };
  exceptions: { expired: string[]; breakGlass: string[]; problems: Problem[]; pending: number };
}

const BINS: { label: string; max: number }[] = [
  { label: '< 1 min', max: 60 },
  { label: '1–5 min', max: 300 },
  { label: '5–15 min', max: 900 },
  { label: '15–60 min', max: 3600 },
  { label: '1–4 h', max: 4 * 3600 },
  { label: '4–24 h', max: 86_400 },
  { label: '≥ 1 day', max: Number.POSITIVE_INFINITY },
];

function tally(names: Iterable<string>, limit = 10): Tally[] {
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return [...counts]
    .map(([name, count]) => ({ name, count }))
    .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : 1))
    .slice(0, limit);
}

/** Inputs of {@link buildReportFigures}. */
export interface ReportInput {
  verify: VerifyReport;
  from: Date;
  to: Date;
  keyFingerprints: string[];
  command: string;
  source: string;
  now?: Date;
}

/** The report's figures from a verification's authentic records. */
export function buildReportFigures(input: ReportInput): ReportFigures {
  const { verify, from, to } = input;
  const { rows, summary } = buildEvidence(verify.records, { from, to });
  const inPeriod = new Set(rows.map((r) => r.requestId));
  const chains = new Map<string, AuditRecord[]>();
  for (const r of verify.records) {
    if (!inPeriod.has(r.requestId)) continue;
    const chain = chains.get(r.requestId) ?? [];
    chain.push(r);
    chains.set(r.requestId, chain);
  }

  const unit = to.getTime() - from.getTime() <= 2 * 86_400_000 ? 'hour' : 'day';
  const size = unit === 'hour' ? 3_600_000 : 86_400_000;
  const buckets: ReportFigures['overTime']['buckets'] = [];
  const start0 = Math.floor(from.getTime() / size) * size;
  for (let t = start0; t < to.getTime() && buckets.length < 400; t += size) {
    buckets.push({
      start: new Date(t).toISOString(),
      counts: { APPROVED: 0, DENIED: 0, EXPIRED: 0, CANCELLED: 0, PENDING: 0 },
    });
  }
  for (const row of rows) {
    const index = Math.floor((Date.parse(row.requestedAt) - start0) / size);
    const bucket = buckets[index];
    if (bucket) bucket.counts[row.outcome]++;
  }

  const human = rows.filter((r) => r.automatic === false && r.timeToDecisionSeconds !== null);
  const timeToDecision = BINS.map((bin, i) => ({
    name: bin.label,
    count: human.filter(
      (r) => r.timeToDecisionSeconds! < bin.max && r.timeToDecisionSeconds! >= (BINS[i - 1]?.max ?? 0),
    ).length,
  }));

  const breakGlassApprovals: ReportFigures['breakGlass']['approvals'] = [];
  const acknowledged: ReportFigures['breakGlass']['acknowledged'] = [];
  const refusalCodes: string[] = [];
  const unapprovedIds: string[] = [];
  let grantsConsumed = 0;
  let shadowEvaluated = 0;
  const shadowChangedIds: string[] = [];
  const shadowPolicies: string[] = [];
  const outcomeOf = new Map(rows.map((r) => [r.requestId, r.outcome as FinalStatus | 'PENDING']));
  for (const [requestId, chain] of chains) {
    for (const r of chain) {
      if (r.kind === 'decided' && r.data.final === true) {
        const decision = r.data.decision as RequestDecision | undefined;
        if (decision?.breakGlass) {
          breakGlassApprovals.push({
            requestId,
            approver: decision.approvers.map((a) => a.email).join(', '),
            at: decision.decidedAt ?? r.at,
          });
        }
      }
      if (r.kind === 'acknowledged')
        acknowledged.push({
          requestId,
          by: r.actor.type === 'human' ? (r.actor.email ?? r.actor.slackUserId) : '',
          at: r.at,
        });
      if (r.kind === 'refused' && typeof r.data.code === 'string') refusalCodes.push(r.data.code);
      if (r.kind === 'grant-consumed') {
        grantsConsumed++;
        if (outcomeOf.get(requestId) !== 'APPROVED') unapprovedIds.push(requestId);
      }
      if (r.kind === 'policy-evaluated' && r.data.shadow && typeof r.data.shadow === 'object') {
        shadowEvaluated++;
        const shadow = r.data.shadow as { changed?: boolean; policies?: string[] };
        if (shadow.changed) {
          shadowChangedIds.push(requestId);
          shadowPolicies.push(...(shadow.policies ?? []));
        }
      }
    }
  }
  // The detector's records stand on chains of their own (no intent), so they are not among the rows.
  const detectedIds = verify.records
    .filter(
      (r) =>
        r.kind === 'unapproved-action' &&
        Date.parse(r.at) >= from.getTime() &&
        Date.parse(r.at) < to.getTime(),
    )
    .map((r) => r.requestId);
  const acknowledgedIds = new Set(acknowledged.map((a) => a.requestId));
  const statement: VerificationStatement = {
    ok: verify.ok,
    lines: formatReport(verify),
    problems: verify.problems,
    warnings: verify.warnings,
    digestCount: verify.digestCount,
    recordCount: verify.recordCount,
    requestCount: verify.requestCount,
    pendingCount: verify.pendingCount,
    signaturesChecked: verify.signaturesChecked,
    keyFingerprints: input.keyFingerprints,
    source: input.source,
    command: input.command,
  };
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    generatedAt: (input.now ?? new Date()).toISOString(),
    verification: statement,
    summary,
    rows,
    overTime: { unit, buckets },
    timeToDecision,
    approverLoad: tally(
      rows.flatMap((r) => (r.outcome === 'APPROVED' ? r.approvers.map((a) => a.email) : [])),
    ),
    topAgents: tally(rows.map((r) => r.agent || '(unknown)')),
    topActions: tally(rows.map((r) => r.action || '(invalid intent)')),
    refusals: tally(refusalCodes),
    breakGlass: {
      approvals: breakGlassApprovals,
      acknowledged,
      unacknowledged: breakGlassApprovals.map((b) => b.requestId).filter((id) => !acknowledgedIds.has(id)),
    },
    unapproved: {
      count: unapprovedIds.length + detectedIds.length,
      requestIds: [...detectedIds, ...unapprovedIds],
      grantsConsumed,
      detected: detectedIds.length,
    },
    shadow: {
      evaluated: shadowEvaluated,
      changed: shadowChangedIds.length,
      byPolicy: tally(shadowPolicies),
      changedRequestIds: shadowChangedIds,
    },
    exceptions: {
      expired: rows.filter((r) => r.outcome === 'EXPIRED').map((r) => r.requestId),
      breakGlass: breakGlassApprovals.map((b) => b.requestId),
      problems: verify.problems,
      pending: verify.pendingCount,
    },
  };
}
