/**
 * The `countersign` command line: a small dispatcher over a table of
 * subcommands. To add one (`audit`, `request`, `status`, `wait`, `grant`),
 * write a module exporting a {@link CommandModule} and add one line to
 * {@link COMMANDS}. Modules are imported only when their command runs.
 *
 * Exit codes: 0 success, 1 the command ran and failed (a failing policy test,
 * an invalid intent), 2 bad usage.
 */

/** Where a command writes; tests pass their own. */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  cwd: string;
}

/** What a command module exports. */
export interface CommandModule {
  /** Usage text shown by `countersign help <command>` and on bad usage. */
  usage: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run: (argv: string[], io: CliIo) => Promise<number>;
}

/** Thrown by commands for bad usage: main prints the message and the command's usage, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

interface CommandEntry {
  summary: string;
  load: () => Promise<CommandModule>;
}

/** The command table: one line per command. */
export const COMMANDS: Record<string, CommandEntry> = {
  audit: {
    summary: 'verify, export and report on the audit trail, write digests',
    load: () => import('./audit.js'),
  },
  policy: {
    summary: 'test and explain Cedar policies (policy test | policy explain)',
    load: () => import('./policy.js'),
  },
  request: {
    summary: 'ask for a countersignature (agent)',
    load: async () => (await import('./agent.js')).request,
  },
  status: {
    summary: 'show a request’s status, decision and grant',
    load: async () => (await import('./agent.js')).status,
  },
  doctor: {
    summary: 'check a deployed stack and its Slack app, one line per check',
    load: () => import('./doctor.js'),
  },
  wait: { summary: 'wait for a request’s decision', load: async () => (await import('./agent.js')).wait },
  approve: {
    summary: 'approve a request as yourself, signed in with your IdP (approver)',
    load: async () => (await import('./approve.js')).approve,
  },
  deny: {
    summary: 'deny a request with a reason, signed in with your IdP (approver)',
    load: async () => (await import('./approve.js')).deny,
  },
  grant: {
    summary: 'spend a single-use grant (grant consume <id>)',
    load: async () => (await import('./agent.js')).grant,
  },
  exec: {
    summary: 'run a command with the credentials minted for an approved request',
    load: async () => (await import('./exec.js')).exec,
  },
};

/** Top-level usage text. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: countersign <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'countersign help <command> shows a command’s options.',
  ].join('\n');
}

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  cwd: process.cwd(),
};

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help') {
    io.out(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === 'help') {
    const entry = rest[0] !== undefined ? COMMANDS[rest[0]] : undefined;
    io.out(entry ? (await entry.load()).usage : usage());
    return 0;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    io.err(`countersign: unknown command "${name}"`);
    io.err(usage());
    return 2;
  }
  const command = await entry.load();
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`countersign ${name}: ${(error as Error).message}`);
      io.err(command.usage);
      return 2;
    }
    io.err(`countersign ${name}: ${(error as Error).message}`);
    return 1;
  }
}
