/**
 * `audit verify` on the fixture trail built in memory by the real record and
 * digest code (memory-trail.ts; verify-sources.test.ts checks it is the trail
 * the writers store, and runs the tamper corpus on S3 and a directory too).
 * Each case tampers with a copy in memory, so the whole file runs in seconds.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTrail, memoryTrailSource, type TrailSource } from '../../audit/sources.js';
import {
  checkRecordText,
  formatReport,
  type VerifyOptions,
  verifySource,
  verifyTrail,
} from '../../audit/verify.js';
import { type AuditRecord, hashRecord } from '../../lambdas/shared/audit-record.js';
import { canonicalJson } from '../../lambdas/shared/canonical.js';
import {
  compareRecordRefs,
  type Digest,
  type DigestBody,
  type DigestRecordRef,
  linkTo,
  signDigest,
} from '../../lambdas/shared/digest.js';
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
    expect(skipped.warnings).toEqual(['digest signatures not checked (no public key given)']);
  });

  it('gives the same report whatever order the store lists its objects in', async () => {
    const reversed = new Map([...original].reverse());
    const report = await verifySource(memoryTrailSource(reversed), verifyOptions());
    expect(formatReport(report)).toEqual([
      'OK: 4 digests, 18 records, 5 requests verified from 2025-03-04T09:00:00.000Z to 2025-03-04T13:00:00.000Z',
    ]);
    expect(report.records).toEqual((await verifySource(copy().source, verifyOptions())).records);
  });

  it('verifies a range after the last digest as empty, up to now', async () => {
    const report = await verifySource(copy().source, {
      ...verifyOptions(),
      from: new Date('2025-03-04T13:00:00Z'),
    });
    expect(formatReport(report)).toEqual([
      'OK: 0 digests, 0 records, 0 requests verified from 2025-03-04T13:00:00.000Z to now',
    ]);
  });

  it('verifies an empty trail (a new deployment) as OK, with no period', async () => {
    const report = await verifySource(memoryTrailSource(new Map()), verifyOptions());
    expect(formatReport(report)).toEqual(['OK: 0 digests, 0 records, 0 requests verified']);
  });

  it('reports a trail without any digest by its records alone, with no period', async () => {
    const { objects } = copy();
    for (let hour = 0; hour < 4; hour++) objects.delete(digestKey(hour));
    const report = verifyTrail(await loadTrail(memoryTrailSource(objects)), verifyOptions());
    expect(report.from).toBeUndefined();
    expect(report.to).toBeUndefined();
    expect(report.digestCount).toBe(0);
    expect(formatReport(report)).toEqual([
      'gap: no digest for 2025-03-04T09:00Z to 2025-03-04T12:00Z: 18 records written then are in no digest, and it is overdue',
      'FAILED: 1 problem in 0 digests, 18 records',
    ]);
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

/** Lines of the problems `audit verify` prints for a trail (key -> text). */
async function problemsOf(objects: Map<string, string>, options: Partial<VerifyOptions> = {}) {
  const trail = await loadTrail(memoryTrailSource(objects));
  return verifyTrail(trail, { ...verifyOptions(), ...options }).problems.map(
    (p) => `${p.category}: ${p.message}`,
  );
}

/**
 * Replaces digest `hour` (0-3) by `change` of it, re-signed with the real key
 * (an insider holding it), and unless told otherwise re-signs every later
 * digest to link to the new one, so the chain of signatures stays whole.
 */
async function resign(
  objects: Map<string, string>,
  hour: number,
  change: (d: DigestBody) => void,
  { rechain = true } = {},
) {
  const key = digestKey(hour);
  const body = stripSignature(JSON.parse(objects.get(key)!) as Digest);
  change(body);
  let previous = { key, digest: await signDigest(body, keys.signer) };
  objects.set(key, canonicalJson(previous.digest));
  for (let next = hour + 1; rechain && next < 4 && objects.has(digestKey(next)); next++) {
    const later = stripSignature(JSON.parse(objects.get(digestKey(next))!) as Digest);
    later.previousDigest = linkTo(previous.key, previous.digest);
    previous = { key: digestKey(next), digest: await signDigest(later, keys.signer) };
    objects.set(previous.key, canonicalJson(previous.digest));
  }
}

/** Replaces a record by `change` of it with its hash recomputed (a writer without any key can do this). */
function rehash(objects: Map<string, string>, key: string, change: (r: AuditRecord) => void) {
  const record = JSON.parse(objects.get(key)!) as AuditRecord;
  change(record);
  const { hash: _h, ...body } = record;
  const forged = { ...body, hash: hashRecord(body) };
  objects.set(key, canonicalJson(forged));
  return forged;
}

const parsedRecord = (objects: Map<string, string>, id: string, seq: number) =>
  JSON.parse(objects.get(recordKey(id, seq))!) as AuditRecord;
const D = (hour: number) => digestKey(hour);
const R = (id: string, seq: number) => recordKey(id, seq);

describe('audit verify catches a digest listing changed by someone holding the signing key', () => {
  it('reports a listing out of order, within a request and across requests', async () => {
    const { objects } = copy();
    await resign(objects, 1, (d) => {
      const [a4, a5] = d.records as [DigestRecordRef, DigestRecordRef];
      d.records[0] = a5;
      d.records[1] = a4;
    });
    expect(await problemsOf(objects)).toEqual([
      `reordered: digest ${D(1)} lists req-alpha-0001 seq 4 out of order`,
    ]);
    const across = copy().objects;
    await resign(across, 1, (d) => {
      d.records.push(d.records.shift()!);
    });
    expect(await problemsOf(across)).toEqual([
      `reordered: digest ${D(1)} lists req-alpha-0001 seq 4 out of order`,
    ]);
  });

  it('reports a record listed twice in one digest', async () => {
    const { objects } = copy();
    await resign(objects, 1, (d) => {
      d.records.splice(1, 0, d.records[0]!);
      d.recordCount = d.records.length;
    });
    expect(await problemsOf(objects)).toEqual([
      `reordered: digest ${D(1)} lists req-alpha-0001 seq 4 out of order`,
      `extra: ${R('req-alpha-0001', 4)} is listed twice (in ${D(1)} and ${D(1)})`,
    ]);
  });

  it('reports a record listed in two digests', async () => {
    const { objects } = copy();
    const alpha6 = (JSON.parse(objects.get(D(1))!) as Digest).records[2]!;
    await resign(objects, 2, (d) => {
      d.records = [...d.records, alpha6].sort(compareRecordRefs);
      d.recordCount = d.records.length;
    });
    expect(await problemsOf(objects)).toEqual([
      `extra: ${R('req-alpha-0001', 6)} is listed twice (in ${D(1)} and ${D(2)})`,
    ]);
  });

  it.each([
    ['a key that is no record key', 'records/2025/03/04/req-alpha-0001/4.json'],
    ["another request's key for the same seq", 'records/2025/03/04/req-zulu-0009/00000004.json'],
    ["the key of the same request's next seq", R('req-alpha-0001', 7)],
  ])('reports a record listed under %s', async (_name, key) => {
    const { objects } = copy();
    await resign(objects, 1, (d) => {
      d.records[0] = { ...d.records[0]!, key };
    });
    expect(await problemsOf(objects)).toEqual([
      `modified: digest ${D(1)} lists req-alpha-0001 seq 4 under the wrong key ${key}`,
      `extra: record ${R('req-alpha-0001', 4)} (written 2025-03-04T10:05:00.000Z) is not listed in ${D(1)}`,
      `missing: record ${key} (request req-alpha-0001 seq 4) is listed in ${D(1)} but absent`,
    ]);
  });

  it('reports a record whose time was rewritten and whose digest lists it for another hour', async () => {
    const { objects } = copy();
    const forged = rehash(objects, R('req-alpha-0001', 6), (r) => {
      r.at = '2025-03-04T11:05:00.000Z';
    });
    await resign(objects, 1, (d) => {
      d.records[2] = { ...d.records[2]!, hash: forged.hash };
    });
    expect(await problemsOf(objects)).toEqual([
      `reordered: record ${R('req-alpha-0001', 6)} written at 2025-03-04T11:05:00.000Z is listed in ${D(1)} for another hour`,
    ]);
  });
});

describe('audit verify catches a digest chain that was cut or relinked', () => {
  it('reports a digest re-signed to start a new chain', async () => {
    const { objects } = copy();
    await resign(objects, 2, (d) => {
      d.previousDigest = null;
    });
    expect(await problemsOf(objects)).toEqual([
      `gap: digest ${D(2)} starts a new chain although ${D(0)} exists before it`,
    ]);
  });

  it("reports a digest re-signed to link past the previous hour's digest", async () => {
    const { objects } = copy();
    const d10 = JSON.parse(objects.get(D(1))!) as Digest;
    await resign(objects, 3, (d) => {
      d.previousDigest = linkTo(D(1), d10);
    });
    expect(await problemsOf(objects)).toEqual([
      `modified: digest ${D(3)} links to ${D(1)} instead of the previous hour's ${D(2)}`,
    ]);
  });

  it('reports a digest linking past a missing hour as that gap only (the writer links to the latest digest it finds)', async () => {
    const { objects } = copy();
    objects.delete(D(2));
    const d10 = JSON.parse(objects.get(D(1))!) as Digest;
    await resign(objects, 3, (d) => {
      d.previousDigest = linkTo(D(1), d10);
    });
    expect(await problemsOf(objects)).toEqual([
      `gap: no digest for 2025-03-04T11:00Z to 2025-03-04T12:00Z (${D(2)} missing); 6 records written then are in no digest`,
    ]);
  });

  it('reports the first digests removed (the chain cut at its start), and the records they listed', async () => {
    const { objects } = copy();
    objects.delete(D(0));
    expect(await problemsOf(objects)).toEqual([
      `gap: digest ${D(0)} is missing (${D(1)} links to it)`,
      `gap: 3 records written 2025-03-04T09:00Z to 2025-03-04T10:00Z, before the first digest ${D(1)}, are in no digest`,
    ]);
  });

  it('reports the chain cut at its start and a digest removed in the middle', async () => {
    const { objects } = copy();
    objects.delete(D(0));
    objects.delete(D(2));
    expect(await problemsOf(objects)).toEqual([
      `gap: digest ${D(0)} is missing (${D(1)} links to it)`,
      `gap: no digest for 2025-03-04T11:00Z to 2025-03-04T12:00Z (${D(2)} missing); 6 records written then are in no digest`,
      `gap: 3 records written 2025-03-04T09:00Z to 2025-03-04T10:00Z, before the first digest ${D(1)}, are in no digest`,
    ]);
  });

  it('reports a first digest that links to a key other than the hour before it', async () => {
    const { objects } = copy();
    objects.delete(D(0));
    await resign(objects, 1, (d) => {
      d.previousDigest = { key: 'digests/2025/03/04/07.json', hash: '0'.repeat(64), signature: 'AA==' };
    });
    const problems = await problemsOf(objects);
    expect(problems[0]).toBe(
      `gap: no digest for the hour before ${D(1)}, which links to digests/2025/03/04/07.json`,
    );
  });

  it('reports the last digest removed (the chain cut at its end) once it is due within --to', async () => {
    const { objects } = copy();
    objects.delete(D(3));
    const to = new Date('2025-03-04T13:00:00Z');
    expect(await problemsOf(objects, { to, now: new Date('2025-03-04T15:00:00Z') })).toEqual([
      `gap: no digest for 2025-03-04T12:00Z to 2025-03-04T13:00Z (${D(3)} missing)`,
    ]);
    // Before its grace has passed the hour's digest is simply not due yet.
    expect(await problemsOf(objects, { to, now: new Date('2025-03-04T14:59:59.999Z') })).toEqual([]);
  });

  it('reports the last digests removed as one run of hours within --to', async () => {
    const { objects } = copy();
    objects.delete(D(3));
    objects.delete(D(2));
    expect(
      await problemsOf(objects, {
        to: new Date('2025-03-04T12:30:00Z'),
        now: new Date('2025-03-04T20:00:00Z'),
      }),
    ).toEqual([
      `gap: no digest for 2025-03-04T11:00Z to 2025-03-04T13:00Z (2 hours from ${D(2)} missing); 6 records written then are in no digest`,
    ]);
  });

  it('reports every hour of the range as a gap when every digest was removed', async () => {
    const { objects } = copy();
    for (let hour = 0; hour < 4; hour++) objects.delete(D(hour));
    const range = { from: new Date('2025-03-04T09:00:00Z'), to: new Date('2025-03-04T13:00:00Z') };
    expect(await problemsOf(objects, { ...range, now: new Date('2025-03-04T15:00:00Z') })).toEqual([
      `gap: no digest for 2025-03-04T09:00Z to 2025-03-04T13:00Z (4 hours from ${D(0)} missing); 18 records written then are in no digest`,
    ]);
    // No hour from --to on is a gap, however late the verifier runs.
    expect(await problemsOf(objects, { ...range, now: new Date('2025-03-05T09:00:00Z') })).toEqual([
      `gap: no digest for 2025-03-04T09:00Z to 2025-03-04T13:00Z (4 hours from ${D(0)} missing); 18 records written then are in no digest`,
    ]);
    // Hours whose digest is not due yet are no gap: at 14:30 the 12:00 digest has until 15:00.
    expect(await problemsOf(objects, range)).toEqual([
      `gap: no digest for 2025-03-04T09:00Z to 2025-03-04T12:00Z (3 hours from ${D(0)} missing); 18 records written then are in no digest`,
    ]);
    expect(await problemsOf(objects, { ...range, now: new Date('2025-03-04T13:00:00Z') })).toEqual([
      `gap: no digest for 2025-03-04T09:00Z to 2025-03-04T11:00Z (2 hours from ${D(0)} missing); 12 records written then are in no digest`,
    ]);
  });

  it('reports two separate runs of missing digests as two gaps', async () => {
    const { objects } = copy();
    objects.delete(D(0));
    objects.delete(D(2));
    const problems = await problemsOf(objects, { from: new Date('2025-03-04T09:00:00Z') });
    expect(problems).toEqual([
      `gap: digest ${D(0)} is missing (${D(1)} links to it)`,
      `gap: no digest for 2025-03-04T09:00Z to 2025-03-04T10:00Z (${D(0)} missing); 3 records written then are in no digest`,
      `gap: no digest for 2025-03-04T11:00Z to 2025-03-04T12:00Z (${D(2)} missing); 6 records written then are in no digest`,
    ]);
  });

  it('does not count the hours before the chain began as a gap', async () => {
    const report = verifyTrail(await loadTrail(copy().source), {
      ...verifyOptions(),
      from: new Date('2025-03-04T07:00:00Z'),
    });
    expect(report.problems).toEqual([]);
    expect(report.from).toBe('2025-03-04T07:00:00.000Z');
  });
});

describe('audit verify of a range (--from/--to)', () => {
  it('reports a changed digest before the range once, as the broken link to it', async () => {
    const { objects } = copy();
    await resign(
      objects,
      0,
      (d) => {
        d.recordCount = 4;
      },
      { rechain: false },
    );
    expect(await problemsOf(objects)).toEqual([
      `modified: digest ${D(0)}: recordCount 4 but 3 records listed`,
      `modified: digest ${D(0)} differs from the version ${D(1)} was chained to`,
    ]);
    expect(await problemsOf(objects, { from: new Date('2025-03-04T10:30:00Z') })).toEqual([
      `modified: digest ${D(0)} differs from the version ${D(1)} was chained to`,
    ]);
  });

  it('does not check digests from --to on', async () => {
    const { objects } = copy();
    const other = p256();
    const d12 = JSON.parse(objects.get(D(3))!) as Digest;
    objects.set(D(3), canonicalJson(await signDigest(stripSignature(d12), other.signer)));
    expect(await problemsOf(objects, { to: new Date('2025-03-04T12:00:00Z') })).toEqual([]);
    expect(await problemsOf(objects)).toEqual([
      `bad-signature: digest ${D(3)} (keyId ${d12.keyId}) does not verify with the given public key`,
    ]);
    // A digest before --to is checked (and its link from the digest after --to is not).
    const d11 = JSON.parse(objects.get(D(2))!) as Digest;
    objects.set(D(2), canonicalJson(await signDigest(stripSignature(d11), other.signer)));
    expect(await problemsOf(objects, { to: new Date('2025-03-04T12:00:00Z') })).toEqual([
      `bad-signature: digest ${D(2)} (keyId ${d11.keyId}) does not verify with the given public key`,
    ]);
  });

  it('reports a missing digest before the range when the first digest in it links to it', async () => {
    const { objects } = copy();
    objects.delete(D(0));
    const report = verifyTrail(await loadTrail(memoryTrailSource(objects)), {
      ...verifyOptions(),
      from: new Date('2025-03-04T10:00:00Z'),
    });
    expect(report.problems.map((p) => `${p.category}: ${p.message}`)).toEqual([
      `gap: digest ${D(0)} is missing (${D(1)} links to it)`,
    ]);
    expect(report.problems[0]!.key).toBe(D(0));
  });

  it('returns the authentic records of the range by request then seq, and counts only them', async () => {
    const report = verifyTrail(await loadTrail(copy().source), {
      ...verifyOptions(),
      from: new Date('2025-03-04T11:00:00Z'),
      to: new Date('2025-03-04T12:00:00Z'),
    });
    expect(report.problems).toEqual([]);
    expect(report.records.map((r) => `${r.requestId}#${r.seq}`)).toEqual([
      'invalid-evt-0004#1',
      'invalid-evt-0004#2',
      'req-charlie-0003#4',
      'req-echo-0005#1',
      'req-echo-0005#2',
      'req-echo-0005#3',
    ]);
    expect(report).toMatchObject({
      digestCount: 1,
      recordCount: 6,
      requestCount: 3,
      from: '2025-03-04T11:00:00.000Z',
      to: '2025-03-04T12:00:00.000Z',
    });
  });
});

describe('audit verify catches records removed, copied or rewritten before their digest', () => {
  /** The trail before hours 11 and 12 were digested, verified at 12:30 (their records pending). */
  const undigested = () => {
    const { objects } = copy();
    objects.delete(D(2));
    objects.delete(D(3));
    return objects;
  };
  const early = { now: new Date('2025-03-04T12:30:00Z') };

  it('reports a pending record removed from the middle of its chain', async () => {
    const objects = undigested();
    objects.delete(R('invalid-evt-0004', 1));
    expect(await problemsOf(objects, early)).toEqual([
      'missing: request invalid-evt-0004: seq 1 is absent (the chain runs to seq 2)',
    ]);
  });

  it('reports a pending record rewritten with a recomputed hash: the next record no longer links to it', async () => {
    const objects = undigested();
    rehash(objects, R('req-echo-0005', 2), (r) => {
      r.data = { outcome: 'allow' };
    });
    expect(await problemsOf(objects, early)).toEqual([
      `modified: request req-echo-0005: seq 3 (${R('req-echo-0005', 3)}) does not link to seq 2`,
    ]);
  });

  it('reports a pending chain relinked to skip a record as reordered', async () => {
    const objects = undigested();
    const first = parsedRecord(objects, 'req-echo-0005', 1);
    rehash(objects, R('req-echo-0005', 3), (r) => {
      r.prevHash = first.hash;
    });
    expect(await problemsOf(objects, early)).toEqual([
      `reordered: request req-echo-0005: seq 3 (${R('req-echo-0005', 3)}) does not link to seq 2`,
    ]);
  });

  it('reports a first record that does not start from the genesis hash', async () => {
    const objects = undigested();
    const third = parsedRecord(objects, 'req-echo-0005', 3);
    rehash(objects, R('req-echo-0005', 1), (r) => {
      r.prevHash = third.hash;
    });
    expect(await problemsOf(objects, early)).toEqual([
      `modified: request req-echo-0005: seq 1 (${R('req-echo-0005', 1)}) does not link to the genesis hash`,
      `modified: request req-echo-0005: seq 2 (${R('req-echo-0005', 2)}) does not link to seq 1`,
    ]);
  });

  it('reports a copy of a record under another day as not listed', async () => {
    const { objects } = copy();
    const copyKey = 'records/2025/03/05/req-alpha-0001/00000002.json';
    objects.set(copyKey, objects.get(R('req-alpha-0001', 2))!);
    expect(await problemsOf(objects)).toEqual([
      `extra: record ${copyKey} (written 2025-03-04T09:50:00.100Z) is not listed in ${D(0)}`,
    ]);
  });

  it("reports a record moved under another day's prefix: missing where listed, unlisted where it is, its chain split", async () => {
    const { objects } = copy();
    const movedKey = 'records/2025/03/05/req-alpha-0001/00000002.json';
    objects.set(movedKey, objects.get(R('req-alpha-0001', 2))!);
    objects.delete(R('req-alpha-0001', 2));
    expect(await problemsOf(objects)).toEqual([
      `extra: record ${movedKey} (written 2025-03-04T09:50:00.100Z) is not listed in ${D(0)}`,
      `missing: record ${R('req-alpha-0001', 2)} (request req-alpha-0001 seq 2) is listed in ${D(0)} but absent`,
      'moved: request req-alpha-0001 has records under 2 day prefixes (2025-03-04, 2025-03-05)',
    ]);
  });

  it('reports a second, different record with the same seq', async () => {
    const { objects } = copy();
    const forgedKey = 'records/2025/03/05/req-alpha-0001/00000002.json';
    objects.set(forgedKey, objects.get(R('req-alpha-0001', 2))!);
    rehash(objects, forgedKey, (r) => {
      r.data = { outcome: 'allow' };
    });
    expect(await problemsOf(objects)).toEqual([
      `extra: request req-alpha-0001 has two different records with seq 2 (${R('req-alpha-0001', 2)}, ${forgedKey})`,
      `extra: record ${forgedKey} (written 2025-03-04T09:50:00.100Z) is not listed in ${D(0)}`,
    ]);
  });

  it('reports an object under the records prefix that is not a record key as extra', async () => {
    const { objects } = copy();
    const key = 'records/2025/03/04/req-alpha-0001/00000002.json.bak';
    objects.set(key, objects.get(R('req-alpha-0001', 2))!);
    const report = verifyTrail(await loadTrail(memoryTrailSource(objects)), verifyOptions());
    expect(report.problems).toEqual([
      {
        category: 'extra',
        key,
        message: `${key} is not an audit record key (records/<yyyy>/<mm>/<dd>/<requestId>/<seq>.json)`,
      },
    ]);
    expect(formatReport(report)).toEqual([
      `extra: ${key} is not an audit record key (records/<yyyy>/<mm>/<dd>/<requestId>/<seq>.json)`,
      'FAILED: 1 problem in 4 digests, 18 records',
    ]);
  });
});

describe('audit verify tells a record waiting for its digest from an overdue one', () => {
  const undigested = () => {
    const { objects } = copy();
    objects.delete(D(2));
    objects.delete(D(3));
    return objects;
  };

  it('counts a record pending until its hour ended a grace period ago, then overdue', async () => {
    const trail = await loadTrail(memoryTrailSource(undigested()));
    const at = (now: string, graceMs?: number) =>
      verifyTrail(trail, { ...verifyOptions(), now: new Date(now), ...(graceMs ? { graceMs } : {}) });
    expect(at('2025-03-04T13:59:59.999Z').pendingCount).toBe(6);
    expect(at('2025-03-04T13:59:59.999Z').ok).toBe(true);
    const due = at('2025-03-04T14:00:00.000Z');
    expect(due.pendingCount).toBe(0);
    expect(due.problems.map((p) => p.category)).toEqual(['gap']);
    expect(at('2025-03-04T12:59:59.999Z', 3_600_000).pendingCount).toBe(6);
    expect(at('2025-03-04T13:00:00.000Z', 3_600_000).pendingCount).toBe(0);
  });

  it('counts pending records per run of hours, and reports the overdue hours of a run apart', async () => {
    const objects = undigested();
    objects.delete(D(1));
    // Listed newest first, so the hours are met out of order.
    const trail = await loadTrail(memoryTrailSource(new Map([...objects].reverse())));
    const soon = verifyTrail(trail, { ...verifyOptions(), now: new Date('2025-03-04T12:30:00Z') });
    expect(soon.problems).toEqual([]);
    expect(soon.warnings).toEqual([
      'pending: 15 records written 2025-03-04T10:00Z to 2025-03-04T12:00Z are not yet in a digest (not due yet)',
    ]);
    const report = verifyTrail(trail, { ...verifyOptions(), now: new Date('2025-03-04T13:30:00Z') });
    expect(report.problems).toEqual([
      {
        category: 'gap',
        key: D(1),
        message: `no digest for 2025-03-04T10:00Z to 2025-03-04T11:00Z: 9 records written then are in no digest, and it is overdue`,
      },
    ]);
    expect(report.warnings).toEqual([
      'pending: 6 records written 2025-03-04T11:00Z to 2025-03-04T12:00Z are not yet in a digest (not due yet)',
    ]);
    expect(report.pendingCount).toBe(6);
  });
});

describe('audit verify reports each tampering once, with nothing else', () => {
  const exactly = async (tamper: (store: Store) => Promise<void>) => {
    const { store, objects } = copy();
    await tamper(store);
    return problemsOf(objects);
  };

  it('a flipped byte: the record is modified, its chain is not reported broken around it', async () => {
    const key = R('req-alpha-0001', 3);
    const problems = await exactly(async (store) => {
      await store.put(key, store.get(key).replace('reviewers-notified', 'reviewers-notifiee'));
    });
    expect(problems).toEqual([`modified: record ${key} does not match its hash (content changed)`]);
  });

  it('a deleted record: missing where it is listed, not again as a hole in its chain', async () => {
    const key = R('req-bravo-0002', 2);
    expect(await exactly((store) => store.delete(key))).toEqual([
      `missing: record ${key} (request req-bravo-0002 seq 2) is listed in ${D(1)} but absent`,
    ]);
  });

  it("a record replaced by another request's record: moved, not also a hole or an unlisted record", async () => {
    const key = R('req-charlie-0003', 3);
    expect(
      await exactly(async (store) => {
        await store.put(key, store.get(R('req-bravo-0002', 2)));
      }),
    ).toEqual([
      `moved: record ${key} in request req-charlie-0003's chain holds seq 2 of request req-bravo-0002`,
    ]);
  });

  it('a record overwritten by the next one of its chain: reordered, not also a hole or a changed listing', async () => {
    const key = R('req-alpha-0001', 2);
    expect(
      await exactly(async (store) => {
        await store.put(key, store.get(R('req-alpha-0001', 3)));
      }),
    ).toEqual([`reordered: record ${key} holds seq 3 of its request, not seq 2`]);
  });

  it('a middle digest removed: one gap for its hour', async () => {
    expect(await exactly((store) => store.delete(D(2)))).toEqual([
      `gap: no digest for 2025-03-04T11:00Z to 2025-03-04T12:00Z (${D(2)} missing); 6 records written then are in no digest`,
    ]);
  });

  it('a digest listing forged without the key: bad signature, and the next digest chained to another version', async () => {
    const { objects } = copy();
    const digest = JSON.parse(objects.get(D(1))!) as Digest;
    const records = digest.records.slice(1);
    objects.set(
      D(1),
      canonicalJson(
        await signDigest(
          { ...stripSignature(digest), records, recordCount: records.length },
          { keyId: digest.keyId, sign: async () => Buffer.from(digest.signature, 'base64') },
        ),
      ),
    );
    expect(await problemsOf(objects)).toEqual([
      `bad-signature: digest ${D(1)} (keyId ${digest.keyId}) does not verify with the given public key`,
      `modified: digest ${D(1)} differs from the version ${D(2)} was chained to`,
      `extra: record ${R('req-alpha-0001', 4)} (written 2025-03-04T10:05:00.000Z) is not listed in ${D(1)}`,
    ]);
  });

  it('a digest re-signed over the same content: the next digest was chained to another signature', async () => {
    const { objects } = copy();
    const digest = JSON.parse(objects.get(D(1))!) as Digest;
    objects.set(D(1), canonicalJson(await signDigest(stripSignature(digest), keys.signer)));
    expect(await problemsOf(objects)).toEqual([
      `modified: digest ${D(1)} differs from the version ${D(2)} was chained to`,
    ]);
  });

  it('a digest checked from the first hour of the range', async () => {
    const { objects } = copy();
    const other = p256();
    const digest = JSON.parse(objects.get(D(1))!) as Digest;
    objects.set(D(1), canonicalJson(await signDigest(stripSignature(digest), other.signer)));
    expect(await problemsOf(objects, { from: new Date('2025-03-04T10:00:00Z') })).toContain(
      `bad-signature: digest ${D(1)} (keyId ${digest.keyId}) does not verify with the given public key`,
    );
  });
});

describe('audit verify of a range counts a record by its time, in [from, to)', () => {
  /** The trail before hours 11 and 12 were digested, its last record rewritten to 12:00:00.000 exactly. */
  const atTheHour = () => {
    const { objects } = copy();
    objects.delete(D(2));
    objects.delete(D(3));
    rehash(objects, R('req-echo-0005', 3), (r) => {
      r.at = '2025-03-04T12:00:00.000Z';
    });
    return objects;
  };
  const now = new Date('2025-03-04T12:30:00Z');

  it('includes a record written exactly at --from', async () => {
    const report = verifyTrail(await loadTrail(memoryTrailSource(atTheHour())), {
      ...verifyOptions(),
      now,
      from: new Date('2025-03-04T12:00:00Z'),
    });
    expect(report.recordCount).toBe(1);
    expect(report.records.map((r) => `${r.requestId}#${r.seq}`)).toEqual(['req-echo-0005#3']);
  });

  it('excludes a record written exactly at --to', async () => {
    const report = verifyTrail(await loadTrail(memoryTrailSource(atTheHour())), {
      ...verifyOptions(),
      now,
      from: new Date('2025-03-04T11:00:00Z'),
      to: new Date('2025-03-04T12:00:00Z'),
    });
    expect(report.recordCount).toBe(5);
    expect(report.records.map((r) => `${r.requestId}#${r.seq}`)).not.toContain('req-echo-0005#3');
  });
});

describe('audit verify names each problem by the object it is about', () => {
  it("a record moved into another request's chain under another day: moved where it is, missing where it was listed", async () => {
    const { objects } = copy();
    const to = 'records/2025/03/05/req-charlie-0003/00000005.json';
    objects.set(to, objects.get(R('req-bravo-0002', 2))!);
    objects.delete(R('req-bravo-0002', 2));
    const report = verifyTrail(await loadTrail(memoryTrailSource(objects)), verifyOptions());
    expect(formatReport(report)).toEqual([
      `moved: record ${to} in request req-charlie-0003's chain holds seq 2 of request req-bravo-0002`,
      `missing: record ${R('req-bravo-0002', 2)} (request req-bravo-0002 seq 2) is listed in ${D(1)} but absent`,
      'FAILED: 2 problems in 4 digests, 18 records',
    ]);
  });

  it('a broken link is reported at the record that sits where it belongs, not at a misplaced copy of it', async () => {
    const { objects } = copy();
    // A copy of seq 5 under an earlier day, in seq 4's place, listed before the real one.
    const misplaced = 'records/2025/03/03/req-alpha-0001/00000004.json';
    const tampered = new Map([[misplaced, objects.get(R('req-alpha-0001', 5))!], ...objects]);
    rehash(tampered, R('req-alpha-0001', 4), (r) => {
      r.data = { vote: 'deny' };
    });
    expect(await problemsOf(tampered)).toEqual([
      `reordered: record ${misplaced} holds seq 5 of its request, not seq 4`,
      `modified: record ${R('req-alpha-0001', 4)} is not the record ${D(1)} lists (hash differs)`,
      `modified: request req-alpha-0001: seq 5 (${R('req-alpha-0001', 5)}) does not link to seq 4`,
    ]);
  });
});
