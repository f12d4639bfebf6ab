/**
 * The tamper corpus of `audit verify`: the classes of tampering an auditor
 * relies on being caught, each as a change to a copy of the fixture trail and
 * the problem line it must produce. Run on an in-memory trail by
 * `verify.test.ts` and on an S3 bucket and a directory by
 * `verify-sources.test.ts`.
 */
import { auditObjectKey, hashRecord } from '../../lambdas/shared/audit-record.js';
import { canonicalJson } from '../../lambdas/shared/canonical.js';
import {
  type Digest,
  type DigestSigner,
  digestObjectKey,
  localSigner,
  signDigest,
} from '../../lambdas/shared/digest.js';
import { p256, TRAIL_HOURS, trailScript } from './trail-script.js';

/** A mutable view of a trail copy, on whichever medium the case runs. */
export interface Store {
  get(key: string): string;
  put(key: string, text: string): Promise<void>;
  delete(key: string): Promise<void>;
}

const request = (id: string) => trailScript().find((r) => r.requestId === id)!;
/** The key of the fixture's record `seq` of request `id`. */
export const recordKey = (id: string, seq: number) => auditObjectKey(request(id).createdAt, id, seq);
/** The key of the fixture's digest of hour `hour` (0-3). */
export const digestKey = (hour: number) => digestObjectKey(new Date(TRAIL_HOURS[hour]!));

/** A digest's signed body: the digest without `digestHash` and `signature`. */
export function stripSignature(digest: Digest) {
  const { digestHash: _h, signature: _s, ...body } = digest;
  return body;
}

/** One way to tamper with a trail, and the line `audit verify` must print for it. */
export interface TamperCase {
  name: string;
  /** `signer` is the trail's real digest key, for a digest rewritten by someone who holds it. */
  tamper: (store: Store, signer: DigestSigner) => Promise<void>;
  expect: RegExp;
}

/** The tamper corpus: each case tampers with a fresh copy and names the line it must produce. */
export const TAMPER_CORPUS: TamperCase[] = [
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
      await store.put(key, canonicalJson({ ...body, hash: hashRecord(body) }));
    },
    expect:
      /^modified: record records\/2025\/03\/04\/req-alpha-0001\/00000005\.json is not the record digests\/2025\/03\/04\/10\.json lists/m,
  },
  {
    name: 'an extra record appended to a chain after its hour was digested',
    tamper: async (store) => {
      const last = JSON.parse(store.get(recordKey('req-bravo-0002', 3)));
      const body = { ...last, seq: 4, at: '2025-03-04T10:59:00.000Z', kind: 'modified', prevHash: last.hash };
      delete body.hash;
      await store.put(recordKey('req-bravo-0002', 4), canonicalJson({ ...body, hash: hashRecord(body) }));
    },
    expect:
      /^extra: record records\/2025\/03\/04\/req-bravo-0002\/00000004\.json \(written 2025-03-04T10:59:00\.000Z\) is not listed in digests\/2025\/03\/04\/10\.json$/m,
  },
  {
    name: 'a digest rewritten and re-signed with the real key (next link breaks)',
    tamper: async (store, signer) => {
      const key = digestKey(2);
      const digest = JSON.parse(store.get(key)) as Digest;
      const resigned = await signDigest(
        { ...stripSignature(digest), signedAt: '2025-03-04T13:59:00.000Z' },
        signer,
      );
      await store.put(key, canonicalJson(resigned));
    },
    expect:
      /^modified: digest digests\/2025\/03\/04\/11\.json differs from the version digests\/2025\/03\/04\/12\.json was chained to$/m,
  },
];
