/**
 * Invariant 10 in the import graph: each channel (Slack: lambdas/interaction/,
 * Teams: lambdas/teams/) parses and renders; it reaches the request store, the audit trail, Step
 * Functions and the policy engine only through the review core
 * (lambdas/review-core/). And the core knows no channel: it imports nothing
 * of lambdas/interaction/ and no Slack client.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const SLACK_CHANNEL = 'lambdas/interaction';
const TEAMS_CHANNEL = 'lambdas/teams';
/** Every channel adapter. */
const CHANNELS = [SLACK_CHANNEL, TEAMS_CHANNEL];
const CORE = 'lambdas/review-core';

/** What only the core may touch. */
const CORE_ONLY_FILES = [
  'lambdas/shared/store.ts',
  'lambdas/shared/audit.ts',
  'lambdas/shared/audit-record.ts',
  'lambdas/shared/policy.ts',
  'lambdas/shared/grants.ts',
  'lambdas/shared/workflow.ts',
];
const CORE_ONLY_PACKAGES = [
  '@aws-sdk/client-dynamodb',
  '@aws-sdk/lib-dynamodb',
  '@aws-sdk/client-sfn',
  '@cedar-policy/cedar-wasm',
];

interface Import {
  /** Repository path of a local module, or the package name. */
  target: string;
  /** `import type` / `export type`: erased, no runtime edge. */
  typeOnly: boolean;
}

/** Static and dynamic imports (and re-exports) of one file. */
function importsOf(file: string): Import[] {
  const text = readFileSync(join(root, file), 'utf8');
  const found: Import[] = [];
  const pattern =
    /(?:^|\n)\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;
  for (const match of text.matchAll(pattern)) {
    const specifier = (match[3] ?? match[4])!;
    const typeOnly = Boolean(match[2]);
    const target = specifier.startsWith('.')
      ? relative(root, resolve(dirname(join(root, file)), specifier)).replace(/\.js$/, '.ts')
      : specifier
          .split('/')
          .slice(0, specifier.startsWith('@') ? 2 : 1)
          .join('/');
    found.push({ target, typeOnly });
  }
  return found;
}

const filesOf = (dir: string) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${dir}/${f}`);

/** Every module the files reach at run time, not following imports into `stopAt`. */
function reachable(files: string[], stopAt: string): Map<string, string> {
  const via = new Map<string, string>();
  const queue = [...files];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const { target, typeOnly } of importsOf(file)) {
      if (typeOnly || via.has(target)) continue;
      via.set(target, file);
      if (target.endsWith('.ts') && !target.startsWith(`${stopAt}/`)) queue.push(target);
    }
  }
  return via;
}

describe('channel and core boundaries', () => {
  it('reads a real graph: the Slack channel does call the core, which does use the store and Step Functions', () => {
    const channel = filesOf(SLACK_CHANNEL).flatMap(importsOf);
    expect(channel.some((i) => i.target === `${CORE}/dispatch.ts`)).toBe(true);
    const core = reachable(filesOf(CORE), '(nowhere)');
    expect(core.has('lambdas/shared/store.ts')).toBe(true);
    expect(core.has('@aws-sdk/client-sfn')).toBe(true);
    expect(core.has('lambdas/shared/policy.ts')).toBe(true);
  });

  it('no channel imports the store, the audit trail, Step Functions or the policy engine', () => {
    for (const file of CHANNELS.flatMap(filesOf)) {
      const direct = importsOf(file).map((i) => i.target);
      expect(
        direct.filter((t) => CORE_ONLY_FILES.includes(t) || CORE_ONLY_PACKAGES.includes(t)),
        file,
      ).toEqual([]);
    }
  });

  it.each(CHANNELS)('nothing %s runs reaches them except through the review core', (channel) => {
    const reached = reachable(filesOf(channel), CORE);
    const leaks = [...CORE_ONLY_FILES, ...CORE_ONLY_PACKAGES]
      .filter((target) => reached.has(target))
      .map((target) => `${reached.get(target)} -> ${target}`);
    expect(leaks).toEqual([]);
  });

  it('the Teams channel does call the core', () => {
    const teams = filesOf(TEAMS_CHANNEL).flatMap(importsOf);
    expect(teams.some((i) => i.target === `${CORE}/dispatch.ts`)).toBe(true);
  });

  it('the core imports no channel and no Slack client', () => {
    for (const file of filesOf(CORE)) {
      const direct = importsOf(file).map((i) => i.target);
      expect(
        direct.filter((t) => CHANNELS.some((c) => t.startsWith(`${c}/`)) || t === '@slack/web-api'),
        file,
      ).toEqual([]);
    }
  });
});
