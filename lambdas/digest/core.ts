/**
 * Digest writer: for one UTC hour, lists every audit record written in it
 * (GSI `byAuditHour`), links to the previous digest, signs, and writes
 * `digests/<yyyy>/<mm>/<dd>/<hh>.json` under COMPLIANCE retention.
 *
 * - Empty hours get a digest too, so a missing digest is always a detectable gap.
 * - Idempotent: a digest that already exists is returned, never rewritten
 *   (checked with GetObject first, and the PutObject is conditional on
 *   `If-None-Match: *`, so two concurrent runs cannot both write).
 * - The previous digest is the one for the previous hour. When it is absent
 *   (a run failed), {@link writeDueDigests} first writes the missed hours in
 *   order; {@link writeDigest} alone links to the latest digest it can find
 *   and reports the gap, which the verifier reports too.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { AuditRecord, ObjectLockSettings } from '../shared/audit.js';
import { AUDIT_HOUR_INDEX, auditHour, auditHourKeys, auditObjectInput, hashRecord } from '../shared/audit.js';
import {
  compareRecordRefs,
  DIGEST_ALGORITHM,
  DIGEST_PERIOD_MS,
  DIGEST_VERSION,
  type Digest,
  type DigestBody,
  type DigestRecordRef,
  type DigestSigner,
  digestDayPrefix,
  digestObjectKey,
  hourStart,
  linkTo,
  parseDigestObjectKey,
  serializeDigest,
  signDigest,
} from '../shared/digest.js';
import { isNotFound, isPreconditionFailed } from '../shared/s3.js';

/** Dependencies of the digest writer. */
export interface DigestDeps extends ObjectLockSettings {
  ddb: DynamoDBDocumentClient;
  table: string;
  s3: S3Client;
  signer: DigestSigner;
  now: () => Date;
}

/** What one digest run did. */
export interface DigestResult {
  status: 'written' | 'exists';
  key: string;
  digest: Digest;
  /** Key of the previous hour's digest when it was missing at write time (a gap). */
  gapBefore?: string;
  /** Records whose stored hash disagrees with their stored content (listed as stored; the verifier flags them). */
  anomalies: string[];
}

/** How far back the writer looks for an earlier digest to link to when the previous hour's is missing. */
export const DEFAULT_LINK_LOOKBACK_DAYS = 31;

/**
 * Every audit row written in [start, end): queries each hour bucket of the
 * `byAuditHour` index, every shard of it and the bare hour (paginated), and
 * yields the items whose `at` is in the period, in no particular order. The
 * digest, the pending-review gauges and `audit archive --missing` read a
 * period this way.
 */
export async function* auditRowsBetween(
  deps: { ddb: Pick<DynamoDBDocumentClient, 'send'>; table: string },
  start: Date,
  end: Date,
): AsyncGenerator<Record<string, unknown>> {
  const from = start.toISOString();
  const to = end.toISOString();
  const inPeriod = (item: Record<string, unknown>) => {
    const at = item.at as string;
    return at >= from && at < to;
  };
  for (let hour = hourStart(start).getTime(); hour < end.getTime(); hour += DIGEST_PERIOD_MS) {
    const keys = auditHourKeys(auditHour(new Date(hour).toISOString()));
    // The first page of every shard at once (most hours need no second), then the rest of each in turn:
    // at most one page per shard is held at a time.
    const firsts = await Promise.all(keys.map((key) => indexPage(deps, key)));
    for (const [i, first] of firsts.entries()) {
      yield* first.items.filter(inPeriod);
      let next = first.next;
      while (next) {
        const page = await indexPage(deps, keys[i]!, next);
        yield* page.items.filter(inPeriod);
        next = page.next;
      }
    }
  }
}

/** One page of the items under a `byAuditHour` key. */
async function indexPage(
  deps: { ddb: Pick<DynamoDBDocumentClient, 'send'>; table: string },
  key: string,
  startKey?: Record<string, unknown>,
): Promise<{ items: Record<string, unknown>[]; next?: Record<string, unknown> }> {
  const out = await deps.ddb.send(
    new QueryCommand({
      TableName: deps.table,
      IndexName: AUDIT_HOUR_INDEX,
      KeyConditionExpression: 'auditHour = :hour',
      ExpressionAttributeValues: { ':hour': key },
      ExclusiveStartKey: startKey,
    }),
  );
  return { items: out.Items ?? [], ...(out.LastEvaluatedKey ? { next: out.LastEvaluatedKey } : {}) };
}

/** Lists the records written in [start, end) as digest references, with anything that is not one. */
export async function listPeriodRecords(
  deps: Pick<DigestDeps, 'ddb' | 'table'>,
  start: Date,
  end: Date,
): Promise<{ records: DigestRecordRef[]; anomalies: string[] }> {
  const records: DigestRecordRef[] = [];
  const anomalies: string[] = [];
  for await (const item of auditRowsBetween(deps, start, end)) {
    const ref = toRef(item);
    if (!ref) {
      anomalies.push(`item ${String(item.pk)} ${String(item.sk)} is not an audit record item`);
      continue;
    }
    if (typeof item.record === 'string' && hashOf(item.record) !== ref.hash) {
      anomalies.push(`record ${ref.key}: stored hash does not match the stored record`);
    }
    records.push(ref);
  }
  records.sort(compareRecordRefs);
  return { records, anomalies };
}

function toRef(item: Record<string, unknown>): DigestRecordRef | undefined {
  const pk = item.pk;
  if (typeof pk !== 'string' || !pk.startsWith('REQUEST#')) return undefined;
  if (typeof item.seq !== 'number' || typeof item.hash !== 'string' || typeof item.objectKey !== 'string') {
    return undefined;
  }
  return { requestId: pk.slice('REQUEST#'.length), seq: item.seq, key: item.objectKey, hash: item.hash };
}

function hashOf(text: string): string | undefined {
  try {
    return hashRecord(JSON.parse(text) as AuditRecord);
  } catch {
    return undefined;
  }
}

/** Reads a stored digest, or undefined when there is none at `key`. */
export async function readDigest(
  deps: Pick<DigestDeps, 's3' | 'bucket'>,
  key: string,
): Promise<Digest | undefined> {
  try {
    const out = await deps.s3.send(new GetObjectCommand({ Bucket: deps.bucket, Key: key }));
    const text = await out.Body!.transformToString('utf8');
    return JSON.parse(text) as Digest;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * The latest digest key for a period before `before`, looking back at most
 * `lookbackDays` UTC days (one ListObjectsV2 per day, newest day first).
 */
export async function latestDigestKeyBefore(
  deps: Pick<DigestDeps, 's3' | 'bucket'>,
  before: Date,
  lookbackDays = DEFAULT_LINK_LOOKBACK_DAYS,
): Promise<string | undefined> {
  const dayMs = 86_400_000;
  const firstDay = Math.floor((before.getTime() - 1) / dayMs) * dayMs;
  for (let i = 0; i <= lookbackDays; i++) {
    const prefix = digestDayPrefix(new Date(firstDay - i * dayMs));
    let best: string | undefined;
    let token: string | undefined;
    do {
      const out = await deps.s3.send(
        new ListObjectsV2Command({ Bucket: deps.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of out.Contents ?? []) {
        const start = object.Key ? parseDigestObjectKey(object.Key) : undefined;
        if (start && start < before && (!best || object.Key! > best)) best = object.Key!;
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    if (best) return best;
  }
  return undefined;
}

/**
 * Writes the digest of the UTC hour starting at `periodStart` (which must be
 * hour-aligned and already over). Returns the existing digest untouched when
 * one is already stored.
 */
export async function writeDigest(
  deps: DigestDeps,
  periodStart: Date,
  options: { linkLookbackDays?: number } = {},
): Promise<DigestResult> {
  if (periodStart.getTime() % DIGEST_PERIOD_MS !== 0 || Number.isNaN(periodStart.getTime())) {
    throw new Error(`digest period must start on a whole UTC hour, got ${String(periodStart)}`);
  }
  const periodEnd = new Date(periodStart.getTime() + DIGEST_PERIOD_MS);
  if (periodEnd > deps.now()) {
    throw new Error(
      `the period ${periodStart.toISOString()} has not ended yet; its digest cannot be written`,
    );
  }
  const key = digestObjectKey(periodStart);
  const existing = await readDigest(deps, key);
  if (existing) return { status: 'exists', key, digest: existing, anomalies: [] };

  const { records, anomalies } = await listPeriodRecords(deps, periodStart, periodEnd);

  const expectedPrevious = digestObjectKey(new Date(periodStart.getTime() - DIGEST_PERIOD_MS));
  let previousKey: string | undefined = expectedPrevious;
  let previous = await readDigest(deps, expectedPrevious);
  let gapBefore: string | undefined;
  if (!previous) {
    previousKey = await latestDigestKeyBefore(deps, periodStart, options.linkLookbackDays);
    previous = previousKey ? await readDigest(deps, previousKey) : undefined;
    // No digest at all before this one is the start of the chain, not a gap.
    if (previous) gapBefore = expectedPrevious;
  }

  const body: DigestBody = {
    v: DIGEST_VERSION,
    periodStart: periodStart.toISOString(),
    periodEnd: periodEnd.toISOString(),
    records,
    recordCount: records.length,
    previousDigest: previous && previousKey ? linkTo(previousKey, previous) : null,
    keyId: deps.signer.keyId,
    algorithm: DIGEST_ALGORITHM,
    signedAt: deps.now().toISOString(),
  };
  const digest = await signDigest(body, deps.signer);
  try {
    await deps.s3.send(
      new PutObjectCommand({
        ...auditObjectInput(deps, key, serializeDigest(digest), deps.now()),
        IfNoneMatch: '*',
      }),
    );
  } catch (error) {
    if (!isPreconditionFailed(error)) throw error;
    // A concurrent run wrote this period first; its digest stands.
    const winner = await readDigest(deps, key);
    if (!winner) throw error;
    return { status: 'exists', key, digest: winner, anomalies };
  }
  return { status: 'written', key, digest, anomalies, ...(gapBefore ? { gapBefore } : {}) };
}

/**
 * The period a scheduled run digests: the latest whole UTC hour that ended at
 * least `settleMs` ago, so records appended a moment before the hour turned
 * have reached the index.
 */
export function duePeriod(now: Date, settleMs = DEFAULT_SETTLE_MS): Date {
  return new Date(hourStart(new Date(now.getTime() - settleMs)).getTime() - DIGEST_PERIOD_MS);
}

/** Default settle time before an hour is digested. */
export const DEFAULT_SETTLE_MS = 5 * 60_000;
/** Default number of missed hours a scheduled run catches up. */
export const DEFAULT_CATCH_UP_HOURS = 168;

/**
 * The scheduled run: writes the due period's digest, first writing, oldest
 * first, any digests missed since the latest existing one (at most
 * `catchUpHours`), so a failed run leaves no gap once a later run succeeds.
 */
export async function writeDueDigests(
  deps: DigestDeps,
  options: { settleMs?: number; catchUpHours?: number; period?: Date } = {},
): Promise<DigestResult[]> {
  const target = options.period ?? duePeriod(deps.now(), options.settleMs);
  const catchUpHours = options.catchUpHours ?? DEFAULT_CATCH_UP_HOURS;
  const periods: Date[] = [target];
  const previousKey = digestObjectKey(new Date(target.getTime() - DIGEST_PERIOD_MS));
  if (!(await readDigest(deps, digestObjectKey(target))) && !(await readDigest(deps, previousKey))) {
    const latest = await latestDigestKeyBefore(deps, target, Math.ceil(catchUpHours / 24));
    const latestStart = latest ? parseDigestObjectKey(latest) : undefined;
    if (latestStart) {
      const first = Math.max(
        latestStart.getTime() + DIGEST_PERIOD_MS,
        target.getTime() - catchUpHours * DIGEST_PERIOD_MS,
      );
      periods.length = 0;
      for (let t = first; t <= target.getTime(); t += DIGEST_PERIOD_MS) periods.push(new Date(t));
    }
  }
  const results: DigestResult[] = [];
  for (const period of periods) results.push(await writeDigest(deps, period));
  return results;
}
