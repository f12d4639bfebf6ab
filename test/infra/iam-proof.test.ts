/**
 * The IAM proof. Every AWS API call the handlers make while the offline loop
 * runs a full scenario (test/proof/scenario.script.ts) is evaluated with
 * @cloud-copilot/iam-simulate against the synthesized stack's policies in the
 * deployed naming: the handler role's identity policies plus the target's
 * resource policy (bucket, key, bus, queue, Lambda permission). A call IAM
 * would refuse fails the test naming handler, action and resource. Then the
 * service principals' AssumeRole and integrations, and what must never be
 * allowed. See docs/testing.md.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type IamRequest, localToDeployed, requestsFor } from '../proof/requests.js';
import { runScenario, type ScenarioRun } from '../proof/run.js';
import { evaluate, rolePrincipal } from '../proof/simulate.js';
import { type DeployedStack, synthDeployed } from '../proof/template.js';

let run: ScenarioRun;
let deployed: DeployedStack;
let requests: IamRequest[];

beforeAll(() => {
  run = runScenario();
  deployed = synthDeployed();
  const names = localToDeployed(deployed, run.env);
  requests = run.calls.flatMap((call) => requestsFor(deployed, names, call));
}, 300_000);

/** Evaluates a request as the handler's role; returns a failure line or undefined. */
async function refusal(request: IamRequest): Promise<string | undefined> {
  const principal = rolePrincipal(deployed, request.roleLogicalId, request.handler);
  const verdict = await evaluate({
    principal: principal.principal,
    identityPolicies: principal.identityPolicies,
    action: request.action,
    resource: request.resource,
    context: { ...principal.context, ...request.context },
    resourcePolicy: deployed.resourcePolicy(request.resource),
  });
  if (verdict.allowed) return undefined;
  const why = request.impliedBy ? ` (implied by ${request.impliedBy})` : '';
  return `${request.handler}: ${request.action} on ${request.resource}${why} -> ${verdict.result}`;
}

/** Requests made distinct by handler, action, resource and context. */
function distinct(list: IamRequest[]): IamRequest[] {
  const seen = new Map<string, IamRequest>();
  for (const r of list) seen.set(JSON.stringify([r.handler, r.action, r.resource, r.context]), r);
  return [...seen.values()];
}

/**
 * Grants a handler role holds that no recorded call uses, each with the reason
 * it stays. Anything else unused fails the least-privilege test.
 */
const UNUSED_GRANTS_KEPT: { handlers: string[] | '*'; action: RegExp; reason: string }[] = [
  {
    handlers: '*',
    action: /^(logs:CreateLogStream|logs:PutLogEvents|xray:PutTraceSegments|xray:PutTelemetryRecords)$/,
    reason: 'the Lambda runtime writes logs and traces for the function; the handler code never calls these',
  },
  {
    handlers: '*',
    action: /^kms:(Encrypt|GenerateDataKey|DescribeKey)$/,
    reason:
      'DynamoDB uses the table key on the caller’s behalf (kms:ViaService dynamodb only); the proof models its kms:Decrypt, the others are DynamoDB’s internal calls',
  },
  {
    handlers: ['archive'],
    action:
      /^(dynamodb:(DescribeStream|GetRecords|GetShardIterator|ListStreams)|sqs:(SendMessage|GetQueueAttributes|GetQueueUrl))$/,
    reason:
      'the event source mapping reads the stream and sends failed batches to the dead-letter queue as the function',
  },
  {
    handlers: ['archive'],
    action: /^(s3:GetObject|s3:ListBucket|kms:Decrypt)$/,
    reason:
      'a redelivered record finds its object already written and checks its checksum (HeadObject); s3rver has no conditional writes, so test/audit/archive.test.ts covers that path',
  },
  {
    handlers: ['cancel', 'detector'],
    action: /^sqs:(SendMessage|GetQueueAttributes|GetQueueUrl)$/,
    reason:
      'Lambda sends an event whose asynchronous retries all failed to the rule’s dead-letter queue (the on-failure destination) as the function',
  },
  {
    handlers: ['interaction', 'review', 'record', 'reminder', 'detector', 'poster'],
    action: /^secretsmanager:DescribeSecret$/,
    reason: 'part of Secret.grantRead (metadata only); the handlers call GetSecretValue',
  },
  {
    handlers: ['evaluate', 'reminder'],
    action: /^dynamodb:UpdateItem$/,
    reason: 'part of the one audit-writer grant every writer shares; these two handlers only put and read',
  },
  {
    handlers: ['review'],
    action: /^secretsmanager:GetSecretValue$/,
    reason:
      'a retried Review repaints a card the poster already posted (test/poster/drain.test.ts); the scenario never retries Review',
  },
  {
    handlers: ['review', 'poster', 'record', 'interaction'],
    action: /^lambda:InvokeFunction$/,
    reason:
      'Review kicks the poster, Record kicks it when a decided card leaves the queue, the interaction handler when it hands over a rate-limited card update (test/interaction/answer-window.test.ts), and the poster re-runs itself, all by async invoke; the sandbox runs the poster in process instead',
  },
  {
    handlers: ['poster'],
    action: /^(sqs:(SendMessage|GetQueueAttributes|GetQueueUrl)|states:SendTaskFailure)$/,
    reason:
      'the async-invoke failure destination sends a lost kick to the alarmed dead-letter queue as the function; SendTaskFailure ends a review whose card Slack refuses (test/poster/drain.test.ts)',
  },
  {
    handlers: ['record'],
    action: /^dynamodb:DeleteItem$/,
    reason:
      'Record removes a request decided while its card still waited in the queue (CARDQUEUE# keys only); the scenario posts every card before deciding',
  },
];

describe('IAM proof: the handlers’ recorded calls', () => {
  it('the scenario drove every handler through every path, and every SDK client belongs to a handler', () => {
    expect(run.outcomes).toMatchObject({
      allowed: 'APPROVED',
      denied: 'DENIED',
      approved: 'APPROVED',
      'denied-by-human': 'DENIED',
      modified: 'APPROVED',
      'break-glass': 'APPROVED',
      cancelled: 'CANCELLED',
      wakeUps: ['reminder', 'escalation'],
      reminded: 'APPROVED',
      expired: 'EXPIRED',
      status: 200,
      grant: 200,
      detector: 'unapproved',
    });
    expect([...new Set(run.calls.map((c) => c.handler))].sort()).toEqual(
      [...deployed.handlers.keys()].sort(),
    );
    expect(run.unattributed).toEqual([]);
  });

  it('allows every recorded call and every request AWS makes on its behalf', async () => {
    const denied: string[] = [];
    for (const request of distinct(requests)) {
      const line = await refusal(request);
      if (line) denied.push(line);
    }
    expect(denied, `IAM would refuse:\n${denied.join('\n')}`).toEqual([]);
    expect(distinct(requests).length).toBeGreaterThan(40);
  });

  it('gives no handler role an action its recorded calls never use (kept grants have a reason)', () => {
    const used = new Map<string, Set<string>>();
    for (const r of requests) used.set(r.handler, (used.get(r.handler) ?? new Set()).add(r.action));
    const unused: string[] = [];
    for (const handler of deployed.handlers.values()) {
      for (const { policy } of deployed.identityPolicies(handler.roleLogicalId)) {
        for (const statement of policy.Statement.filter((s) => s.Effect === 'Allow')) {
          for (const action of [statement.Action].flat() as string[]) {
            if (used.get(handler.name)?.has(action)) continue;
            const kept = UNUSED_GRANTS_KEPT.some(
              (k) => (k.handlers === '*' || k.handlers.includes(handler.name)) && k.action.test(action),
            );
            if (!kept) unused.push(`${handler.name}: ${action} on ${JSON.stringify(statement.Resource)}`);
          }
        }
      }
    }
    expect(unused, `granted but never called:\n${unused.join('\n')}`).toEqual([]);
  });

  it('refuses a recorded call when the role lacks the policy (the proof can fail)', async () => {
    const put = requests.find((r) => r.handler === 'record' && r.action === 'dynamodb:PutItem')!;
    const verdict = await evaluate({
      ...rolePrincipal(deployed, put.roleLogicalId),
      identityPolicies: [],
      action: put.action,
      resource: put.resource,
      context: put.context,
      resourcePolicy: deployed.resourcePolicy(put.resource),
    });
    expect(verdict).toEqual({ allowed: false, result: 'ImplicitlyDenied' });
    const otherBucket = await refusal({
      ...requests.find((r) => r.action === 's3:PutObject')!,
      resource: 'arn:aws:s3:::someone-else/records/x.json',
    });
    expect(otherBucket).toMatch(
      /archive: s3:PutObject on arn:aws:s3:::someone-else\/records\/x.json -> ImplicitlyDenied/,
    );
  });
});
