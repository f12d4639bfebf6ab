/** The digest writer on dynalite + s3rver, and the digest format's signing helpers. */
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { QueryCommand as RawQueryCommand } from '@aws-sdk/client-dynamodb';
import type { SignCommand } from '@aws-sdk/client-kms';
import { GetObjectCommand, PutObjectCommand, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { PutCommand, type QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsBetween, duePeriod, writeDigest, writeDueDigests } from '../../lambdas/digest/core.js';
import {
  AUDIT_HOUR_INDEX,
  AUDIT_HOUR_SHARDS,
  appendAudit,
  auditHourKey,
  auditHourKeys,
  auditSortKey,
  hashRecord,
} from '../../lambdas/shared/audit.js';
import {
  computeDigestHash,
  type Digest,
  digestObjectKey,
  digestSigningInput,
  kmsSigner,
  loadPublicKey,
  parseDigestObjectKey,
  verifyDigestSignature,
} from '../../lambdas/shared/digest.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';
import { p256, snapshotBucket, TRAIL_HOURS, testClock, writeTrail } from './trail-fixture.js';

let aws: LocalAws;
let keys: ReturnType<typeof p256>;
let deps: Awaited<ReturnType<typeof writeTrail>>['deps'];
let clock: Awaited<ReturnType<typeof writeTrail>>['clock'];

beforeAll(async () => {
  aws = await startLocalAws({ table: 'countersign-digest-test', bucket: 'countersign-digest-test' });
  keys = p256();
  ({ deps, clock } = await writeTrail(aws, keys.signer));
});
afterAll(async () => aws?.close());

async function readDigest(hour: string): Promise<Digest> {
  const out = await aws.s3.send(
    new GetObjectCommand({ Bucket: aws.bucket, Key: digestObjectKey(new Date(hour)) }),
  );
  return JSON.parse(await out.Body!.transformToString('utf8')) as Digest;
}

describe('writeDigest', () => {
  it('lists every record of the hour, sorted by request then seq, with key and hash', async () => {
    const digest = await readDigest(TRAIL_HOURS[1]!);
    expect(digest.periodStart).toBe('2025-03-04T10:00:00.000Z');
    expect(digest.periodEnd).toBe('2025-03-04T11:00:00.000Z');
    expect(digest.recordCount).toBe(9);
    expect(digest.records.map((r) => `${r.requestId}#${r.seq}`)).toEqual([
      'req-alpha-0001#4',
      'req-alpha-0001#5',
      'req-alpha-0001#6',
      'req-bravo-0002#1',
      'req-bravo-0002#2',
      'req-bravo-0002#3',
      'req-charlie-0003#1',
      'req-charlie-0003#2',
      'req-charlie-0003#3',
    ]);
    expect(digest.records[0]!.key).toBe('records/2025/03/04/req-alpha-0001/00000004.json');
    const record = await aws.s3.send(
      new GetObjectCommand({ Bucket: aws.bucket, Key: digest.records[0]!.key }),
    );
    expect(JSON.parse(await record.Body!.transformToString('utf8')).hash).toBe(digest.records[0]!.hash);
    expect(digest.algorithm).toBe('ECDSA_SHA_256');
    expect(digest.keyId).toBe(keys.signer.keyId);
  });

  it('gives an empty period a digest', async () => {
    const digest = await readDigest(TRAIL_HOURS[3]!);
    expect(digest.records).toEqual([]);
    expect(digest.recordCount).toBe(0);
    expect(verifyDigestSignature(digest, [keys.publicKey])).toBe(true);
  });

  it('chains each digest to the previous hour by key, recomputed hash and signature; the first links to null', async () => {
    const digests = await Promise.all(TRAIL_HOURS.map(readDigest));
    expect(digests[0]!.previousDigest).toBeNull();
    for (let i = 1; i < digests.length; i++) {
      expect(digests[i]!.previousDigest).toEqual({
        key: digestObjectKey(new Date(TRAIL_HOURS[i - 1]!)),
        hash: computeDigestHash(digests[i - 1]!),
        signature: digests[i - 1]!.signature,
      });
    }
  });

  it('stores canonical JSON whose signature covers the body without digestHash and signature', async () => {
    const digest = await readDigest(TRAIL_HOURS[2]!);
    const input = digestSigningInput(digest);
    expect(Object.keys(JSON.parse(input))).not.toContain('signature');
    expect(Object.keys(JSON.parse(input))).not.toContain('digestHash');
    expect(digest.digestHash).toBe(createHash('sha256').update(input).digest('hex'));
    expect(
      verify(
        'sha256',
        Buffer.from(input),
        { key: keys.publicKey, dsaEncoding: 'der' },
        Buffer.from(digest.signature, 'base64'),
      ),
    ).toBe(true);
  });

  it('is idempotent: a rerun returns the stored digest and changes nothing, even after a late record', async () => {
    const before = await snapshotBucket(aws.s3, aws.bucket);
    clock.set('2025-03-04T10:59:59.000Z');
    // A record landing in an already digested hour (what the settle time prevents) must not fork the digest.
    await appendAudit(
      deps,
      { requestId: 'req-late-0009', createdAt: '2025-03-04T10:59:59.000Z' },
      {
        kind: 'requested',
        actor: { type: 'system', component: 'test' },
        intentHash: 'sha256:late',
        data: {},
      },
    );
    clock.set('2025-03-04T15:00:00.000Z');
    const again = await writeDigest(deps, new Date(TRAIL_HOURS[1]!));
    expect(again.status).toBe('exists');
    expect(again.digest).toEqual(await readDigest(TRAIL_HOURS[1]!));
    const after = await snapshotBucket(aws.s3, aws.bucket);
    for (const [key, text] of before) expect(after.get(key)).toBe(text);
  });

  it('refuses a period that has not ended, or is not a whole hour', async () => {
    clock.set('2025-03-04T13:30:00.000Z');
    await expect(writeDigest(deps, new Date('2025-03-04T13:00:00Z'))).rejects.toThrow(/has not ended yet/);
    await expect(writeDigest(deps, new Date('2025-03-04T12:30:00Z'))).rejects.toThrow(/whole UTC hour/);
  });

  it('writes with COMPLIANCE retention, a SHA-256 checksum, If-None-Match, and a legal hold when switched on', async () => {
    const sent: PutObjectCommandInput[] = [];
    const s3 = {
      send: async (command: unknown) => {
        if (command instanceof PutObjectCommand) sent.push(command.input);
        return aws.s3.send(command as never);
      },
    } as unknown as typeof aws.s3;
    const local = testClock('2025-03-05T02:00:00.000Z');
    await writeDigest(
      { ...deps, s3, now: local.now, retentionDays: 30, legalHold: true },
      new Date('2025-03-05T00:00:00Z'),
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      Key: 'digests/2025/03/05/00.json',
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: new Date('2025-04-04T02:00:00.000Z'),
      ObjectLockLegalHoldStatus: 'ON',
      IfNoneMatch: '*',
      ContentType: 'application/json',
    });
    expect(sent[0]!.ChecksumSHA256).toBe(createHash('sha256').update(String(sent[0]!.Body)).digest('base64'));
  });
});

describe('the byAuditHour shards', () => {
  it('a record\u2019s key is its hour and one of the shards, drawn whatever the request', () => {
    const at = '2026-12-02T17:42:05.000Z';
    // The same request (the agent names it) does not choose a shard: its records spread too.
    const keys = Array.from({ length: 400 }, () => auditHourKey(at));
    expect(new Set(keys)).toEqual(new Set(auditHourKeys('2026-12-02T17').slice(1)));
    for (const key of keys) expect(key).toMatch(/^2026-12-02T17#[0-7]$/);
    expect(auditHourKey('2026-12-02T18:00:00.000Z')).toMatch(/^2026-12-02T18#[0-7]$/);
    expect(auditHourKeys('2026-12-02T17')).toEqual([
      '2026-12-02T17',
      ...Array.from({ length: AUDIT_HOUR_SHARDS }, (_, n) => `2026-12-02T17#${n}`),
    ]);
  });

  it('appended records are under the shards of their hour, none under the bare hour', async () => {
    const query = (key: string) =>
      aws.ddb.send(
        new RawQueryCommand({
          TableName: aws.table,
          IndexName: AUDIT_HOUR_INDEX,
          KeyConditionExpression: 'auditHour = :key',
          ExpressionAttributeValues: { ':key': { S: key } },
        }),
      );
    const [bare, ...shards] = await Promise.all(auditHourKeys('2025-03-04T10').map(query));
    expect(bare!.Items ?? []).toEqual([]);
    const bravo = shards
      .flatMap((out) => out.Items ?? [])
      .filter((item) => item.pk?.S === 'REQUEST#req-bravo-0002')
      .map((item) => item.seq?.N)
      .sort();
    expect(bravo).toEqual(['1', '2', '3']);
  });

  it('the digest also lists a record written before the index was sharded (under the bare hour)', async () => {
    // Prepare: a row as an earlier version wrote it, in an hour nothing else wrote to.
    const hour = '2025-03-05T08';
    const at = `${hour}:15:00.000Z`;
    const record = { kind: 'requested', at, seq: 1 };
    await aws.ddb.send(
      new PutCommand({
        TableName: aws.table,
        Item: {
          pk: 'REQUEST#req-legacy-0001',
          sk: auditSortKey(1),
          seq: 1,
          kind: 'requested',
          at,
          hash: hashRecord(record as never),
          record: JSON.stringify(record),
          objectKey: 'records/2025/03/05/req-legacy-0001/00000001.json',
          auditHour: hour,
          auditSort: `${at}#req-legacy-0001#00000001`,
        },
      }),
    );
    // Act
    const result = await writeDigest(
      { ...deps, now: testClock('2025-03-05T09:10:00.000Z').now },
      new Date(`${hour}:00:00Z`),
    );
    // Assess
    expect(result.digest.records).toEqual([
      {
        requestId: 'req-legacy-0001',
        seq: 1,
        key: 'records/2025/03/05/req-legacy-0001/00000001.json',
        hash: hashRecord(record as never),
      },
    ]);
    expect(result.anomalies).toEqual([]);
  });

  it('reads every page of every shard and of the bare hour', async () => {
    // Prepare: a table answering two pages for shard 3 and the bare hour, one for the others.
    const asked: string[] = [];
    const send = async (command: QueryCommand) => {
      const input = command.input;
      const key = String(input.ExpressionAttributeValues?.[':hour']);
      const page = input.ExclusiveStartKey ? 2 : 1;
      asked.push(`${key} page ${page}`);
      const paged = key === '2025-03-06T01#3' || key === '2025-03-06T01';
      return {
        Items: [{ pk: `${key}/${page}`, at: '2025-03-06T01:30:00.000Z' }],
        ...(paged && page === 1 ? { LastEvaluatedKey: { pk: 'next' } } : {}),
      };
    };
    // Act
    const rows = [];
    for await (const row of auditRowsBetween(
      { ddb: { send } as never, table: 't' },
      new Date('2025-03-06T01:00:00Z'),
      new Date('2025-03-06T02:00:00Z'),
    ))
      rows.push(row.pk);
    // Assess
    const keys = auditHourKeys('2025-03-06T01');
    expect(rows).toEqual(
      keys.flatMap((key) =>
        key === '2025-03-06T01#3' || key === '2025-03-06T01' ? [`${key}/1`, `${key}/2`] : [`${key}/1`],
      ),
    );
    expect(asked).toHaveLength(keys.length + 2);
  });
});

describe('writeDueDigests (the scheduled run)', () => {
  it('digests the latest hour that ended at least the settle time ago', () => {
    expect(duePeriod(new Date('2025-03-04T10:00:03Z')).toISOString()).toBe('2025-03-04T08:00:00.000Z');
    expect(duePeriod(new Date('2025-03-04T10:06:00Z')).toISOString()).toBe('2025-03-04T09:00:00.000Z');
  });

  it('reports a gap when the previous digest is missing, linking to the latest one', async () => {
    const local = testClock('2025-03-05T05:00:00.000Z');
    // 2025-03-05T00 exists (previous test); 01 is missing.
    const result = await writeDigest({ ...deps, now: local.now }, new Date('2025-03-05T02:00:00Z'));
    expect(result.status).toBe('written');
    expect(result.gapBefore).toBe('digests/2025/03/05/01.json');
    expect(result.digest.previousDigest?.key).toBe('digests/2025/03/05/00.json');
  });

  it('catches up on missed hours in order, so a failed run leaves no gap', async () => {
    const local = testClock('2025-03-05T06:10:00.000Z');
    const results = await writeDueDigests({ ...deps, now: local.now });
    expect(results.map((r) => [r.key, r.status])).toEqual([
      ['digests/2025/03/05/03.json', 'written'],
      ['digests/2025/03/05/04.json', 'written'],
      ['digests/2025/03/05/05.json', 'written'],
    ]);
    expect(results[0]!.digest.previousDigest?.key).toBe('digests/2025/03/05/02.json');
    expect(results[2]!.digest.previousDigest?.key).toBe('digests/2025/03/05/04.json');
    const rerun = await writeDueDigests({ ...deps, now: local.now });
    expect(rerun.map((r) => r.status)).toEqual(['exists']);
  });

  it('starts the chain with a null link when no digest exists at all', async () => {
    const fresh = await startLocalAws({
      table: 'countersign-digest-fresh',
      bucket: 'countersign-digest-fresh',
    });
    try {
      const local = testClock('2025-06-01T12:07:00.000Z');
      const results = await writeDueDigests({
        ...deps,
        ddb: fresh.ddb,
        table: fresh.table,
        s3: fresh.s3,
        bucket: fresh.bucket,
        now: local.now,
      });
      expect(results).toHaveLength(1);
      expect(results[0]!.key).toBe('digests/2025/06/01/11.json');
      expect(results[0]!.digest.previousDigest).toBeNull();
      expect(results[0]!.gapBefore).toBeUndefined();
    } finally {
      await fresh.close();
    }
  });
});

describe('digest format helpers', () => {
  it('round-trips digest keys and rejects anything else', () => {
    expect(digestObjectKey(new Date('2025-03-04T09:00:00Z'))).toBe('digests/2025/03/04/09.json');
    expect(parseDigestObjectKey('digests/2025/03/04/09.json')?.toISOString()).toBe(
      '2025-03-04T09:00:00.000Z',
    );
    for (const bad of [
      'digests/2025/03/04/24.json',
      'digests/2025/3/04/09.json',
      'records/2025/03/04/09.json',
      'digests/2025/02/30/01.json',
    ]) {
      expect(parseDigestObjectKey(bad)).toBeUndefined();
    }
  });

  it('signs through KMS with ECDSA_SHA_256 over the SHA-256 of the signing input (MessageType DIGEST)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const inputs: Array<Record<string, unknown>> = [];
    let message: Uint8Array | undefined;
    const kms = {
      send: async (command: SignCommand) => {
        inputs.push(command.input as never);
        // Stand-in for KMS: sign the message whose SHA-256 was sent.
        return {
          Signature: (await import('node:crypto')).sign('sha256', message!, {
            key: privateKey,
            dsaEncoding: 'der',
          }),
        };
      },
    };
    const signer = kmsSigner(kms as never, 'arn:aws:kms:eu-west-1:111122223333:key/abc');
    message = Buffer.from('{"v":1}');
    const signature = await signer.sign(message);
    expect(inputs[0]).toEqual({
      KeyId: 'arn:aws:kms:eu-west-1:111122223333:key/abc',
      Message: createHash('sha256').update(message).digest(),
      MessageType: 'DIGEST',
      SigningAlgorithm: 'ECDSA_SHA_256',
    });
    expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'der' }, signature)).toBe(true);
  });

  it('loads the public key as PEM, base64 DER (aws kms get-public-key), its JSON, or raw DER', () => {
    const der = keys.publicKey.export({ type: 'spki', format: 'der' });
    const pem = keys.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const fingerprint = (k: ReturnType<typeof loadPublicKey>) =>
      k.export({ type: 'spki', format: 'der' }).toString('hex');
    for (const form of [
      pem,
      der.toString('base64'),
      JSON.stringify({ KeyId: 'k', PublicKey: der.toString('base64') }),
      der,
    ]) {
      expect(fingerprint(loadPublicKey(form))).toBe(der.toString('hex'));
    }
  });

  it('rejects a private key, a non-P-256 key and garbage with a readable error', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    expect(() => loadPublicKey(rsa as string)).toThrow(/not an ECC NIST P-256 key \(got rsa\)/);
    expect(() => loadPublicKey(keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)).toThrow(
      /private key/,
    );
    expect(() => loadPublicKey('hello world!')).toThrow(/not a public key/);
  });
});
