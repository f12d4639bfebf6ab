/**
 * `countersign policy test` and `countersign policy explain`: run the policy
 * test cases, and show what policy would decide for one intent and whom it
 * would ping. The case runner is also what `npm test` runs
 * (test/policy/policy-cases.test.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Intent, parseIntent } from '../lambdas/shared/intent.js';
import {
  type ApproverIdentity,
  createPolicyEngine,
  type IntentVerdict,
  type PolicyDefaults,
  type PolicyEngine,
} from '../lambdas/shared/policy.js';
import { declaredFacts } from '../lambdas/shared/registration.js';
import { buildPolicyBundle, type PolicyBundle } from '../lib/policy-bundle.js';
import type { CliIo } from './main.js';
import { UsageError } from './main.js';

/** One policy test case (a file in `policies/tests/` holds one case or an array of cases). */
export interface PolicyCase {
  name: string;
  /** The full intent detail, as an agent would publish it. */
  intent: unknown;
  agentId: string;
  /**
   * The environment Countersign derives for this intent (what policy keys
   * on), e.g. `unknown` for a resource nothing places.
   * @default the intent's declared environment
   */
  environment?: string;
  /** When present, `expected.canApprove` says whether this person may approve. */
  approver?: ApproverIdentity;
  expected: {
    outcome: 'allow' | 'deny' | 'review';
    quorum?: number;
    /** Exactly these determining policy ids (any order). */
    policies?: string[];
    canApprove?: boolean;
    approverGroups?: string[];
    approverEmails?: string[];
    masked?: string[];
    editable?: string[];
    /** Break-glass responder groups of the plan (empty when break-glass does not apply). */
    responderGroups?: string[];
    timeoutSeconds?: number;
    /** true: at least one warning; false: none. */
    warnings?: boolean;
  };
}

/** Result of one case. */
export interface CaseResult {
  file: string;
  name: string;
  pass: boolean;
  problems: string[];
}

/** A directory of people: the shape of `sandbox/directory.json`. */
export interface PeopleDirectory {
  users: Array<{ id: string; name?: string; realName?: string; email?: string; isBot?: boolean }>;
  groups: Array<{ id: string; handle: string; name?: string; users: string[] }>;
}

/** The defaults the deployed stack uses, read from cdk.json context when present. */
export function readDefaults(cwd: string): PolicyDefaults {
  const fallback: PolicyDefaults = { approverGroup: 'security-approvers', timeoutSeconds: 3600 };
  try {
    const cdk = JSON.parse(readFileSync(join(cwd, 'cdk.json'), 'utf8')) as {
      context?: { countersign?: { approverGroupHandle?: string; defaultReviewTimeoutSeconds?: number } };
    };
    const c = cdk.context?.countersign;
    return {
      approverGroup: c?.approverGroupHandle ?? fallback.approverGroup,
      timeoutSeconds: c?.defaultReviewTimeoutSeconds ?? fallback.timeoutSeconds,
    };
  } catch {
    return fallback;
  }
}

/** Reads every `*.json` case file of a directory, in name order. Unreadable files become failing cases. */
export function loadPolicyCases(
  casesDir: string,
): Array<{ file: string; case?: PolicyCase; error?: string }> {
  if (!existsSync(casesDir)) return [];
  const out: Array<{ file: string; case?: PolicyCase; error?: string }> = [];
  for (const name of readdirSync(casesDir).sort()) {
    if (!name.endsWith('.json')) continue;
    const file = join(casesDir, name);
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as PolicyCase | PolicyCase[];
      for (const c of Array.isArray(parsed) ? parsed : [parsed]) {
        if (typeof c?.name !== 'string' || typeof c.expected?.outcome !== 'string') {
          out.push({ file: name, error: 'a case needs "name" and "expected.outcome"' });
        } else out.push({ file: name, case: c });
      }
    } catch (error) {
      out.push({ file: name, error: `cannot read case file: ${(error as Error).message}` });
    }
  }
  return out;
}

const sameSet = (a: string[], b: string[]) =>
  a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

/** Runs one case; returns what did not match (empty when it passes). */
export function checkPolicyCase(engine: PolicyEngine, c: PolicyCase, defaults: PolicyDefaults): string[] {
  const parsed = parseIntent(c.intent);
  if (!parsed.ok) return [`intent is invalid: ${parsed.reason}`];
  const verified = declaredFacts(parsed.intent, c.environment ?? parsed.intent.environment);
  const verdict = engine.evaluateIntent({ intent: parsed.intent, agentId: c.agentId, verified }, defaults);
  const problems: string[] = [];
  const e = c.expected;
  const want = (what: string, expected: unknown, actual: unknown) =>
    problems.push(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  if (verdict.outcome !== e.outcome) want('outcome', e.outcome, verdict.outcome);
  if (e.policies && !sameSet(e.policies, verdict.policies)) want('policies', e.policies, verdict.policies);
  const plan = verdict.review;
  if (e.quorum !== undefined && plan?.quorum !== e.quorum) want('quorum', e.quorum, plan?.quorum);
  if (e.timeoutSeconds !== undefined && plan?.timeoutSeconds !== e.timeoutSeconds) {
    want('timeoutSeconds', e.timeoutSeconds, plan?.timeoutSeconds);
  }
  for (const key of ['approverGroups', 'approverEmails', 'masked', 'editable', 'responderGroups'] as const) {
    const expected = e[key];
    if (expected && !sameSet(expected, plan?.[key] ?? [])) want(key, expected, plan?.[key]);
  }
  if (e.warnings !== undefined && e.warnings !== verdict.warnings.length > 0) {
    want('warnings', e.warnings ? 'some' : 'none', verdict.warnings);
  }
  if (e.canApprove !== undefined) {
    if (!c.approver) problems.push('expected.canApprove needs an "approver"');
    else {
      const answer = plan
        ? engine.canApprove({
            intent: parsed.intent,
            agentId: c.agentId,
            plan,
            approver: c.approver,
            verified,
          })
        : { allowed: false, reason: `nothing to approve: the outcome is ${verdict.outcome}` };
      if (answer.allowed !== e.canApprove)
        want('canApprove', e.canApprove, `${answer.allowed} (${answer.reason})`);
    }
  }
  return problems;
}

/** Builds the bundle of `policyDir` and runs every case of `casesDir` against it. */
export function runPolicyCases(options: {
  policyDir: string;
  casesDir?: string;
  defaults: PolicyDefaults;
  bundle?: PolicyBundle;
}): CaseResult[] {
  const engine = createPolicyEngine(options.bundle ?? buildPolicyBundle(options.policyDir));
  return loadPolicyCases(options.casesDir ?? join(options.policyDir, 'tests')).map(
    ({ file, case: c, error }) => {
      if (!c) return { file, name: '(unreadable)', pass: false, problems: [error ?? 'unreadable'] };
      let problems: string[];
      try {
        problems = checkPolicyCase(engine, c, options.defaults);
      } catch (err) {
        problems = [`error: ${(err as Error).message}`];
      }
      return { file, name: c.name, pass: problems.length === 0, problems };
    },
  );
}

/** A person who would be pinged, and whether they could approve. */
export interface AskedPerson {
  id?: string;
  name: string;
  email?: string;
  via: string[];
  canApprove: boolean;
  reason: string;
}

/** What `policy explain` reports. */
export interface ExplainReport {
  intentId: string;
  action: string;
  environment: string;
  verdict: IntentVerdict;
  sources: Record<string, string>;
  asked: { groups: string[]; emails: string[] };
  people?: AskedPerson[];
  notes: string[];
}

/** Evaluates an intent and, given a directory, resolves who would be asked. */
export function explainIntent(options: {
  engine: PolicyEngine;
  intent: Intent;
  agentId: string;
  defaults: PolicyDefaults;
  directory?: PeopleDirectory;
}): ExplainReport {
  const { engine, intent, agentId, directory } = options;
  const verdict = engine.evaluateIntent({ intent, agentId }, options.defaults);
  const plan = verdict.review;
  const report: ExplainReport = {
    intentId: intent.intentId,
    action: intent.action,
    environment: intent.environment,
    verdict,
    sources: engine.bundle.sources ?? {},
    asked: { groups: plan?.approverGroups ?? [], emails: plan?.approverEmails ?? [] },
    notes: [],
  };
  if (!plan || !directory) return report;
  const people = new Map<string, AskedPerson & { groups: string[]; isBot?: boolean }>();
  const groupsOf = (userId: string) =>
    directory.groups.filter((g) => g.users.includes(userId)).map((g) => g.handle);
  const add = (
    user: PeopleDirectory['users'][number] | undefined,
    email: string | undefined,
    via: string,
  ) => {
    const key = user?.id ?? `email:${email}`;
    const existing = people.get(key);
    if (existing) {
      existing.via.push(via);
      return;
    }
    people.set(key, {
      id: user?.id,
      name: user?.realName ?? user?.name ?? email ?? key,
      email: user?.email ?? email,
      via: [via],
      canApprove: false,
      reason: '',
      groups: user ? groupsOf(user.id) : [],
      isBot: user?.isBot,
    });
  };
  for (const handle of plan.approverGroups) {
    const group = directory.groups.find((g) => g.handle.toLowerCase() === handle.toLowerCase());
    if (!group) {
      report.notes.push(`group @${handle} is not in the directory: nobody from it can approve`);
      continue;
    }
    for (const id of group.users)
      add(
        directory.users.find((u) => u.id === id),
        undefined,
        `@${group.handle}`,
      );
  }
  for (const email of plan.approverEmails) {
    const user = directory.users.find((u) => u.email?.toLowerCase() === email.toLowerCase());
    add(user, email, email);
  }
  for (const person of people.values()) {
    const answer = engine.canApprove({
      intent,
      agentId,
      plan,
      approver: {
        slackUserId: person.id ?? '',
        email: person.email,
        groups: person.groups,
        isBot: person.isBot,
      },
    });
    person.canApprove = answer.allowed;
    person.reason = answer.reason;
  }
  report.people = [...people.values()].map(({ groups: _g, isBot: _b, ...p }) => p);
  const eligible = report.people.filter((p) => p.canApprove).length;
  if (eligible < plan.quorum) {
    report.notes.push(
      `only ${eligible} eligible approver${eligible === 1 ? '' : 's'} for a quorum of ${plan.quorum}: this request could never be approved and would expire (denied)`,
    );
  }
  return report;
}

/** Renders an explain report as lines of text. */
export function formatExplain(report: ExplainReport): string[] {
  const { verdict } = report;
  const plan = verdict.review;
  const lines = [
    `intent:    ${report.intentId} — ${report.action} in ${report.environment}`,
    `outcome:   ${verdict.outcome.toUpperCase()}`,
    `reason:    ${verdict.reason}`,
    'policies:',
    ...verdict.policies.map((id) => `  - ${id}${report.sources[id] ? `  (${report.sources[id]})` : ''}`),
  ];
  if (plan) {
    lines.push(
      `review:    ${plan.quorum} distinct approval${plan.quorum === 1 ? '' : 's'}, any deny denies; expires after ${plan.timeoutSeconds}s`,
    );
    if (plan.remindBeforeSeconds?.length) {
      lines.push(`reminders: ${plan.remindBeforeSeconds.map((s) => `${s}s`).join(', ')} before expiry`);
    }
    if (plan.escalateTo?.length) lines.push(`escalate:  ${plan.escalateTo.join(', ')}`);
    if (plan.masked.length) lines.push(`masked:    ${plan.masked.map((p) => `parameters.${p}`).join(', ')}`);
    if (plan.editable.length)
      lines.push(`editable:  ${plan.editable.map((p) => `parameters.${p}`).join(', ')}`);
    if (plan.breakGlass) lines.push('breakglass: allowed');
    lines.push(
      `asked:     ${[...plan.approverGroups.map((g) => `@${g}`), ...plan.approverEmails].join(', ')}`,
    );
    if (report.people) {
      for (const p of report.people) {
        const email = p.email ? ` <${p.email}>` : '';
        lines.push(
          `  - ${p.name}${email} via ${p.via.join(', ')}${p.canApprove ? '' : ` — cannot approve: ${p.reason}`}`,
        );
      }
      const eligible = report.people.filter((p) => p.canApprove).length;
      const n = report.people.length;
      lines.push(
        `this will ping ${n} ${n === 1 ? 'person' : 'people'} (${eligible} can approve; quorum ${plan.quorum})`,
      );
    } else {
      lines.push('  (pass --directory <file> to resolve names and count people)');
    }
  }
  for (const w of verdict.warnings) lines.push(`warning:   ${w}`);
  if (verdict.shadow) {
    const s = verdict.shadow;
    lines.push(
      `shadow:    would be ${s.outcome.toUpperCase()}${s.changed ? ' (a change)' : ' (no change)'}${s.policies.length ? ` by ${s.policies.join(', ')}` : ''}; decides nothing`,
    );
  }
  for (const n of report.notes) lines.push(`note:      ${n}`);
  lines.push(`bundle:    ${verdict.policyDigest}`);
  return lines;
}

export const usage = `usage:
  countersign policy test [--dir policies] [--cases <dir>]
      Runs every policy test case (<dir>/tests/*.json by default): one line per
      case, then a summary. Exit 1 when a case fails or a policy is invalid.
  countersign policy explain <intent.json> [--agent <agentId>] [--dir policies]
                             [--directory <people.json>] [--json]
      Shows the outcome for one intent, the policies that determined it, and
      who would be asked; with --directory, names and how many people it pings.
      <intent.json> is the intent detail, or an EventBridge entry with
      Source/Detail (then the agent id comes from the source).`;

function readJson(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}

/** Entry point of `countersign policy ...`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'test') return testCommand(rest, io);
  if (sub === 'explain') return explainCommand(rest, io);
  throw new UsageError(sub ? `unknown subcommand "policy ${sub}"` : 'missing subcommand');
}

async function testCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { dir: { type: 'string', default: 'policies' }, cases: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const policyDir = resolve(io.cwd, values.dir);
  const casesDir = values.cases ? resolve(io.cwd, values.cases) : join(policyDir, 'tests');
  const results = runPolicyCases({ policyDir, casesDir, defaults: readDefaults(io.cwd) });
  for (const r of results) {
    io.out(`${r.pass ? 'PASS' : 'FAIL'}  ${r.file}: ${r.name}`);
    for (const p of r.problems) io.out(`        ${p}`);
  }
  const failed = results.filter((r) => !r.pass).length;
  io.out(`${results.length - failed} passed, ${failed} failed (${results.length} cases)`);
  if (results.length === 0) io.err(`no test cases found in ${casesDir}`);
  return failed > 0 || results.length === 0 ? 1 : 0;
}

async function explainCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      agent: { type: 'string' },
      dir: { type: 'string', default: 'policies' },
      directory: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new UsageError('expected exactly one <intent.json>');
  const raw = readJson(resolve(io.cwd, positionals[0]!), 'intent') as Record<string, unknown>;
  const entryDetail = raw.Detail ?? raw.detail;
  const detail = typeof entryDetail === 'string' ? JSON.parse(entryDetail) : (entryDetail ?? raw);
  const source = (raw.Source ?? raw.source) as string | undefined;
  const agentId =
    values.agent ??
    (source?.startsWith('countersign.agent.') ? source.slice('countersign.agent.'.length) : 'agent');
  const parsed = parseIntent(detail);
  if (!parsed.ok) {
    io.out('outcome:   DENY');
    io.out(`reason:    ${parsed.reason} (the workflow denies invalid intents before policy runs)`);
    return 1;
  }
  const engine = createPolicyEngine(buildPolicyBundle(resolve(io.cwd, values.dir)));
  const directory = values.directory
    ? (readJson(resolve(io.cwd, values.directory), 'directory') as PeopleDirectory)
    : undefined;
  const report = explainIntent({
    engine,
    intent: parsed.intent,
    agentId,
    defaults: readDefaults(io.cwd),
    directory,
  });
  if (values.json) io.out(JSON.stringify(report, null, 2));
  else for (const line of formatExplain(report)) io.out(line);
  return 0;
}
