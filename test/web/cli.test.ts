/**
 * `countersign approve|deny` against the approval API served over HTTP (the
 * local inbox server around the review core), with real signed tokens: it
 * decides the version it read, reports refusals with exit 1, and keeps the
 * token in the user's config directory, readable by its owner only, until it
 * expires.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApproverSettings, decideFromCli, type TokenSource, tokenCacheFile } from '../../cli/approve.js';
import { type CliIo, UsageError } from '../../cli/main.js';
import { getRequest } from '../../lambdas/shared/store.js';
import { startWebServer, type WebServer } from '../../sandbox/web-server.js';
import { seedPendingRequest } from '../support/fixtures.js';
import { API_AUDIENCE, ISSUER, type Person, startWebCore } from './support.js';

let env: Awaited<ReturnType<typeof startWebCore>>;
let server: WebServer;
let dir: string;

beforeAll(async () => {
  env = await startWebCore();
  server = await startWebServer((origin) => ({ ...env.deps, origin }), { port: 0 });
  dir = await mkdtemp(join(tmpdir(), 'countersign-cli-'));
});
afterAll(async () => {
  await server.close();
  await env.close();
  await rm(dir, { recursive: true, force: true });
});

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (l) => err.push(l), cwd: dir } satisfies CliIo, out, err };
}

/** A token source that signs in `person` (as the device grant would) and counts its calls. */
function signInAs(person: Person) {
  const calls: ApproverSettings[] = [];
  const source: TokenSource = async (settings) => {
    calls.push(settings);
    return { accessToken: await env.issuer.sign(person), expiresAt: Math.floor(Date.now() / 1000) + 600 };
  };
  return { source, calls };
}

const cliEnv = () => ({
  COUNTERSIGN_API_URL: server.url,
  COUNTERSIGN_OIDC_ISSUER: ISSUER,
  COUNTERSIGN_CLI_CLIENT_ID: 'countersign-cli',
  COUNTERSIGN_API_AUDIENCE: API_AUDIENCE,
  XDG_CONFIG_HOME: dir,
});

describe('countersign approve | deny', () => {
  it('approves the version it read, then reuses the cached token (mode 600)', async () => {
    // Prepare
    const first = await seedPendingRequest(env.deps.core);
    const second = await seedPendingRequest(env.deps.core);
    env.fakeAws.tasks.register(first.taskToken!);
    env.fakeAws.tasks.register(second.taskToken!);
    const alice = signInAs('alice');
    const cacheFile = tokenCacheFile(cliEnv());
    const a = io();
    const b = io();
    // Act
    const code1 = await decideFromCli('approve', [first.intentId], a.io, {
      tokens: alice.source,
      cacheFile,
      env: cliEnv(),
    });
    const code2 = await decideFromCli('approve', [second.intentId], b.io, {
      tokens: alice.source,
      cacheFile,
      env: cliEnv(),
    });
    // Assess
    expect(code1).toBe(0);
    expect(code2).toBe(0);
    expect(alice.calls).toHaveLength(1);
    expect((await stat(cacheFile)).mode & 0o777).toBe(0o600);
    expect(a.err.join('\n')).toContain(first.intentHash.slice(0, 23));
    expect(JSON.parse(a.out.join('\n'))).toMatchObject({ outcome: 'approved' });
    expect((await getRequest(env.deps.core, first.intentId))?.decision?.decidedBy?.email).toBe(
      'alice@example.com',
    );
  });

  it('exits 1 with the refusal when the human the agent acts for approves', async () => {
    // Prepare
    const request = await seedPendingRequest(env.deps.core);
    const carol = signInAs('carol');
    const run = io();
    // Act
    const code = await decideFromCli('approve', [request.intentId], run.io, {
      tokens: carol.source,
      cacheFile: join(dir, 'carol.json'),
      env: cliEnv(),
    });
    // Assess
    expect(code).toBe(1);
    expect(run.err.join('\n')).toContain('403 self-on-behalf-of');
    expect((await getRequest(env.deps.core, request.intentId))?.status).toBe('PENDING');
  });

  it('denies with the reason given, and refuses a deny without one before signing in', async () => {
    // Prepare
    const request = await seedPendingRequest(env.deps.core);
    env.fakeAws.tasks.register(request.taskToken!);
    const bob = signInAs('bob');
    const options = { tokens: bob.source, cacheFile: join(dir, 'bob.json'), env: cliEnv() };
    // Act
    const missing = await decideFromCli('deny', [request.intentId], io().io, options).catch((e: Error) => e);
    const code = await decideFromCli('deny', [request.intentId, '--reason', 'freeze week'], io().io, options);
    // Assess
    expect(missing).toBeInstanceOf(UsageError);
    expect(bob.calls).toHaveLength(1);
    expect(code).toBe(0);
    const after = await getRequest(env.deps.core, request.intentId);
    expect(after?.status).toBe('DENIED');
    expect(after?.decision?.reason).toContain('freeze week');
  });
});
