/**
 * Executor roles: the only holders of the privileged permissions the
 * enforcement catalog (`policies/enforcement.json`) maps approved actions to.
 * One role per action class (IAM changes, KMS operations, ...). Only the grant
 * function may assume them, and only with a `SourceIdentity` (the intent id)
 * and session tags; it does so with an inline session policy of exactly the
 * approved call (lambdas/grant/exchange.ts). Agent roles hold none of these
 * permissions: an agent acts on AWS through credentials Countersign minted,
 * or not at all.
 *
 * The catalog is validated here at synth (zod, lambdas/grant/catalog.ts):
 * an executor no catalog entry names, or one whose policy does not cover an
 * IAM action its catalog entries need, fails the synth.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Lazy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { type Catalog, parseCatalog } from '../lambdas/grant/catalog.js';
import type { Binding } from './handler-function.js';

/** The catalog file's name inside the policy directory. */
export const CATALOG_FILE = 'enforcement.json';

/**
 * Reads and validates the enforcement catalog of a policy directory.
 * @throws Error naming the file when it is missing, not JSON, invalid or empty
 */
export function loadCatalog(policyDir: string): Catalog {
  const file = `${policyDir}/${CATALOG_FILE}`;
  if (!existsSync(file)) {
    throw new Error(
      `${file} is missing: the enforcement catalog lives beside the policies (see docs/enforcement.md)`,
    );
  }
  const catalog = parseCatalog(readFileSync(file, 'utf8'), file);
  if (Object.keys(catalog.actions).length === 0) {
    throw new Error(`${file} maps no action: the detector's CloudTrail rule needs at least one`);
  }
  return catalog;
}

/** What an executor is registered with. */
export interface ExecutorOptions {
  /**
   * The privileged permissions of the role (Allow statements). They must
   * cover every IAM action of the catalog entries that name this executor;
   * the session policy then narrows each session to one approved call.
   */
  readonly statements: iam.PolicyStatement[];
  /**
   * What the role is for, shown in IAM.
   * @default - names the executor
   */
  readonly description?: string;
}

/** Properties of {@link Executors}. */
export interface ExecutorsProps {
  /** The validated catalog. */
  readonly catalog: Catalog;
  /** The grant function's role: the only principal the executor roles trust. */
  readonly grantRole: iam.IRole;
}

/** Does an IAM action pattern (`iam:*`, `iam:Attach*`) cover an action? */
function covers(pattern: string, action: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return re.test(action);
}

/** The executor roles, their catalog, and the grant function's side of both. */
export class Executors extends Construct {
  /** The validated catalog. */
  public readonly catalog: Catalog;
  /** Executor roles by name. */
  public readonly roles: Record<string, iam.Role> = {};
  private readonly grantRole: iam.IRole;

  constructor(scope: Construct, id: string, props: ExecutorsProps) {
    super(scope, id);
    this.catalog = props.catalog;
    this.grantRole = props.grantRole;
  }

  /**
   * Registers an executor role for the catalog entries naming `name`.
   * @throws Error when no catalog entry names it, it is added twice, or its statements miss an IAM action its entries need
   */
  public addExecutor(name: string, options: ExecutorOptions): iam.Role {
    const entries = Object.entries(this.catalog.actions).filter(([, e]) => e.executor === name);
    if (entries.length === 0) {
      throw new Error(`addExecutor("${name}"): no entry of the enforcement catalog names this executor`);
    }
    if (this.roles[name]) throw new Error(`addExecutor("${name}"): already added`);
    const allowed = options.statements.filter((s) => s.effect === iam.Effect.ALLOW).flatMap((s) => s.actions);
    for (const [action, entry] of entries) {
      for (const needed of entry.iamActions) {
        if (!allowed.some((pattern) => covers(pattern, needed))) {
          throw new Error(
            `addExecutor("${name}"): its statements do not allow ${needed}, which ${action} needs`,
          );
        }
      }
    }
    // Trust: the grant function's role only, and only with a source identity set
    // (sts:SetSourceIdentity) and session tags (sts:TagSession).
    const role = new iam.Role(this, `Executor-${name}`, {
      description:
        options.description ??
        `Countersign executor "${name}": assumed only by the grant function, per approved action`,
      assumedBy: new iam.PrincipalWithConditions(new iam.ArnPrincipal(this.grantRole.roleArn), {
        Null: { 'sts:SourceIdentity': 'false' },
      }),
      inlinePolicies: { Privileged: new iam.PolicyDocument({ statements: options.statements }) },
    });
    role.assumeRolePolicy?.addStatements(
      new iam.PolicyStatement({
        actions: ['sts:TagSession', 'sts:SetSourceIdentity'],
        principals: [new iam.ArnPrincipal(this.grantRole.roleArn)],
      }),
    );
    // The grant function's side: exactly these three actions on exactly this role.
    role.grant(this.grantRole, 'sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity');
    acknowledgeWildcards(role, options.statements);
    this.roles[name] = role;
    return role;
  }

  /**
   * Binding for the grant function: the catalog and the executor role ARNs
   * (`COUNTERSIGN_ENFORCEMENT_CATALOG`, `COUNTERSIGN_EXECUTORS`). Its
   * permission to assume each role is granted by {@link addExecutor}.
   */
  public exchanger(): Binding {
    return { environment: this.environment(), grant: () => undefined };
  }

  /** Binding for the detector: the catalog and executor ARNs, no permission. */
  public reader(): Binding {
    return { environment: this.environment(), grant: () => undefined };
  }

  private environment(): Record<string, string> {
    return {
      COUNTERSIGN_ENFORCEMENT_CATALOG: JSON.stringify(this.catalog),
      COUNTERSIGN_EXECUTORS: Lazy.string({
        produce: () =>
          Stack.of(this).toJsonString(
            Object.fromEntries(Object.entries(this.roles).map(([n, r]) => [n, r.roleArn])),
          ),
      }),
    };
  }
}

/**
 * An executor's statements name resource classes (`role/*`, `key/*`): no
 * session ever gets them, because every session's policy narrows them to the
 * one approved resource. cdk-nag's wildcard findings are acknowledged with
 * that reason, per finding.
 */
function acknowledgeWildcards(role: iam.Role, statements: iam.PolicyStatement[]): void {
  const stack = Stack.of(role);
  for (const statement of statements) {
    const findings = [
      ...statement.actions.filter((a) => a.includes('*')).map((a) => `Action::${a}`),
      ...statement.resources
        .map((r) => stack.resolve(r) as unknown)
        .filter((r): r is string => typeof r === 'string' && r.includes('*'))
        .map((r) => `Resource::${r}`),
    ];
    for (const finding of findings) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason:
          'An executor role holds a class of privileged permissions; only the grant function assumes it, and every session is narrowed by an inline session policy to the one approved action and resource.',
      });
    }
  }
}
