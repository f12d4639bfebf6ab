/**
 * Synthesizes the Countersign stack in-process, exactly as `cdk synth` does
 * (same cdk.json context, same config validation), without bundling, and
 * returns what a local run needs: the state machine's ASL, the event
 * patterns of the bus rules and the table's stream subscriptions.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Catalog } from '../lambdas/grant/catalog.js';
import type { AslDefinition } from '../lib/approval-workflow.js';
import { CONFIG_CONTEXT_KEY, type CountersignConfig, loadConfig } from '../lib/config.js';
import { CountersignStack } from '../lib/countersign-stack.js';
import { HandlerFunction } from '../lib/handler-function.js';
import type { SandboxAgent } from './fake-slack.js';
import { sandboxExecutorStatements } from './fake-sts-sandbox.js';

/** A rule of the bus as synthesized: its pattern and what it targets. */
export interface SynthesizedRule {
  logicalId: string;
  eventBusName: string;
  eventPattern: Record<string, unknown>;
  /** True when the rule starts the approval workflow. */
  targetsWorkflow: boolean;
  /** Handler entries (`lambdas/<name>/handler.ts`) of the Lambda functions the rule targets. */
  targetHandlers: string[];
}

/** A stream event source mapping as synthesized: the handler it feeds and how. */
export interface SynthesizedStreamSubscription {
  logicalId: string;
  /** Handler entry (`lambdas/<name>/handler.ts`) of the function fed. */
  handler: string;
  /** Lambda event filter patterns (`FilterCriteria`). */
  filters: Record<string, unknown>[];
  batchSize: number;
  retryAttempts: number;
}

/** What a local run takes from the synthesized stack. */
export interface SynthesizedLoop {
  config: CountersignConfig;
  definition: AslDefinition;
  rules: SynthesizedRule[];
  /** Event source mappings on the table's stream. */
  streams: SynthesizedStreamSubscription[];
  /**
   * The Evaluate function's registry variables as synthesized
   * (`COUNTERSIGN_AGENTS`, `COUNTERSIGN_ENVIRONMENTS`, `COUNTERSIGN_EMAIL_RULES`).
   */
  registryEnvironment: Record<string, string>;
  /** The enforcement catalog the synth validated, and the executors the stack registered. */
  enforcement: { catalog: Catalog; executorNames: string[] };
  /** The stack's Lambda functions: handler name (`lambdas/<name>/`), logical id, memory size in MB. */
  functions: SynthesizedFunction[];
  /** The synthesized template's resources (what the cost bench counts fixed monthly fees from). */
  resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
}

/** A Lambda function of the stack, as synthesized. */
export interface SynthesizedFunction {
  /** The handler's directory under `lambdas/` (e.g. `evaluate`). */
  name: string;
  logicalId: string;
  memorySize: number;
}

const root = resolve(import.meta.dirname, '..');

/**
 * Synthesizes the stack with the repository's cdk.json context, plus
 * `overrides` on the config, registering `agents` as a deployment would.
 */
export function synthesizeLoop(
  overrides: Partial<CountersignConfig> = {},
  agents: readonly SandboxAgent[] = [],
): SynthesizedLoop {
  const cdkJson = JSON.parse(readFileSync(resolve(root, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const config = loadConfig(cdkJson.context[CONFIG_CONTEXT_KEY], overrides);
  const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
  const stack = new CountersignStack(app, 'Countersign', {
    config,
    env: { account: '123456789012', region: 'us-east-1' },
  });
  for (const [name, statements] of Object.entries(sandboxExecutorStatements())) {
    stack.addExecutor(name, { statements });
  }
  for (const agent of agents) {
    const role = new iam.Role(stack, `SandboxAgent-${agent.id}`, {
      assumedBy: new iam.AccountRootPrincipal(),
    });
    stack.addAgent(role, agent.id, {
      owner: agent.owner,
      ...(agent.environments ? { environments: agent.environments } : {}),
    });
  }
  const template = Template.fromStack(stack).toJSON() as {
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  };
  const machineId = stack.getLogicalId(stack.workflow.stateMachine.node.defaultChild as never);
  // Rule targets reference functions by logical id; map each to its handler entry.
  const entries = new Map(
    stack.node
      .findAll()
      .filter((c): c is HandlerFunction => c instanceof HandlerFunction)
      .map((fn) => [stack.getLogicalId(fn.node.defaultChild as never), fn.entry]),
  );
  const rules: SynthesizedRule[] = Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern)
    .map(([logicalId, r]) => ({
      logicalId,
      // A rule without EventBusName is on the account's default bus (the CloudTrail detector's).
      eventBusName: r.Properties.EventBusName === undefined ? 'default' : config.eventBusName,
      eventPattern: r.Properties.EventPattern as Record<string, unknown>,
      targetsWorkflow: JSON.stringify(r.Properties.Targets ?? []).includes(machineId),
      targetHandlers: ((r.Properties.Targets ?? []) as { Arn?: { 'Fn::GetAtt'?: [string, string] } }[])
        .map((t) => entries.get(t.Arn?.['Fn::GetAtt']?.[0] ?? ''))
        .filter((e): e is string => e !== undefined),
    }));
  const streams: SynthesizedStreamSubscription[] = Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::EventSourceMapping' && r.Properties.StartingPosition)
    .map(([logicalId, r]) => {
      const p = r.Properties as {
        FunctionName?: { Ref?: string };
        FilterCriteria?: { Filters?: { Pattern: string }[] };
        BatchSize?: number;
        MaximumRetryAttempts?: number;
      };
      const handler = entries.get(p.FunctionName?.Ref ?? '');
      if (!handler) throw new Error(`event source mapping ${logicalId} feeds no known handler`);
      return {
        logicalId,
        handler,
        filters: (p.FilterCriteria?.Filters ?? []).map(
          (f) => JSON.parse(f.Pattern) as Record<string, unknown>,
        ),
        batchSize: p.BatchSize ?? 100,
        retryAttempts: p.MaximumRetryAttempts ?? 3,
      };
    });
  const evaluateId = stack.getLogicalId(stack.workflow.evaluateFunction.node.defaultChild as never);
  const evaluate = template.Resources[evaluateId]?.Properties as
    | { Environment?: { Variables?: Record<string, unknown> } }
    | undefined;
  const variables = evaluate?.Environment?.Variables ?? {};
  const registryEnvironment = Object.fromEntries(
    Object.keys(stack.agents.reader().environment).map((name) => [name, String(variables[name])]),
  );
  return {
    config,
    definition: stack.workflow.renderDefinition(),
    rules,
    streams,
    registryEnvironment,
    enforcement: { catalog: stack.executors.catalog, executorNames: Object.keys(stack.executors.roles) },
    functions: [...entries].map(([logicalId, entry]) => ({
      name: entry.split(/[\\/]/).slice(-2, -1)[0] ?? entry,
      logicalId,
      memorySize: Number(template.Resources[logicalId]?.Properties.MemorySize ?? 128),
    })),
    resources: template.Resources,
  };
}
