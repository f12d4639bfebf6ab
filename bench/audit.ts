/**
 * Audit verify throughput: 100,000 synthetic records (20,000 requests of five
 * records, 1,000 records an hour) with their signed hourly digests, held in
 * memory, verified end to end (digest signatures, chain, every record hash,
 * every request chain, listing membership). Target: >= 20,000 records/s.
 *
 *   npx tsx bench/audit.ts
 */
import { generateKeyPairSync } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { loadTrail, memoryTrailSource, type Trail } from '../audit/sources.js';
import { verifyTrail } from '../audit/verify.js';
import {
  type AuditKind,
  type AuditRecord,
  auditObjectKey,
  GENESIS_HASH,
  hashRecord,
} from '../lambdas/shared/audit.js';
import { canonicalJson } from '../lambdas/shared/canonical.js';
import {
  compareRecordRefs,
  DIGEST_PERIOD_MS,
  type Digest,
  type DigestRecordRef,
  digestObjectKey,
  linkTo,
  localSigner,
  serializeDigest,
  signDigest,
} from '../lambdas/shared/digest.js';
import { median } from './stats.js';

const RECORDS = 100_000;
const PER_REQUEST = 5;
const PER_HOUR = 1_000;
const TARGET = 20_000;
const START = Date.parse('2025-01-01T00:00:00.000Z');
const KINDS: AuditKind[] = ['requested', 'policy-evaluated', 'reviewers-notified', 'vote', 'decided'];

/** Builds the synthetic trail: records written round-robin so every hour holds many requests' records. */
async function buildTrail(): Promise<{
  objects: Map<string, string>;
  digests: number;
  publicKey: import('node:crypto').KeyObject;
}> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = localSigner(privateKey);
  const objects = new Map<string, string>();
  const requests = RECORDS / PER_REQUEST;
  const heads = new Map<number, string>();
  const hours = new Map<number, DigestRecordRef[]>();
  // Record n: request (n mod requests)'s record floor(n / requests) + 1, one every 3.6 s.
  for (let n = 0; n < RECORDS; n++) {
    const r = n % requests;
    const seq = Math.floor(n / requests) + 1;
    const at = START + Math.floor((n / PER_HOUR) * DIGEST_PERIOD_MS);
    const requestId = `req-${String(r).padStart(6, '0')}-bench`;
    const createdAt = new Date(START + Math.floor((r / PER_HOUR) * DIGEST_PERIOD_MS)).toISOString();
    const body: Omit<AuditRecord, 'hash'> = {
      v: 1,
      requestId,
      seq,
      at: new Date(at).toISOString(),
      kind: KINDS[seq - 1]!,
      actor:
        seq === 1
          ? { type: 'agent', source: 'countersign.agent.bench-bot', agentId: 'bench-bot' }
          : { type: 'human', slackUserId: 'U0BENCH', email: 'reviewer@example.com' },
      intentHash: `sha256:${'ab'.repeat(32)}`,
      data:
        seq === 1
          ? {
              intent: {
                intentId: requestId,
                action: 'iam:AttachRolePolicy',
                resource: `arn:aws:iam::111122223333:role/app-${r}`,
                environment: 'prod',
                justification: 'rotate the deploy role policy for the quarterly release',
                parameters: { policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
                agent: {
                  model: 'bench',
                  sessionId: `s-${r}`,
                  onBehalfOf: 'dana@example.com',
                  owner: 'olu@example.com',
                },
              },
            }
          : { step: seq, note: 'synthetic' },
      prevHash: heads.get(r) ?? GENESIS_HASH,
    };
    const record: AuditRecord = { ...body, hash: hashRecord(body) };
    heads.set(r, record.hash);
    const key = auditObjectKey(createdAt, requestId, seq);
    objects.set(key, canonicalJson(record));
    const hour = Math.floor(at / DIGEST_PERIOD_MS) * DIGEST_PERIOD_MS;
    let refs = hours.get(hour);
    if (!refs) {
      refs = [];
      hours.set(hour, refs);
    }
    refs.push({ requestId, seq, key, hash: record.hash });
  }
  let previous: { key: string; digest: Digest } | undefined;
  for (const [hour, refs] of [...hours].sort((a, b) => a[0] - b[0])) {
    refs.sort(compareRecordRefs);
    const key = digestObjectKey(new Date(hour));
    const digest = await signDigest(
      {
        v: 1,
        periodStart: new Date(hour).toISOString(),
        periodEnd: new Date(hour + DIGEST_PERIOD_MS).toISOString(),
        records: refs,
        recordCount: refs.length,
        previousDigest: previous ? linkTo(previous.key, previous.digest) : null,
        keyId: signer.keyId,
        algorithm: 'ECDSA_SHA_256',
        signedAt: new Date(hour + DIGEST_PERIOD_MS + 300_000).toISOString(),
      },
      signer,
    );
    objects.set(key, serializeDigest(digest));
    previous = { key, digest };
  }
  return { objects, digests: hours.size, publicKey };
}

/** Runs the verify benchmark and returns its figures. */
export async function benchAuditVerify(): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const { objects, digests, publicKey } = await buildTrail();
  const buildMs = performance.now() - t0;
  const now = new Date(START + (RECORDS / PER_HOUR + 3) * DIGEST_PERIOD_MS);
  const options = { publicKeys: [publicKey], now };

  const trail: Trail = await loadTrail(memoryTrailSource(objects));
  const verifyTimes: number[] = [];
  const endToEndTimes: number[] = [];
  let ok = true;
  for (let run = 0; run < 3; run++) {
    const a = performance.now();
    const report = verifyTrail(trail, options);
    verifyTimes.push(performance.now() - a);
    ok &&= report.ok && report.recordCount === RECORDS && report.digestCount === digests;
    const b = performance.now();
    const loaded = await loadTrail(memoryTrailSource(objects));
    ok &&= verifyTrail(loaded, options).ok;
    endToEndTimes.push(performance.now() - b);
  }
  const verifyMs = median(verifyTimes);
  const endToEndMs = median(endToEndTimes);
  const recordsPerSecond = Math.round(RECORDS / (verifyMs / 1000));
  return {
    benchmark: 'audit verify',
    records: RECORDS,
    requests: RECORDS / PER_REQUEST,
    digests,
    buildMs: Math.round(buildMs),
    verifyMs: Math.round(verifyMs),
    recordsPerSecond,
    endToEndFromMemorySourceMs: Math.round(endToEndMs),
    endToEndRecordsPerSecond: Math.round(RECORDS / (endToEndMs / 1000)),
    targetRecordsPerSecond: TARGET,
    meetsTarget: ok && recordsPerSecond >= TARGET,
    verified: ok,
    node: process.version,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchAuditVerify();
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (!result.meetsTarget) process.exitCode = 1;
}
