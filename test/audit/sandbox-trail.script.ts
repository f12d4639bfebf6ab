/**
 * Produces an audit trail with the sandbox as `npm start` runs it (its own data
 * directory, digest key and `sandbox.json`) — policy allow, policy deny, a
 * human approval, a denial with a reason, an expiry — then checks it the way a
 * newcomer would, with `countersign audit verify --sandbox` in a child process
 * that is given nothing but the data directory: first while the hour is open
 * (records pending), then after the hour's digest, and each time after one
 * byte of one record object changed in s3rver's directory.
 * Prints one JSON line (see sandbox-trail.test.ts). Run in its own process: one loop per process.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { main } from '../../cli/main.js';
import { writeDigest } from '../../lambdas/digest/core.js';
import { hourStart } from '../../lambdas/shared/digest.js';
import { signedClick, signedViewSubmission } from '../../sandbox/slack-click.js';
import { startSandbox } from '../../sandbox/start.js';
import { makeIntent } from '../support/fixtures.js';

const root = resolve(import.meta.dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'countersign-sandbox-'));
const sandbox = await startSandbox({ dataDir, port: 0, defaultReviewTimeoutSeconds: 2 });
const { loop } = sandbox;
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
  for (let i = 0; i < 3000; i++) {
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
const approveCard = await waitFor(() => card(approve.intentId));
// Approve sends what the card's button carries: the request id and the version it shows.
const approveValue = ((approveCard.blocks ?? []) as { elements?: { action_id?: string; value?: string }[] }[])
  .flatMap((b) => b.elements ?? [])
  .find((e) => e.action_id === 'approve')!.value!;
await loop.interact(
  signedClick(loop.signingSecret, { userId: 'U0ALICE01', actionId: 'approve', requestId: approveValue }),
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

// The first check is a child process that knows only the data directory (no AWS or
// Countersign variables), as a newcomer's shell; the later ones run the same CLI
// in this process (a child costs seconds on a busy machine), told only --data-dir.
const childEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^(AWS_|COUNTERSIGN_)/.test(name)),
);
const spawned = (args: string[]) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    execFile(
      join(root, 'node_modules/.bin/tsx'),
      ['bin/countersign.ts', ...args],
      { cwd: root, encoding: 'utf8', env: { ...childEnv, COUNTERSIGN_DATA_DIR: dataDir } },
      (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
const cli = async (args: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, '--data-dir', dataDir], {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    cwd: root,
  });
  return { code, stdout: out.map((l) => `${l}\n`).join(''), stderr: err.map((l) => `${l}\n`).join('') };
};
const verify = () => cli(['audit', 'verify', '--sandbox']);

/** The file s3rver keeps an object's bytes in. */
function objectFile(requestId: string): { file: string; key: string } {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
    );
  const bucketDir = join(dataDir, 's3', loop.aws.bucket);
  const file = walk(join(bucketDir, 'records')).find(
    (f) => f.includes(`/${requestId}/`) && f.endsWith('00000002.json._S3rver_object'),
  )!;
  return { file, key: file.slice(bucketDir.length + 1, -'._S3rver_object'.length) };
}
/** Changes one byte of a stored object in place (a digit of its `seq` becomes another digit). */
async function withOneByteChanged<T>(file: string, action: () => Promise<T>): Promise<T> {
  const original = readFileSync(file);
  const changed = Buffer.from(original);
  const at = changed.indexOf('"seq":') + '"seq":'.length;
  changed[at] = changed[at] === 0x32 ? 0x33 : 0x32;
  writeFileSync(file, changed);
  try {
    return await action();
  } finally {
    writeFileSync(file, original);
  }
}

// 1. The hour is still open: its records are checked and pending.
const victim = objectFile(approve.intentId);
const open = await spawned(['audit', 'verify', '--sandbox']);
const openTampered = await withOneByteChanged(victim.file, verify);

// 2. The hour has ended (as if an hour passed): the sandbox's own key signs its digest.
const hour = hourStart(new Date());
const later = () => new Date(hour.getTime() + 2 * 3_600_000 - 60_000);
await writeDigest(
  {
    ...loop.aws,
    retentionDays: loop.config.auditRetentionDays,
    signer: loop.digests.key.signer,
    now: later,
  },
  hour,
);
const digested = await verify();
const exported = await cli(['audit', 'export', '--sandbox', '--format', 'jsonl']);
const digestedTampered = await withOneByteChanged(victim.file, verify);

// 3. One record object lost (as after the archive dead-letter queue): re-archived from its row.
const originalBytes = readFileSync(victim.file);
await loop.aws.s3.send(new DeleteObjectCommand({ Bucket: loop.aws.bucket, Key: victim.key }));
const lost = await verify();
const rearchived = await cli(['audit', 'archive', '--missing', '--sandbox']);
const restoredIdentical = readFileSync(victim.file).equals(originalBytes);
const rearchivedAgain = await cli(['audit', 'archive', '--missing', '--sandbox']);
const restored = await verify();

await sandbox.close();
const afterStop = await verify();

process.stdout.write(
  `${JSON.stringify({
    intents: [allow, deny, approve, denied, expire].map((i) => i.intentId),
    statuses: loop.decisions.map((d) => d.detail.status),
    victim: victim.key,
    publicKeyFile: sandbox.info.publicKey,
    open,
    openTampered,
    digested,
    exported: {
      code: exported.code,
      stderr: exported.stderr,
      rows: exported.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    },
    digestedTampered,
    lost,
    rearchived,
    restoredIdentical,
    rearchivedAgain,
    restored,
    afterStop,
  })}\n`,
);
process.exit(0);
