#!/usr/bin/env node
/**
 * The CDK app. This is the only place that reads context: the `countersign`
 * object from cdk.json and its flat `countersign:<key>` overrides become one
 * validated config, which flows down as props.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CONFIG_CONTEXT_KEY, CONFIG_KEYS, loadConfig } from '../lib/config.js';
import { CountersignStack } from '../lib/countersign-stack.js';
import { acknowledgeTemplateFindings, addTemplateRules } from '../lib/template-rules.js';

const app = new App();

const overrides: Record<string, unknown> = {};
for (const key of CONFIG_KEYS) {
  const value = app.node.tryGetContext(`${CONFIG_CONTEXT_KEY}:${key}`);
  if (value !== undefined) overrides[key] = value;
}
const config = loadConfig(app.node.tryGetContext(CONFIG_CONTEXT_KEY), overrides);

// `countersign:stackName` names this copy: deploy staging next to prod with another name and bus.
const stack = new CountersignStack(app, config.stackName, {
  description: 'Countersign: human countersignatures on privileged AI-agent actions',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  config,
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
// AWS Control Tower proactive controls (cfn-guard), beside cdk-nag; accepted findings carry their reasons.
addTemplateRules(app);
acknowledgeTemplateFindings(stack);
