/**
 * The audit trail verifier: checks, without trusting the operator, that the
 * records and digests in a trail are exactly what Countersign wrote.
 *
 * 1. Every digest: canonical form, `digestHash`, ECDSA P-256 signature against
 *    the auditor's public key(s), period matches its key, listing sorted and counted.
 * 2. The digest chain: every digest's `previousDigest` names the previous hour's
 *    digest with that digest's recomputed hash and signature; every hour between
 *    the first and the last digest (and across `from`/`to` when given) has a digest.
 * 3. Every record: its hash recomputed from its bytes; it sits at the key of its
 *    own request and sequence number.
 * 4. Digest listings against records: every listed record is present with the
 *    listed hash; every record written in a digested hour is listed exactly once.
 * 5. Every request chain: seq contiguous from 1, `prevHash` links back to the
 *    genesis hash, one creation-day prefix.
 *
 * Records written after the last digest's period are *pending*: a warning while
 * their hour ended less than `graceMs` ago (the digest is simply not due yet),
 * a `gap` once the digest is overdue.
 *
 * The hot path does no I/O and one SHA-256 per record: the record's hash is
 * checked over its stored bytes with the `hash` member cut out, which equals
 * the canonical body whenever the record is authentic.
 */
import type { KeyObject } from 'node:crypto';
import { type AuditRecord, GENESIS_HASH, hashRecord, parseAuditObjectKey } from '../lambdas/shared/audit.js';
import { canonicalJson, sha256Hex } from '../lambdas/shared/canonical.js';
import {
  compareRecordRefs,
  DIGEST_ALGORITHM,
  DIGEST_PERIOD_MS,
  type Digest,
  digestObjectKey,
  digestSigningInput,
  hourStart,
  parseDigestObjectKey,
  verifyDigestSignature,
} from '../lambdas/shared/digest.js';
import { type LoadOptions, loadTrail, type Trail, type TrailSource } from './sources.js';

/** The kinds of problem the verifier reports. */
export type ProblemCategory =
  | 'missing'
  | 'modified'
  | 'reordered'
  | 'extra'
  | 'bad-signature'
  | 'gap'
  | 'moved';

/** One problem: printed as `<category>: <message>`. */
export interface Problem {
  category: ProblemCategory;
  /** The object the problem is about, when there is one. */
  key?: string;
  message: string;
}

/** Options of {@link verifyTrail}. */
export interface VerifyOptions {
  /** Keys digests must verify with (any of them). `null` skips signature checks (export without a key). */
  publicKeys: readonly KeyObject[] | null;
  /** Verify periods and records from this time (inclusive; rounded down to the hour). */
  from?: Date;
  /** Verify periods and records before this time. */
  to?: Date;
  /** The verifier's clock, to tell pending records from overdue ones. @default new Date() */
  now?: Date;
  /** How long after its hour ends a record may wait for its digest. @default 2 hours */
  graceMs?: number;
}

/** The outcome of a verification. */
export interface VerifyReport {
  ok: boolean;
  problems: Problem[];
  /** Not failures: pending records, skipped signature checks. */
  warnings: string[];
  digestCount: number;
  recordCount: number;
  requestCount: number;
  pendingCount: number;
  /** The period verified, as ISO times (undefined when the trail is empty). */
  from?: string;
  to?: string;
  signaturesChecked: boolean;
  /** The authentic records in the range, by request then seq (what `audit export` reads). */
  records: AuditRecord[];
}

/** Default grace for a record to reach a digest. */
export const DEFAULT_GRACE_MS = 2 * DIGEST_PERIOD_MS;

const HEX64 = /^[0-9a-f]{64}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const RECORD_FIELDS = new Set([
  'v',
  'requestId',
  'seq',
  'at',
  'kind',
  'actor',
  'intentHash',
  'data',
  'prevHash',
  'hash',
]);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const hourIso = (t: number) => new Date(t).toISOString().slice(0, 16).concat('Z');

/** Parses and authenticates one record's bytes against its own `hash`. */
export function checkRecordText(text: string): { record: AuditRecord } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'is not valid JSON' };
  }
  if (!isObject(value)) return { error: 'is not a JSON object' };
  for (const name in value) {
    if (!RECORD_FIELDS.has(name)) return { error: `has an unexpected field "${name}"` };
  }
  // Every member is type-checked below, so a missing one is refused there.
  const r = value as unknown as AuditRecord;
  if (
    r.v !== 1 ||
    typeof r.requestId !== 'string' ||
    !Number.isInteger(r.seq) ||
    r.seq < 1 ||
    typeof r.at !== 'string' ||
    !ISO_TIME.test(r.at) ||
    typeof r.kind !== 'string' ||
    !isObject(r.actor) ||
    typeof r.intentHash !== 'string' ||
    !isObject(r.data) ||
    typeof r.prevHash !== 'string' ||
    !HEX64.test(r.prevHash) ||
    typeof r.hash !== 'string' ||
    !HEX64.test(r.hash)
  ) {
    return { error: 'is not a well-formed audit record' };
  }
  // Canonical JSON orders members by name; every member after `hash` is a plain
  // string or number, so the last `,"hash":"…"` is the top-level one.
  const member = `,"hash":"${r.hash}"`;
  const at = text.lastIndexOf(member);
  // Stryker disable next-line ConditionalExpression,EqualityOperator: at 0 the text would start with a comma, which JSON.parse refused above; at -1 the hash of the sliced text cannot equal r.hash
  if (at > 0 && sha256Hex(text.slice(0, at) + text.slice(at + member.length)) === r.hash)
    return { record: r };
  if (hashRecord(r) === r.hash) return { error: 'is not in canonical form (its bytes were changed)' };
  return { error: 'does not match its hash (content changed)' };
}

interface ParsedDigest {
  key: string;
  start: number;
  digest: Digest;
  /** Recomputed over the content, never taken from the stored field. */
  hash: string;
}

function isWellFormedDigest(d: unknown): d is Digest {
  if (!isObject(d)) return false;
  const prev = d.previousDigest;
  return (
    d.v === 1 &&
    typeof d.periodStart === 'string' &&
    typeof d.periodEnd === 'string' &&
    Array.isArray(d.records) &&
    d.records.every(
      (r: unknown) =>
        isObject(r) &&
        typeof r.requestId === 'string' &&
        Number.isInteger(r.seq) &&
        typeof r.key === 'string' &&
        typeof r.hash === 'string',
    ) &&
    typeof d.recordCount === 'number' &&
    (prev === null ||
      (isObject(prev) &&
        typeof prev.key === 'string' &&
        typeof prev.hash === 'string' &&
        typeof prev.signature === 'string')) &&
    typeof d.keyId === 'string' &&
    d.algorithm === DIGEST_ALGORITHM &&
    typeof d.signedAt === 'string' &&
    typeof d.digestHash === 'string' &&
    typeof d.signature === 'string'
  );
}

/** Verifies a loaded trail. Pure: no I/O. */
export function verifyTrail(trail: Trail, options: VerifyOptions): VerifyReport {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const report = (category: ProblemCategory, message: string, key?: string) =>
    problems.push({ category, message, ...(key ? { key } : {}) });
  const now = (options.now ?? new Date()).getTime();
  const grace = options.graceMs ?? DEFAULT_GRACE_MS;
  const fromT = options.from ? hourStart(options.from).getTime() : undefined;
  const toT = options.to?.getTime();
  /** Whether a time (a digest's period start, a record's `at`) is in the verified range [from, to). */
  const within = (t: number) => (fromT === undefined || t >= fromT) && (toT === undefined || t < toT);
  const keys = options.publicKeys;
  if (!keys) warnings.push('digest signatures not checked (no public key given)');

  // 1. Digests.
  const parsed = new Map<string, ParsedDigest>();
  for (const [key, text] of trail.digests) {
    const start = parseDigestObjectKey(key);
    if (!start) {
      report('extra', `${key} is not a digest key (digests/<yyyy>/<mm>/<dd>/<hh>.json)`, key);
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      report('modified', `digest ${key} is not valid JSON`, key);
      continue;
    }
    if (!isWellFormedDigest(value)) {
      report('modified', `digest ${key} is not a well-formed digest`, key);
      continue;
    }
    const digest = value;
    const input = digestSigningInput(digest);
    const hash = sha256Hex(input);
    parsed.set(key, { key, start: start.getTime(), digest, hash });
    if (!within(start.getTime())) continue; // the digest before `from` is loaded only to check the first link
    if (keys && !verifyDigestSignature(digest, keys, input)) {
      report(
        'bad-signature',
        `digest ${key} (keyId ${digest.keyId}) does not verify with the given public key`,
        key,
      );
    }
    if (digest.digestHash !== hash)
      report('modified', `digest ${key}: digestHash does not match its content`, key);
    else if (canonicalJson(digest) !== text)
      report('modified', `digest ${key} is not in canonical form`, key);
    if (
      digest.periodStart !== start.toISOString() ||
      Date.parse(digest.periodEnd) !== start.getTime() + DIGEST_PERIOD_MS
    ) {
      report(
        'moved',
        `digest ${key} covers ${digest.periodStart}–${digest.periodEnd}, not its key's hour`,
        key,
      );
    }
    if (digest.recordCount !== digest.records.length) {
      report(
        'modified',
        `digest ${key}: recordCount ${digest.recordCount} but ${digest.records.length} records listed`,
        key,
      );
    }
  }
  const inRange = [...parsed.values()].filter((d) => within(d.start)).sort((a, b) => a.start - b.start);
  const byStart = new Map([...parsed.values()].map((d) => [d.start, d]));
  const first = inRange[0];
  const last = inRange[inRange.length - 1];

  // 2. The digest chain: links, then every hour of the covered range.
  for (const d of inRange) {
    const link = d.digest.previousDigest;
    const expected = digestObjectKey(new Date(d.start - DIGEST_PERIOD_MS));
    if (link === null) {
      const earlier = [...parsed.values()].find((p) => p.start < d.start);
      if (earlier)
        report('gap', `digest ${d.key} starts a new chain although ${earlier.key} exists before it`, d.key);
      continue;
    }
    const target = parsed.get(link.key);
    if (link.key !== expected && byStart.has(d.start - DIGEST_PERIOD_MS)) {
      report(
        'modified',
        `digest ${d.key} links to ${link.key} instead of the previous hour's ${expected}`,
        d.key,
      );
    }
    if (target && (target.hash !== link.hash || target.digest.signature !== link.signature)) {
      report('modified', `digest ${link.key} differs from the version ${d.key} was chained to`, link.key);
    }
    if (!target && d === first) {
      // Later digests' missing predecessors show up as missing hours below.
      report(
        'gap',
        link.key === expected
          ? `digest ${expected} is missing (${d.key} links to it)`
          : `no digest for the hour before ${d.key}, which links to ${link.key}`,
        expected,
      );
    }
  }
  // The end of the hours up to `--to` whose digest is due by now (none without `--to`).
  const dueEnd =
    toT === undefined
      ? Number.NEGATIVE_INFINITY
      : Math.min(Math.ceil(toT / DIGEST_PERIOD_MS), Math.floor((now - grace) / DIGEST_PERIOD_MS)) *
        DIGEST_PERIOD_MS;
  const gapHours = new Set<number>();
  // Stryker disable next-line LogicalOperator: first and last are the ends of one list, so both are set or neither is
  if (first && last) {
    // Hours before the chain's first digest (previousDigest null) are before the trail began, not a gap.
    const start =
      fromT !== undefined && first.digest.previousDigest !== null
        ? Math.min(fromT, first.start)
        : first.start;
    const end = Math.max(last.start + DIGEST_PERIOD_MS, dueEnd);
    for (let t = start; t < end; t += DIGEST_PERIOD_MS) if (!byStart.has(t)) gapHours.add(t);
  } else {
    // No digest in the range: every due hour from `--from` to `--to` is a gap (none without both).
    for (let t = fromT ?? dueEnd; t < dueEnd; t += DIGEST_PERIOD_MS) gapHours.add(t);
  }

  // 3. The listing index of the in-range digests.
  const listed = new Map<string, { digest: ParsedDigest; requestId: string; seq: number; hash: string }>();
  for (const d of inRange) {
    let previous: { requestId: string; seq: number } | undefined;
    for (const ref of d.digest.records) {
      if (
        previous &&
        (previous.requestId > ref.requestId ||
          (previous.requestId === ref.requestId && previous.seq >= ref.seq))
      ) {
        report('reordered', `digest ${d.key} lists ${ref.requestId} seq ${ref.seq} out of order`, d.key);
      }
      previous = ref;
      const other = listed.get(ref.key);
      if (other) {
        report('extra', `${ref.key} is listed twice (in ${other.digest.key} and ${d.key})`, ref.key);
        continue;
      }
      const loc = parseAuditObjectKey(ref.key);
      if (!loc || loc.requestId !== ref.requestId || loc.seq !== ref.seq) {
        report(
          'modified',
          `digest ${d.key} lists ${ref.requestId} seq ${ref.seq} under the wrong key ${ref.key}`,
          d.key,
        );
      }
      listed.set(ref.key, { digest: d, requestId: ref.requestId, seq: ref.seq, hash: ref.hash });
    }
  }

  // 4. Records.
  const reported = new Set<string>(); // `${requestId}#${seq}` positions already reported
  const byIdentity = new Map<
    string,
    Map<number, { record: AuditRecord; key: string; located: boolean; day: string }>
  >();
  const pending = new Map<number, number>();
  const overdue = new Map<number, number>();
  const unvouchedInGap = new Map<number, number>();
  const beforeFirst = new Map<number, number>();
  let recordCount = 0;
  const requestsInRange = new Set<string>();
  for (const [key, text] of trail.records) {
    const loc = parseAuditObjectKey(key);
    if (!loc) {
      report(
        'extra',
        `${key} is not an audit record key (records/<yyyy>/<mm>/<dd>/<requestId>/<seq>.json)`,
        key,
      );
      continue;
    }
    const position = `${loc.requestId}#${loc.seq}`;
    const checked = checkRecordText(text);
    if ('error' in checked) {
      report('modified', `record ${key} ${checked.error}`, key);
      reported.add(position);
      continue;
    }
    const record = checked.record;
    let located = true;
    if (record.requestId !== loc.requestId) {
      report(
        'moved',
        `record ${key} in request ${loc.requestId}'s chain holds seq ${record.seq} of request ${record.requestId}`,
        key,
      );
      reported.add(position);
      located = false;
    } else if (record.seq !== loc.seq) {
      report('reordered', `record ${key} holds seq ${record.seq} of its request, not seq ${loc.seq}`, key);
      reported.add(position);
      located = false;
    }
    let chain = byIdentity.get(record.requestId);
    if (!chain) {
      chain = new Map();
      byIdentity.set(record.requestId, chain);
    }
    const twin = chain.get(record.seq);
    if (!twin || (!twin.located && located)) {
      chain.set(record.seq, { record, key, located, day: loc.day });
    }
    if (twin && twin.record.hash !== record.hash) {
      report(
        'extra',
        `request ${record.requestId} has two different records with seq ${record.seq} (${twin.key}, ${key})`,
        key,
      );
    }

    const entry = listed.get(key);
    if (entry && located && entry.hash !== record.hash) {
      report('modified', `record ${key} is not the record ${entry.digest.key} lists (hash differs)`, key);
    }
    const atT = Date.parse(record.at);
    if (!within(atT)) continue;
    recordCount++;
    requestsInRange.add(record.requestId);
    const hour = hourStart(new Date(atT)).getTime();
    if (entry) {
      if (located && entry.digest.start !== hour) {
        report(
          'reordered',
          `record ${key} written at ${record.at} is listed in ${entry.digest.key} for another hour`,
          key,
        );
      }
      continue;
    }
    if (!located) continue; // already reported where it sits
    // In no digest: an hour without one (a gap, or before the chain began), or unlisted in its hour's
    // (no in-range record's hour with a digest is a gap hour or before the first digest).
    if (gapHours.has(hour)) {
      unvouchedInGap.set(hour, (unvouchedInGap.get(hour) ?? 0) + 1);
      continue;
    }
    if (first && hour < first.start) {
      beforeFirst.set(hour, (beforeFirst.get(hour) ?? 0) + 1);
      continue;
    }
    if (byStart.has(hour)) {
      report(
        'extra',
        `record ${key} (written ${record.at}) is not listed in ${digestObjectKey(new Date(hour))}`,
        key,
      );
      continue;
    }
    const waiting = now - (hour + DIGEST_PERIOD_MS) < grace ? pending : overdue;
    waiting.set(hour, (waiting.get(hour) ?? 0) + 1);
  }

  // Listed records that are absent.
  for (const [key, entry] of listed) {
    if (trail.records.has(key)) continue;
    report(
      'missing',
      `record ${key} (request ${entry.requestId} seq ${entry.seq}) is listed in ${entry.digest.key} but absent`,
      key,
    );
    reported.add(`${entry.requestId}#${entry.seq}`);
  }

  // Gaps, one line per run of missing hours, with the records written in it.
  const runs = (counts: Map<number, number>) => {
    const out: Array<{ a: number; b: number; n: number }> = [];
    for (const [h, n] of [...counts].sort(([x], [y]) => x - y)) {
      const run = out[out.length - 1];
      if (run && run.b === h) {
        run.b = h + DIGEST_PERIOD_MS;
        run.n += n;
      } else out.push({ a: h, b: h + DIGEST_PERIOD_MS, n });
    }
    return out;
  };
  const gapCounts = new Map([...gapHours].map((h) => [h, unvouchedInGap.get(h) ?? 0]));
  for (const { a, b, n } of runs(gapCounts)) {
    const hours = (b - a) / DIGEST_PERIOD_MS;
    report(
      'gap',
      `no digest for ${hourIso(a)} to ${hourIso(b)} (${hours === 1 ? digestObjectKey(new Date(a)) : `${hours} hours from ${digestObjectKey(new Date(a))}`} missing)${n ? `; ${n} records written then are in no digest` : ''}`,
      digestObjectKey(new Date(a)),
    );
  }
  for (const { a, b, n } of runs(overdue)) {
    report(
      'gap',
      `no digest for ${hourIso(a)} to ${hourIso(b)}: ${n} records written then are in no digest, and it is overdue`,
      digestObjectKey(new Date(a)),
    );
  }
  for (const { a, b, n } of runs(beforeFirst)) {
    report(
      'gap',
      `${n} records written ${hourIso(a)} to ${hourIso(b)}, before the first digest ${
        // Stryker disable next-line OptionalChaining: records are counted before the first digest only when there is one
        first?.key
      }, are in no digest`,
    );
  }
  let pendingCount = 0;
  for (const { a, b, n } of runs(pending)) {
    pendingCount += n;
    warnings.push(
      `pending: ${n} records written ${hourIso(a)} to ${hourIso(b)} are not yet in a digest (not due yet)`,
    );
  }

  // 5. Request chains.
  const records: AuditRecord[] = [];
  for (const [requestId, chain] of byIdentity) {
    const seqs = [...chain.keys()].sort((a, b) => a - b);
    const max = seqs[seqs.length - 1] ?? 0;
    const days = new Set([...chain.values()].filter((c) => c.located).map((c) => c.day));
    if (days.size > 1)
      report(
        'moved',
        `request ${requestId} has records under ${days.size} day prefixes (${[...days].join(', ')})`,
      );
    const hashes = new Set([...chain.values()].map((c) => c.record.hash));
    for (let seq = 1; seq <= max; seq++) {
      const here = chain.get(seq);
      if (!here) {
        if (!reported.has(`${requestId}#${seq}`))
          report('missing', `request ${requestId}: seq ${seq} is absent (the chain runs to seq ${max})`);
        continue;
      }
      const expected = seq === 1 ? GENESIS_HASH : chain.get(seq - 1)?.record.hash;
      if (expected !== undefined && here.record.prevHash !== expected) {
        const category = seq > 1 && hashes.has(here.record.prevHash) ? 'reordered' : 'modified';
        report(
          category,
          `request ${requestId}: seq ${seq} (${here.key}) does not link to ${seq === 1 ? 'the genesis hash' : `seq ${seq - 1}`}`,
          here.key,
        );
      }
      if (within(Date.parse(here.record.at))) records.push(here.record);
    }
  }
  records.sort(compareRecordRefs);

  const coveredFrom = fromT ?? first?.start;
  const coveredTo = toT ?? (last ? last.start + DIGEST_PERIOD_MS : undefined);
  return {
    ok: problems.length === 0,
    problems,
    warnings,
    digestCount: inRange.length,
    recordCount,
    requestCount: requestsInRange.size,
    pendingCount,
    ...(coveredFrom !== undefined ? { from: new Date(coveredFrom).toISOString() } : {}),
    ...(coveredTo !== undefined ? { to: new Date(coveredTo).toISOString() } : {}),
    signaturesChecked: Boolean(keys),
    records,
  };
}

/** The lines `audit verify` prints: one per problem, or the one-line summary. */
export function formatReport(report: VerifyReport): string[] {
  if (!report.ok) {
    return [
      ...report.problems.map((p) => `${p.category}: ${p.message}`),
      `FAILED: ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'} in ${report.digestCount} digests, ${report.recordCount} records`,
    ];
  }
  const range = report.from ? ` from ${report.from} to ${report.to ?? 'now'}` : '';
  const pending = report.pendingCount ? ` (${report.pendingCount} pending: not yet in a digest)` : '';
  return [
    `OK: ${report.digestCount} digests, ${report.recordCount} records, ${report.requestCount} requests verified${range}${pending}`,
  ];
}

/** Loads a trail from a source and verifies it. */
export async function verifySource(
  source: TrailSource,
  options: VerifyOptions & Omit<LoadOptions, 'from' | 'to'>,
): Promise<VerifyReport> {
  const trail = await loadTrail(source, options);
  return verifyTrail(trail, options);
}
