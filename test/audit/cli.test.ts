/**
 * `countersign audit …` end to end through the CLI dispatcher, with the SDK's
 * standard environment pointing at dynalite + s3rver (as the sandbox does).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';
import { p256, snapshotBucket, writeTrail } from './trail-fixture.js';

let aws: LocalAws;
let dir: string;
let saved: NodeJS.ProcessEnv;
const keys = p256();

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), cwd: dir }, out, err };
}

async function run(...argv: string[]) {
  const captured = io();
  const code = await main(argv, captured.io);
  return { code, out: captured.out, err: captured.err };
}

beforeAll(async () => {
  saved = { ...process.env };
  aws = await startLocalAws({ table: 'countersign-cli-test', bucket: 'countersign-cli-test' });
  Object.assign(process.env, aws.env(), { AWS_EC2_METADATA_DISABLED: 'true' });
  dir = await mkdtemp(join(tmpdir(), 'countersign-cli-'));
  await writeFile(join(dir, 'signing.pem'), keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  // What `aws kms get-public-key --query PublicKey --output text` prints: base64 DER SPKI.
  await writeFile(
    join(dir, 'digest-key.b64'),
    `${keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}\n`,
  );
  await writeFile(join(dir, 'garbage.pem'), 'not a key at all!');
  await writeTrail(aws, keys.signer, { digests: false });
});

/** Puts the environment back in place (keeping Node's own process.env object). */
function restoreEnv(snapshot: NodeJS.ProcessEnv): void {
  for (const name of Object.keys(process.env)) if (!(name in snapshot)) delete process.env[name];
  Object.assign(process.env, snapshot);
}

afterAll(async () => {
  restoreEnv(saved);
  await aws?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('countersign audit', () => {
  it('digest writes the signed digest of each hour with a local signing key, and is idempotent', async () => {
    const args = ['audit', 'digest', '--from', '2025-03-04T09:00:00Z', '--to', '2025-03-04T13:00:00Z'];
    const first = await run(...args, '--signing-key', 'signing.pem', '--retention-days', '1');
    expect(first.err).toEqual([]);
    expect(first.code).toBe(0);
    expect(first.out).toEqual([
      expect.stringMatching(
        /^written: digests\/2025\/03\/04\/09\.json \(3 records, signed by local:[0-9a-f]{64}\)$/,
      ),
      expect.stringMatching(/^written: digests\/2025\/03\/04\/10\.json \(9 records/),
      expect.stringMatching(/^written: digests\/2025\/03\/04\/11\.json \(6 records/),
      expect.stringMatching(/^written: digests\/2025\/03\/04\/12\.json \(0 records/),
    ]);
    const again = await run(...args, '--signing-key', 'signing.pem', '--retention-days', '1');
    expect(again.out.every((l) => l.startsWith('exists: '))).toBe(true);
  });

  it('verify passes on the bucket with the KMS-style public key file', async () => {
    const result = await run('audit', 'verify', '--bucket', aws.bucket, '--public-key', 'digest-key.b64');
    expect(result.out).toEqual([
      'OK: 4 digests, 18 records, 5 requests verified from 2025-03-04T09:00:00.000Z to 2025-03-04T13:00:00.000Z',
    ]);
    expect(result.code).toBe(0);
  });

  it('export writes CSV and a summary from the verified trail', async () => {
    const result = await run(
      'audit',
      'export',
      '--bucket',
      aws.bucket,
      '--from',
      '2025-03-04T09:00:00Z',
      '--to',
      '2025-03-04T13:00:00Z',
      '--format',
      'csv',
      '--out',
      'evidence.csv',
      '--summary',
      'summary.json',
      '--public-key',
      'digest-key.b64',
    );
    expect(result.code).toBe(0);
    const csv = await readFile(join(dir, 'evidence.csv'), 'utf8');
    expect(csv.split('\r\n')[0]).toBe(
      'request_id,agent,model,owner,on_behalf_of,action,resource,environment,determining_policies,approvers,outcome,automatic,reason,intent_hash,requested_at,decided_at,time_to_decision_s',
    );
    expect(csv).toMatch(
      /\r\nreq-bravo-0002,report-bot,claude-test,olu@example\.com,dana@example\.com,data:Export,s3:\/\/analytics\/exports\/q1,staging,staging-allow,,APPROVED,true,approved,sha256:[0-9a-f]{64},2025-03-04T10:20:00\.000Z,2025-03-04T10:20:01\.000Z,1\r\n/,
    );
    expect(JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8'))).toMatchObject({
      requests: 5,
      byOutcome: { APPROVED: 2, DENIED: 1, EXPIRED: 1, CANCELLED: 1, PENDING: 0 },
      timeToDecisionSeconds: { median: 900, p90: 3600 },
      automaticShare: 0.6,
    });
    expect(result.err).toEqual([
      'Summary 2025-03-04T09:00:00.000Z to 2025-03-04T13:00:00.000Z: 5 requests',
      '  by outcome: APPROVED 2, DENIED 1, EXPIRED 1, CANCELLED 1, PENDING 0',
      '  time to decision: median 15m00s, p90 1h00m00s (5 decided)',
      '  automatic decisions: 3 of 5 (60.0%)',
      'verified: 4 digests, 18 records',
    ]);
  });

  it('export prints JSON Lines to stdout', async () => {
    const result = await run(
      'audit',
      'export',
      '--bucket',
      aws.bucket,
      '--from',
      '2025-03-04T00:00:00Z',
      '--to',
      '2025-03-04T13:00:00Z',
      '--format',
      'jsonl',
    );
    expect(result.code).toBe(0);
    expect(result.out).toHaveLength(5);
    expect(JSON.parse(result.out[0]!)).toMatchObject({ requestId: 'req-alpha-0001', outcome: 'APPROVED' });
    expect(result.err).toContain('verified: 4 digests, 18 records (signatures not checked: no --public-key)');
  });

  it('verify on a tampered directory copy prints the problem and exits 1; export refuses it', async () => {
    const objects = await snapshotBucket(aws.s3, aws.bucket);
    for (const [key, text] of objects) {
      const path = join(dir, 'copy', ...key.split('/'));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(
        path,
        key.endsWith('req-echo-0005/00000002.json') ? text.replace('review', 'allow!') : text,
      );
    }
    const result = await run('audit', 'verify', '--dir', 'copy', '--public-key', 'digest-key.b64');
    expect(result.code).toBe(1);
    expect(result.out).toEqual([
      'modified: record records/2025/03/04/req-echo-0005/00000002.json does not match its hash (content changed)',
      'FAILED: 1 problem in 4 digests, 17 records',
    ]);
    const exported = await run(
      'audit',
      'export',
      '--dir',
      'copy',
      '--from',
      '2025-03-04T00:00Z',
      '--to',
      '2025-03-05T00:00Z',
      '--format',
      'csv',
    );
    expect(exported.code).toBe(1);
    expect(exported.err).toContain('refusing to export evidence from a trail that fails verification');
  });

  it('gives clear errors for bad key files, an unknown bucket, missing credentials and bad usage', async () => {
    expect(await run('audit', 'verify', '--bucket', aws.bucket, '--public-key', 'garbage.pem')).toMatchObject(
      {
        code: 1,
        err: [expect.stringMatching(/^countersign audit: public key file garbage\.pem: not a public key/)],
      },
    );
    expect(await run('audit', 'verify', '--bucket', aws.bucket, '--public-key', 'missing.pem')).toMatchObject(
      {
        code: 1,
        err: ['countersign audit: cannot read public key file missing.pem: ENOENT'],
      },
    );
    expect(await run('audit', 'verify', '--bucket', aws.bucket, '--public-key', 'signing.pem')).toMatchObject(
      {
        code: 1,
        err: [expect.stringMatching(/private key; give the public key/)],
      },
    );
    expect(
      await run('audit', 'verify', '--bucket', 'no-such-bucket', '--public-key', 'digest-key.b64'),
    ).toMatchObject({
      code: 1,
      err: [expect.stringMatching(/^countersign audit: bucket "no-such-bucket" does not exist/)],
    });
    const env = { ...process.env };
    try {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
      delete process.env.AWS_PROFILE;
      process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'none');
      process.env.AWS_CONFIG_FILE = join(dir, 'none');
      const result = await run('audit', 'verify', '--bucket', aws.bucket, '--public-key', 'digest-key.b64');
      expect(result.code).toBe(1);
      expect(result.err[0]).toMatch(/^countersign audit: no AWS credentials found/);
    } finally {
      restoreEnv(env);
    }
    const usage = await run(
      'audit',
      'verify',
      '--bucket',
      'b',
      '--dir',
      'd',
      '--public-key',
      'digest-key.b64',
    );
    expect(usage.code).toBe(2);
    expect(usage.err[0]).toBe('countersign audit: give either --bucket or --dir, not both');
    expect(
      (
        await run(
          'audit',
          'digest',
          '--period',
          '2025-03-04T10:30:00Z',
          '--signing-key',
          'signing.pem',
          '--retention-days',
          '1',
        )
      ).err[0],
    ).toMatch(/--period must be a whole UTC hour/);
    expect((await run('audit', 'verify', '--bucket', aws.bucket)).code).toBe(2);
    expect((await run('audit', 'frobnicate')).code).toBe(2);
  });

  it('archive --missing re-archives a lost record from its row (table and bucket from the environment), once', async () => {
    const range = ['--from', '2025-03-04T00:00:00Z', '--to', '2025-03-05T00:00:00Z'];
    const before = await snapshotBucket(aws.s3, aws.bucket);
    const lost = [...before.keys()].find((k) => k.startsWith('records/') && k.endsWith('/00000002.json'))!;
    await aws.s3.send(new DeleteObjectCommand({ Bucket: aws.bucket, Key: lost }));

    const first = await run('audit', 'archive', '--missing', ...range, '--retention-days', '1');
    expect(first.code).toBe(0);
    expect(first.out[0]).toBe(`archived: ${lost}`);
    expect(first.out[1]).toMatch(/^1 of \d+ audit rows written 2025-03-04T00:00:00\.000Z to 2025-03-05/);
    expect((await snapshotBucket(aws.s3, aws.bucket)).get(lost)).toBe(before.get(lost));

    const second = await run('audit', 'archive', '--missing', ...range, '--retention-days', '1');
    expect(second).toMatchObject({
      code: 0,
      out: [expect.stringMatching(/^nothing to do: all \d+ audit rows/)],
    });
  });

  it('--sandbox says what to do when no sandbox is found, and refuses flags it makes moot', async () => {
    const none = await run('audit', 'verify', '--sandbox', '--data-dir', 'no-sandbox-here');
    expect(none.code).toBe(1);
    expect(none.err[0]).toMatch(
      /no sandbox found: .*no-sandbox-here\/sandbox\.json does not exist\. Start one with "npm start"/,
    );
    const mixed = await run('audit', 'archive', '--missing', '--sandbox', '--bucket', 'b');
    expect(mixed.code).toBe(2);
    expect((await run('audit', 'archive')).err[0]).toMatch(/archive needs --missing/);
  });
});
