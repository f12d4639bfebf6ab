/**
 * `npm run demo`: a scripted agent. It publishes a few realistic intents to the
 * sandbox through the unmodified AWS SDK EventBridge client, then follows each
 * one on the status API until it is decided (or `--timeout` seconds pass).
 *
 * Flags: `--no-wait` (publish and exit), `--timeout=<seconds>` (default 900),
 * `--endpoint=<url>` (default env COUNTERSIGN_ENDPOINT, else http://127.0.0.1:<COUNTERSIGN_PORT or 4010>).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
} from '@aws-sdk/client-eventbridge';
import {
  AGENT_SOURCE_PREFIX,
  type DecisionDetail,
  INTENT_DETAIL_TYPE,
  type Intent,
} from '../lambdas/shared/intent.js';
import { defaultDataDir } from './sandbox-info.js';

const AGENT_ID = 'deploy-bot';
const OWNER = 'erin@example.com';
const ON_BEHALF_OF = 'carol@example.com';
const BUS = process.env.COUNTERSIGN_EVENT_BUS ?? 'countersign';

/** One scripted intent and what the agent expects to happen to it. */
interface Step {
  label: string;
  expect: string;
  intent: Intent;
}

/** The demo's intents: each exercises a different policy. */
export function demoIntents(session = `session-${randomUUID().slice(0, 8)}`): Step[] {
  const id = (name: string) => `demo-${name}-${randomUUID().slice(0, 8)}`;
  const agent = { model: 'claude-sonnet-4', sessionId: session, onBehalfOf: ON_BEHALF_OF, owner: OWNER };
  return [
    {
      label: 'Customer-data export (prod)',
      expect: 'review by security-approvers; the connection string is masked on the card',
      intent: {
        intentId: id('export'),
        action: 'data:Export',
        resource: 'arn:aws:rds:eu-west-1:123456789012:cluster:customers-prod',
        environment: 'prod',
        justification:
          'Quarterly churn analysis (ANALYTICS-812): export EU customer accounts closed in Q3 to the analytics bucket.',
        parameters: {
          connectionString:
            'postgres://exporter:Sup3r-S3cret-Pa55@customers-prod.cluster-c9x.eu-west-1.rds.amazonaws.com:5432/customers',
          query: "SELECT id, plan, closed_at FROM accounts WHERE region = 'EU' AND closed_at >= '2026-07-01'",
          rowLimit: 50000,
          destination: 's3://analytics-exports-eu/churn/2026-q3/',
          format: 'parquet',
        },
        agent,
        context: {
          datasets: ['customers', 'billing'],
          impact: 'Up to 50,000 rows of customer account data leave the production database.',
        },
      },
    },
    {
      label: 'Role escalation (prod)',
      expect: 'privilege escalation: two distinct security approvers (quorum 2)',
      intent: {
        intentId: id('escalation'),
        action: 'iam:AttachRolePolicy',
        resource: 'arn:aws:iam::123456789012:role/payments-deployer',
        environment: 'prod',
        justification:
          'Hotfix for INC-4711: the deploy role cannot update the payments Lambda aliases; attach admin for the duration of the fix.',
        parameters: {
          roleName: 'payments-deployer',
          policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
        },
        agent,
        context: {
          impact: 'payments-deployer gets full administrative access to the production account.',
          diff: '+ arn:aws:iam::aws:policy/AdministratorAccess\n  arn:aws:iam::123456789012:policy/payments-deploy',
        },
      },
    },
    {
      label: 'Key rotation (prod)',
      expect: 'review by security-approvers, 30-minute window',
      intent: {
        intentId: id('rotation'),
        action: 'kms:RotateKeyOnDemand',
        resource: 'arn:aws:kms:eu-west-1:123456789012:key/6f1c2a4e-0b7d-4e52-9a37-2f6c3b1d8e90',
        environment: 'prod',
        justification: 'Scheduled rotation of the payments data key after the vendor offboarding (SEC-230).',
        parameters: { keyId: '6f1c2a4e-0b7d-4e52-9a37-2f6c3b1d8e90', alias: 'alias/payments-data' },
        agent,
      },
    },
    {
      label: 'Read-only for reporting (prod)',
      expect: 'review by one security approver; once approved, run with minted credentials',
      intent: {
        intentId: id('readonly'),
        action: 'iam:AttachRolePolicy',
        resource: 'arn:aws:iam::123456789012:role/reporting-reader',
        environment: 'prod',
        justification: 'The weekly revenue report (FIN-88) needs read-only access for its reader role.',
        parameters: { roleName: 'reporting-reader', policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
        agent,
      },
    },
    {
      label: 'Read a build log (dev)',
      expect: 'allowed by policy at once: no human needed',
      intent: {
        intentId: id('read'),
        action: 's3:GetObject',
        resource: 'arn:aws:s3:::dev-build-artifacts/payments/build-1842.log',
        environment: 'dev',
        justification: 'Read the failing build log to find the flaky test.',
        parameters: { bucket: 'dev-build-artifacts', key: 'payments/build-1842.log' },
        agent,
      },
    },
  ];
}

const tty = process.stdout.isTTY;
const paint = (code: string) => (text: string) => (tty ? `\u001b[${code}m${text}\u001b[0m` : text);
const bold = paint('1');
const dim = paint('2');
const COLOR: Record<string, (text: string) => string> = {
  PENDING: paint('33'),
  APPROVED: paint('32'),
  DENIED: paint('31'),
  EXPIRED: paint('35'),
  CANCELLED: paint('90'),
};
const FINAL = new Set(['APPROVED', 'DENIED', 'EXPIRED', 'CANCELLED']);
const clock = () => new Date().toTimeString().slice(0, 8);

interface StatusView {
  status: string;
  votes: { email: string }[];
  decision: { reason?: string; automatic?: boolean } | null;
  request: { review?: { quorum?: number } };
}

function option(argv: string[], name: string): string | undefined {
  const prefix = `--${name}=`;
  return argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

function describe(view: StatusView): string {
  if (view.status === 'PENDING') {
    if (!view.request.review) return 'evaluating policy';
    const quorum = view.request.review?.quorum ?? 1;
    const who = view.votes.map((v) => v.email.split('@')[0]).join(', ');
    return `${view.votes.length} of ${quorum} approval${quorum === 1 ? '' : 's'}${who ? ` (${who})` : ''}`;
  }
  const reason = view.decision?.reason ? `: ${view.decision.reason}` : '';
  return `${view.decision?.automatic ? 'by policy' : 'by a human'}${reason}`.slice(0, 140);
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  const endpoint =
    option(argv, 'endpoint') ??
    process.env.COUNTERSIGN_ENDPOINT ??
    `http://127.0.0.1:${process.env.COUNTERSIGN_PORT ?? 4010}`;
  const timeoutSeconds = Number(option(argv, 'timeout') ?? 900);
  const wait = !argv.includes('--no-wait');
  const client = new EventBridgeClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'demo-agent', secretAccessKey: 'demo-agent' },
    maxAttempts: 1,
  });
  const steps = demoIntents();

  console.log(bold(`Agent ${AGENT_ID}`) + dim(` (owner ${OWNER}, acting for ${ON_BEHALF_OF})`));
  console.log(dim(`Publishing ${steps.length} intents to bus "${BUS}" at ${endpoint}\n`));
  let out: PutEventsCommandOutput;
  try {
    out = await client.send(
      new PutEventsCommand({
        Entries: steps.map((s) => ({
          EventBusName: BUS,
          Source: `${AGENT_SOURCE_PREFIX}${AGENT_ID}`,
          DetailType: INTENT_DETAIL_TYPE,
          Detail: JSON.stringify(s.intent),
        })),
      }),
    );
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    console.error(
      `Cannot publish to ${endpoint} (${cause}). Is the sandbox running? Start it with: npm start`,
    );
    return 1;
  }
  steps.forEach((step, i) => {
    const entry = out.Entries?.[i];
    const result = entry?.EventId
      ? dim(`event ${entry.EventId}`)
      : COLOR.DENIED!(`${entry?.ErrorCode}: ${entry?.ErrorMessage}`);
    console.log(`  ${bold(step.label.padEnd(30))} ${step.intent.action.padEnd(24)} ${result}`);
    console.log(`  ${''.padEnd(30)} ${dim(`${step.intent.intentId} — expect ${step.expect}`)}`);
  });
  if (out.FailedEntryCount) {
    console.error(`\n${out.FailedEntryCount} entries were refused by the bus.`);
    return 1;
  }

  const consoleUrl = `${endpoint.replace(/\/$/, '')}/`;
  console.log(`\nOpen the approval console: ${bold(consoleUrl)}`);
  console.log(
    dim(
      '  Pick alice or bob to approve or deny. Try carol first: the agent acts on her behalf, so she is refused.\n' +
        '  The role escalation needs two different approvers (alice and bob).\n',
    ),
  );
  if (!wait) return 0;

  const last = new Map<string, string>();
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    let open = 0;
    for (const step of steps) {
      const id = step.intent.intentId;
      if (FINAL.has(last.get(id)?.split('|')[0] ?? '')) continue;
      let view: StatusView | undefined;
      try {
        const res = await fetch(`${consoleUrl}requests/${encodeURIComponent(id)}`);
        if (res.ok) view = (await res.json()) as StatusView;
      } catch {
        console.error(COLOR.DENIED!(`  lost the sandbox at ${endpoint}; is it still running?`));
        return 1;
      }
      const status = view?.status ?? 'SUBMITTED';
      const line = view ? describe(view) : 'not evaluated yet';
      const key = `${status}|${line}`;
      if (last.get(id) !== key) {
        last.set(id, key);
        const paintStatus = COLOR[status] ?? dim;
        console.log(
          `${dim(clock())}  ${step.label.padEnd(30)} ${paintStatus(status.padEnd(9))} ${dim(line)}`,
        );
      }
      if (!FINAL.has(status)) open += 1;
    }
    if (open === 0) {
      console.log(`\nAll ${steps.length} intents are decided. Decision events: ${consoleUrl}events`);
      const enforced = await enforce(endpoint, steps);
      await printReport(consoleUrl);
      return enforced;
    }
    if (Date.now() > deadline) {
      console.log(`\nStopped waiting after ${timeoutSeconds} s; ${open} still pending (see the console).`);
      await printReport(consoleUrl);
      return 2;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Runs the enforcement demo on the approved reporting-role change (sandbox/fake-sts-demo.ts). */
async function enforce(endpoint: string, steps: Step[]): Promise<number> {
  const step = steps.find((s) => s.intent.intentId.startsWith('demo-readonly-'))!;
  const res = await fetch(
    `${endpoint.replace(/\/$/, '')}/events?intentId=${encodeURIComponent(step.intent.intentId)}`,
  );
  const decision = ((await res.json()) as { detail: DecisionDetail }[])[0]?.detail;
  if (decision?.status !== 'APPROVED') {
    console.log(dim('\nApprove "Read-only for reporting" to see it run with minted credentials.'));
    return 0;
  }
  const { enforcementDemo } = await import('./fake-sts-demo.js');
  const shown = await enforcementDemo(
    endpoint,
    AGENT_ID,
    decision,
    step.intent.parameters as { roleName: string; policyArn: string },
    { line: (t) => console.log(t), ok: COLOR.APPROVED!, bad: COLOR.DENIED!, dim },
  );
  return shown ? 0 : 1;
}

/**
 * Writes the verified audit report of the sandbox's trail (what
 * `countersign audit report --sandbox` writes) into the data directory and
 * prints its path, with the console's Insights page showing the same figures.
 */
async function printReport(consoleUrl: string): Promise<void> {
  const out = join(defaultDataDir(process.cwd()), 'report.html');
  const { main: cli } = await import('../cli/main.js');
  const errors: string[] = [];
  const code = await cli(['audit', 'report', '--sandbox', '--out', out], {
    out: () => {},
    err: (line) => errors.push(line),
    cwd: process.cwd(),
  }).catch((error: unknown) => {
    errors.push(String(error));
    return 1;
  });
  if (code !== 0) {
    console.error(COLOR.DENIED!(`Audit report not written: ${errors.join('; ')}`));
    return;
  }
  console.log(dim(errors.filter((l) => l.startsWith('verification')).join('\n')));
  console.log(`Audit report: ${bold(out)}`);
  console.log(`Insights:     ${bold(`${consoleUrl}insights`)}`);
}

if (process.argv[1]?.endsWith('sandbox/demo.ts')) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`demo failed: ${(error as Error).stack ?? error}`);
      process.exit(1);
    },
  );
}
