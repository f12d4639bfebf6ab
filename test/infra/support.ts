/**
 * Builds the Countersign stack for template tests: the feature flags of
 * cdk.json, bundling skipped, a fixed policy bundle, and one synthesized
 * template per distinct configuration (synthesis is the slow part).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { loadConfig } from '../../lib/config.js';
import { CountersignStack } from '../../lib/countersign-stack.js';
import { REPO_ROOT } from '../../lib/handler-function.js';
import type { PolicyBundle } from '../../lib/policy-bundle.js';

/** The context of cdk.json: feature flags and the `countersign` object. */
export const CDK_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'),
).context;

/** A fixed bundle, so template tests do not depend on the policies being edited elsewhere. */
export const TEST_POLICY_BUNDLE: PolicyBundle = {
  schema: 'namespace Countersign {}',
  policies: { 'test-review': '@id("test-review") permit (principal, action, resource);' },
  digest: 'sha256:0000000000000000000000000000000000000000000000000000000000000000',
};

/** A synthesized stack and its template. */
export interface Synthesized {
  app: App;
  stack: CountersignStack;
  template: Template;
}

/** Account and region of test stacks. */
export const TEST_ENV = { account: '123456789012', region: 'eu-west-1' };

const cache = new Map<string, Synthesized>();

/** An App with the cdk.json feature flags and bundling skipped. */
export function testApp(): App {
  const { countersign: _ignored, ...flags } = CDK_CONTEXT;
  return new App({ context: { ...flags, 'aws:cdk:bundling-stacks': [] } });
}

/**
 * The stack for cdk.json's `countersign` config with `overrides` applied,
 * synthesized once per distinct override set.
 */
export function synth(overrides: Record<string, unknown> = {}): Synthesized {
  const key = JSON.stringify(overrides);
  const hit = cache.get(key);
  if (hit) return hit;
  const app = testApp();
  const config = loadConfig(CDK_CONTEXT.countersign, overrides);
  const stack = new CountersignStack(app, 'Countersign', {
    env: TEST_ENV,
    config,
    policyBundle: TEST_POLICY_BUNDLE,
  });
  const result = { app, stack, template: Template.fromStack(stack) };
  cache.set(key, result);
  return result;
}

/** An IAM policy statement as it appears in the template. */
export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Principal?: unknown;
  Sid?: string;
}

/** Actions of a statement as an array. */
export function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

/**
 * Every identity-policy statement of every role, keyed by the role's logical
 * id (inline `Policies` of the role and `AWS::IAM::Policy` resources attached to it).
 */
export function statementsByRole(template: Template): Map<string, Statement[]> {
  const byRole = new Map<string, Statement[]>();
  const add = (role: string, statements: Statement[]) => {
    byRole.set(role, [...(byRole.get(role) ?? []), ...statements]);
  };
  for (const [id, role] of Object.entries(template.findResources('AWS::IAM::Role'))) {
    add(id, []);
    for (const policy of (role.Properties?.Policies ?? []) as {
      PolicyDocument: { Statement: Statement[] };
    }[]) {
      add(id, policy.PolicyDocument.Statement);
    }
  }
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    for (const role of policy.Properties.Roles as { Ref: string }[]) {
      add(role.Ref, policy.Properties.PolicyDocument.Statement);
    }
  }
  return byRole;
}

/** The logical id of the single resource of `type` whose id starts with `prefix`. */
export function logicalId(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1)
    throw new Error(`expected one ${type} starting with ${prefix}, found ${ids.join(', ') || 'none'}`);
  return ids[0]!;
}

/** The role logical id of the Lambda function whose logical id starts with `prefix`. */
export function functionRole(template: Template, prefix: string): string {
  const fn =
    template.findResources('AWS::Lambda::Function')[logicalId(template, 'AWS::Lambda::Function', prefix)]!;
  return (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
}

/** Environment variables of the Lambda function whose logical id starts with `prefix`. */
export function functionEnv(template: Template, prefix: string): Record<string, unknown> {
  const fn =
    template.findResources('AWS::Lambda::Function')[logicalId(template, 'AWS::Lambda::Function', prefix)]!;
  return fn.Properties.Environment.Variables;
}

/** Statements of the intent bus's policy (the bus's own `Policy` property), by Sid. */
export function busPolicyStatements(template: Template): Map<string, Statement> {
  const buses = Object.values(template.findResources('AWS::Events::EventBus'));
  if (buses.length !== 1) throw new Error(`expected one event bus, found ${buses.length}`);
  const statements = (buses[0]!.Properties.Policy?.Statement ?? []) as Statement[];
  return new Map(statements.map((s) => [s.Sid ?? '', s]));
}
