/**
 * Reading a deployed CloudFormation template the way CloudFormation does:
 * resolving `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select` and
 * `Fn::Split` against the stack's physical resources, so that what the
 * template intends (a bus policy, a trust policy, an environment variable)
 * can be compared with what the account holds.
 *
 * `Ref` answers a resource's physical id (what `ListStackResources` returns);
 * `Fn::GetAtt` is computed from the physical id and the resource type for the
 * attributes whose format AWS documents ({@link ATTRIBUTE_FORMATS}). Anything
 * else raises {@link UnresolvableError}, so a comparison never runs on a guess.
 */

/** A CloudFormation template (JSON), as `GetTemplate` returns it. */
export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  Outputs?: Record<string, { Value: unknown; Description?: string }>;
}

/** One resource of a deployed stack. */
export interface StackResource {
  type: string;
  physicalId: string;
}

/** Where the stack lives and what its resources are called. */
export interface StackEnvironment {
  account: string;
  region: string;
  stackName: string;
  stackId: string;
  /** @default 'aws' */
  partition?: string;
  /** @default 'amazonaws.com' */
  urlSuffix?: string;
  /** Physical resources by logical id. */
  resources: Map<string, StackResource>;
  /**
   * Attributes no format rule covers (a Function URL, an API endpoint), by
   * `<logicalId>.<attribute>`.
   */
  extraAttributes?: Map<string, string>;
}

/** A template value that cannot be resolved (an unknown attribute, an unsupported intrinsic). */
export class UnresolvableError extends Error {
  override name = 'UnresolvableError';
}

type AttributeFormat = (id: string, env: Required<Omit<StackEnvironment, 'extraAttributes'>>) => string;

const arn = (env: { partition: string }, rest: string) => `arn:${env.partition}:${rest}`;

/** How `Fn::GetAtt` attributes derive from a physical id, by resource type and attribute. */
export const ATTRIBUTE_FORMATS: Record<string, Record<string, AttributeFormat>> = {
  // Role paths: the template's `Path` is folded in by roleArn() below.
  'AWS::IAM::Role': { Arn: (id, env) => arn(env, `iam::${env.account}:role/${id}`) },
  'AWS::IAM::User': { Arn: (id, env) => arn(env, `iam::${env.account}:user/${id}`) },
  'AWS::Events::EventBus': {
    Arn: (id, env) => arn(env, `events:${env.region}:${env.account}:event-bus/${id}`),
    Name: (id) => id,
  },
  'AWS::Scheduler::ScheduleGroup': {
    Arn: (id, env) => arn(env, `scheduler:${env.region}:${env.account}:schedule-group/${id}`),
  },
  'AWS::Lambda::Function': {
    Arn: (id, env) => arn(env, `lambda:${env.region}:${env.account}:function:${id}`),
  },
  'AWS::KMS::Key': {
    Arn: (id, env) => arn(env, `kms:${env.region}:${env.account}:key/${id}`),
    KeyId: (id) => id,
  },
  'AWS::S3::Bucket': { Arn: (id, env) => arn(env, `s3:::${id}`) },
  'AWS::SQS::Queue': {
    Arn: (id, env) => arn(env, `sqs:${env.region}:${env.account}:${id.split('/').pop()}`),
    QueueName: (id) => id.split('/').pop() ?? id,
    QueueUrl: (id) => id,
  },
  'AWS::SNS::Topic': { TopicArn: (id) => id, TopicName: (id) => id.split(':').pop() ?? id },
  'AWS::StepFunctions::StateMachine': { Arn: (id) => id, Name: (id) => id.split(':').pop() ?? id },
  'AWS::SecretsManager::Secret': { Id: (id) => id },
  'AWS::DynamoDB::GlobalTable': {
    Arn: (id, env) => arn(env, `dynamodb:${env.region}:${env.account}:table/${id}`),
  },
  'AWS::DynamoDB::Table': {
    Arn: (id, env) => arn(env, `dynamodb:${env.region}:${env.account}:table/${id}`),
  },
  'AWS::Logs::LogGroup': {
    Arn: (id, env) => arn(env, `logs:${env.region}:${env.account}:log-group:${id}:*`),
  },
};

/** Resolves template values against a deployed stack. */
export class TemplateResolver {
  private readonly env: Required<Omit<StackEnvironment, 'extraAttributes'>>;
  private readonly extra: Map<string, string>;

  constructor(
    readonly template: CfnTemplate,
    env: StackEnvironment,
  ) {
    this.env = { partition: 'aws', urlSuffix: 'amazonaws.com', ...env };
    this.extra = env.extraAttributes ?? new Map();
  }

  /** The physical id of a logical resource. */
  physicalId(logicalId: string): string {
    const resource = this.env.resources.get(logicalId);
    if (!resource) throw new UnresolvableError(`the stack has no resource ${logicalId}`);
    return resource.physicalId;
  }

  /** `Ref` of a logical id or pseudo parameter. */
  ref(name: string): string {
    switch (name) {
      case 'AWS::AccountId':
        return this.env.account;
      case 'AWS::Region':
        return this.env.region;
      case 'AWS::Partition':
        return this.env.partition;
      case 'AWS::URLSuffix':
        return this.env.urlSuffix;
      case 'AWS::StackName':
        return this.env.stackName;
      case 'AWS::StackId':
        return this.env.stackId;
      case 'AWS::NoValue':
        throw new UnresolvableError('AWS::NoValue has no value');
      default:
        return this.physicalId(name);
    }
  }

  /** `Fn::GetAtt` of a logical resource. */
  getAtt(logicalId: string, attribute: string): string {
    const extra = this.extra.get(`${logicalId}.${attribute}`);
    if (extra !== undefined) return extra;
    const resource = this.env.resources.get(logicalId);
    if (!resource) throw new UnresolvableError(`the stack has no resource ${logicalId}`);
    if (resource.type === 'AWS::IAM::Role' && attribute === 'Arn') {
      const path = String(this.template.Resources[logicalId]?.Properties?.Path ?? '/');
      return arn(this.env, `iam::${this.env.account}:role${path}${resource.physicalId}`);
    }
    const format = ATTRIBUTE_FORMATS[resource.type]?.[attribute];
    if (!format) throw new UnresolvableError(`cannot resolve Fn::GetAtt ${logicalId}.${attribute}`);
    return format(resource.physicalId, this.env);
  }

  /** Resolves every intrinsic function in `value`. */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value);
    const [key, arg] = entries[0] ?? [];
    if (entries.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::'))) {
      return this.intrinsic(key, arg);
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(v)]));
  }

  /** Resolves a value that must be a string. */
  resolveString(value: unknown): string {
    const resolved = this.resolve(value);
    if (typeof resolved !== 'string')
      throw new UnresolvableError(`expected a string, got ${typeof resolved}`);
    return resolved;
  }

  private intrinsic(name: string, arg: unknown): unknown {
    switch (name) {
      case 'Ref':
        return this.ref(String(arg));
      case 'Fn::GetAtt': {
        const [id, attribute] = Array.isArray(arg) ? arg : String(arg).split(/\.(.*)/s);
        return this.getAtt(String(id), String(attribute));
      }
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown];
        const list = this.resolve(parts);
        if (!Array.isArray(list)) throw new UnresolvableError('Fn::Join needs a list');
        return list.join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [unknown, unknown];
        const items = this.resolve(list);
        const at = Number(this.resolve(index));
        if (!Array.isArray(items) || !(at in items)) throw new UnresolvableError('Fn::Select out of range');
        return items[at];
      }
      case 'Fn::Split': {
        const [separator, source] = arg as [string, unknown];
        return this.resolveString(source).split(separator);
      }
      case 'Fn::Sub': {
        const [text, variables = {}] = (Array.isArray(arg) ? arg : [arg]) as [
          string,
          Record<string, unknown>,
        ];
        return text.replace(/\$\{([^}!][^}]*)\}/g, (_all, ref: string) => {
          if (Object.hasOwn(variables, ref)) return this.resolveString(variables[ref]);
          const [id, attribute] = ref.split(/\.(.*)/s);
          return attribute ? this.getAtt(id!, attribute) : this.ref(ref);
        });
      }
      default:
        throw new UnresolvableError(`unsupported intrinsic ${name}`);
    }
  }

  /** Logical ids and properties of the resources of one type. */
  resourcesOfType(type: string): [string, Record<string, unknown>][] {
    return Object.entries(this.template.Resources)
      .filter(([, r]) => r.Type === type)
      .map(([id, r]) => [id, r.Properties ?? {}]);
  }
}

/**
 * The unresolved value of environment variable `name` of the stack's Lambda
 * functions, or undefined when no function has it. Handlers' variables are the
 * contract doctor reads names from (docs/architecture.md), so it checks what
 * the handlers use, whatever the resources are called.
 */
export function functionVariable(template: CfnTemplate, name: string): unknown {
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const variables = (
      resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined
    )?.Variables;
    if (variables && Object.hasOwn(variables, name)) return variables[name];
  }
  return undefined;
}

/** An IAM-style policy statement. */
export interface PolicyStatement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

/** A policy document given as an object or a JSON string. */
export function statementsOf(document: unknown): PolicyStatement[] {
  const parsed = typeof document === 'string' ? (JSON.parse(document) as unknown) : document;
  const statement = (parsed as { Statement?: unknown } | undefined)?.Statement;
  if (statement === undefined) return [];
  return (Array.isArray(statement) ? statement : [statement]) as PolicyStatement[];
}

/**
 * The bus policy the template intends for the bus named `busName`: the
 * statements of its `AWS::Events::EventBusPolicy` resources and of the bus's
 * own `Policy` property, resolved.
 */
export function intendedBusPolicy(resolver: TemplateResolver, busName: string): PolicyStatement[] {
  const statements: PolicyStatement[] = [];
  for (const [id, props] of resolver.resourcesOfType('AWS::Events::EventBus')) {
    if (props.Policy === undefined || resolver.ref(id) !== busName) continue;
    statements.push(...statementsOf(resolver.resolve(props.Policy)));
  }
  for (const [id, props] of resolver.resourcesOfType('AWS::Events::EventBusPolicy')) {
    const target = props.EventBusName === undefined ? 'default' : resolver.resolveString(props.EventBusName);
    if (target !== busName) continue;
    if (props.Statement === undefined) {
      throw new UnresolvableError(`${id} uses the legacy Action/Principal form, which doctor does not read`);
    }
    const statement = resolver.resolve(props.Statement) as PolicyStatement;
    // EventBridge names each statement by the resource's StatementId.
    statements.push({ ...statement, Sid: String(resolver.resolve(props.StatementId) ?? statement.Sid) });
  }
  return statements;
}
