/**
 * `countersign approve <id>` and `countersign deny <id> --reason …`: an
 * approver decides from a terminal through the approval API. The person signs
 * in with the OAuth device authorization grant (openid-client): the command
 * prints a URL and a code, the person confirms in any browser, and the access
 * token (audience = the API) is cached in the user's config directory until
 * it expires. The command reads the request first and decides the version
 * (intent hash) it showed, so a request modified in between is refused (409).
 *
 * Settings (flag, then environment): `--api` / COUNTERSIGN_API_URL (the
 * WebInboxUrl output, or the sandbox's inbox URL), `--issuer` /
 * COUNTERSIGN_OIDC_ISSUER, `--client-id` / COUNTERSIGN_CLI_CLIENT_ID,
 * `--audience` / COUNTERSIGN_API_AUDIENCE.
 *
 * Exit codes: 0 decided (or the vote counted), 1 refused or failed, 2 bad usage.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as client from 'openid-client';
import type { CliIo, CommandModule } from './main.js';
import { UsageError } from './main.js';

/** Where an approver's settings point. */
export interface ApproverSettings {
  api: string;
  issuer: string;
  clientId: string;
  audience: string;
  /** Scopes asked for: the IdP may release the API's scope and the groups claim only when asked. */
  scope: string;
}

/** A cached access token. */
interface CachedToken {
  accessToken: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/** Scopes asked for when none are configured. */
export const DEFAULT_SCOPE = 'openid email profile';

/** Seconds of life a cached token must have left to be used. */
const MARGIN_SECONDS = 60;

/** The token cache file: `$XDG_CONFIG_HOME/countersign/tokens.json` (else `~/.config/…`). */
export function tokenCacheFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'countersign', 'tokens.json');
}

const cacheKey = (s: ApproverSettings) => `${s.issuer} ${s.clientId} ${s.audience} ${s.scope}`;

async function readCache(file: string): Promise<Record<string, CachedToken>> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, CachedToken>;
  } catch {
    return {};
  }
}

/** Stores a token readable by its owner only. */
async function writeCache(file: string, cache: Record<string, CachedToken>): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(cache, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
}

/** How the command gets a token; tests pass their own. */
export type TokenSource = (settings: ApproverSettings, io: CliIo) => Promise<CachedToken>;

/** The OAuth device authorization grant against the IdP, asking for the API as the token's audience. */
export const deviceGrant: TokenSource = async (settings, io) => {
  const issuer = new URL(settings.issuer);
  const loopback =
    issuer.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
  const config = await client.discovery(
    issuer,
    settings.clientId,
    undefined,
    client.None(),
    loopback ? { execute: [client.allowInsecureRequests] } : undefined,
  );
  const resource = { resource: settings.audience };
  const device = await client.initiateDeviceAuthorization(config, { scope: settings.scope, ...resource });
  io.err(
    `To sign in, open ${device.verification_uri_complete ?? device.verification_uri} and confirm the code ${device.user_code}`,
  );
  const tokens = await client.pollDeviceAuthorizationGrant(config, device, resource);
  return {
    accessToken: tokens.access_token,
    expiresAt: Math.floor(Date.now() / 1000) + (tokens.expiresIn() ?? 300),
  };
};

/** A cached token while it lives, else a new one from `source` (then cached). */
export async function accessToken(
  settings: ApproverSettings,
  io: CliIo,
  source: TokenSource,
  file = tokenCacheFile(),
): Promise<string> {
  const cache = await readCache(file);
  const cached = cache[cacheKey(settings)];
  if (cached && cached.expiresAt - MARGIN_SECONDS > Date.now() / 1000) return cached.accessToken;
  const fresh = await source(settings, io);
  await writeCache(file, { ...cache, [cacheKey(settings)]: fresh });
  return fresh.accessToken;
}

function settingsOf(
  values: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
): ApproverSettings {
  const pick = (flag: string, name: string) => {
    const value = (values[flag] as string | undefined) ?? env[name];
    if (!value) throw new UsageError(`--${flag} (or ${name}) is required`);
    return value;
  };
  return {
    api: pick('api', 'COUNTERSIGN_API_URL').replace(/\/+$/, ''),
    issuer: pick('issuer', 'COUNTERSIGN_OIDC_ISSUER'),
    clientId: pick('client-id', 'COUNTERSIGN_CLI_CLIENT_ID'),
    audience: pick('audience', 'COUNTERSIGN_API_AUDIENCE'),
    scope: (values.scope as string | undefined) ?? env.COUNTERSIGN_CLI_SCOPE ?? DEFAULT_SCOPE,
  };
}

/** Options of {@link decideFromCli}; injectable for tests. */
export interface DecideOptions {
  tokens?: TokenSource;
  cacheFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** Reads the request, shows what is decided, and decides that version. */
export async function decideFromCli(
  verb: 'approve' | 'deny',
  argv: string[],
  io: CliIo,
  options: DecideOptions = {},
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      reason: { type: 'string' },
      api: { type: 'string' },
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      audience: { type: 'string' },
      scope: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [id, ...rest] = positionals;
  if (!id || rest.length) throw new UsageError(`give exactly one request id: countersign ${verb} <id>`);
  if (verb === 'deny' && !values.reason?.trim()) throw new UsageError('deny needs --reason "why"');
  const settings = settingsOf(values, options.env ?? process.env);
  const token = await accessToken(settings, io, options.tokens ?? deviceGrant, options.cacheFile);
  const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
  const url = `${settings.api}/v1/requests/${encodeURIComponent(id)}`;
  const shown = await fetch(url, { headers });
  const view = (await shown.json()) as Record<string, unknown> & { message?: string };
  if (!shown.ok) {
    io.err(`${shown.status}: ${view.message ?? 'refused'}`);
    return 1;
  }
  // The agent's strings are printed as JSON strings: quoted, control characters escaped.
  io.err(
    `${verb === 'approve' ? 'Approving' : 'Denying'} ${JSON.stringify(view.action)} on ${JSON.stringify(view.resource)} (version ${String(view.intentHash).slice(0, 23)}…)`,
  );
  const answer = await fetch(`${url}/decision`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({
      decision: verb,
      intentHash: view.intentHash,
      ...(values.reason ? { reason: values.reason } : {}),
    }),
  });
  const result = (await answer.json()) as {
    outcome?: string;
    notice?: string;
    error?: string;
    message?: string;
  };
  if (!answer.ok) {
    io.err(`${answer.status} ${result.error}: ${result.message}`);
    return 1;
  }
  io.out(JSON.stringify(result, null, 2));
  io.err(result.notice ?? `${result.outcome}`);
  return 0;
}

const usageOf = (
  verb: 'approve' | 'deny',
) => `usage: countersign ${verb} <request-id>${verb === 'deny' ? ' --reason "why"' : ' [--reason "note"]'}
                          [--api URL] [--issuer URL] [--client-id ID] [--audience AUD] [--scope S]

${verb === 'approve' ? 'Approves' : 'Denies'} a request through the approval API as you, signed in with your IdP
(device authorization: open the printed URL and confirm the code). The token is cached in
$XDG_CONFIG_HOME/countersign/tokens.json (mode 600) until it expires.

  --api        the inbox / approval API URL (env COUNTERSIGN_API_URL; stack output WebInboxUrl)
  --issuer     the IdP issuer (env COUNTERSIGN_OIDC_ISSUER)
  --client-id  the CLI's OpenID client id (env COUNTERSIGN_CLI_CLIENT_ID)
  --audience   the approval API's audience (env COUNTERSIGN_API_AUDIENCE)
  --scope      scopes to ask for (env COUNTERSIGN_CLI_SCOPE, default "openid email profile")

Exit: 0 decided or vote counted, 1 refused or failed, 2 usage.`;

/** `countersign approve`. */
export const approve: CommandModule = {
  usage: usageOf('approve'),
  run: (argv, io) => decideFromCli('approve', argv, io),
};

/** `countersign deny`. */
export const deny: CommandModule = {
  usage: usageOf('deny'),
  run: (argv, io) => decideFromCli('deny', argv, io),
};
