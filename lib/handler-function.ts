/**
 * Function defaults for every Countersign handler: Node.js 24 on arm64, one
 * minified CommonJS bundle with the AWS SDK inside (it initialises faster than
 * the runtime's copy), active tracing, JSON logs to a dedicated log group, and
 * a role that can write only to that log group.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** Root of the repository (the directory holding package.json and `lambdas/`). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Cedar's WebAssembly module. `@cedar-policy/cedar-wasm/nodejs` reads it from
 * `${__dirname}/cedar_wasm_bg.wasm`, which in a bundle is the bundle's own
 * directory, so functions that evaluate policies ship it next to `index.js`.
 */
export const CEDAR_WASM = 'node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm_bg.wasm';

/**
 * Module substitutions for Lambda bundles: the SDK's default credential chain
 * becomes the environment provider, the only link a Lambda uses
 * (see lambdas/shared/lambda-credentials.ts).
 */
export const LAMBDA_ALIASES: Record<string, string> = {
  '@aws-sdk/credential-provider-node': path.join(REPO_ROOT, 'lambdas', 'shared', 'lambda-credentials.ts'),
};

/** Where a Lambda bundle lives in the Node.js runtime (`/var/task/index.js`), as a file URL. */
export const LAMBDA_MODULE_URL = 'file:///var/task/index.js';

/** Name of the esbuild `define` constant that carries the policy bundle into the code. */
export const POLICY_BUNDLE_CONSTANT = 'COUNTERSIGN_POLICY_BUNDLE';

/**
 * The compiled policy set embedded in a function at bundle time. Structurally
 * the `PolicyBundle` of `lib/policy-bundle.ts`.
 */
export interface EmbeddedPolicyBundle {
  /** Cedar schema text. */
  readonly schema: string;
  /** Policy text by policy id. */
  readonly policies: Record<string, string>;
  /** Digest identifying this exact bundle. */
  readonly digest: string;
}

/** Properties of a {@link HandlerFunction}. */
export interface HandlerFunctionProps {
  /** Handler directory under `lambdas/`: the entry is `lambdas/<name>/handler.ts`. */
  readonly name: string;
  /**
   * What the function does, shown in the console.
   * @default - `Countersign <name> handler`
   */
  readonly description?: string;
  /**
   * Policy bundle compiled into the code as the string constant
   * `COUNTERSIGN_POLICY_BUNDLE` (its JSON); its digest is also set as
   * `COUNTERSIGN_POLICY_DIGEST`.
   * @default - no policy bundle
   */
  readonly policyBundle?: EmbeddedPolicyBundle;
  /**
   * Memory size in MB.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Function timeout.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Reserved concurrent executions.
   * @default - unreserved
   */
  readonly reservedConcurrency?: number;
  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Extra environment variables. Prefer {@link HandlerFunction.bind}, which sets a
   * variable together with the permission it implies.
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /**
   * Files (relative to the project root) copied next to the bundle's
   * `index.js`, for dependencies that read a sibling file at run time, such as
   * Cedar's WebAssembly module ({@link CEDAR_WASM}).
   * @default - none
   */
  readonly copyFiles?: string[];
  /**
   * Directory holding package.json, package-lock.json and `lambdas/`.
   * @default REPO_ROOT
   */
  readonly projectRoot?: string;
}

/** What a resource grants a function when it is bound to it. */
export interface Binding {
  /** Environment variables the function reads. */
  readonly environment: Record<string, string>;
  /** Grants the permissions the variables imply. */
  grant(grantee: iam.IGrantable): void;
}

/**
 * A Countersign handler function. The entry is `lambdas/<name>/handler.ts`,
 * exporting `handler`.
 */
export class HandlerFunction extends NodejsFunction {
  /** The handler directory under `lambdas/` (`evaluate`, `cancel`, ...). */
  public readonly handlerName: string;
  /** Absolute path of the entry (`lambdas/<name>/handler.ts`); local runners import it. */
  public readonly entry: string;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    const projectRoot = props.projectRoot ?? REPO_ROOT;
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
    });
    // An own role instead of AWSLambdaBasicExecutionRole: it may write to this
    // function's log group only, not to every log group in the account.
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Countersign ${props.name} handler`,
    });
    const bundle = props.policyBundle;
    super(scope, id, {
      entry: path.join(projectRoot, 'lambdas', props.name, 'handler.ts'),
      handler: 'handler',
      projectRoot,
      depsLockFilePath: path.join(projectRoot, 'package-lock.json'),
      description: props.description ?? `Countersign ${props.name} handler`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      ...(props.reservedConcurrency !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrency }
        : {}),
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      role,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'countersign',
        POWERTOOLS_METRICS_NAMESPACE: 'Countersign',
        ...(bundle ? { COUNTERSIGN_POLICY_DIGEST: bundle.digest } : {}),
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: false,
        format: OutputFormat.CJS,
        mainFields: ['module', 'main'],
        target: 'node24',
        // Bundle the AWS SDK: a tree-shaken copy initialises faster than the runtime's.
        externalModules: [],
        logLevel: LogLevel.WARNING,
        esbuildArgs: Object.fromEntries(
          Object.entries(LAMBDA_ALIASES).map(([module, file]) => [`--alias:${module}`, file]),
        ),
        ...(props.copyFiles?.length
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (inputDir: string, outputDir: string) =>
                  (props.copyFiles ?? []).map(
                    (file) => `cp ${shellQuote(path.join(inputDir, file))} ${shellQuote(`${outputDir}/`)}`,
                  ),
              },
            }
          : {}),
        define: {
          // CJS has no import.meta; modules that locate files next to themselves
          // (only when nothing is embedded) see the bundle's own location instead.
          'import.meta.url': JSON.stringify(LAMBDA_MODULE_URL),
          ...(bundle
            ? {
                // A JS string literal whose value is the bundle's JSON: code reads
                // `declare const COUNTERSIGN_POLICY_BUNDLE: string` and parses it.
                [POLICY_BUNDLE_CONSTANT]: JSON.stringify(JSON.stringify(bundle)),
              }
            : {}),
        },
      },
    });
    this.handlerName = props.name;
    this.entry = path.join(projectRoot, 'lambdas', props.name, 'handler.ts');
    logGroup.grantWrite(role);
    // Active tracing adds xray:PutTraceSegments/PutTelemetryRecords on "*".
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray PutTraceSegments and PutTelemetryRecords do not support resource-level permissions; the statement is added by active tracing and allows nothing else.',
    });
  }

  /**
   * Sets a binding's environment variables and grants its permissions in one
   * step, so the two cannot drift apart.
   */
  public bind(binding: Binding): this {
    for (const [name, value] of Object.entries(binding.environment)) this.addEnvironment(name, value);
    binding.grant(this);
    return this;
  }
}

/** A binding that only sets environment variables (plain settings, no permission). */
export function settings(environment: Record<string, string>): Binding {
  return { environment, grant: () => undefined };
}

/** Single-quotes a path for the POSIX shell that runs bundling hooks. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
