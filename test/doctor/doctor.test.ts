/**
 * `countersign doctor` against the sandbox's fake account: the synthesized
 * stack "deployed" into sandbox/fake-account.ts (behind sandbox/fake-aws.ts)
 * and the fake Slack, reached by the real SDK and Slack clients over HTTP.
 * A fresh, correct deploy passes every check; then each test breaks exactly
 * one thing, as a console click, a lost API call or a forgotten step would,
 * and asserts that exactly that check reports it, with its fix.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutPermissionCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDoctorClients } from '../../cli/doctor.js';
import { main } from '../../cli/main.js';
import { CHECK_NAMES, type CheckResult, runDoctor } from '../../doctor/checks.js';
import type { CfnTemplate } from '../../doctor/template.js';
import type { FakeStack } from '../../sandbox/fake-account.js';
import { type RunningFakeAws, startFakeAws } from '../../sandbox/fake-aws.js';
import {
  FAKE_SLACK_TOKEN,
  loadDirectory,
  type RunningFakeSlack,
  startFakeSlack,
} from '../../sandbox/fake-slack.js';
import { synth, TEST_ENV } from '../infra/support.js';

const STACK = 'Countersign';
const CHANNEL = 'C0COUNTERSIGN';
/** A signing secret of Slack's shape; the fixture's only "secret", checked never to be printed. */
const SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5'.replace(/[yz]/g, 'e');

let template: CfnTemplate;
let aws: RunningFakeAws;
let slack: RunningFakeSlack;
let stack: FakeStack;
let saved: NodeJS.ProcessEnv;
let dir: string;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Deploys the stack with a REST API stage that writes access logs beside it
 * (as a stack extended by its operator might have), which needs the account's
 * API Gateway CloudWatch role.
 */
function deployWithLoggingRestStage() {
  const rest = structuredClone(template);
  rest.Resources.OperatorRestStage = {
    Type: 'AWS::ApiGateway::Stage',
    Properties: {
      RestApiId: 'a1b2c3d4e5',
      StageName: 'ops',
      AccessLogSetting: {
        DestinationArn: 'arn:aws:logs:eu-west-1:123456789012:log-group:ops',
        Format: '$context.requestId',
      },
    },
  };
  stack = aws.account.deploy(rest, STACK);
  fillSlackSecret({ botToken: FAKE_SLACK_TOKEN, signingSecret: SIGNING_SECRET });
}

const output = (key: string) => stack.outputs.find((o) => o.OutputKey === key)!.OutputValue;

function fillSlackSecret(value: Record<string, unknown>) {
  aws.setSecret(output('SlackSecretArn'), JSON.stringify(value));
}

async function doctor(): Promise<Map<string, CheckResult>> {
  const results = await runDoctor(createDoctorClients(TEST_ENV.region), STACK);
  expect(results.map((r) => r.name)).toEqual([...CHECK_NAMES]);
  return new Map(results.map((r) => [r.name, r]));
}

/** Asserts `name` reports a problem matching `problem` with a fix matching `fix`, and every other check passes. */
async function expectOnly(name: string, problem: RegExp, fix: RegExp, skipped: string[] = []) {
  const results = await doctor();
  const failing = results.get(name)!;
  expect(failing.ok).toBe(false);
  expect(failing.problem).toMatch(problem);
  expect(failing.fix).toMatch(fix);
  for (const [other, result] of results) {
    if (other === name) continue;
    if (skipped.includes(other)) expect(result.skipped, other).toBeTruthy();
    else expect(result, other).toMatchObject({ ok: true });
  }
  return failing;
}

beforeAll(() => {
  saved = { ...process.env };
  template = synth().template.toJSON() as CfnTemplate;
});

beforeEach(async () => {
  aws = await startFakeAws({ region: TEST_ENV.region });
  slack = await startFakeSlack({
    directory: { ...loadDirectory(), channels: [{ id: CHANNEL, name: 'countersign-reviews' }] },
  });
  Object.assign(process.env, aws.accountEnv(), {
    AWS_ACCESS_KEY_ID: 'AKIDDOCTORTEST',
    AWS_SECRET_ACCESS_KEY: 'doctor-test-secret',
    AWS_REGION: TEST_ENV.region,
    AWS_EC2_METADATA_DISABLED: 'true',
    COUNTERSIGN_SLACK_API_URL: slack.url,
  });
  stack = aws.account.deploy(template, STACK);
  // What the operator does after `cdk deploy`: fill the secret, set up API Gateway logging once per account.
  fillSlackSecret({ botToken: FAKE_SLACK_TOKEN, signingSecret: SIGNING_SECRET });
  aws.account.prepareApiGatewayLogging();
  dir = await mkdtemp(join(tmpdir(), 'countersign-doctor-'));
});

afterEach(async () => {
  await aws.close();
  await slack.close();
  await rm(dir, { recursive: true, force: true });
});

afterAll(() => {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
  Object.assign(process.env, saved);
});

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['doctor', ...argv], {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    cwd: dir,
  });
  return { code, out, err };
}

describe('countersign doctor on a fresh, correct deploy', () => {
  it('passes every check, prints one ok line per check and exits 0', async () => {
    const { code, out, err } = await cli('--stack', STACK, '--region', TEST_ENV.region);
    expect(err).toEqual([]);
    expect(out).toHaveLength(CHECK_NAMES.length + 1);
    for (const [i, name] of CHECK_NAMES.entries()) expect(out[i]).toMatch(new RegExp(`^ok +${name}: `));
    expect(out.at(-1)).toBe(`${CHECK_NAMES.length} checks: ${CHECK_NAMES.length} ok, 0 problems, 0 skipped`);
    expect(code).toBe(0);
    // Secrets are read and judged, never printed.
    expect(out.join('\n')).not.toContain(FAKE_SLACK_TOKEN);
    expect(out.join('\n')).not.toContain(SIGNING_SECRET);
  });

  it('checks what the stack names, not literals: the generated schedule group and role names', async () => {
    const results = await doctor();
    const group = stack.resources.get(
      [...stack.resources.entries()].find(([, r]) => r.type === 'AWS::Scheduler::ScheduleGroup')![0],
    )!.physicalId;
    expect(results.get('scheduler-role')!.detail).toContain(
      `arn:aws:scheduler:${TEST_ENV.region}:${TEST_ENV.account}:schedule-group/${group}`,
    );
    expect(results.get('bus-policy')!.detail).toMatch(/has the template's \d+ statements/);
    // The status API is an HTTP API: its access logs need no account-wide API Gateway role.
    expect(results.get('api-gateway-account')!.detail).toMatch(/^not needed/);
  });

  it('says which stack is missing and skips the rest, exit 1', async () => {
    const { code, out } = await cli('--stack', 'Countersign-Staging');
    expect(out[0]).toMatch(/^PROBLEM +stack: stack Countersign-Staging does not exist .* fix: deploy it/);
    expect(out.slice(1, -1).every((line) => line.startsWith('skipped'))).toBe(true);
    expect(code).toBe(1);
  });

  it('is listed in the command table with its usage', async () => {
    const out: string[] = [];
    await main(['help', 'doctor'], { out: (l) => out.push(l), err: () => {}, cwd: dir });
    expect(out.join('\n')).toMatch(/countersign doctor \[--stack NAME\] \[--region REGION\]/);
  });

  it('refuses a malformed stack name as bad usage', async () => {
    const { code, err } = await cli('--stack', 'no such/stack');
    expect(code).toBe(2);
    expect(err[0]).toMatch(/is not a stack name/);
  });
});

describe('countersign doctor finds each broken thing, and only it', () => {
  it('a missing stack output', async () => {
    stack.outputs = stack.outputs.filter((o) => o.OutputKey !== 'StatusApiUrl');
    await expectOnly('stack', /lacks output StatusApiUrl/, /npx cdk deploy/);
  });

  it('a stack whose last update rolled back', async () => {
    stack.status = 'UPDATE_ROLLBACK_COMPLETE';
    await expectOnly(
      'stack',
      /is UPDATE_ROLLBACK_COMPLETE/,
      /describe-stack-events --stack-name Countersign/,
    );
  });

  it('the Slack secret as the stack created it (placeholder token, generated signing secret)', async () => {
    stack = aws.account.deploy(template, STACK);
    // The secret's name is generated per stack instance; doctor names it from the output.
    const name = escapeRegExp(output('SlackSecretName'));
    const failing = await expectOnly(
      'slack-secret',
      new RegExp(
        `${name} is not filled in: botToken is still the placeholder; signingSecret is not a Slack signing secret`,
      ),
      new RegExp(`aws secretsmanager put-secret-value --secret-id "${name}"`),
      ['slack-auth', 'slack-channel'],
    );
    expect(JSON.stringify(failing)).not.toMatch(/replace-me/);
  });

  it('a signing secret pasted wrong (the token still gets tested)', async () => {
    fillSlackSecret({ botToken: FAKE_SLACK_TOKEN, signingSecret: 'not-the-signing-secret' });
    const failing = await expectOnly(
      'slack-secret',
      /signingSecret is not a Slack signing secret/,
      /put-secret-value/,
    );
    expect(JSON.stringify(failing)).not.toContain('not-the-signing-secret');
  });

  it('a revoked bot token', async () => {
    slack.revokeToken();
    await expectOnly(
      'slack-auth',
      /Slack refused the bot token \(token_revoked\)/,
      /reinstall the Slack app/,
      ['slack-channel'],
    );
  });

  it('a token Slack does not know (another app’s, or a typo)', async () => {
    fillSlackSecret({ botToken: 'xoxb-0000-another-app', signingSecret: SIGNING_SECRET });
    await expectOnly('slack-auth', /\(invalid_auth\)/, /Bot User OAuth Token/, ['slack-channel']);
  });

  it('the bot not in the public review channel', async () => {
    await slack.close();
    slack = await startFakeSlack({
      directory: {
        ...loadDirectory(),
        channels: [{ id: CHANNEL, name: 'countersign-reviews', botMember: false }],
      },
    });
    process.env.COUNTERSIGN_SLACK_API_URL = slack.url;
    await expectOnly(
      'slack-channel',
      /the bot is not a member of review channel #countersign-reviews \(C0COUNTERSIGN\)/,
      /\/invite @Countersign/,
    );
    expect(slack.calls.find((c) => c.method === 'conversations.info')?.params.channel).toBe(CHANNEL);
  });

  it('the bot not in a private review channel (Slack hides it)', async () => {
    await slack.close();
    slack = await startFakeSlack({
      directory: {
        ...loadDirectory(),
        channels: [{ id: CHANNEL, name: 'countersign-reviews', isPrivate: true, botMember: false }],
      },
    });
    process.env.COUNTERSIGN_SLACK_API_URL = slack.url;
    await expectOnly(
      'slack-channel',
      /C0COUNTERSIGN was not found: .* private and the bot is not in it/,
      /\/invite/,
    );
  });

  it('a Slack app installed before the channel scopes were added', async () => {
    slack.setFailure('conversations.info', 'missing_scope');
    await expectOnly('slack-channel', /lacks the scope channels:read,groups:read/, /reinstall it/);
  });

  it('a Deny statement lost from the bus policy, and the printed fix puts it back', async () => {
    const bus = aws.account.buses.get(output('EventBusName'))!;
    const policy = JSON.parse(bus.policy!) as { Statement: { Sid: string }[] };
    const lost = policy.Statement.find((s) => s.Sid.includes('DenyForgedDecisionType'))!.Sid;
    policy.Statement = policy.Statement.filter((s) => s.Sid !== lost);
    bus.policy = JSON.stringify(policy);

    const failing = await expectOnly('bus-policy', new RegExp(`${lost} is missing`), /--write-bus-policy/);

    // The fix, as printed: write the intended policy, put it with the AWS API, run doctor again.
    const written = await cli('--write-bus-policy', 'bus-policy.json');
    expect(written.code).toBe(1);
    expect(written.out.at(-1)).toMatch(/wrote the intended policy of bus countersign/);
    const document = await readFile(join(dir, 'bus-policy.json'), 'utf8');
    expect(failing.fix).toContain(`aws events put-permission --event-bus-name ${output('EventBusName')}`);
    await new EventBridgeClient({}).send(
      new PutPermissionCommand({ EventBusName: output('EventBusName'), Policy: document }),
    );
    expect((await doctor()).get('bus-policy')!.ok).toBe(true);
  });

  it('a Deny statement whose condition was loosened', async () => {
    const bus = aws.account.buses.get(output('EventBusName'))!;
    const policy = JSON.parse(bus.policy!) as {
      Statement: { Sid: string; Condition: Record<string, Record<string, unknown>> }[];
    };
    const unknown = policy.Statement.find((s) => s.Sid.includes('DenyUnknownSources'))!;
    unknown.Condition.StringNotLike!['events:source'] = ['*'];
    bus.policy = JSON.stringify(policy);
    await expectOnly('bus-policy', new RegExp(`${unknown.Sid} differs from the template`), /put-permission/);
  });

  it('an Allow statement added to the bus policy by hand', async () => {
    const bus = aws.account.buses.get(output('EventBusName'))!;
    const policy = JSON.parse(bus.policy!) as { Statement: unknown[] };
    policy.Statement.push({
      Sid: 'let-partner-in',
      Effect: 'Allow',
      Principal: { AWS: '210987654321' },
      Action: 'events:PutEvents',
      Resource: aws.account.buses.get(output('EventBusName'))!.arn,
    });
    bus.policy = JSON.stringify(policy);
    await expectOnly('bus-policy', /let-partner-in is not in the template/, /put-permission/);
  });

  it.each([
    [
      'GOVERNANCE default retention',
      (b: { objectLock?: { Rule?: { DefaultRetention?: { Mode?: string } } } }) => {
        b.objectLock!.Rule!.DefaultRetention!.Mode = 'GOVERNANCE';
      },
      /default retention is GOVERNANCE, not COMPLIANCE/,
    ],
    [
      'Object Lock off',
      (b: { objectLock?: unknown }) => {
        delete b.objectLock;
      },
      /Object Lock is not enabled/,
    ],
  ])('the audit bucket with %s', async (_label, breakIt, problem) => {
    breakIt(aws.account.buckets.get(output('AuditBucketName'))!);
    await expectOnly(
      'audit-bucket',
      problem,
      /put-object-lock-configuration .*"Mode":"COMPLIANCE","Days":365/,
    );
  });

  it('the audit bucket with a shortened COMPLIANCE retention', async () => {
    aws.account.buckets.get(output('AuditBucketName'))!.objectLock!.Rule!.DefaultRetention!.Days = 1;
    await expectOnly('audit-bucket', /retention is 1 days, the template says Days:365/, /"Days":365/);
  });

  it('the audit bucket with versioning suspended', async () => {
    aws.account.buckets.get(output('AuditBucketName'))!.versioning = 'Suspended';
    await expectOnly('audit-bucket', /versioning is Suspended/, /put-bucket-versioning .* Status=Enabled/);
  });

  it('a digest key of the wrong spec', async () => {
    const key = [...aws.account.keys.values()].find((k) => k.arn === output('DigestKeyArn'))!;
    key.keySpec = 'RSA_2048';
    await expectOnly('digest-key', /is RSA_2048 \/ SIGN_VERIFY, not ECC_NIST_P256 \/ SIGN_VERIFY/, /deploy/);
  });

  it('a digest key scheduled for deletion', async () => {
    const key = [...aws.account.keys.values()].find((k) => k.arn === output('DigestKeyArn'))!;
    key.keyState = 'PendingDeletion';
    await expectOnly(
      'digest-key',
      /scheduled for deletion/,
      /aws kms cancel-key-deletion --key-id arn:aws:kms:/,
    );
  });

  it('a scheduler role trusting the schedules’ ARNs instead of the schedule group’s', async () => {
    const role = [...aws.account.roles.values()].find((r) => r.trust.includes('schedule-group/'))!;
    const trust = JSON.parse(role.trust) as {
      Statement: { Condition: Record<string, Record<string, string>> }[];
    };
    const condition = trust.Statement[0]!.Condition;
    const groupArn = Object.values(condition).find((c) => c['aws:SourceArn'])!['aws:SourceArn']!;
    const wrong = `${groupArn.replace(':schedule-group/', ':schedule/')}/*`;
    trust.Statement[0]!.Condition = {
      StringEquals: { 'aws:SourceAccount': TEST_ENV.account },
      ArnLike: { 'aws:SourceArn': wrong },
    };
    role.trust = JSON.stringify(trust);
    const failing = await expectOnly(
      'scheduler-role',
      new RegExp(`only for aws:SourceArn ${wrong.replace(/[*]/g, '\\*')} .* presents ${groupArn}`),
      /aws iam update-assume-role-policy --role-name /,
    );
    expect(failing.fix).toContain(`"ArnEquals":{"aws:SourceArn":"${groupArn}"}`);
  });

  it('an account without the API Gateway CloudWatch role the REST stage needs', async () => {
    deployWithLoggingRestStage();
    delete aws.account.apiGateway.cloudwatchRoleArn;
    await expectOnly(
      'api-gateway-account',
      /API Gateway in eu-west-1 has no CloudWatch Logs role/,
      /aws apigateway update-account --region eu-west-1 --patch-operations op=replace,path=\/cloudwatchRoleArn/,
    );
  });

  it('an API Gateway CloudWatch role that was deleted', async () => {
    deployWithLoggingRestStage();
    aws.account.roles.delete('APIGatewayCloudWatchLogs');
    await expectOnly(
      'api-gateway-account',
      /CloudWatch role .*APIGatewayCloudWatchLogs no longer exists/,
      /update-account/,
    );
  });
});

describe('countersign doctor on a stack without a logging REST stage', () => {
  it('does not ask for the API Gateway account role (an HTTP API needs none)', async () => {
    const http = structuredClone(template);
    for (const resource of Object.values(http.Resources)) {
      if (resource.Type === 'AWS::ApiGateway::Stage') resource.Type = 'AWS::ApiGatewayV2::Stage';
    }
    stack = aws.account.deploy(http, STACK);
    fillSlackSecret({ botToken: FAKE_SLACK_TOKEN, signingSecret: SIGNING_SECRET });
    delete aws.account.apiGateway.cloudwatchRoleArn;
    const results = await doctor();
    expect(results.get('api-gateway-account')).toMatchObject({ ok: true, detail: /not needed/ });
    expect([...results.values()].every((r) => r.ok)).toBe(true);
  });
});
