/**
 * `countersign exec <intentId> -- <command> [args...]`: runs a command with
 * the executor credentials of an approved request in its environment
 * (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
 * `AWS_CREDENTIAL_EXPIRATION`). The request's grant is exchanged for them
 * (single use) through the status API, signed as the agent's own role.
 *
 * Exit: the command's exit code; 1 when no credentials were minted (not
 * approved, no executor for the action, grant spent or expired); 2 usage.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { CredentialsRefusedError, credentialsFor, getStatus } from '../client/index.js';
import type { CommandModule } from './main.js';
import { UsageError } from './main.js';

/** Variables that would let the command pick other credentials than the minted ones (the SDK prefers AWS_PROFILE over a key pair). */
const SHADOWING = [
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
];

/** The `exec` command. */
export const exec: CommandModule = {
  usage: `usage: countersign exec <intentId> [--status-url URL] -- <command> [args...]

Runs <command> with credentials Countersign minted for the approved request: an executor
role's session whose policy allows exactly the approved call, until the grant expires.
The request's single-use grant is spent. Actions without an executor in
policies/enforcement.json get no credentials (run them after \`countersign grant consume\`).
Exit: the command's exit code; 1 no credentials; 2 usage.`,
  async run(argv, io) {
    const split = argv.indexOf('--');
    if (split < 0 || split === argv.length - 1) throw new UsageError('give the command after --');
    const { values, positionals } = parseArgs({
      args: argv.slice(0, split),
      options: { 'status-url': { type: 'string' } },
      allowPositionals: true,
    });
    const [intentId, ...extra] = positionals;
    if (!intentId || extra.length > 0) throw new UsageError('give exactly one intent id');
    const statusUrl = values['status-url'] ?? process.env.COUNTERSIGN_STATUS_URL;
    if (!statusUrl) throw new UsageError('no status API: pass --status-url or set COUNTERSIGN_STATUS_URL');
    const [command, ...args] = argv.slice(split + 1) as [string, ...string[]];

    const status = await getStatus(intentId, { statusUrl });
    if (!status?.decision) {
      io.err(`no credentials: request ${intentId} is ${status?.status ?? 'unknown'}`);
      return 1;
    }
    let credentials: Awaited<ReturnType<ReturnType<typeof credentialsFor>>>;
    try {
      credentials = await credentialsFor(status.decision, { statusUrl })();
    } catch (error) {
      if (!(error instanceof CredentialsRefusedError)) throw error;
      io.err(`no credentials (${error.reason}): ${error.message}`);
      return 1;
    }
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of SHADOWING) delete env[name];
    Object.assign(env, {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_SESSION_TOKEN: credentials.sessionToken ?? '',
      ...(credentials.expiration ? { AWS_CREDENTIAL_EXPIRATION: credentials.expiration.toISOString() } : {}),
    });
    io.err(
      `running with executor credentials for ${intentId} (expire ${credentials.expiration?.toISOString() ?? 'unknown'})`,
    );
    return new Promise<number>((resolve, reject) => {
      const child = spawn(command, args, { env, stdio: ['inherit', 'pipe', 'pipe'] });
      child.stdout.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').replace(/\n$/, '').split('\n')) io.out(line);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').replace(/\n$/, '').split('\n')) io.err(line);
      });
      child.on('error', reject);
      child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  },
};
