/**
 * A realistic audit trail for the audit tests: the fixture's five requests
 * (trail-script.ts) written with the real appendAudit across four UTC hours,
 * and the signed digests of every hour, on dynalite + s3rver with a local
 * P-256 key.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { type DigestDeps, writeDigest } from '../../lambdas/digest/core.js';
import { type AuditDeps, appendAudit } from '../../lambdas/shared/audit.js';
import type { DigestSigner } from '../../lambdas/shared/digest.js';
import { archiveAuditRecords, type LocalAws } from '../support/local-aws.js';
import { digestWrittenAt, TRAIL_HOURS, testClock, trailScript } from './trail-script.js';

export {
  AFTER_TRAIL,
  p256,
  TRAIL_HOURS,
  TRAIL_RECORDS,
  testClock,
  trailScript,
} from './trail-script.js';

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
    clock.set(digestWrittenAt(hour).toISOString());
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
