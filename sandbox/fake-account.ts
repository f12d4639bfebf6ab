/**
 * A fake AWS account holding a "deployed" stack, for `countersign doctor`: the
 * read APIs doctor calls, answered wire-compatibly so unmodified SDK clients
 * talk to it over HTTP on 127.0.0.1 (served by sandbox/fake-aws.ts):
 *
 * - CloudFormation `DescribeStacks`, `GetTemplate`, `ListStackResources`
 *   (AWS Query, XML answers);
 * - IAM `GetRole` (AWS Query; the trust policy URL-encoded, as IAM sends it);
 * - EventBridge `DescribeEventBus`, `PutPermission` with `Policy` (AWS JSON 1.1);
 * - KMS `DescribeKey` (AWS JSON 1.1);
 * - S3 `GetObjectLockConfiguration`, `GetBucketVersioning` (REST XML, path style);
 * - API Gateway `GET /account` (REST JSON).
 *
 * {@link FakeAccount.deploy} fills it from a synthesized template the way
 * CloudFormation would: physical names (generated where the template sets
 * none), the bus policy, bucket, key and role settings, the Slack secret with
 * its generated placeholder, and resolved outputs. Tests then break one thing
 * through the state maps, as a console click or a lost API call would.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  ATTRIBUTE_FORMATS,
  type CfnTemplate,
  type StackResource,
  TemplateResolver,
  UnresolvableError,
} from '../doctor/template.js';

/** A deployed stack as CloudFormation holds it. */
export interface FakeStack {
  name: string;
  id: string;
  status: string;
  template: CfnTemplate;
  resources: Map<string, StackResource>;
  outputs: { OutputKey: string; OutputValue: string; Description?: string }[];
}

/** Object Lock settings of a bucket, as `GetObjectLockConfiguration` returns them. */
export interface FakeObjectLock {
  ObjectLockEnabled?: 'Enabled';
  Rule?: { DefaultRetention?: { Mode?: 'COMPLIANCE' | 'GOVERNANCE'; Days?: number; Years?: number } };
}

/** The account's resources, by name (keys by id). Tests edit these to break things. */
export interface FakeAccountState {
  stacks: Map<string, FakeStack>;
  /** Event buses and their policy document (JSON text, absent when none). */
  buses: Map<string, { arn: string; policy?: string }>;
  buckets: Map<string, { objectLock?: FakeObjectLock; versioning?: 'Enabled' | 'Suspended' }>;
  keys: Map<string, { arn: string; keySpec: string; keyUsage: string; keyState: string }>;
  /** Roles and their trust policy (JSON text). */
  roles: Map<string, { arn: string; path: string; trust: string }>;
  /** API Gateway's account settings in this region. */
  apiGateway: { cloudwatchRoleArn?: string };
}

/** A wire answer. */
export interface FakeAnswer {
  status: number;
  contentType: string;
  body: string;
  errorType?: string;
}

/** The fake account: state, deployment and request handling. */
export interface FakeAccount extends FakeAccountState {
  account: string;
  region: string;
  /**
   * Deploys `template` as stack `stackName` and returns it. `setSecret` stores
   * each Secrets Manager secret's generated value (the fake Secrets Manager's).
   */
  deploy(template: CfnTemplate, stackName: string): FakeStack;
  /** Sets API Gateway's CloudWatch role, as the one-time account setup does; returns its ARN. */
  prepareApiGatewayLogging(): string;
  /**
   * Answers a request this fake serves, or undefined when it is not one of its
   * APIs. `body` is the raw request body.
   */
  handle(req: IncomingMessage, body: string): FakeAnswer | undefined;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const randomString = (length: number, alphabet = ALPHANUMERIC) =>
  [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('');

/** The property that names a resource, by type, where the template may set one. */
const NAME_PROPERTIES: Record<string, string> = {
  'AWS::Events::EventBus': 'Name',
  'AWS::Scheduler::ScheduleGroup': 'Name',
  'AWS::Scheduler::Schedule': 'Name',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::IAM::Role': 'RoleName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::DynamoDB::GlobalTable': 'TableName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::ApiGateway::Stage': 'StageName',
};

const xmlEscape = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Renders `{ A: 'x', B: [{...}] }` as XML; arrays become `<member>` lists as AWS Query does. */
function xml(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map((item) => `<member>${xml(item)}</member>`).join('');
  if (typeof value === 'object') {
    return Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `<${k}>${xml(v)}</${k}>`)
      .join('');
  }
  return xmlEscape(String(value));
}

const queryAnswer = (action: string, namespace: string, result: unknown): FakeAnswer => ({
  status: 200,
  contentType: 'text/xml',
  body: `<${action}Response xmlns="${namespace}"><${action}Result>${xml(result)}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
});

const queryError = (status: number, code: string, message: string): FakeAnswer => ({
  status,
  contentType: 'text/xml',
  body: `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
});

const jsonAnswer = (body: unknown): FakeAnswer => ({
  status: 200,
  contentType: 'application/x-amz-json-1.1',
  body: JSON.stringify(body),
});

const jsonError = (type: string, message: string): FakeAnswer => ({
  status: 400,
  contentType: 'application/x-amz-json-1.1',
  body: JSON.stringify({ __type: type, message }),
  errorType: type,
});

const s3Error = (status: number, code: string, message: string): FakeAnswer => ({
  status,
  contentType: 'application/xml',
  body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message><RequestId>${randomUUID()}</RequestId></Error>`,
});

const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';
const CFN_NAMESPACE = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';
const IAM_NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';

/** Creates an empty account; `setSecret` stores a deployed secret's value. */
export function createFakeAccount(options: {
  account?: string;
  region: string;
  setSecret: (id: string, value: string) => string;
}): FakeAccount {
  const account = options.account ?? '123456789012';
  const region = options.region;
  const state: FakeAccountState = {
    stacks: new Map(),
    buses: new Map(),
    buckets: new Map(),
    keys: new Map(),
    roles: new Map(),
    apiGateway: {},
  };

  function physicalName(stackName: string, logicalId: string, type: string, named: string | undefined) {
    if (type === 'AWS::SecretsManager::Secret') {
      const name = named ?? `${logicalId}-${randomString(12)}`;
      return `arn:aws:secretsmanager:${region}:${account}:secret:${name}-${randomString(6)}`;
    }
    if (type === 'AWS::StepFunctions::StateMachine') {
      return `arn:aws:states:${region}:${account}:stateMachine:${named ?? `${logicalId}-${randomString(12)}`}`;
    }
    if (type === 'AWS::SNS::Topic') {
      return `arn:aws:sns:${region}:${account}:${named ?? `${stackName}-${logicalId}-${randomString(12)}`}`;
    }
    if (type === 'AWS::SQS::Queue') {
      return `https://sqs.${region}.amazonaws.com/${account}/${named ?? `${stackName}-${logicalId}-${randomString(12)}`}`;
    }
    if (type === 'AWS::KMS::Key') return randomUUID();
    if (type === 'AWS::ApiGateway::RestApi' || type === 'AWS::ApiGateway::Deployment') {
      return randomString(10, 'abcdefghijklmnopqrstuvwxyz0123456789');
    }
    if (named) return named;
    const generated = `${stackName}-${logicalId}`.slice(0, 50);
    return type === 'AWS::S3::Bucket'
      ? `${generated.toLowerCase()}-${randomString(12, 'abcdefghijklmnopqrstuvwxyz0123456789')}`
      : `${generated}-${randomString(12)}`;
  }

  /** Assigns every resource its physical id, resolving names that reference other resources first. */
  function assignPhysicalIds(template: CfnTemplate, stackName: string, stackId: string) {
    const resources = new Map<string, StackResource>();
    const env = { account, region, stackName, stackId, resources };
    let pending = Object.entries(template.Resources);
    while (pending.length > 0) {
      const deferred: typeof pending = [];
      for (const [id, resource] of pending) {
        const nameProperty = NAME_PROPERTIES[resource.Type];
        const nameValue = nameProperty ? resource.Properties?.[nameProperty] : undefined;
        try {
          const named =
            nameValue === undefined
              ? undefined
              : new TemplateResolver(template, env).resolveString(nameValue);
          resources.set(id, {
            type: resource.Type,
            physicalId: physicalName(stackName, id, resource.Type, named),
          });
        } catch (error) {
          if (!(error instanceof UnresolvableError)) throw error;
          deferred.push([id, resource]);
        }
      }
      if (deferred.length === pending.length) {
        throw new Error(`cannot name resources ${deferred.map(([id]) => id).join(', ')}`);
      }
      pending = deferred;
    }
    return resources;
  }

  /** Attributes no documented format gives (Function URLs, ...): made up once, like AWS would. */
  function extraAttributes(template: CfnTemplate, resources: Map<string, StackResource>) {
    const extra = new Map<string, string>();
    const visit = (value: unknown) => {
      if (Array.isArray(value)) return value.forEach(visit);
      if (value === null || typeof value !== 'object') return;
      const getAtt = (value as Record<string, unknown>)['Fn::GetAtt'];
      if (Array.isArray(getAtt)) {
        const [id, attribute] = getAtt.map(String) as [string, string];
        const type = resources.get(id)?.type ?? '';
        const known =
          ATTRIBUTE_FORMATS[type]?.[attribute] || (type === 'AWS::IAM::Role' && attribute === 'Arn');
        if (!known) {
          extra.set(
            `${id}.${attribute}`,
            type === 'AWS::Lambda::Url' && attribute === 'FunctionUrl'
              ? `https://${randomString(32, 'abcdefghijklmnopqrstuvwxyz0123456789')}.lambda-url.${region}.on.aws/`
              : `${id}-${attribute}-${randomString(8)}`,
          );
        }
      }
      Object.values(value).forEach(visit);
    };
    visit(template);
    return extra;
  }

  function deploy(template: CfnTemplate, stackName: string): FakeStack {
    const stackId = `arn:aws:cloudformation:${region}:${account}:stack/${stackName}/${randomUUID()}`;
    const resources = assignPhysicalIds(template, stackName, stackId);
    const resolver = new TemplateResolver(template, {
      account,
      region,
      stackName,
      stackId,
      resources,
      extraAttributes: extraAttributes(template, resources),
    });
    const statementsByBus = new Map<string, unknown[]>();
    for (const [id, resource] of Object.entries(template.Resources)) {
      const props = (resource.Properties ?? {}) as Record<string, unknown>;
      const physicalId = resources.get(id)!.physicalId;
      switch (resource.Type) {
        case 'AWS::Events::EventBus': {
          const policy = props.Policy === undefined ? undefined : resolver.resolve(props.Policy);
          const statements = policy
            ? ((typeof policy === 'string' ? JSON.parse(policy) : policy) as { Statement: unknown[] })
                .Statement
            : [];
          statementsByBus.set(physicalId, [...(statementsByBus.get(physicalId) ?? []), ...statements]);
          break;
        }
        case 'AWS::Events::EventBusPolicy': {
          const bus =
            props.EventBusName === undefined ? 'default' : resolver.resolveString(props.EventBusName);
          const statement = resolver.resolve(props.Statement) as Record<string, unknown>;
          statementsByBus.set(bus, [
            ...(statementsByBus.get(bus) ?? []),
            { ...statement, Sid: resolver.resolve(props.StatementId) },
          ]);
          break;
        }
        case 'AWS::S3::Bucket': {
          const lock = props.ObjectLockConfiguration as FakeObjectLock | undefined;
          state.buckets.set(physicalId, {
            ...(props.ObjectLockEnabled
              ? { objectLock: structuredClone(lock ?? { ObjectLockEnabled: 'Enabled' }) }
              : {}),
            ...((props.VersioningConfiguration as { Status?: string })?.Status === 'Enabled' ||
            props.ObjectLockEnabled
              ? { versioning: 'Enabled' as const }
              : {}),
          });
          break;
        }
        case 'AWS::KMS::Key':
          state.keys.set(physicalId, {
            arn: resolver.getAtt(id, 'Arn'),
            keySpec: String(props.KeySpec ?? 'SYMMETRIC_DEFAULT'),
            keyUsage: String(props.KeyUsage ?? 'ENCRYPT_DECRYPT'),
            keyState: props.Enabled === false ? 'Disabled' : 'Enabled',
          });
          break;
        case 'AWS::IAM::Role':
          state.roles.set(physicalId, {
            arn: resolver.getAtt(id, 'Arn'),
            path: String(props.Path ?? '/'),
            trust: JSON.stringify(resolver.resolve(props.AssumeRolePolicyDocument)),
          });
          break;
        case 'AWS::SecretsManager::Secret': {
          const generate = props.GenerateSecretString as
            | { SecretStringTemplate?: string; GenerateStringKey?: string; PasswordLength?: number }
            | undefined;
          const value = generate?.GenerateStringKey
            ? JSON.stringify({
                ...JSON.parse(generate.SecretStringTemplate ?? '{}'),
                [generate.GenerateStringKey]: randomString(generate.PasswordLength ?? 32),
              })
            : String(props.SecretString ?? randomString(generate?.PasswordLength ?? 32));
          options.setSecret(physicalId, value);
          break;
        }
      }
    }
    for (const [bus, statements] of statementsByBus) {
      const busId = [...resources.entries()].find(
        ([, r]) => r.type === 'AWS::Events::EventBus' && r.physicalId === bus,
      )?.[0];
      state.buses.set(bus, {
        arn: busId ? resolver.getAtt(busId, 'Arn') : `arn:aws:events:${region}:${account}:event-bus/${bus}`,
        ...(statements.length > 0
          ? { policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) }
          : {}),
      });
    }
    for (const [id, resource] of resources) {
      if (resource.type === 'AWS::Events::EventBus' && !state.buses.has(resource.physicalId)) {
        state.buses.set(resource.physicalId, { arn: resolver.getAtt(id, 'Arn') });
      }
    }
    const stack: FakeStack = {
      name: stackName,
      id: stackId,
      status: 'CREATE_COMPLETE',
      template: structuredClone(template),
      resources,
      outputs: Object.entries(template.Outputs ?? {}).map(([key, output]) => ({
        OutputKey: key,
        OutputValue: resolver.resolveString(output.Value),
        ...(output.Description ? { Description: output.Description } : {}),
      })),
    };
    state.stacks.set(stackName, stack);
    return stack;
  }

  function prepareApiGatewayLogging(): string {
    const name = 'APIGatewayCloudWatchLogs';
    const arn = `arn:aws:iam::${account}:role/${name}`;
    state.roles.set(name, {
      arn,
      path: '/',
      trust: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'apigateway.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    });
    state.apiGateway.cloudwatchRoleArn = arn;
    return arn;
  }

  const findStack = (nameOrId: string) =>
    [...state.stacks.values()].find((s) => s.name === nameOrId || s.id === nameOrId);

  function cloudformation(action: string, params: URLSearchParams): FakeAnswer {
    const stackName = params.get('StackName') ?? '';
    const stack = findStack(stackName);
    if (!stack) return queryError(400, 'ValidationError', `Stack with id ${stackName} does not exist`);
    const created = new Date(1_700_000_000_000).toISOString();
    switch (action) {
      case 'DescribeStacks':
        return queryAnswer(action, CFN_NAMESPACE, {
          Stacks: [
            {
              StackId: stack.id,
              StackName: stack.name,
              CreationTime: created,
              StackStatus: stack.status,
              Outputs: stack.outputs,
            },
          ],
        });
      case 'GetTemplate':
        return queryAnswer(action, CFN_NAMESPACE, {
          TemplateBody: JSON.stringify(stack.template),
          StagesAvailable: ['Original', 'Processed'],
        });
      case 'ListStackResources': {
        // Small pages, so callers must follow NextToken as they must on AWS.
        const all = [...stack.resources.entries()];
        const start = Number(params.get('NextToken') ?? 0) || 0;
        const page = all.slice(start, start + 50);
        return queryAnswer(action, CFN_NAMESPACE, {
          StackResourceSummaries: page.map(([logicalId, r]) => ({
            LogicalResourceId: logicalId,
            PhysicalResourceId: r.physicalId,
            ResourceType: r.type,
            LastUpdatedTimestamp: created,
            ResourceStatus: 'CREATE_COMPLETE',
          })),
          NextToken: start + 50 < all.length ? String(start + 50) : undefined,
        });
      }
      default:
        return queryError(400, 'InvalidAction', `the fake does not implement ${action}`);
    }
  }

  function iam(action: string, params: URLSearchParams): FakeAnswer {
    if (action !== 'GetRole')
      return queryError(400, 'InvalidAction', `the fake does not implement ${action}`);
    const name = params.get('RoleName') ?? '';
    const role = state.roles.get(name);
    if (!role) return queryError(404, 'NoSuchEntity', `The role with name ${name} cannot be found.`);
    return queryAnswer(action, IAM_NAMESPACE, {
      Role: {
        Path: role.path,
        RoleName: name,
        RoleId: `AROA${randomString(17, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')}`,
        Arn: role.arn,
        CreateDate: new Date(1_700_000_000_000).toISOString(),
        // IAM returns the trust policy URL-encoded (RFC 3986).
        AssumeRolePolicyDocument: encodeURIComponent(role.trust),
      },
    });
  }

  function json(target: string, input: Record<string, unknown>): FakeAnswer | undefined {
    switch (target) {
      case 'AWSEvents.DescribeEventBus': {
        const name = String(input.Name ?? 'default');
        const bus = state.buses.get(name);
        if (!bus) return jsonError('ResourceNotFoundException', `Event bus ${name} does not exist.`);
        return jsonAnswer({ Name: name, Arn: bus.arn, ...(bus.policy ? { Policy: bus.policy } : {}) });
      }
      case 'AWSEvents.PutPermission': {
        const name = String(input.EventBusName ?? 'default');
        const bus = state.buses.get(name);
        if (!bus) return jsonError('ResourceNotFoundException', `Event bus ${name} does not exist.`);
        if (typeof input.Policy !== 'string') {
          return jsonError('ValidationException', 'the fake implements PutPermission with Policy only');
        }
        bus.policy = input.Policy;
        return jsonAnswer({});
      }
      case 'TrentService.DescribeKey': {
        const id = String(input.KeyId ?? '');
        const key = [...state.keys.entries()].find(([keyId, k]) => keyId === id || k.arn === id);
        if (!key) return jsonError('NotFoundException', `Key '${id}' does not exist`);
        const [keyId, k] = key;
        return jsonAnswer({
          KeyMetadata: {
            AWSAccountId: account,
            KeyId: keyId,
            Arn: k.arn,
            CreationDate: 1_700_000_000,
            Enabled: k.keyState === 'Enabled',
            KeyState: k.keyState,
            KeySpec: k.keySpec,
            CustomerMasterKeySpec: k.keySpec,
            KeyUsage: k.keyUsage,
            KeyManager: 'CUSTOMER',
            Origin: 'AWS_KMS',
          },
        });
      }
      default:
        return undefined;
    }
  }

  function s3(url: URL): FakeAnswer {
    const bucketName = decodeURIComponent(url.pathname.split('/').filter(Boolean)[0] ?? '');
    const bucket = state.buckets.get(bucketName);
    if (!bucket) return s3Error(404, 'NoSuchBucket', 'The specified bucket does not exist');
    if (url.searchParams.has('object-lock')) {
      if (!bucket.objectLock) {
        return s3Error(
          404,
          'ObjectLockConfigurationNotFoundError',
          'Object Lock configuration does not exist for this bucket',
        );
      }
      return {
        status: 200,
        contentType: 'application/xml',
        body: `<?xml version="1.0" encoding="UTF-8"?><ObjectLockConfiguration xmlns="${S3_NAMESPACE}">${xml(bucket.objectLock)}</ObjectLockConfiguration>`,
      };
    }
    if (url.searchParams.has('versioning')) {
      return {
        status: 200,
        contentType: 'application/xml',
        body: `<?xml version="1.0" encoding="UTF-8"?><VersioningConfiguration xmlns="${S3_NAMESPACE}">${xml({ Status: bucket.versioning })}</VersioningConfiguration>`,
      };
    }
    return s3Error(501, 'NotImplemented', 'the fake serves bucket Object Lock and versioning settings only');
  }

  function handle(req: IncomingMessage, body: string): FakeAnswer | undefined {
    const url = new URL(req.url ?? '/', 'http://fake-aws');
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string') {
      let input: Record<string, unknown>;
      try {
        input = body.length > 0 ? (JSON.parse(body) as Record<string, unknown>) : {};
      } catch {
        return jsonError('SerializationException', 'bad JSON');
      }
      return json(target, input);
    }
    const type = String(req.headers['content-type'] ?? '');
    if (req.method === 'POST' && type.startsWith('application/x-www-form-urlencoded')) {
      const params = new URLSearchParams(body);
      const action = params.get('Action') ?? '';
      if (params.get('Version') === '2010-05-15') return cloudformation(action, params);
      if (params.get('Version') === '2010-05-08') return iam(action, params);
      return undefined;
    }
    if (req.method === 'GET' && url.pathname === '/account') {
      return {
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({
          ...(state.apiGateway.cloudwatchRoleArn
            ? { cloudwatchRoleArn: state.apiGateway.cloudwatchRoleArn }
            : {}),
          throttleSettings: { burstLimit: 5000, rateLimit: 10000 },
          features: [],
          apiKeyVersion: '4',
        }),
      };
    }
    if (req.method === 'GET' && url.pathname.split('/').filter(Boolean).length === 1) return s3(url);
    return undefined;
  }

  return Object.assign(state, { account, region, deploy, prepareApiGatewayLogging, handle });
}
