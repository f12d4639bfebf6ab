/**
 * `audit verify` end to end: the fixture trail written by the real writers
 * (appendAudit and the digest writer on dynalite and s3rver), read from the
 * bucket and from a local directory copy, clean and through the tamper
 * corpus. s3rver does not enforce Object Lock, which is exactly what lets
 * these tests tamper. It also checks that the in-memory trail the verifier's
 * own tests use (memory-trail.ts) is the trail the writers store.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directoryTrailSource, s3TrailSource, type TrailSource } from '../../audit/sources.js';
import { formatReport, verifySource } from '../../audit/verify.js';
import type { Digest } from '../../lambdas/shared/digest.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';
import { buildTrail } from './memory-trail.js';
import { digestKey, type Store, TAMPER_CORPUS } from './tamper-corpus.js';
import {
  AFTER_TRAIL,
  p256,
  snapshotBucket,
  TRAIL_HOURS,
  TRAIL_RECORDS,
  writeTrail,
} from './trail-fixture.js';

let aws: LocalAws;
let keys: ReturnType<typeof p256>;
let original: Map<string, string>;
let tmp: string;

beforeAll(async () => {
  aws = await startLocalAws({ bucket: 'countersign-audit-verify' });
  keys = p256();
  await writeTrail(aws, keys.signer);
  original = await snapshotBucket(aws.s3, aws.bucket);
  tmp = await mkdtemp(join(tmpdir(), 'countersign-audit-'));
});

afterAll(async () => {
  await aws?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface Medium {
  name: string;
  /** Copies the original trail and returns a store over the copy plus a source reading it. */
  copy(label: string): Promise<{ store: Store; source: TrailSource }>;
}

const media: Medium[] = [
  {
    name: 's3',
    async copy(label) {
      const bucket = `tamper-${label}`
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-')
        .slice(0, 60);
      await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const texts = new Map(original);
      for (const [key, text] of texts)
        await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text }));
      return {
        source: s3TrailSource(aws.s3, bucket),
        store: {
          get: (key) => texts.get(key)!,
          put: async (key, text) => {
            texts.set(key, text);
            await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text }));
          },
          delete: async (key) => {
            texts.delete(key);
            await aws.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
          },
        },
      };
    },
  },
  {
    name: 'directory',
    async copy(label) {
      const dir = join(tmp, label);
      const texts = new Map(original);
      const pathOf = (key: string) => join(dir, ...key.split('/'));
      for (const [key, text] of texts) {
        await mkdir(dirname(pathOf(key)), { recursive: true });
        await writeFile(pathOf(key), text);
      }
      return {
        source: directoryTrailSource(dir),
        store: {
          get: (key) => texts.get(key)!,
          put: async (key, text) => {
            texts.set(key, text);
            await mkdir(dirname(pathOf(key)), { recursive: true });
            await writeFile(pathOf(key), text);
          },
          delete: async (key) => {
            texts.delete(key);
            await rm(pathOf(key));
          },
        },
      };
    },
  },
];

const verifyOptions = () => ({ publicKeys: [keys.publicKey], now: AFTER_TRAIL });

/** A digest without what a fresh ECDSA signature changes: its own and its link's signature and hash. */
const unsigned = (text: string) => {
  const { digestHash: _h, signature: _s, previousDigest, ...body } = JSON.parse(text) as Digest;
  return { ...body, previousDigest: previousDigest && { key: previousDigest.key } };
};

describe('audit verify on the trail the writers store', () => {
  it('writes the expected objects', () => {
    expect([...original.keys()].filter((k) => k.startsWith('records/'))).toHaveLength(TRAIL_RECORDS);
    expect([...original.keys()].filter((k) => k.startsWith('digests/'))).toEqual(
      TRAIL_HOURS.map((_, i) => digestKey(i)),
    );
  });

  it('is the trail the in-memory fixture builds: the same records byte for byte, the same digests but for their signatures', async () => {
    const built = await buildTrail(keys.signer);
    expect([...built.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [key, text] of original) {
      if (key.startsWith('records/')) expect(built.get(key), key).toBe(text);
      else expect(unsigned(built.get(key)!), key).toEqual(unsigned(text));
    }
  });

  it.each(media)('passes with a one-line summary ($name)', async (medium) => {
    const { source } = await medium.copy(`clean-${medium.name}`);
    const report = await verifySource(source, verifyOptions());
    expect(report.problems).toEqual([]);
    expect(formatReport(report)).toEqual([
      'OK: 4 digests, 18 records, 5 requests verified from 2025-03-04T09:00:00.000Z to 2025-03-04T13:00:00.000Z',
    ]);
    expect(report.warnings).toEqual([]);
  });

  it('verifies the deployed bucket itself (S3 source on the original bucket)', async () => {
    const report = await verifySource(s3TrailSource(aws.s3, aws.bucket), verifyOptions());
    expect(report.ok).toBe(true);
    expect(report.records).toHaveLength(TRAIL_RECORDS);
  });
});

describe.each(media)('tamper corpus ($name)', (medium) => {
  it.each(TAMPER_CORPUS)('detects $name', async (testCase) => {
    const { store, source } = await medium.copy(`${medium.name}-${TAMPER_CORPUS.indexOf(testCase)}`);
    await testCase.tamper(store, keys.signer);
    const report = await verifySource(source, verifyOptions());
    const output = formatReport(report).join('\n');
    expect(report.ok).toBe(false);
    expect(output).toMatch(testCase.expect);
    expect(output).toMatch(/^FAILED: \d+ problems? in /m);
  });
});
