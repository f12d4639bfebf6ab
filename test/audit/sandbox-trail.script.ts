/**
 * Produces an audit trail with the real offline loop — policy allow, policy
 * deny, a human approval, a denial with a reason, an expiry — writes signed
 * digests over it, then checks it with `countersign audit verify` exactly as an
 * auditor would (S3 through the standard endpoint variables, public key file).
 * Prints one JSON line: { intents, digests, verify: { code, stdout, stderr }, tampered: {...} }.
 * Run by sandbox-trail.test.ts in its own process (one loop per process).
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { writeDigest } from '../../lambdas/digest/core.js';
import { DIGEST_PERIOD_MS, hourStart, localSigner } from '../../lambdas/shared/digest.js';
import { CountersignLoop } from '../../sandbox/loop.js';
import { signedClick, signedViewSubmission } from '../../sandbox/slack-click.js';
import { makeIntent } from '../support/fixtures.js';

const root = resolve(import.meta.dirname, '../..');
const loop = await CountersignLoop.start({ defaultReviewTimeoutSeconds: 2 });
const publish = (detail: object) =>
  loop.putEvents([
    {
      EventBusName: 'countersign',
      Source: 'countersign.agent.deploy-bot',
      DetailType: 'Privileged Action Requested',
      Detail: JSON.stringify(detail),
    },
  ]);
const waitFor = async <T>(check: () => T | undefined): Promise<T> => {
  for (let i = 0; i < 500; i++) {
    const value = check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('timed out');
};
const card = (id: string) =>
  loop
    .slack!.sent('chat.postMessage')
    .find((m) => JSON.stringify(m.blocks ?? []).includes(`"value":"${id}"`));

const allow = makeIntent({ environment: 'dev', action: 's3:GetObject', resource: 'arn:aws:s3:::dev/x.log' });
const deny = makeIntent({
  action: 'organizations:LeaveOrganization',
  resource: 'arn:aws:organizations::1:account/o/1',
});
const approve = makeIntent({});
const denied = makeIntent({});
const expire = makeIntent({
  environment: 'staging',
  action: 'ec2:RebootInstances',
  resource: 'arn:aws:ec2:us-east-1:210987654321:instance/i-0staging',
});
for (const intent of [allow, deny, approve, denied, expire]) publish(intent);
await waitFor(() => card(approve.intentId));
await loop.interact(
  signedClick(loop.signingSecret, { userId: 'U0ALICE01', actionId: 'approve', requestId: approve.intentId }),
);
await waitFor(() => card(denied.intentId));
await loop.interact(
  signedClick(loop.signingSecret, { userId: 'U0BOB0002', actionId: 'deny', requestId: denied.intentId }),
);
const view = await waitFor(() =>
  [...loop.slack!.views.values()].find((v) => v.view.callback_id === 'countersign.deny'),
);
const answer = await loop.interact(
  signedViewSubmission(loop.signingSecret, {
    userId: 'U0BOB0002',
    view,
    inputs: { reason: 'Not during the freeze.' },
  }),
);
if (answer.statusCode !== 200 || answer.body) throw new Error(`deny reason refused: ${answer.body}`);
await loop.idle();

// Digests for every hour holding records, written as if an hour had passed.
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const dir = mkdtempSync(join(tmpdir(), 'countersign-trail-'));
const keyFile = join(dir, 'digest-public.pem');
writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
const first = hourStart(new Date(Date.now() - 60_000));
const last = hourStart(new Date());
const later = () => new Date(last.getTime() + DIGEST_PERIOD_MS + 10 * 60_000);
const deps = { ...loop.aws, retentionDays: 1, signer: localSigner(privateKey), now: later };
let digests = 0;
for (let t = first.getTime(); t <= last.getTime(); t += DIGEST_PERIOD_MS) {
  await writeDigest(deps, new Date(t));
  digests++;
}

// Asynchronously: the S3 server the CLI talks to runs in this process.
const cli = (args: string[]) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
    execFile(
      join(root, 'node_modules/.bin/tsx'),
      ['bin/countersign.ts', ...args],
      { cwd: root, encoding: 'utf8', env: { ...process.env, ...loop.aws.env() } },
      (error, stdout, stderr) =>
        done({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
const verify = () => cli(['audit', 'verify', '--bucket', loop.aws.bucket, '--public-key', keyFile]);
const clean = await verify();
const exported = await cli([
  'audit',
  'export',
  '--bucket',
  loop.aws.bucket,
  '--public-key',
  keyFile,
  '--from',
  first.toISOString(),
  '--to',
  new Date(last.getTime() + DIGEST_PERIOD_MS).toISOString(),
  '--format',
  'jsonl',
]);

// One flipped byte in one record object: the verifier must name it.
const listed = await loop.aws.s3.send(
  new ListObjectsV2Command({ Bucket: loop.aws.bucket, Prefix: 'records/' }),
);
const victim = listed.Contents!.map((o) => o.Key!).find((k) => k.includes(approve.intentId))!;
const original = await (
  await loop.aws.s3.send(new GetObjectCommand({ Bucket: loop.aws.bucket, Key: victim }))
).Body!.transformToString();
await loop.aws.s3.send(
  new PutObjectCommand({ Bucket: loop.aws.bucket, Key: victim, Body: original.replace('"seq":', '"seq" :') }),
);
const tampered = await verify();

process.stdout.write(
  `${JSON.stringify({
    intents: [allow, deny, approve, denied, expire].map((i) => i.intentId),
    statuses: loop.decisions.map((d) => d.detail.status),
    digests,
    victim,
    verify: { code: clean.status, stdout: clean.stdout, stderr: clean.stderr },
    exported: {
      code: exported.status,
      rows: exported.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    },
    tampered: { code: tampered.status, stdout: tampered.stdout, stderr: tampered.stderr },
  })}\n`,
);
await loop.close();
process.exit(0);
