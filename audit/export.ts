/**
 * Evidence export for SOC 2 / ISO 27001 auditors: one row per request, built
 * from verified audit records only (the `requested` record's intent and the
 * final `decided` / `expired` / `cancelled` record's decision), plus a summary:
 * counts by outcome, median and p90 time to decision, share of automatic
 * decisions.
 */
import type { AuditRecord } from '../lambdas/shared/audit.js';
import type { ApproverRef, FinalStatus, Intent } from '../lambdas/shared/intent.js';
import type { RequestDecision } from '../lambdas/shared/store.js';

/** One request, as an auditor reads it. */
export interface EvidenceRow {
  requestId: string;
  /** Agent id (from the bus source the intent came from). */
  agent: string;
  model: string;
  owner: string;
  onBehalfOf: string;
  action: string;
  resource: string;
  environment: string;
  /** Policy ids that determined the outcome. */
  policies: string[];
  approvers: ApproverRef[];
  outcome: FinalStatus | 'PENDING';
  /** True when policy decided without a human; null while pending. */
  automatic: boolean | null;
  reason: string;
  intentHash: string;
  requestedAt: string;
  decidedAt: string | null;
  timeToDecisionSeconds: number | null;
}

/** Figures over the exported rows. */
export interface EvidenceSummary {
  from: string | null;
  to: string | null;
  requests: number;
  byOutcome: Record<FinalStatus | 'PENDING', number>;
  decided: number;
  /** Nearest-rank quantiles over decided requests, in seconds; null when none is decided. */
  timeToDecisionSeconds: { median: number | null; p90: number | null };
  automatic: number;
  /** automatic / decided (0 when nothing is decided). */
  automaticShare: number;
}

const FINAL_KINDS = new Set(['decided', 'expired', 'cancelled']);

/** The q-quantile (0..1) of a sample, nearest-rank; null for an empty sample. */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** One row from one request's records (oldest first). */
export function evidenceRow(chain: readonly AuditRecord[]): EvidenceRow | undefined {
  const first = chain[0];
  if (!first) return undefined;
  const requested = chain.find((r) => r.kind === 'requested');
  const intent = requested?.data.intent as Intent | undefined;
  const evaluated = chain.find((r) => r.kind === 'policy-evaluated');
  const finals = chain.filter((r) => FINAL_KINDS.has(r.kind) && r.data.decision);
  const final = finals.find((r) => r.data.final === true) ?? finals[finals.length - 1];
  const decision = final?.data.decision as RequestDecision | undefined;
  const requestedAt = first.at;
  const decidedAt = decision ? (decision.decidedAt ?? final!.at) : null;
  const evaluatedPolicies = evaluated?.actor.type === 'policy' ? evaluated.actor.policies : [];
  return {
    requestId: first.requestId,
    agent: first.actor.type === 'agent' ? first.actor.agentId : '',
    model: intent?.agent?.model ?? '',
    owner: intent?.agent?.owner ?? '',
    onBehalfOf: intent?.agent?.onBehalfOf ?? '',
    action: intent?.action ?? '',
    resource: intent?.resource ?? '',
    environment: intent?.environment ?? '',
    policies: decision?.policies?.length ? decision.policies : evaluatedPolicies,
    approvers: decision?.approvers ?? [],
    outcome: decision?.status ?? 'PENDING',
    automatic: decision ? decision.automatic : null,
    reason: decision?.reason ?? (first.kind === 'rejected' ? String(first.data.reason ?? '') : ''),
    intentHash: decision?.intentHash ?? first.intentHash,
    requestedAt,
    decidedAt,
    timeToDecisionSeconds: decidedAt
      ? Math.max(0, (Date.parse(decidedAt) - Date.parse(requestedAt)) / 1000)
      : null,
  };
}

/**
 * Rows for the requests created in [from, to) (by their first record), ordered
 * by request time, and their summary. `records` must be verified records.
 */
export function buildEvidence(
  records: readonly AuditRecord[],
  range: { from?: Date; to?: Date } = {},
): { rows: EvidenceRow[]; summary: EvidenceSummary } {
  const chains = new Map<string, AuditRecord[]>();
  for (const record of records) {
    let chain = chains.get(record.requestId);
    if (!chain) {
      chain = [];
      chains.set(record.requestId, chain);
    }
    chain.push(record);
  }
  const rows: EvidenceRow[] = [];
  for (const chain of chains.values()) {
    chain.sort((a, b) => a.seq - b.seq);
    if (chain[0]?.seq !== 1) continue; // created before the range: its row belongs to an earlier export
    const row = evidenceRow(chain);
    if (!row) continue;
    const t = Date.parse(row.requestedAt);
    if ((range.from && t < range.from.getTime()) || (range.to && t >= range.to.getTime())) continue;
    rows.push(row);
  }
  rows.sort((a, b) =>
    a.requestedAt === b.requestedAt
      ? a.requestId < b.requestId
        ? -1
        : 1
      : a.requestedAt < b.requestedAt
        ? -1
        : 1,
  );
  return { rows, summary: summarize(rows, range) };
}

/** The summary figures of a set of rows. */
export function summarize(
  rows: readonly EvidenceRow[],
  range: { from?: Date; to?: Date } = {},
): EvidenceSummary {
  const byOutcome = { APPROVED: 0, DENIED: 0, EXPIRED: 0, CANCELLED: 0, PENDING: 0 };
  const times: number[] = [];
  let automatic = 0;
  for (const row of rows) {
    byOutcome[row.outcome]++;
    if (row.timeToDecisionSeconds !== null) times.push(row.timeToDecisionSeconds);
    if (row.automatic) automatic++;
  }
  const decided = rows.length - byOutcome.PENDING;
  return {
    from: range.from?.toISOString() ?? null,
    to: range.to?.toISOString() ?? null,
    requests: rows.length,
    byOutcome,
    decided,
    timeToDecisionSeconds: { median: quantile(times, 0.5), p90: quantile(times, 0.9) },
    automatic,
    automaticShare: decided === 0 ? 0 : automatic / decided,
  };
}

/** CSV column names, in order. */
export const CSV_COLUMNS = [
  'request_id',
  'agent',
  'model',
  'owner',
  'on_behalf_of',
  'action',
  'resource',
  'environment',
  'determining_policies',
  'approvers',
  'outcome',
  'automatic',
  'reason',
  'intent_hash',
  'requested_at',
  'decided_at',
  'time_to_decision_s',
] as const;

/** One CSV field, quoted per RFC 4180 when it holds a comma, quote, CR or LF. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function csvValues(row: EvidenceRow): string[] {
  return [
    row.requestId,
    row.agent,
    row.model,
    row.owner,
    row.onBehalfOf,
    row.action,
    row.resource,
    row.environment,
    row.policies.join('; '),
    row.approvers.map((a) => `${a.email} ${a.at}`).join('; '),
    row.outcome,
    row.automatic === null ? '' : String(row.automatic),
    row.reason,
    row.intentHash,
    row.requestedAt,
    row.decidedAt ?? '',
    row.timeToDecisionSeconds === null ? '' : String(row.timeToDecisionSeconds),
  ];
}

/**
 * RFC 4180 CSV: header line, CRLF line breaks. Values are exported verbatim
 * (they are evidence); a spreadsheet may interpret a value starting with `=`,
 * so open the file as text/import it rather than double-clicking it.
 */
export function toCsv(rows: readonly EvidenceRow[]): string {
  const lines = [CSV_COLUMNS.join(','), ...rows.map((row) => csvValues(row).map(csvField).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}

/** JSON Lines: one row object per line. */
export function toJsonl(rows: readonly EvidenceRow[]): string {
  return rows.map((row) => `${JSON.stringify(row)}\n`).join('');
}

const duration = (seconds: number | null) => {
  if (seconds === null) return 'n/a';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h ? `${h}h` : ''}${String(m).padStart(h ? 2 : 1, '0')}m${String(s % 60).padStart(2, '0')}s`;
};

/** A human-readable rendering of a summary. */
export function formatSummary(summary: EvidenceSummary): string[] {
  const o = summary.byOutcome;
  return [
    `Summary${summary.from ? ` ${summary.from} to ${summary.to ?? 'now'}` : ''}: ${summary.requests} requests`,
    `  by outcome: APPROVED ${o.APPROVED}, DENIED ${o.DENIED}, EXPIRED ${o.EXPIRED}, CANCELLED ${o.CANCELLED}, PENDING ${o.PENDING}`,
    `  time to decision: median ${duration(summary.timeToDecisionSeconds.median)}, p90 ${duration(summary.timeToDecisionSeconds.p90)} (${summary.decided} decided)`,
    `  automatic decisions: ${summary.automatic} of ${summary.decided} (${(summary.automaticShare * 100).toFixed(1)}%)`,
  ];
}
