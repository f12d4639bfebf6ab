/**
 * The pending reviews, read from the audit rows of the last
 * {@link PENDING_LOOKBACK_MS} (the longest review timeout policy allows, plus
 * an hour) through the `byAuditHour` index: the table has no index by status,
 * and the audit trail already says which requests went to review and which
 * have a final record.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { auditRowsBetween } from '../digest/core.js';
import type { AuditRecord } from './audit-record.js';
import { type PendingReview, pendingReviews } from './metrics.js';

/** The longest review timeout policy allows (`LIMITS.maxTimeoutSeconds`; not imported: it would bundle Cedar). */
export const MAX_REVIEW_TIMEOUT_SECONDS = 7 * 24 * 3600;

/** How far back pending reviews are looked for. */
export const PENDING_LOOKBACK_MS = (MAX_REVIEW_TIMEOUT_SECONDS + 3600) * 1000;

/** Reviews pending at `now`, from the audit rows of the lookback window. */
export async function readPendingReviews(
  deps: { ddb: Pick<DynamoDBDocumentClient, 'send'>; table: string },
  now: Date,
): Promise<PendingReview[]> {
  const records: AuditRecord[] = [];
  for await (const row of auditRowsBetween(
    deps,
    new Date(now.getTime() - PENDING_LOOKBACK_MS),
    // A final record written this very moment still closes its review.
    new Date(now.getTime() + 60_000),
  )) {
    // Only the kinds that open or close a review are parsed.
    const kind = row.kind;
    if (
      kind !== 'requested' &&
      kind !== 'policy-evaluated' &&
      kind !== 'decided' &&
      kind !== 'expired' &&
      kind !== 'cancelled'
    )
      continue;
    if (typeof row.record !== 'string') continue;
    try {
      records.push(JSON.parse(row.record) as AuditRecord);
    } catch {
      // A row that is not JSON is the digest's anomaly to report, not a pending review.
    }
  }
  return pendingReviews(records, now);
}
