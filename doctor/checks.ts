/**
 * `countersign doctor`: checks a deployed Countersign stack against what it
 * needs to work, through the same APIs AWS and Slack answer in production.
 * Each check is a small function over injected clients that returns a
 * {@link CheckResult}; {@link runDoctor} runs them in order and skips the
 * checks whose prerequisite failed (no stack, no usable bot token).
 *
 * No check prints a secret: the Slack secret is read, its shape judged and its
 * bot token used, but only verdicts leave this module.
 */
import {
  type CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
  GetTemplateCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { DescribeEventBusCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetRoleCommand, type IAMClient } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, type DescribeKeyCommandOutput, type KMSClient } from '@aws-sdk/client-kms';
import {
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { WebClient } from '@slack/web-api';
import { diffPolicies } from './policy-diff.js';
import {
  type CfnTemplate,
  functionVariable,
  intendedBusPolicy,
  type PolicyStatement,
  type StackResource,
  statementsOf,
  TemplateResolver,
} from './template.js';

/** The verdict of one check. */
export interface CheckResult {
  /** Short, stable name (`bus-policy`, `slack-auth`, ...). */
  name: string;
  ok: boolean;
  /** What was found, when ok. */
  detail?: string;
  /** What is wrong, when not ok. */
  problem?: string;
  /** How to fix it. */
  fix?: string;
  /** Why the check did not run (its prerequisite failed); not itself a problem. */
  skipped?: string;
}

/** Reads the account-level API Gateway settings (`GET /account`). */
export interface ApiGatewayAccountReader {
  getAccount(): Promise<{ cloudwatchRoleArn?: string }>;
}

/** The clients doctor uses; built once by the CLI, injected by tests. */
export interface DoctorClients {
  cloudformation: CloudFormationClient;
  secrets: SecretsManagerClient;
  events: EventBridgeClient;
  s3: S3Client;
  kms: KMSClient;
  iam: IAMClient;
  apiGateway: ApiGatewayAccountReader;
  /** A Slack Web API client for a bot token. */
  slack: (botToken: string) => WebClient;
}

/**
 * Stack outputs this version of Countersign documents and doctor reads. A stack
 * deployed from an older checkout, or edited by hand, may lack some.
 */
export const REQUIRED_OUTPUTS = [
  'SlackInteractivityUrl',
  'SlackSecretArn',
  'SlackSecretName',
  'EventBusName',
  'StateMachineArn',
  'AuditBucketName',
  'TableName',
  'StatusApiUrl',
  'DigestKeyArn',
] as const;

/** The placeholder bot token of a fresh Slack secret (lib/slack-endpoint.ts). */
export const BOT_TOKEN_PLACEHOLDER = 'replace-me-with-the-xoxb-bot-token';

/** A Slack app signing secret: 32 lowercase hexadecimal characters. */
const SIGNING_SECRET_SHAPE = /^[0-9a-f]{32}$/;
const BOT_TOKEN_SHAPE = /^xoxb-[0-9A-Za-z-]+$/;
const STABLE_STATUSES = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'IMPORT_COMPLETE']);

/** What the stack check learned, for the checks that follow. */
export interface DeployedStack {
  stackName: string;
  account: string;
  region: string;
  partition: string;
  outputs: Record<string, string>;
  template: CfnTemplate;
  resolver: TemplateResolver;
}

const ok = (name: string, detail: string): CheckResult => ({ name, ok: true, detail });
const problem = (name: string, what: string, fix: string): CheckResult => ({
  name,
  ok: false,
  problem: what,
  fix,
});
const skipped = (name: string, why: string): CheckResult => ({ name, ok: false, skipped: why });

type AwsFailure = { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
const errorName = (error: unknown) => (error as AwsFailure)?.name ?? 'Error';
const errorText = (error: unknown) => {
  const e = error as AwsFailure;
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`;
};
const isAccessDenied = (error: unknown) =>
  /AccessDenied|UnauthorizedOperation|NotAuthorized/.test(errorName(error)) ||
  (error as AwsFailure)?.$metadata?.httpStatusCode === 403;

/** A fix for an AWS call doctor itself was not allowed to make. */
const permissionFix = (action: string) =>
  `give the identity running doctor ${action} (docs/doctor.md lists every permission doctor needs)`;

/** The stack exists, is stable, and has every output Countersign documents. */
export async function checkStack(
  cloudformation: CloudFormationClient,
  stackName: string,
): Promise<{ result: CheckResult; stack?: DeployedStack }> {
  const name = 'stack';
  let described: DescribeStacksCommandOutput;
  try {
    described = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
  } catch (error) {
    if (/does not exist/.test((error as AwsFailure).message ?? '')) {
      return {
        result: problem(
          name,
          `stack ${stackName} does not exist in this account and region`,
          'deploy it (npx cdk deploy), or pass --stack and --region (or AWS_REGION) for the stack you deployed',
        ),
      };
    }
    if (isAccessDenied(error)) {
      return { result: problem(name, errorText(error), permissionFix('cloudformation:DescribeStacks')) };
    }
    return {
      result: problem(name, `DescribeStacks failed: ${errorText(error)}`, 'check credentials and region'),
    };
  }
  const found = described.Stacks?.[0];
  if (!found?.StackId) {
    return { result: problem(name, `stack ${stackName} was not found`, 'deploy it (npx cdk deploy)') };
  }
  const [, partition = 'aws', , region = '', account = ''] = found.StackId.split(':');
  const [templateBody, resources] = await Promise.all([
    cloudformation.send(new GetTemplateCommand({ StackName: found.StackId, TemplateStage: 'Original' })),
    listResources(cloudformation, found.StackId),
  ]);
  const template = JSON.parse(templateBody.TemplateBody ?? '{}') as CfnTemplate;
  const outputs = Object.fromEntries(
    (found.Outputs ?? []).filter((o) => o.OutputKey).map((o) => [o.OutputKey!, o.OutputValue ?? '']),
  );
  const resolver = new TemplateResolver(template, {
    account,
    region,
    partition,
    stackName: found.StackName ?? stackName,
    stackId: found.StackId,
    resources,
  });
  const stack: DeployedStack = { stackName, account, region, partition, outputs, template, resolver };
  const status = found.StackStatus ?? 'UNKNOWN';
  if (!STABLE_STATUSES.has(status)) {
    const reason = found.StackStatusReason ? ` (${found.StackStatusReason})` : '';
    const fix = status.endsWith('_IN_PROGRESS')
      ? 'wait for the deployment to finish, then run doctor again'
      : `read why: aws cloudformation describe-stack-events --stack-name ${stackName}; fix the cause and deploy again`;
    return { result: problem(name, `stack ${stackName} is ${status}${reason}`, fix), stack };
  }
  const missing = REQUIRED_OUTPUTS.filter((key) => !outputs[key]);
  if (missing.length > 0) {
    return {
      result: problem(
        name,
        `stack ${stackName} lacks output${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
        'deploy the stack from this checkout (npx cdk deploy); the outputs come from lib/countersign-stack.ts',
      ),
      stack,
    };
  }
  return { result: ok(name, `${stackName} is ${status} with its ${REQUIRED_OUTPUTS.length} outputs`), stack };
}

async function listResources(
  cloudformation: CloudFormationClient,
  stackId: string,
): Promise<Map<string, StackResource>> {
  const resources = new Map<string, StackResource>();
  let NextToken: string | undefined;
  do {
    const page = await cloudformation.send(new ListStackResourcesCommand({ StackName: stackId, NextToken }));
    for (const r of page.StackResourceSummaries ?? []) {
      if (r.LogicalResourceId && r.PhysicalResourceId && r.ResourceType) {
        resources.set(r.LogicalResourceId, { type: r.ResourceType, physicalId: r.PhysicalResourceId });
      }
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return resources;
}

/** The fix that fills the Slack secret, naming the secret but no value. */
const fillSecretFix = (secretName: string) =>
  `aws secretsmanager put-secret-value --secret-id "${secretName}" --secret-string '{"botToken":"xoxb-…","signingSecret":"…"}' with the Bot User OAuth Token (OAuth & Permissions) and the Signing Secret (Basic Information) of the Slack app`;

/**
 * The Slack secret is filled in: a bot token (`xoxb-`, not the placeholder) and
 * a signing secret of Slack's shape (32 hexadecimal characters, not the random
 * string the stack generated). Returns the bot token for {@link checkSlackAuth}.
 */
export async function checkSlackSecret(
  secrets: SecretsManagerClient,
  stack: DeployedStack,
): Promise<{ result: CheckResult; botToken?: string }> {
  const name = 'slack-secret';
  const secretId = stack.outputs.SlackSecretArn!;
  const secretName = stack.outputs.SlackSecretName ?? secretId;
  let text: string | undefined;
  try {
    text = (await secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (error) {
    if (isAccessDenied(error)) {
      return {
        result: problem(
          name,
          errorText(error),
          permissionFix('secretsmanager:GetSecretValue on the Slack secret'),
        ),
      };
    }
    return {
      result: problem(name, `cannot read ${secretName}: ${errorText(error)}`, 'deploy the stack again'),
    };
  }
  let value: { botToken?: unknown; signingSecret?: unknown };
  try {
    value = JSON.parse(text ?? '') as typeof value;
  } catch {
    return { result: problem(name, `${secretName} is not JSON`, fillSecretFix(secretName)) };
  }
  const wrong: string[] = [];
  const token = typeof value?.botToken === 'string' ? value.botToken : undefined;
  if (token === undefined || token === BOT_TOKEN_PLACEHOLDER) {
    wrong.push('botToken is still the placeholder');
  } else if (!BOT_TOKEN_SHAPE.test(token)) {
    wrong.push('botToken is not a bot token (xoxb-…)');
  }
  // A well-formed token is still worth testing against Slack when only the signing secret is wrong.
  const botToken = token !== undefined && BOT_TOKEN_SHAPE.test(token) ? token : undefined;
  const signing = value?.signingSecret;
  if (typeof signing !== 'string' || !SIGNING_SECRET_SHAPE.test(signing)) {
    wrong.push(
      'signingSecret is not a Slack signing secret (32 hexadecimal characters; the value the stack generated is still there, or it was pasted wrong)',
    );
  }
  if (wrong.length > 0) {
    return {
      result: problem(name, `${secretName} is not filled in: ${wrong.join('; ')}`, fillSecretFix(secretName)),
      botToken,
    };
  }
  return { result: ok(name, `${secretName} holds a bot token and a signing secret`), botToken };
}

/** The bot token authenticates with Slack (`auth.test`) and is a bot's. */
export async function checkSlackAuth(
  slack: WebClient,
  stack: DeployedStack,
): Promise<{ result: CheckResult; botUserId?: string }> {
  const name = 'slack-auth';
  const secretName = stack.outputs.SlackSecretName ?? 'the Slack secret';
  try {
    const auth = await slack.auth.test();
    if (!auth.bot_id) {
      return {
        result: problem(
          name,
          'the token in the secret is not a bot token (auth.test shows no bot)',
          fillSecretFix(secretName),
        ),
      };
    }
    return {
      result: ok(name, `auth.test passes: bot ${auth.user_id} in workspace ${auth.team ?? auth.team_id}`),
      botUserId: auth.user_id,
    };
  } catch (error) {
    const code = (error as { data?: { error?: string } }).data?.error ?? (error as Error).message;
    return {
      result: problem(
        name,
        `Slack refused the bot token (${code})`,
        `reinstall the Slack app to the workspace if it was removed, then copy its current Bot User OAuth Token into the secret: ${fillSecretFix(secretName)}`,
      ),
    };
  }
}

/**
 * The bot is a member of the review channel the handlers post to
 * (`COUNTERSIGN_SLACK_CHANNEL`), read with `conversations.info` (scopes
 * `channels:read` and `groups:read`).
 */
export async function checkSlackChannel(slack: WebClient, stack: DeployedStack): Promise<CheckResult> {
  const name = 'slack-channel';
  const configured = functionVariable(stack.template, 'COUNTERSIGN_SLACK_CHANNEL');
  if (configured === undefined) {
    return problem(
      name,
      'no handler in the deployed template has COUNTERSIGN_SLACK_CHANNEL',
      'deploy the stack from this checkout (npx cdk deploy -c countersign:slackChannelId=C…)',
    );
  }
  const channel = stack.resolver.resolveString(configured);
  const invite = `in Slack, open the channel and run /invite @Countersign (or set countersign:slackChannelId to the right channel id and deploy again)`;
  try {
    const info = await slack.conversations.info({ channel });
    const label = info.channel?.name ? `#${info.channel.name} (${channel})` : channel;
    if (info.channel?.is_archived) {
      return problem(name, `review channel ${label} is archived`, `unarchive it, or ${invite}`);
    }
    if (!info.channel?.is_member) {
      return problem(
        name,
        `the bot is not a member of review channel ${label}: review cards cannot be posted`,
        invite,
      );
    }
    return ok(name, `the bot is a member of review channel ${label}`);
  } catch (error) {
    const data = (error as { data?: { error?: string; needed?: string } }).data;
    if (data?.error === 'channel_not_found') {
      return problem(
        name,
        `review channel ${channel} was not found: it does not exist, or it is private and the bot is not in it`,
        invite,
      );
    }
    if (data?.error === 'missing_scope') {
      return problem(
        name,
        `the Slack app lacks the scope ${data.needed ?? 'channels:read,groups:read'} to look at channels`,
        'add the scopes of slack/manifest.json to the app (OAuth & Permissions) and reinstall it to the workspace',
      );
    }
    return problem(name, `conversations.info failed (${data?.error ?? (error as Error).message})`, invite);
  }
}

/** The policy on the intent bus holds exactly the statements the template intends. */
export async function checkBusPolicy(events: EventBridgeClient, stack: DeployedStack): Promise<CheckResult> {
  const name = 'bus-policy';
  const busName = stack.outputs.EventBusName!;
  const intended = intendedBusPolicy(stack.resolver, busName);
  let deployed: PolicyStatement[];
  try {
    const bus = await events.send(new DescribeEventBusCommand({ Name: busName }));
    deployed = bus.Policy ? statementsOf(bus.Policy) : [];
  } catch (error) {
    if (isAccessDenied(error))
      return problem(name, errorText(error), permissionFix('events:DescribeEventBus'));
    return problem(name, `cannot describe bus ${busName}: ${errorText(error)}`, 'deploy the stack again');
  }
  const diff = diffPolicies(intended, deployed);
  const found = [
    ...diff.missing.map((sid) => `${sid} is missing`),
    ...diff.changed.map((sid) => `${sid} differs from the template`),
    ...diff.unexpected.map((sid) => `${sid} is not in the template`),
  ];
  if (found.length > 0) {
    return problem(
      name,
      `the policy of bus ${busName} is not the template's: ${found.join('; ')}`,
      `CloudFormation does not see this drift, so a deploy without changes does not repair it. Write the intended policy with npm run countersign -- doctor --write-bus-policy bus-policy.json, then aws events put-permission --event-bus-name ${busName} --policy file://bus-policy.json`,
    );
  }
  return ok(name, `the policy of bus ${busName} has the template's ${intended.length} statements, no more`);
}

/** The template's Object Lock default retention of the bucket named `bucket`, if it sets one. */
function intendedRetention(
  stack: DeployedStack,
  bucket: string,
): { Days?: number; Years?: number } | undefined {
  for (const [id, props] of stack.resolver.resourcesOfType('AWS::S3::Bucket')) {
    if (stack.resolver.ref(id) !== bucket) continue;
    const rule = (
      props.ObjectLockConfiguration as { Rule?: { DefaultRetention?: { Days?: number; Years?: number } } }
    )?.Rule;
    return rule?.DefaultRetention;
  }
  return undefined;
}

/** Whether two retention periods are the same (templates may carry numbers as strings). */
function samePeriod(a: { Days?: unknown; Years?: unknown }, b: { Days?: unknown; Years?: unknown }): boolean {
  const n = (v: unknown) => (v === undefined || v === null ? undefined : Number(v));
  return n(a.Days) === n(b.Days) && n(a.Years) === n(b.Years);
}

/** The audit bucket has Object Lock with COMPLIANCE default retention, and versioning on. */
export async function checkAuditBucket(s3: S3Client, stack: DeployedStack): Promise<CheckResult> {
  const name = 'audit-bucket';
  const bucket = stack.outputs.AuditBucketName!;
  const wanted = intendedRetention(stack, bucket) ?? { Days: 365 };
  const period = wanted.Years ? `"Years":${wanted.Years}` : `"Days":${wanted.Days}`;
  const lockFix = `aws s3api put-object-lock-configuration --bucket ${bucket} --object-lock-configuration '{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"COMPLIANCE",${period}}}}'`;
  const found: string[] = [];
  const fixes: string[] = [];
  try {
    const lock = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    const retention = lock.ObjectLockConfiguration?.Rule?.DefaultRetention;
    if (lock.ObjectLockConfiguration?.ObjectLockEnabled !== 'Enabled') {
      found.push('Object Lock is not enabled');
      fixes.push(lockFix);
    } else if (retention?.Mode !== 'COMPLIANCE') {
      found.push(`default retention is ${retention?.Mode ?? 'not set'}, not COMPLIANCE`);
      fixes.push(lockFix);
    } else if (!samePeriod(retention, wanted)) {
      const has = retention.Years ? `${retention.Years} years` : `${retention.Days} days`;
      found.push(`default COMPLIANCE retention is ${has}, the template says ${period.replace(/"/g, '')}`);
      fixes.push(lockFix);
    }
  } catch (error) {
    if (errorName(error) === 'ObjectLockConfigurationNotFoundError') {
      found.push('Object Lock is not enabled');
      fixes.push(lockFix);
    } else if (isAccessDenied(error)) {
      return problem(name, errorText(error), permissionFix('s3:GetBucketObjectLockConfiguration'));
    } else {
      return problem(name, `cannot read bucket ${bucket}: ${errorText(error)}`, 'deploy the stack again');
    }
  }
  try {
    const versioning = await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    if (versioning.Status !== 'Enabled') {
      found.push(`versioning is ${versioning.Status ?? 'off'}`);
      fixes.push(
        `aws s3api put-bucket-versioning --bucket ${bucket} --versioning-configuration Status=Enabled`,
      );
    }
  } catch (error) {
    if (isAccessDenied(error))
      return problem(name, errorText(error), permissionFix('s3:GetBucketVersioning'));
    return problem(
      name,
      `cannot read versioning of ${bucket}: ${errorText(error)}`,
      'deploy the stack again',
    );
  }
  if (found.length > 0) {
    return problem(name, `audit bucket ${bucket}: ${found.join('; ')}`, fixes.join('; then '));
  }
  return ok(
    name,
    `audit bucket ${bucket} has Object Lock COMPLIANCE (${period.replace(/"/g, '')}) and versioning`,
  );
}

/** The digest key is an enabled ECC_NIST_P256 SIGN_VERIFY key. */
export async function checkDigestKey(kms: KMSClient, stack: DeployedStack): Promise<CheckResult> {
  const name = 'digest-key';
  const keyId = stack.outputs.DigestKeyArn!;
  let key: DescribeKeyCommandOutput;
  try {
    key = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
  } catch (error) {
    if (isAccessDenied(error))
      return problem(name, errorText(error), permissionFix('kms:DescribeKey on the digest key'));
    return problem(name, `cannot describe ${keyId}: ${errorText(error)}`, 'deploy the stack again');
  }
  const meta: NonNullable<DescribeKeyCommandOutput['KeyMetadata']> = key.KeyMetadata ?? { KeyId: keyId };
  if (meta.KeySpec !== 'ECC_NIST_P256' || meta.KeyUsage !== 'SIGN_VERIFY') {
    return problem(
      name,
      `${keyId} is ${meta.KeySpec ?? '?'} / ${meta.KeyUsage ?? '?'}, not ECC_NIST_P256 / SIGN_VERIFY: digests signed with it do not verify`,
      'the DigestKeyArn output must name the stack’s own signing key: deploy the stack from this checkout',
    );
  }
  if (meta.KeyState === 'PendingDeletion') {
    return problem(
      name,
      `${keyId} is scheduled for deletion: digests would stop, and verifiers could no longer fetch its public key`,
      `aws kms cancel-key-deletion --key-id ${keyId} && aws kms enable-key --key-id ${keyId}`,
    );
  }
  if (meta.KeyState !== 'Enabled' || meta.Enabled === false) {
    return problem(
      name,
      `${keyId} is ${meta.KeyState ?? 'disabled'}: the digest handler cannot sign`,
      `aws kms enable-key --key-id ${keyId}`,
    );
  }
  return ok(name, `${keyId} is an enabled ECC_NIST_P256 SIGN_VERIFY key`);
}

/** A role's trust policy as IAM returns it (URL-encoded JSON). */
function trustStatements(document: string | undefined): PolicyStatement[] {
  if (!document) return [];
  return statementsOf(decodeURIComponent(document));
}

const values = (v: unknown): string[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String));

/** Condition values of `key` under any of `operators`. */
function conditionValues(statement: PolicyStatement, operators: string[], key: string): string[] {
  return operators.flatMap((op) => values(statement.Condition?.[op]?.[key]));
}

function trustsService(statement: PolicyStatement, service: string): boolean {
  const actions = values(statement.Action);
  return (
    statement.Effect === 'Allow' &&
    (actions.includes('sts:AssumeRole') || actions.includes('sts:*') || actions.includes('*')) &&
    values((statement.Principal as { Service?: unknown } | undefined)?.Service).includes(service)
  );
}

/**
 * EventBridge Scheduler may assume the reminder role for this account and this
 * schedule group: AWS presents `aws:SourceAccount` and, as `aws:SourceArn`, the
 * schedule group's ARN (not a schedule's).
 */
export async function checkSchedulerRole(iam: IAMClient, stack: DeployedStack): Promise<CheckResult> {
  const name = 'scheduler-role';
  const roleValue = functionVariable(stack.template, 'COUNTERSIGN_SCHEDULER_ROLE_ARN');
  const groupValue = functionVariable(stack.template, 'COUNTERSIGN_SCHEDULE_GROUP');
  if (roleValue === undefined || groupValue === undefined) {
    return problem(
      name,
      'no handler in the deployed template has COUNTERSIGN_SCHEDULER_ROLE_ARN and COUNTERSIGN_SCHEDULE_GROUP',
      'deploy the stack from this checkout (npx cdk deploy)',
    );
  }
  const roleArn = stack.resolver.resolveString(roleValue);
  const group = stack.resolver.resolveString(groupValue);
  const groupArn = `arn:${stack.partition}:scheduler:${stack.region}:${stack.account}:schedule-group/${group}`;
  const roleName = roleArn.split('/').pop()!;
  let trust: PolicyStatement[];
  try {
    trust = trustStatements(
      (await iam.send(new GetRoleCommand({ RoleName: roleName }))).Role?.AssumeRolePolicyDocument,
    );
  } catch (error) {
    if (/^NoSuchEntity/.test(errorName(error))) {
      return problem(name, `scheduler role ${roleName} does not exist`, 'deploy the stack again');
    }
    if (isAccessDenied(error)) return problem(name, errorText(error), permissionFix('iam:GetRole'));
    return problem(name, `cannot read role ${roleName}: ${errorText(error)}`, 'check credentials');
  }
  const expected = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnEquals: { 'aws:SourceArn': groupArn },
        },
      },
    ],
  };
  const fix = `deploy the stack from this checkout, or aws iam update-assume-role-policy --role-name ${roleName} --policy-document '${JSON.stringify(expected)}'`;
  const schedulerStatements = trust.filter((s) => trustsService(s, 'scheduler.amazonaws.com'));
  if (schedulerStatements.length === 0) {
    return problem(
      name,
      `role ${roleName} does not trust scheduler.amazonaws.com: no reminder can fire`,
      fix,
    );
  }
  const fits = schedulerStatements.some((s) => {
    const accounts = conditionValues(s, ['StringEquals', 'StringLike'], 'aws:SourceAccount');
    const arns = conditionValues(s, ['ArnEquals', 'ArnLike', 'StringEquals', 'StringLike'], 'aws:SourceArn');
    return accounts.includes(stack.account) && arns.includes(groupArn);
  });
  if (!fits) {
    const trusted = schedulerStatements
      .flatMap((s) =>
        conditionValues(s, ['ArnEquals', 'ArnLike', 'StringEquals', 'StringLike'], 'aws:SourceArn'),
      )
      .join(', ');
    return problem(
      name,
      `role ${roleName} trusts scheduler.amazonaws.com only for aws:SourceArn ${trusted || '(none)'} and aws:SourceAccount; Scheduler presents ${groupArn} and ${stack.account}, so no reminder or escalation can fire`,
      fix,
    );
  }
  return ok(name, `role ${roleName} is assumable by scheduler.amazonaws.com for ${groupArn}`);
}

/**
 * Whether the template has a REST API stage that logs to CloudWatch (access
 * logs or execution logs), which needs the account's API Gateway CloudWatch
 * role. HTTP APIs (`AWS::ApiGatewayV2::*`) need none.
 */
export function needsApiGatewayAccountRole(template: CfnTemplate): boolean {
  return Object.values(template.Resources).some((r) => {
    const p = r.Properties ?? {};
    const logs = (settings: unknown) =>
      Array.isArray(settings) &&
      settings.some((s: { LoggingLevel?: string }) => (s?.LoggingLevel ?? 'OFF') !== 'OFF');
    if (r.Type === 'AWS::ApiGateway::Stage')
      return p.AccessLogSetting !== undefined || logs(p.MethodSettings);
    if (r.Type === 'AWS::ApiGateway::Deployment') {
      const stage = p.StageDescription as Record<string, unknown> | undefined;
      return stage?.AccessLogSetting !== undefined || (stage?.LoggingLevel ?? 'OFF') !== 'OFF';
    }
    return false;
  });
}

/**
 * Where the stack has a REST API stage that logs, the account's API Gateway
 * settings name a CloudWatch role that exists and trusts apigateway.amazonaws.com.
 */
export async function checkApiGatewayAccount(
  apiGateway: ApiGatewayAccountReader,
  iam: IAMClient,
  stack: DeployedStack,
): Promise<CheckResult> {
  const name = 'api-gateway-account';
  if (!needsApiGatewayAccountRole(stack.template)) {
    return ok(name, 'not needed: the stack has no REST API stage that logs to CloudWatch');
  }
  const setupFix = `create a role trusted by apigateway.amazonaws.com with the managed policy AmazonAPIGatewayPushToCloudWatchLogs, then aws apigateway update-account --region ${stack.region} --patch-operations op=replace,path=/cloudwatchRoleArn,value=<role ARN> (docs/doctor.md)`;
  let roleArn: string | undefined;
  try {
    roleArn = (await apiGateway.getAccount()).cloudwatchRoleArn;
  } catch (error) {
    if (isAccessDenied(error))
      return problem(name, errorText(error), permissionFix('apigateway:GET on /account'));
    return problem(
      name,
      `cannot read the API Gateway account settings: ${errorText(error)}`,
      'check credentials',
    );
  }
  if (!roleArn) {
    return problem(
      name,
      `API Gateway in ${stack.region} has no CloudWatch Logs role: the status API stage's logging fails (and a fresh deploy with it)`,
      setupFix,
    );
  }
  const roleName = roleArn.split('/').pop()!;
  try {
    const role = await iam.send(new GetRoleCommand({ RoleName: roleName }));
    if (
      !trustStatements(role.Role?.AssumeRolePolicyDocument).some((s) =>
        trustsService(s, 'apigateway.amazonaws.com'),
      )
    ) {
      return problem(
        name,
        `the API Gateway CloudWatch role ${roleName} does not trust apigateway.amazonaws.com`,
        setupFix,
      );
    }
  } catch (error) {
    if (/^NoSuchEntity/.test(errorName(error))) {
      return problem(name, `the API Gateway CloudWatch role ${roleArn} no longer exists`, setupFix);
    }
    if (isAccessDenied(error)) return problem(name, errorText(error), permissionFix('iam:GetRole'));
    return problem(name, `cannot read role ${roleName}: ${errorText(error)}`, 'check credentials');
  }
  return ok(name, `API Gateway in ${stack.region} logs through ${roleArn}`);
}

/** Every check's name, in the order doctor runs them. */
export const CHECK_NAMES = [
  'stack',
  'slack-secret',
  'slack-auth',
  'slack-channel',
  'bus-policy',
  'audit-bucket',
  'digest-key',
  'scheduler-role',
  'api-gateway-account',
] as const;

/** Runs a check, turning an unexpected failure (an unresolvable template value) into its problem. */
async function guarded(name: string, check: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await check();
  } catch (error) {
    return problem(
      name,
      `the check could not run: ${errorText(error)}`,
      'run doctor again; if it persists, report it with this line',
    );
  }
}

/** Runs every check against the stack named `stackName`. */
export async function runDoctor(clients: DoctorClients, stackName: string): Promise<CheckResult[]> {
  const { result, stack } = await checkStack(clients.cloudformation, stackName).catch((error: unknown) => ({
    result: problem(
      'stack',
      `cannot read stack ${stackName}: ${errorText(error)}`,
      'check credentials and region',
    ),
    stack: undefined,
  }));
  if (!stack) return [result, ...CHECK_NAMES.slice(1).map((n) => skipped(n, 'needs the stack (see stack)'))];
  const needs = (name: string, keys: string[], check: () => Promise<CheckResult>) => {
    const absent = keys.filter((k) => !stack.outputs[k]);
    return absent.length > 0
      ? Promise.resolve(skipped(name, `needs stack output ${absent.join(', ')}`))
      : guarded(name, check);
  };

  let botToken: string | undefined;
  const secret = await needs('slack-secret', ['SlackSecretArn'], async () => {
    const checked = await checkSlackSecret(clients.secrets, stack);
    botToken = checked.botToken;
    return checked.result;
  });
  let auth: CheckResult;
  let channel: CheckResult;
  if (botToken === undefined) {
    auth = skipped('slack-auth', 'needs a filled Slack secret (see slack-secret)');
    channel = skipped('slack-channel', 'needs a filled Slack secret (see slack-secret)');
  } else {
    const slack = clients.slack(botToken);
    auth = await guarded('slack-auth', async () => (await checkSlackAuth(slack, stack)).result);
    channel = auth.ok
      ? await guarded('slack-channel', () => checkSlackChannel(slack, stack))
      : skipped('slack-channel', 'needs a working bot token (see slack-auth)');
  }
  const rest = await Promise.all([
    needs('bus-policy', ['EventBusName'], () => checkBusPolicy(clients.events, stack)),
    needs('audit-bucket', ['AuditBucketName'], () => checkAuditBucket(clients.s3, stack)),
    needs('digest-key', ['DigestKeyArn'], () => checkDigestKey(clients.kms, stack)),
    guarded('scheduler-role', () => checkSchedulerRole(clients.iam, stack)),
    guarded('api-gateway-account', () => checkApiGatewayAccount(clients.apiGateway, clients.iam, stack)),
  ]);
  return [result, secret, auth, channel, ...rest];
}

/** One line per check: `ok`, `PROBLEM … fix: …` or `skipped`. */
export function formatResult(result: CheckResult): string {
  if (result.ok) return `ok       ${result.name}: ${result.detail ?? ''}`;
  if (result.skipped) return `skipped  ${result.name}: ${result.skipped}`;
  return `PROBLEM  ${result.name}: ${result.problem} — fix: ${result.fix}`;
}
