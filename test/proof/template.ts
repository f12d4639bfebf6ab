/**
 * The synthesized stack as IAM sees it once deployed: every CloudFormation
 * intrinsic resolved with placeholder physical names (account 123456789012,
 * region us-east-1), each handler's role and identity policies, and the
 * resource policies the services attach (bucket, keys, bus, queues, Lambda
 * permissions). Both forms of bus policy are read: `AWS::Events::EventBusPolicy`
 * resources and the `Policy` document of `AWS::Events::EventBus`.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CONFIG_CONTEXT_KEY, loadConfig } from '../../lib/config.js';
import { CountersignStack } from '../../lib/countersign-stack.js';
import { HandlerFunction } from '../../lib/handler-function.js';

/** Placeholder account and region of the deployed naming. */
export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

/** An IAM policy document. */
export interface PolicyDocument {
  Version?: string;
  Statement: Record<string, unknown>[];
}

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

/** One Lambda handler of the stack: its function, role and resolved environment. */
export interface DeployedHandler {
  name: string;
  functionArn: string;
  roleLogicalId: string;
  roleArn: string;
  environment: Record<string, string>;
}

const root = resolve(import.meta.dirname, '../..');

/** Physical names and ARNs each resource type gets from CloudFormation, as placeholders. */
function placeholders(id: string, r: CfnResource): { Ref: string; attrs: Record<string, string> } {
  const p = r.Properties ?? {};
  const named = (key: string, fallback: string) =>
    typeof p[key] === 'string' ? (p[key] as string) : fallback;
  const generated = `Countersign-${id}`;
  const lower = generated.toLowerCase();
  const region = `${REGION}:${ACCOUNT}`;
  switch (r.Type) {
    case 'AWS::DynamoDB::Table':
    case 'AWS::DynamoDB::GlobalTable': {
      const name = named('TableName', generated);
      const arn = `arn:aws:dynamodb:${region}:table/${name}`;
      return { Ref: name, attrs: { Arn: arn, StreamArn: `${arn}/stream/2026-01-01T00:00:00.000` } };
    }
    case 'AWS::S3::Bucket': {
      const name = named('BucketName', lower);
      return {
        Ref: name,
        attrs: { Arn: `arn:aws:s3:::${name}`, DomainName: `${name}.s3.amazonaws.com` },
      };
    }
    case 'AWS::KMS::Key': {
      const keyId = `00000000-0000-4000-8000-${id
        .replace(/[^A-Fa-f0-9]/g, '')
        .slice(-12)
        .padStart(12, '0')}`;
      return { Ref: keyId, attrs: { Arn: `arn:aws:kms:${region}:key/${keyId}`, KeyId: keyId } };
    }
    case 'AWS::Events::EventBus': {
      const name = named('Name', generated);
      return { Ref: name, attrs: { Arn: `arn:aws:events:${region}:event-bus/${name}`, Name: name } };
    }
    case 'AWS::Events::Rule': {
      const name = named('Name', generated);
      const bus = typeof p.EventBusName === 'string' ? `${p.EventBusName}/` : '';
      return { Ref: name, attrs: { Arn: `arn:aws:events:${region}:rule/${bus}${name}` } };
    }
    case 'AWS::SQS::Queue': {
      const name = named('QueueName', generated);
      return {
        Ref: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`,
        attrs: { Arn: `arn:aws:sqs:${region}:${name}`, QueueName: name },
      };
    }
    case 'AWS::SNS::Topic': {
      const name = named('TopicName', generated);
      const arn = `arn:aws:sns:${region}:${name}`;
      return { Ref: arn, attrs: { TopicArn: arn, TopicName: name } };
    }
    case 'AWS::SecretsManager::Secret': {
      const name = named('Name', generated);
      const arn = `arn:aws:secretsmanager:${region}:secret:${name}-AbCdEf`;
      return { Ref: arn, attrs: { Id: arn } };
    }
    case 'AWS::StepFunctions::StateMachine': {
      const name = named('StateMachineName', generated);
      const arn = `arn:aws:states:${region}:stateMachine:${name}`;
      return { Ref: arn, attrs: { Arn: arn, Name: name } };
    }
    case 'AWS::Lambda::Function': {
      const name = named('FunctionName', generated);
      return { Ref: name, attrs: { Arn: `arn:aws:lambda:${region}:function:${name}` } };
    }
    case 'AWS::IAM::Role': {
      const name = named('RoleName', generated);
      return { Ref: name, attrs: { Arn: `arn:aws:iam::${ACCOUNT}:role/${name}`, RoleId: `AROA${id}` } };
    }
    case 'AWS::Scheduler::ScheduleGroup': {
      const name = named('Name', generated);
      return { Ref: name, attrs: { Arn: `arn:aws:scheduler:${region}:schedule-group/${name}` } };
    }
    case 'AWS::Scheduler::Schedule': {
      const name = named('Name', generated);
      const group = typeof p.GroupName === 'string' ? p.GroupName : 'default';
      return { Ref: name, attrs: { Arn: `arn:aws:scheduler:${region}:schedule/${group}/${name}` } };
    }
    case 'AWS::Logs::LogGroup': {
      const name = named('LogGroupName', `/countersign/${id}`);
      return { Ref: name, attrs: { Arn: `arn:aws:logs:${region}:log-group:${name}:*` } };
    }
    case 'AWS::Lambda::Url':
      return { Ref: id, attrs: { FunctionUrl: `https://${lower}.lambda-url.${REGION}.on.aws/` } };
    case 'AWS::ApiGateway::RestApi':
      return { Ref: lower.slice(-10), attrs: { RootResourceId: `${lower.slice(-6)}root` } };
    case 'AWS::ApiGatewayV2::Api':
      return {
        Ref: lower.slice(-10),
        attrs: { ApiEndpoint: `https://${lower.slice(-10)}.execute-api.${REGION}.amazonaws.com` },
      };
    default:
      return { Ref: id, attrs: {} };
  }
}

/** A synthesized Countersign stack, resolved into deployed names. */
export class DeployedStack {
  readonly resources: Record<string, CfnResource>;
  private readonly names = new Map<string, { Ref: string; attrs: Record<string, string> }>();
  /** Lambda handlers by name (`evaluate`, `interaction`, ...). */
  readonly handlers = new Map<string, DeployedHandler>();

  constructor(
    readonly stack: Stack,
    template: { Resources: Record<string, CfnResource> },
  ) {
    this.resources = template.Resources;
    for (const [id, r] of Object.entries(this.resources)) this.names.set(id, placeholders(id, r));
    // A rule on a custom bus has the bus name in its ARN, known only once the bus resolves.
    for (const id of this.ofType('AWS::Events::Rule')) {
      const bus = this.resources[id]!.Properties?.EventBusName;
      if (bus === undefined || bus === 'default') continue;
      const name = this.ref(id);
      this.names.get(id)!.attrs.Arn =
        `arn:aws:events:${REGION}:${ACCOUNT}:rule/${String(this.resolve(bus))}/${name}`;
    }
    for (const fn of stack.node.findAll().filter((c): c is HandlerFunction => c instanceof HandlerFunction)) {
      const id = stack.getLogicalId(fn.node.defaultChild as never);
      const props = this.resources[id]!.Properties!;
      const roleLogicalId = (props.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const name = /lambdas\/([a-z-]+)\/handler\.ts$/.exec(fn.entry)?.[1] ?? id;
      this.handlers.set(name, {
        name,
        functionArn: this.attr(id, 'Arn'),
        roleLogicalId,
        roleArn: this.attr(roleLogicalId, 'Arn'),
        environment: this.resolve(
          (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {},
        ) as Record<string, string>,
      });
    }
  }

  /** The placeholder `Fn::GetAtt` of a resource. */
  attr(logicalId: string, attribute: string): string {
    const entry = this.names.get(logicalId);
    if (!entry) throw new Error(`no resource ${logicalId}`);
    return entry.attrs[attribute] ?? `${logicalId}.${attribute}`;
  }

  /** The placeholder `Ref` of a resource. */
  ref(logicalId: string): string {
    const entry = this.names.get(logicalId);
    if (!entry) throw new Error(`no resource ${logicalId}`);
    return entry.Ref;
  }

  /** Logical ids of the resources of one type. */
  ofType(type: string): string[] {
    return Object.entries(this.resources)
      .filter(([, r]) => r.Type === type)
      .map(([id]) => id);
  }

  /** The single resource of a type (throws when there are none or several). */
  only(type: string): string {
    const ids = this.ofType(type);
    if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.length}`);
    return ids[0]!;
  }

  /** Resolves CloudFormation intrinsics (Ref, GetAtt, Join, Sub, Select, Split, pseudo parameters). */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const [k] = keys as [string];
      const v = o[k];
      if (k === 'Ref') return this.pseudo(v as string) ?? this.ref(v as string);
      if (k === 'Fn::GetAtt') {
        const [id, attribute] = Array.isArray(v) ? (v as string[]) : String(v).split('.');
        return this.attr(id!, attribute!);
      }
      if (k === 'Fn::Join') {
        const [sep, parts] = v as [string, unknown[]];
        return (this.resolve(parts) as unknown[]).map(String).join(sep);
      }
      if (k === 'Fn::Select') {
        const [index, list] = v as [number, unknown];
        return (this.resolve(list) as unknown[])[Number(this.resolve(index))];
      }
      if (k === 'Fn::Split') {
        const [sep, text] = v as [string, unknown];
        return String(this.resolve(text)).split(sep);
      }
      if (k === 'Fn::Sub') {
        const [text, vars] = Array.isArray(v) ? (v as [string, Record<string, unknown>]) : [v as string, {}];
        return text.replace(/\$\{([^}!][^}]*)\}/g, (_m, name: string) => {
          if (name in vars) return String(this.resolve(vars[name]));
          if (name.includes('.')) {
            const [id, attribute] = name.split('.') as [string, string];
            return this.attr(id, attribute);
          }
          return this.pseudo(name) ?? this.ref(name);
        });
      }
      if (k.startsWith('Fn::')) throw new Error(`unsupported intrinsic ${k}`);
    }
    return Object.fromEntries(Object.entries(o).map(([key, v]) => [key, this.resolve(v)]));
  }

  private pseudo(name: string): string | undefined {
    return {
      'AWS::AccountId': ACCOUNT,
      'AWS::Region': REGION,
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': 'Countersign',
      'AWS::StackId': `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/Countersign/00000000`,
    }[name];
  }

  /** Identity policies of a role: its inline `Policies` and every `AWS::IAM::Policy` attached to it. */
  identityPolicies(roleLogicalId: string): { name: string; policy: PolicyDocument }[] {
    const role = this.resources[roleLogicalId];
    if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleLogicalId} is not a role`);
    const managed = (role.Properties?.ManagedPolicyArns ?? []) as unknown[];
    if (managed.length > 0)
      throw new Error(`${roleLogicalId} has managed policies, which this proof cannot read offline`);
    const inline = (
      (role.Properties?.Policies ?? []) as { PolicyName: string; PolicyDocument: unknown }[]
    ).map((p) => ({ name: p.PolicyName, policy: this.resolve(p.PolicyDocument) as PolicyDocument }));
    const attached = this.ofType('AWS::IAM::Policy')
      .filter((id) =>
        ((this.resources[id]!.Properties!.Roles ?? []) as { Ref?: string }[]).some(
          (r) => r.Ref === roleLogicalId,
        ),
      )
      .map((id) => ({
        name: id,
        policy: this.resolve(this.resources[id]!.Properties!.PolicyDocument) as PolicyDocument,
      }));
    return [...inline, ...attached];
  }

  /** The trust policy of a role. */
  trustPolicy(roleLogicalId: string): PolicyDocument {
    return this.resolve(
      this.resources[roleLogicalId]!.Properties!.AssumeRolePolicyDocument,
    ) as PolicyDocument;
  }

  /** The role whose placeholder ARN is `arn`. */
  roleByArn(arn: string): string {
    const id = this.ofType('AWS::IAM::Role').find((r) => this.attr(r, 'Arn') === arn);
    if (!id) throw new Error(`no role ${arn}`);
    return id;
  }

  /** The resource policy AWS evaluates for `arn`, if the stack attaches one. */
  resourcePolicy(arn: string): PolicyDocument | undefined {
    const statements: Record<string, unknown>[] = [];
    const add = (doc: unknown) => {
      // A policy property may be a document or JSON text (literal or built with intrinsics).
      const value = this.resolve(doc);
      const resolved = (typeof value === 'string' ? JSON.parse(value) : value) as PolicyDocument;
      statements.push(...resolved.Statement);
    };
    for (const id of this.ofType('AWS::S3::BucketPolicy')) {
      const p = this.resources[id]!.Properties!;
      const bucket = `arn:aws:s3:::${String(this.resolve(p.Bucket))}`;
      if (arn === bucket || arn.startsWith(`${bucket}/`)) add(p.PolicyDocument);
    }
    for (const id of this.ofType('AWS::KMS::Key')) {
      if (this.attr(id, 'Arn') === arn) add(this.resources[id]!.Properties!.KeyPolicy);
    }
    for (const id of this.ofType('AWS::SQS::QueuePolicy')) {
      const p = this.resources[id]!.Properties!;
      const queues = (this.resolve(p.Queues) as string[]).map((url) => url.split('/').pop());
      if (queues.some((q) => arn === `arn:aws:sqs:${REGION}:${ACCOUNT}:${q}`)) add(p.PolicyDocument);
    }
    for (const id of this.ofType('AWS::Events::EventBus')) {
      if (this.attr(id, 'Arn') !== arn) continue;
      const policy = this.resources[id]!.Properties!.Policy;
      if (policy) add(policy);
      for (const pid of this.ofType('AWS::Events::EventBusPolicy')) {
        const p = this.resources[pid]!.Properties!;
        if (String(this.resolve(p.EventBusName ?? 'default')) !== this.attr(id, 'Name')) continue;
        if (p.Statement) {
          statements.push({ Sid: p.StatementId, ...(this.resolve(p.Statement) as Record<string, unknown>) });
        } else {
          statements.push({
            Sid: p.StatementId,
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${String(p.Principal)}:root` },
            Action: p.Action,
            Resource: arn,
            ...(p.Condition ? { Condition: this.resolve(p.Condition) } : {}),
          });
        }
      }
    }
    for (const id of this.ofType('AWS::Lambda::Permission')) {
      const p = this.resolve(this.resources[id]!.Properties) as Record<string, string | boolean>;
      const fn = String(p.FunctionName);
      const fnArn = fn.startsWith('arn:') ? fn : `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${fn}`;
      if (fnArn !== arn) continue;
      const principal = String(p.Principal);
      const condition: Record<string, Record<string, string | boolean>> = {};
      if (p.SourceArn) condition.ArnLike = { 'AWS:SourceArn': p.SourceArn as string };
      if (p.SourceAccount) condition.StringEquals = { 'AWS:SourceAccount': p.SourceAccount as string };
      if (p.FunctionUrlAuthType)
        condition.StringEquals = {
          ...condition.StringEquals,
          'lambda:FunctionUrlAuthType': p.FunctionUrlAuthType as string,
        };
      if (p.InvokedViaFunctionUrl) condition.Bool = { 'lambda:InvokedViaFunctionUrl': 'true' };
      statements.push({
        Sid: id,
        Effect: 'Allow',
        Principal:
          principal === '*'
            ? '*'
            : principal.endsWith('.amazonaws.com')
              ? { Service: principal }
              : { AWS: principal },
        Action: p.Action,
        Resource: fnArn,
        ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}),
      });
    }
    return statements.length > 0 ? { Version: '2012-10-17', Statement: statements } : undefined;
  }
}

/** cdk.json's context and config, as `cdk synth` reads them. */
function cdkContext(): { context: Record<string, unknown> } {
  return JSON.parse(readFileSync(resolve(root, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
}

/** Options of {@link synthDeployed}. */
export interface SynthOptions {
  /** Agents to register with `stack.addAgent`: agent id to role name. */
  agents?: Record<string, string>;
}

/** Synthesizes the stack of cdk.json (bundling skipped) in the placeholder account and region. */
export function synthDeployed(options: SynthOptions = {}): DeployedStack {
  const { context } = cdkContext();
  const app = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  const stack = new CountersignStack(app, 'Countersign', {
    env: { account: ACCOUNT, region: REGION },
    config: loadConfig(context[CONFIG_CONTEXT_KEY], {}),
  });
  for (const [agentId, roleName] of Object.entries(options.agents ?? {})) {
    const role = new iam.Role(stack, `Agent-${agentId}`, {
      roleName,
      assumedBy: new iam.AccountRootPrincipal(),
    });
    stack.addAgent(role, agentId, { owner: `owner-of-${agentId}@example.com` });
  }
  return new DeployedStack(
    stack,
    Template.fromStack(stack).toJSON() as { Resources: Record<string, CfnResource> },
  );
}
