/**
 * The fixture audit trail built in memory by the real record and digest code
 * (hashRecord, auditObjectKey, signDigest, linkTo, serializeDigest), with no
 * local servers: the verifier's own tests tamper with it in milliseconds.
 * `verify-sources.test.ts` checks that it is, object for object, the trail
 * appendAudit and the digest writer store on dynalite and s3rver.
 */
import {
  type AuditRecord,
  auditObjectKey,
  GENESIS_HASH,
  hashRecord,
} from '../../lambdas/shared/audit-record.js';
import { canonicalJson } from '../../lambdas/shared/canonical.js';
import {
  compareRecordRefs,
  DIGEST_ALGORITHM,
  DIGEST_PERIOD_MS,
  DIGEST_VERSION,
  type Digest,
  type DigestRecordRef,
  type DigestSigner,
  digestObjectKey,
  linkTo,
  serializeDigest,
  signDigest,
} from '../../lambdas/shared/digest.js';
import { digestWrittenAt, TRAIL_HOURS, trailScript } from './trail-script.js';

/** The fixture trail (every record and digest object, key -> text), signed by `signer`. */
export async function buildTrail(signer: DigestSigner): Promise<Map<string, string>> {
  const objects = new Map<string, string>();
  const heads = new Map<string, { seq: number; hash: string }>();
  const listed = new Map<number, DigestRecordRef[]>();
  const steps = trailScript()
    .flatMap((r) => r.steps.map((step) => ({ ...step, request: r })))
    .sort((a, b) => (a.at < b.at ? -1 : 1));
  for (const { request, ...step } of steps) {
    const head = heads.get(request.requestId) ?? { seq: 0, hash: GENESIS_HASH };
    const body: Omit<AuditRecord, 'hash'> = {
      v: 1,
      requestId: request.requestId,
      seq: head.seq + 1,
      at: step.at,
      kind: step.kind,
      actor: step.actor,
      intentHash: request.intentHash,
      data: step.data,
      prevHash: head.hash,
    };
    const record: AuditRecord = { ...body, hash: hashRecord(body) };
    const key = auditObjectKey(request.createdAt, request.requestId, record.seq);
    objects.set(key, canonicalJson(record));
    heads.set(request.requestId, { seq: record.seq, hash: record.hash });
    const hour = Math.floor(Date.parse(step.at) / DIGEST_PERIOD_MS) * DIGEST_PERIOD_MS;
    const refs = listed.get(hour) ?? [];
    refs.push({ requestId: record.requestId, seq: record.seq, key, hash: record.hash });
    listed.set(hour, refs);
  }
  let previous: { key: string; digest: Digest } | undefined;
  for (const hour of TRAIL_HOURS) {
    const start = new Date(hour);
    const records = [...(listed.get(start.getTime()) ?? [])].sort(compareRecordRefs);
    const digest = await signDigest(
      {
        v: DIGEST_VERSION,
        periodStart: start.toISOString(),
        periodEnd: new Date(start.getTime() + DIGEST_PERIOD_MS).toISOString(),
        records,
        recordCount: records.length,
        previousDigest: previous ? linkTo(previous.key, previous.digest) : null,
        keyId: signer.keyId,
        algorithm: DIGEST_ALGORITHM,
        signedAt: digestWrittenAt(hour).toISOString(),
      },
      signer,
    );
    const key = digestObjectKey(start);
    objects.set(key, serializeDigest(digest));
    previous = { key, digest };
  }
  return objects;
}
