/**
 * `countersign exec` against the sandbox: the command runs with the minted
 * executor credentials (and nothing that could shadow them) exactly once per
 * approval; an action without an executor runs nothing and keeps its grant.
 */

import { execFile } from 'node:child_process';
import { resolve as resolve_ } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getGrant } from '../../lambdas/shared/grants.js';
import { agentAccessKey } from '../../sandbox/fake-sts-sandbox.js';
import { type Sandbox, startSandbox } from '../adversary/support.js';
import { makeIntent } from '../support/fixtures.js';
import { USER } from '../support/loop.js';

const ROOT = resolve_(import.meta.dirname, '../..');

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox.close());

/** The CLI's environment: the agent's sandbox key, and another credential source that must not reach the command. */
const ENV = {
  ...process.env,
  AWS_ACCESS_KEY_ID: agentAccessKey('deploy-bot'),
  AWS_SECRET_ACCESS_KEY: 'sandbox',
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/should-be-dropped',
  AWS_REGION: 'us-east-1',
};

async function approvedIntent(overrides: Parameters<typeof makeIntent>[0] = {}) {
  const intent = makeIntent(overrides);
  await sandbox.put([intent]);
  await sandbox.reviewOpen(intent.intentId);
  expect(await sandbox.click(USER.alice, 'approve', intent.intentId)).toBe(200);
  return sandbox.final(intent.intentId);
}

/** Runs `countersign exec` as its own process, as an agent would. */
function exec(intentId: string): Promise<{ code: number; out: string[]; err: string[] }> {
  const script =
    'console.log(JSON.stringify({ key: process.env.AWS_ACCESS_KEY_ID, token: Boolean(process.env.AWS_SESSION_TOKEN), other: process.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI ?? null }))';
  return new Promise((resolve) => {
    execFile(
      resolve_(ROOT, 'node_modules/.bin/tsx'),
      [
        'bin/countersign.ts',
        'exec',
        intentId,
        '--status-url',
        sandbox.server.url,
        '--',
        process.execPath,
        '-e',
        script,
      ],
      { cwd: ROOT, env: ENV, timeout: 60_000 },
      (error, stdout, stderr) => {
        const lines = (text: string) => text.split('\n').filter(Boolean);
        resolve({
          code: error ? Number((error as { code?: number }).code ?? 1) : 0,
          out: lines(stdout),
          err: lines(stderr),
        });
      },
    );
  });
}

describe('countersign exec', () => {
  it('runs the command once with the minted credentials, then refuses', async () => {
    const view = await approvedIntent();
    const first = await exec(view.request.intentId as string);
    expect(first.code, first.err.join('\n')).toBe(0);
    const seen = JSON.parse(first.out.at(-1)!) as { key: string; token: boolean; other: string | null };
    const session = sandbox.loop.enforcement.sts.sessions.get(seen.key);
    expect(session?.sourceIdentity).toBe(view.request.intentId);
    expect(seen).toMatchObject({ token: true, other: null });

    const second = await exec(view.request.intentId as string);
    expect(second.code).toBe(1);
    expect(second.out).toEqual([]);
    expect(second.err.join('\n')).toMatch(/no credentials \(already_consumed\)/);
  });

  it('runs nothing for an action without an executor, and leaves its grant unspent', async () => {
    const view = await approvedIntent({
      action: 'data:Export',
      resource: 'arn:aws:rds:us-east-1:123456789012:cluster:customers-prod',
      parameters: { rowLimit: 10 },
    });
    const run = await exec(view.request.intentId as string);
    expect(run.code).toBe(1);
    expect(run.out).toEqual([]);
    expect(run.err.join('\n')).toMatch(/no credentials \(no_executor\)/);
    const grantId = (view.decision as unknown as { grant: { grantId: string } }).grant.grantId;
    expect(
      (await getGrant({ ddb: sandbox.loop.aws.ddb, table: sandbox.loop.aws.table }, grantId))?.consumedAt,
    ).toBeUndefined();
  });
});
