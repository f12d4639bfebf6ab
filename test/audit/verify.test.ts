/**
 * `audit verify` on the fixture trail built in memory by the real record and
 * digest code (memory-trail.ts; verify-sources.test.ts checks it is the trail
 * the writers store, and runs the tamper corpus on S3 and a directory too).
 * Each case tampers with a copy in memory, so the whole file runs in seconds.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTrail, memoryTrailSource, type TrailSource } from '../../audit/sources.js';
import { checkRecordText, formatReport, verifySource, verifyTrail } from '../../audit/verify.js';
import { hashRecord } from '../../lambdas/shared/audit-record.js';
import { canonicalJson } from '../../lambdas/shared/canonical.js';
import { type Digest, signDigest } from '../../lambdas/shared/digest.js';
import { buildTrail } from './memory-trail.js';
import { digestKey, recordKey, type Store, stripSignature, TAMPER_CORPUS } from './tamper-corpus.js';
import { AFTER_TRAIL, p256, TRAIL_RECORDS } from './trail-script.js';

let keys: ReturnType<typeof p256>;
let original: Map<string, string>;

beforeAll(async () => {
  keys = p256();
  original = await buildTrail(keys.signer);
});

/** A copy of the fixture trail in memory: a store to tamper with and a source reading it. */
function copy(): { store: Store; source: TrailSource; objects: Map<string, string> } {
  const objects = new Map(original);
  return {
    objects,
    source: memoryTrailSource(objects),
    store: {
      get: (key) => objects.get(key)!,
      put: async (key, text) => {
        objects.set(key, text);
      },
      delete: async (key) => {
        objects.delete(key);
      },
    },
  };
}

const verifyOptions = () => ({ publicKeys: [keys.publicKey], now: AFTER_TRAIL });

describe('audit verify on an untampered trail', () => {
  it('passes with a one-line summary', async () => {
    const report = await verifySource(copy().source, verifyOptions());
    expect(report.problems).toEqual([]);
    expect(formatReport(report)).toEqual([
      'OK: 4 digests, 18 records, 5 requests verified from 2025-03-04T09:00:00.000Z to 2025-03-04T13:00:00.000Z',
    ]);
    expect(report.warnings).toEqual([]);
    expect(report.records).toHaveLength(TRAIL_RECORDS);
  });

  it('verifies a sub-range with --from/--to, checking the link to the digest before it', async () => {
    const source = copy().source;
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

describe('tamper corpus', () => {
  it.each(TAMPER_CORPUS)('detects $name', async (testCase) => {
    const { store, source } = copy();
    await testCase.tamper(store, keys.signer);
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
