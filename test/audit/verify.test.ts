/**
 * `audit verify` against a real trail (appendAudit + digest writer on dynalite
 * and s3rver) and a tamper corpus generated here. s3rver does not enforce
 * Object Lock, which is exactly what lets these tests tamper; every case runs
 * both on a bucket (S3 source) and on a local directory copy.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  directoryTrailSource,
  loadTrail,
  memoryTrailSource,
  s3TrailSource,
  type TrailSource,
} from '../../audit/sources.js';
import { checkRecordText, formatReport, verifySource, verifyTrail } from '../../audit/verify.js';
import { auditObjectKey, hashRecord } from '../../lambdas/shared/audit.js';
import { canonicalJson } from '../../lambdas/shared/canonical.js';
import { type Digest, digestObjectKey, localSigner, signDigest } from '../../lambdas/shared/digest.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';
import {
  AFTER_TRAIL,
  p256,
  snapshotBucket,
  TRAIL_HOURS,
  TRAIL_RECORDS,
  trailScript,
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

const request = (id: string) => trailScript().find((r) => r.requestId === id)!;
const recordKey = (id: string, seq: number) => auditObjectKey(request(id).createdAt, id, seq);
const digestKey = (hour: number) => digestObjectKey(new Date(TRAIL_HOURS[hour]!));

/** A mutable view of a trail copy, on whichever medium the case runs. */
interface Store {
  get(key: string): string;
  put(key: string, text: string): Promise<void>;
  delete(key: string): Promise<void>;
}

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

describe('audit verify on an untampered trail', () => {
  it('writes the expected objects', () => {
    expect([...original.keys()].filter((k) => k.startsWith('records/'))).toHaveLength(TRAIL_RECORDS);
    expect([...original.keys()].filter((k) => k.startsWith('digests/'))).toEqual(
      TRAIL_HOURS.map((_, i) => digestKey(i)),
    );
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

  it('verifies a sub-range with --from/--to, checking the link to the digest before it', async () => {
    const source = memoryTrailSource(original);
    const report = await verifySource(source, {
      ...verifyOptions(),
      from: new Date('2025-03-04T10:00:00Z'),
      to: new Date('2025-03-04T12:00:00Z'),
    });
    expect(formatReport(report)).toEqual([
      'OK: 2 digests, 15 records, 5 requests verified from 2025-03-04T10:00:00.000Z to 2025-03-04T12:00:00.000Z',
    ]);
  });

  it('reports records after the last digest as pending (a warning), and as a gap once overdue', async () => {
    const trail = await loadTrail(memoryTrailSource(original));
    trail.digests.delete(digestKey(3));
    trail.digests.delete(digestKey(2));
    const soon = verifyTrail(trail, { publicKeys: [keys.publicKey], now: new Date('2025-03-04T12:30:00Z') });
    expect(soon.ok).toBe(true);
    expect(soon.pendingCount).toBe(6);
    expect(soon.warnings).toEqual([
      'pending: 6 records written 2025-03-04T11:00Z to 2025-03-04T12:00Z are not yet in a digest (not due yet)',
    ]);
    expect(formatReport(soon)[0]).toMatch(
      /^OK: 2 digests, 18 records, 5 requests .* \(6 pending: not yet in a digest\)$/,
    );
    const late = verifyTrail(trail, { publicKeys: [keys.publicKey], now: AFTER_TRAIL });
    expect(formatReport(late)).toContain(
      'gap: no digest for 2025-03-04T11:00Z to 2025-03-04T12:00Z: 6 records written then are in no digest, and it is overdue',
    );
  });

  it('fails when no public key matches and skips signatures only when asked', async () => {
    const trail = await loadTrail(memoryTrailSource(original));
    const other = p256();
    expect(verifyTrail(trail, { publicKeys: [other.publicKey], now: AFTER_TRAIL }).problems).toHaveLength(4);
    const rotated = verifyTrail(trail, { publicKeys: [other.publicKey, keys.publicKey], now: AFTER_TRAIL });
    expect(rotated.ok).toBe(true);
    const skipped = verifyTrail(trail, { publicKeys: null, now: AFTER_TRAIL });
    expect(skipped.ok).toBe(true);
    expect(skipped.signaturesChecked).toBe(false);
  });
});

/** The tamper corpus: each case tampers with a fresh copy and names the line it must produce. */
const corpus: Array<{ name: string; tamper: (store: Store) => Promise<void>; expect: RegExp }> = [
  {
    name: 'a flipped byte in a record',
    tamper: async (store) => {
      const key = recordKey('req-alpha-0001', 3);
      const text = store.get(key);
      const at = text.indexOf('reviewers-notified') + 3;
      await store.put(
        key,
        text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ 1) + text.slice(at + 1),
      );
    },
    expect:
      /^modified: record records\/2025\/03\/04\/req-alpha-0001\/00000003\.json does not match its hash/m,
  },
  {
    name: 'a deleted record',
    tamper: (store) => store.delete(recordKey('req-bravo-0002', 2)),
    expect:
      /^missing: record records\/2025\/03\/04\/req-bravo-0002\/00000002\.json \(request req-bravo-0002 seq 2\) is listed in digests\/2025\/03\/04\/10\.json but absent$/m,
  },
  {
    name: 'two records reordered (contents of seq 2 and 3 swapped)',
    tamper: async (store) => {
      const a = recordKey('req-alpha-0001', 2);
      const b = recordKey('req-alpha-0001', 3);
      const [ta, tb] = [store.get(a), store.get(b)];
      await store.put(a, tb);
      await store.put(b, ta);
    },
    expect:
      /^reordered: record records\/2025\/03\/04\/req-alpha-0001\/00000002\.json holds seq 3 of its request, not seq 2$/m,
  },
  {
    name: "a record moved into another request's chain",
    tamper: async (store) => {
      const from = recordKey('req-bravo-0002', 2);
      const text = store.get(from);
      await store.delete(from);
      await store.put(recordKey('req-charlie-0003', 5), text);
    },
    expect:
      /^moved: record records\/2025\/03\/04\/req-charlie-0003\/00000005\.json in request req-charlie-0003's chain holds seq 2 of request req-bravo-0002$/m,
  },
  {
    name: 'a truncated chain (last record removed)',
    tamper: (store) => store.delete(recordKey('req-alpha-0001', 6)),
    expect:
      /^missing: record records\/2025\/03\/04\/req-alpha-0001\/00000006\.json .* is listed in digests\/2025\/03\/04\/10\.json but absent$/m,
  },
  {
    name: 'a forged digest (listing changed, re-serialized without a valid signature)',
    tamper: async (store) => {
      const key = digestKey(1);
      const digest = JSON.parse(store.get(key)) as Digest;
      const records = digest.records.filter((r) => !(r.requestId === 'req-bravo-0002' && r.seq === 2));
      const forged = await signDigest(
        { ...stripSignature(digest), records, recordCount: records.length },
        {
          keyId: digest.keyId,
          sign: async () => Buffer.from(digest.signature, 'base64'),
        },
      );
      await store.put(key, canonicalJson(forged));
    },
    expect:
      /^bad-signature: digest digests\/2025\/03\/04\/10\.json \(keyId local:[0-9a-f]{64}\) does not verify with the given public key$/m,
  },
  {
    name: 'a removed digest (gap)',
    tamper: (store) => store.delete(digestKey(1)),
    expect:
      /^gap: no digest for 2025-03-04T10:00Z to 2025-03-04T11:00Z \(digests\/2025\/03\/04\/10\.json missing\); 9 records written then are in no digest$/m,
  },
  {
    name: 'a digest signed by another key',
    tamper: async (store) => {
      const key = digestKey(2);
      const digest = JSON.parse(store.get(key)) as Digest;
      const other = localSigner(p256().privateKey, digest.keyId);
      await store.put(key, canonicalJson(await signDigest(stripSignature(digest), other)));
    },
    expect:
      /^bad-signature: digest digests\/2025\/03\/04\/11\.json .* does not verify with the given public key$/m,
  },
  {
    name: 'a record rewritten with a recomputed hash',
    tamper: async (store) => {
      const key = recordKey('req-alpha-0001', 5);
      const record = JSON.parse(store.get(key));
      record.data.decision.approvers = [];
      const { hash: _h, ...body } = record;
      const { hashRecord } = await import('../../lambdas/shared/audit.js');
      await store.put(key, canonicalJson({ ...body, hash: hashRecord(body) }));
    },
    expect:
      /^modified: record records\/2025\/03\/04\/req-alpha-0001\/00000005\.json is not the record digests\/2025\/03\/04\/10\.json lists/m,
  },
  {
    name: 'an extra record appended to a chain after its hour was digested',
    tamper: async (store) => {
      const last = JSON.parse(store.get(recordKey('req-bravo-0002', 3)));
      const { hashRecord } = await import('../../lambdas/shared/audit.js');
      const body = { ...last, seq: 4, at: '2025-03-04T10:59:00.000Z', kind: 'modified', prevHash: last.hash };
      delete body.hash;
      await store.put(recordKey('req-bravo-0002', 4), canonicalJson({ ...body, hash: hashRecord(body) }));
    },
    expect:
      /^extra: record records\/2025\/03\/04\/req-bravo-0002\/00000004\.json \(written 2025-03-04T10:59:00\.000Z\) is not listed in digests\/2025\/03\/04\/10\.json$/m,
  },
  {
    name: 'a digest rewritten and re-signed with the real key (next link breaks)',
    tamper: async (store) => {
      const key = digestKey(2);
      const digest = JSON.parse(store.get(key)) as Digest;
      const resigned = await signDigest(
        { ...stripSignature(digest), signedAt: '2025-03-04T13:59:00.000Z' },
        keys.signer,
      );
      await store.put(key, canonicalJson(resigned));
    },
    expect:
      /^modified: digest digests\/2025\/03\/04\/11\.json differs from the version digests\/2025\/03\/04\/12\.json was chained to$/m,
  },
];

function stripSignature(digest: Digest) {
  const { digestHash: _h, signature: _s, ...body } = digest;
  return body;
}

describe.each(media)('tamper corpus ($name)', (medium) => {
  it.each(corpus)('detects $name', async (testCase) => {
    const { store, source } = await medium.copy(`${medium.name}-${corpus.indexOf(testCase)}`);
    await testCase.tamper(store);
    const report = await verifySource(source, verifyOptions());
    const output = formatReport(report).join('\n');
    if (process.env.SHOW_TAMPER) console.log(`--- ${testCase.name}\n${output}`);
    expect(report.ok).toBe(false);
    expect(output).toMatch(testCase.expect);
    expect(output).toMatch(/^FAILED: \d+ problems? in /m);
  });
});

/** A record of the fixture trail as an object, to build malformed variants of it. */
const recordObject = (id: string, seq: number): Record<string, unknown> =>
  JSON.parse(original.get(recordKey(id, seq))!);
/** A record's canonical bytes with its hash recomputed, as a writer that holds no key could forge. */
const rehashed = (record: Record<string, unknown>) => {
  const { hash: _h, ...body } = record;
  return canonicalJson({ ...body, hash: hashRecord(body as never) });
};

describe('audit verify refuses a record that is not an authentic audit record', () => {
  const malformed: Array<[string, (r: Record<string, unknown>) => void]> = [
    [
      'a version other than 1',
      (r) => {
        r.v = 2;
      },
    ],
    [
      'a missing member',
      (r) => {
        delete r.kind;
      },
    ],
    [
      'a numeric requestId',
      (r) => {
        r.requestId = 7;
      },
    ],
    [
      'a fractional seq',
      (r) => {
        r.seq = 1.5;
      },
    ],
    [
      'a seq of 0',
      (r) => {
        r.seq = 0;
      },
    ],
    [
      'a numeric time',
      (r) => {
        r.at = 1741078800000;
      },
    ],
    [
      'a time that is not ISO',
      (r) => {
        r.at = 'Tue, 04 Mar 2025 09:00:00 GMT';
      },
    ],
    [
      'a time with text before it',
      (r) => {
        r.at = ` ${r.at}`;
      },
    ],
    [
      'a time with text after it',
      (r) => {
        r.at = `${r.at} UTC`;
      },
    ],
    [
      'a time with ten fraction digits',
      (r) => {
        r.at = '2025-03-04T09:00:00.1234567890Z';
      },
    ],
    [
      'a time held in a list',
      (r) => {
        r.at = [r.at];
      },
    ],
    [
      'a prevHash held in a list',
      (r) => {
        r.prevHash = [r.prevHash];
      },
    ],
    [
      'a hash held in a list',
      (r) => {
        r.hash = [r.hash];
      },
    ],
    [
      'a numeric kind',
      (r) => {
        r.kind = 3;
      },
    ],
    [
      'an actor that is an array',
      (r) => {
        r.actor = [];
      },
    ],
    [
      'an actor that is null',
      (r) => {
        r.actor = null;
      },
    ],
    [
      'a numeric intent hash',
      (r) => {
        r.intentHash = 5;
      },
    ],
    [
      'data that is an array',
      (r) => {
        r.data = [];
      },
    ],
    [
      'a numeric prevHash',
      (r) => {
        r.prevHash = 1;
      },
    ],
    [
      'a prevHash with a character after its 64 hex digits',
      (r) => {
        r.prevHash = `${r.prevHash}0`;
      },
    ],
    [
      'a prevHash with a character before its 64 hex digits',
      (r) => {
        r.prevHash = `0${r.prevHash}`;
      },
    ],
    [
      'a prevHash in upper case',
      (r) => {
        r.prevHash = String(r.prevHash).toUpperCase();
      },
    ],
    [
      'a numeric hash',
      (r) => {
        r.hash = 1;
      },
    ],
    [
      'a hash with a character after its 64 hex digits',
      (r) => {
        r.hash = `${r.hash}0`;
      },
    ],
    [
      'a hash with a character before its 64 hex digits',
      (r) => {
        r.hash = `0${r.hash}`;
      },
    ],
  ];
  it.each(malformed)('refuses %s as not well-formed', (_name, change) => {
    const record = recordObject('req-alpha-0001', 2);
    change(record);
    expect(checkRecordText(JSON.stringify(record))).toEqual({ error: 'is not a well-formed audit record' });
  });

  it('refuses text that is not JSON, not an object, or holds an unexpected member', () => {
    expect(checkRecordText('{"v":1,')).toEqual({ error: 'is not valid JSON' });
    expect(checkRecordText('[]')).toEqual({ error: 'is not a JSON object' });
    expect(checkRecordText('null')).toEqual({ error: 'is not a JSON object' });
    expect(checkRecordText('"record"')).toEqual({ error: 'is not a JSON object' });
    const record = { ...recordObject('req-alpha-0001', 2), approvedBy: 'mallory' };
    expect(checkRecordText(JSON.stringify(record))).toEqual({
      error: 'has an unexpected field "approvedBy"',
    });
  });

  it('accepts an authentic record, also one whose time has no fraction of a second', () => {
    const text = original.get(recordKey('req-alpha-0001', 2))!;
    expect(checkRecordText(text)).toEqual({ record: JSON.parse(text) });
    const whole = rehashed({ ...recordObject('req-alpha-0001', 2), at: '2025-03-04T09:00:05Z' });
    expect(checkRecordText(whole)).toEqual({ record: JSON.parse(whole) });
  });

  it('tells changed bytes of an unchanged record from changed content', () => {
    const text = original.get(recordKey('req-alpha-0001', 2))!;
    const spaced = text.replace('{', '{ ');
    expect(checkRecordText(spaced)).toEqual({ error: 'is not in canonical form (its bytes were changed)' });
    const record = recordObject('req-alpha-0001', 2);
    expect(checkRecordText(JSON.stringify({ hash: record.hash, ...record }))).toEqual({
      error: 'is not in canonical form (its bytes were changed)',
    });
    expect(checkRecordText(JSON.stringify({ ...record, kind: 'approved' }))).toEqual({
      error: 'does not match its hash (content changed)',
    });
  });
});

describe('audit verify refuses a digest that is not what the digest writer signed', () => {
  /** The trail with one digest replaced by `change` of it, re-signed with the real key. */
  const withDigest = async (hour: number, change: (d: Record<string, unknown>) => void, sign = true) => {
    const trail = await loadTrail(memoryTrailSource(original));
    const key = digestKey(hour);
    const digest = JSON.parse(trail.digests.get(key)!) as Digest;
    const body = stripSignature(digest) as unknown as Record<string, unknown>;
    change(body);
    const text = sign
      ? canonicalJson(await signDigest(body as never, keys.signer))
      : canonicalJson({ ...body, digestHash: digest.digestHash, signature: digest.signature });
    trail.digests.set(key, text);
    return { trail, key };
  };
  const problemsOf = (trail: Parameters<typeof verifyTrail>[0]) =>
    verifyTrail(trail, verifyOptions()).problems.map((p) => `${p.category}: ${p.message}`);

  /** Changes members of the digest's first listed record. */
  const listedAs = (d: Record<string, unknown>, change: Record<string, unknown>) => {
    const records = d.records as Record<string, unknown>[];
    records[0] = { ...records[0], ...change };
  };
  /** Changes members of the digest's link to the previous one. */
  const linkAs = (d: Record<string, unknown>, change: Record<string, unknown>) => {
    d.previousDigest = { ...(d.previousDigest as Record<string, unknown>), ...change };
  };
  const malformed: Array<[string, (d: Record<string, unknown>) => void]> = [
    [
      'a version other than 1',
      (d) => {
        d.v = 2;
      },
    ],
    [
      'a numeric periodStart',
      (d) => {
        d.periodStart = 0;
      },
    ],
    [
      'a numeric periodEnd',
      (d) => {
        d.periodEnd = 0;
      },
    ],
    [
      'records that are not a list',
      (d) => {
        d.records = {};
      },
    ],
    [
      'a listed record that is not an object',
      (d) => {
        d.records = ['x'];
      },
    ],
    ['a listed record with a numeric requestId', (d) => listedAs(d, { requestId: 1 })],
    ['a listed record with a fractional seq', (d) => listedAs(d, { seq: 1.5 })],
    ['a listed record with a numeric key', (d) => listedAs(d, { key: 1 })],
    ['a listed record with a numeric hash', (d) => listedAs(d, { hash: 1 })],
    [
      'a recordCount that is text',
      (d) => {
        d.recordCount = String(d.recordCount);
      },
    ],
    [
      'a previous link that is text',
      (d) => {
        d.previousDigest = 'digests/2025/03/04/09.json';
      },
    ],
    [
      'a previous link without a key',
      (d) => {
        delete (d.previousDigest as Record<string, unknown>).key;
      },
    ],
    ['a previous link with a numeric hash', (d) => linkAs(d, { hash: 1 })],
    ['a previous link with a numeric signature', (d) => linkAs(d, { signature: 1 })],
    [
      'a numeric keyId',
      (d) => {
        d.keyId = 1;
      },
    ],
    [
      'another algorithm',
      (d) => {
        d.algorithm = 'RSASSA_PSS_SHA_256';
      },
    ],
    [
      'a numeric signing time',
      (d) => {
        d.signedAt = 1;
      },
    ],
  ];
  it.each(malformed)('refuses %s as not well-formed', async (_name, change) => {
    const { trail, key } = await withDigest(1, change);
    expect(problemsOf(trail)).toContain(`modified: digest ${key} is not a well-formed digest`);
  });

  it('refuses a digest whose digestHash or signature is not text, and a digest that is not JSON', async () => {
    const trail = await loadTrail(memoryTrailSource(original));
    const key = digestKey(1);
    const digest = JSON.parse(trail.digests.get(key)!);
    trail.digests.set(key, canonicalJson({ ...digest, digestHash: 1 }));
    expect(problemsOf(trail)).toContain(`modified: digest ${key} is not a well-formed digest`);
    trail.digests.set(key, canonicalJson({ ...digest, signature: null }));
    expect(problemsOf(trail)).toContain(`modified: digest ${key} is not a well-formed digest`);
    trail.digests.set(key, 'null');
    expect(problemsOf(trail)).toContain(`modified: digest ${key} is not a well-formed digest`);
    trail.digests.set(key, '{"v":1');
    expect(problemsOf(trail)).toContain(`modified: digest ${key} is not valid JSON`);
  });

  it('reports an object under the digests prefix that is not a digest key as extra', async () => {
    const trail = await loadTrail(memoryTrailSource(original));
    trail.digests.set('digests/2025/03/04/10.json.bak', trail.digests.get(digestKey(1))!);
    expect(verifyTrail(trail, verifyOptions()).problems).toEqual([
      {
        category: 'extra',
        key: 'digests/2025/03/04/10.json.bak',
        message: 'digests/2025/03/04/10.json.bak is not a digest key (digests/<yyyy>/<mm>/<dd>/<hh>.json)',
      },
    ]);
  });

  it('reports a signed digest rewritten in another JSON layout as not canonical', async () => {
    const trail = await loadTrail(memoryTrailSource(original));
    const key = digestKey(1);
    trail.digests.set(key, JSON.stringify(JSON.parse(trail.digests.get(key)!), null, 1));
    expect(problemsOf(trail)).toEqual([`modified: digest ${key} is not in canonical form`]);
  });

  it('reports a digest whose stored digestHash is not its content', async () => {
    const { trail, key } = await withDigest(
      1,
      (d) => {
        d.signedAt = '2025-03-04T11:30:00.000Z';
      },
      false,
    );
    const problems = problemsOf(trail);
    expect(problems).toContain(`modified: digest ${key}: digestHash does not match its content`);
    expect(problems).not.toContain(`modified: digest ${key} is not in canonical form`);
  });

  it('reports a validly signed digest that covers another hour than its key as moved', async () => {
    const start = await withDigest(1, (d) => {
      d.periodStart = '2025-03-04T11:00:00.000Z';
    });
    expect(problemsOf(start.trail)).toContain(
      `moved: digest ${start.key} covers 2025-03-04T11:00:00.000Z–2025-03-04T11:00:00.000Z, not its key's hour`,
    );
    const end = await withDigest(1, (d) => {
      d.periodEnd = '2025-03-04T11:00:00.001Z';
    });
    expect(problemsOf(end.trail)).toContain(
      `moved: digest ${end.key} covers 2025-03-04T10:00:00.000Z–2025-03-04T11:00:00.001Z, not its key's hour`,
    );
  });

  it('reports a validly signed digest whose recordCount is not the number it lists', async () => {
    const { trail, key } = await withDigest(3, (d) => {
      d.recordCount = 1;
    });
    expect(problemsOf(trail)).toEqual([`modified: digest ${key}: recordCount 1 but 0 records listed`]);
  });
});
