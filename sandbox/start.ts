/**
 * `npm start`: the whole Countersign loop offline on one port, with the
 * approval console. `--reset` wipes the data directory first; `--reset-only`
 * wipes it and exits (`npm run sandbox:reset`).
 *
 * Environment: COUNTERSIGN_PORT (default 4010), COUNTERSIGN_DATA_DIR (default
 * `.countersign/`), SLACK_SIGNING_SECRET (default: the documented development
 * secret), COUNTERSIGN_IDP_PORT (default 4011: the local OpenID provider, see
 * sandbox/idp.ts), and SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET + SLACK_CHANNEL together
 * to post cards to a real Slack workspace.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { signingSecretProblem } from '../lambdas/shared/slack-secret.js';
import { SANDBOX_WEB_INBOX_URL, startSandboxIdp } from './idp.js';
import { CountersignLoop, DEV_SIGNING_SECRET, type LoopOptions } from './loop.js';
import {
  DIGEST_KEY_FILE,
  DIGEST_PUBLIC_KEY_FILE,
  SANDBOX_INFO_FILE,
  type SandboxInfo,
  writeSandboxInfo,
} from './sandbox-info.js';
import { createSandboxServer, type SandboxServer } from './server.js';
import { startSandboxInbox } from './web-server.js';

/** What the sandbox writes in its data directory; `--reset` removes these and nothing else. */
const DATA_ENTRIES = new Set(['dynamodb', 's3', DIGEST_KEY_FILE, DIGEST_PUBLIC_KEY_FILE, SANDBOX_INFO_FILE]);

/** Wipes the data directory, refusing anything that does not look like one the sandbox wrote. */
export async function resetDataDir(dataDir: string): Promise<boolean> {
  if (!existsSync(dataDir)) return false;
  const unexpected = readdirSync(dataDir).filter((name) => !DATA_ENTRIES.has(name));
  if (unexpected.length > 0) {
    throw new Error(
      `refusing to wipe ${dataDir}: it holds ${unexpected.join(', ')}, which the sandbox did not write`,
    );
  }
  await rm(dataDir, { recursive: true, force: true });
  return true;
}

/** Where cards go: the fake Slack, or a real workspace when all three variables are set. */
function slackOptions(env: NodeJS.ProcessEnv): LoopOptions['slack'] {
  const { SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_CHANNEL } = env;
  const set = [SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_CHANNEL].filter(Boolean).length;
  if (set === 0 || (set === 1 && SLACK_SIGNING_SECRET)) return undefined;
  if (set < 3) {
    throw new Error(
      'a real Slack workspace needs SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_CHANNEL together',
    );
  }
  return { botToken: SLACK_BOT_TOKEN!, channel: SLACK_CHANNEL! };
}

/** Parses the port variable, failing clearly on nonsense. */
function port(env: NodeJS.ProcessEnv): number {
  const raw = env.COUNTERSIGN_PORT ?? '4010';
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new Error(`COUNTERSIGN_PORT must be a port number, got "${raw}"`);
  }
  return value;
}

/** Requests left PENDING by a previous run cannot finish: their executions lived in that process. */
async function warnAboutOrphans(url: string): Promise<void> {
  const requests = (await (await fetch(`${url}/requests`)).json()) as {
    intentId: string;
    orphaned?: boolean;
  }[];
  const orphans = requests.filter((r) => r.orphaned);
  if (orphans.length === 0) return;
  console.log(
    [
      `  NOTE: ${orphans.length} request(s) were still PENDING when the sandbox last stopped. Local workflow`,
      '  executions live in memory, so their reviews cannot finish; the console shows them without buttons.',
      '  Start clean with: npm start -- --reset',
      '',
    ].join('\n'),
  );
}

/** A running sandbox: the loop, its server, and what `sandbox.json` says about them. */
export interface RunningSandbox {
  loop: CountersignLoop;
  server: SandboxServer;
  info: SandboxInfo;
  /** Stops the server, writes the digests of the hours that have ended, stops the loop. */
  close(): Promise<void>;
}

/**
 * Starts the loop on `dataDir` and its server, and writes `sandbox.json` so
 * tools (`countersign audit … --sandbox`) find both.
 */
export async function startSandbox(
  options: Omit<LoopOptions, 'dataDir'> & { dataDir: string; port?: number },
): Promise<RunningSandbox> {
  const { port: listenPort, ...loopOptions } = options;
  const loop = await CountersignLoop.start(loopOptions);
  const runId = randomUUID();
  const server = await createSandboxServer(loop, { port: listenPort ?? 4010, runId });
  const info: SandboxInfo = {
    v: 1,
    runId,
    url: server.url,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    dataDir: options.dataDir,
    endpoints: loop.aws.endpoints,
    bucket: loop.aws.bucket,
    table: loop.aws.table,
    retentionDays: loop.config.auditRetentionDays,
    publicKey: loop.digests.key.publicKeyFile!,
    keyId: loop.digests.key.signer.keyId,
  };
  await writeSandboxInfo(info);
  return {
    loop,
    server,
    info,
    close: async () => {
      await server.close();
      await loop.close();
    },
  };
}

/** The one command that verifies the sandbox's trail, as the banner and README show it. */
export function verifyCommand(dataDir: string, cwd = process.cwd()): string {
  const custom = relative(cwd, dataDir) !== '.countersign';
  return `npm run countersign -- audit verify --sandbox${custom ? ` --data-dir ${dataDir}` : ''}`;
}

export async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  const dataDir = resolve(env.COUNTERSIGN_DATA_DIR ?? '.countersign');
  if (argv.includes('--reset') || argv.includes('--reset-only')) {
    const wiped = await resetDataDir(dataDir);
    console.log(wiped ? `Wiped ${dataDir}` : `Nothing to wipe at ${dataDir}`);
    if (argv.includes('--reset-only')) return;
  }
  const slack = slackOptions(env);
  const signingSecret = env.SLACK_SIGNING_SECRET || DEV_SIGNING_SECRET;
  const secretProblem = signingSecretProblem(signingSecret);
  if (secretProblem) throw new Error(`SLACK_SIGNING_SECRET refused: ${secretProblem}`);
  const started = Date.now();
  // Every review is shown in Slack and in the console's Teams view (fake Bot Connector).
  const sandbox = await startSandbox({
    dataDir,
    signingSecret,
    slack,
    port: port(env),
    reviewChannels: ['slack', 'teams'],
  });
  const { loop, server } = sandbox;
  const idp = await startSandboxIdp([SANDBOX_WEB_INBOX_URL, server.url], env);
  const inbox = await startSandboxInbox(loop, idp);
  const key = loop.digests.key;
  const secretNote = env.SLACK_SIGNING_SECRET
    ? '(from SLACK_SIGNING_SECRET)'
    : '(development default; set SLACK_SIGNING_SECRET to change it)';
  const lines = [
    '',
    `Countersign sandbox is running (${Date.now() - started} ms)`,
    '',
    `  Approval console      ${server.url}/`,
    `  PutEvents endpoint    ${server.url}   (EventBridge client: endpoint "${server.url}", bus "${loop.config.eventBusName}")`,
    `  Slack interactions    ${server.url}/slack/interactions`,
    `  Teams view            ${server.url}/console/teams.html   (bot messaging endpoint ${server.url}/teams/messages)`,
    loop.slack
      ? `  Fake Slack Web API    ${server.url}/slack/api/<method>`
      : `  Slack                 real workspace, channel ${slack?.channel} (point the app's interactivity URL at a public tunnel to /slack/interactions)`,
    `  Status API            ${server.url}/requests/<intentId>   ${server.url}/events   ${server.url}/slack/messages`,
    ...inbox.banner,
    ...idp.banner,
    `  Audit store           AWS_ENDPOINT_URL_S3=${loop.aws.endpoints.s3} (bucket ${loop.aws.bucket})   AWS_ENDPOINT_URL_DYNAMODB=${loop.aws.endpoints.dynamodb} (table ${loop.aws.table})`,
    '',
    `  Signing secret        ${signingSecret} ${secretNote}`,
    `  Data                  ${dataDir}   (wipe: npm run sandbox:reset)`,
    `  Digest key            ${key.publicKeyFile} (${key.created ? 'created now' : 'kept from an earlier run'}; signs the hourly digests)`,
    '',
    `  Verify the audit trail: ${verifyCommand(dataDir)}`,
    '',
    '  WARNING: S3 Object Lock (WORM) is NOT enforced locally. s3rver accepts the lock headers',
    '  and drops them; audit objects here can be overwritten or deleted. In AWS the bucket',
    '  enforces COMPLIANCE retention.',
    '',
    '  Try it: npm run demo   (then approve in the console)',
    '',
  ];
  console.log(lines.join('\n'));
  await warnAboutOrphans(server.url);

  const stop = async () => {
    console.log('\nStopping the sandbox (writing the digests of the hours that have ended)…');
    await inbox.close();
    await idp.close();
    await sandbox.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('sandbox/start.ts')) {
  main().catch((error: unknown) => {
    console.error(`countersign sandbox: ${(error as Error).message}`);
    process.exit(1);
  });
}
