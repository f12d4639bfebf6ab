/**
 * A Countersign stack with the two executors the catalog's IAM and KMS
 * entries name and one registered agent, as a platform team would deploy it.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import { CONFIG_CONTEXT_KEY, loadConfig } from '../../lib/config.js';
import { CountersignStack } from '../../lib/countersign-stack.js';
import { sandboxExecutorStatements } from '../../sandbox/fake-sts-sandbox.js';
import { CDK_CONTEXT, TEST_POLICY_BUNDLE, testApp } from '../infra/support.js';

/** Account and region of the fixture (IAM's CloudTrail events reach the default bus in us-east-1). */
export const FIXTURE_ENV = { account: '123456789012', region: 'us-east-1' };

/** Synthesizes the fixture stack (bundling skipped); `agentRoleName` names the agent's role. */
export function enforcementStack(agentRoleName = 'deploy-bot-agent') {
  const app = testApp();
  const stack = new CountersignStack(app, 'Countersign', {
    env: FIXTURE_ENV,
    config: loadConfig(CDK_CONTEXT[CONFIG_CONTEXT_KEY], {}),
    policyBundle: TEST_POLICY_BUNDLE,
  });
  // The same executors the sandbox registers.
  for (const [name, statements] of Object.entries(sandboxExecutorStatements()))
    stack.addExecutor(name, { statements });
  const agentRole = new iam.Role(stack, 'AgentDeployBot', {
    roleName: agentRoleName,
    assumedBy: new iam.AccountRootPrincipal(),
  });
  stack.addAgent(agentRole, 'deploy-bot', { owner: 'erin@example.com' });
  return { app, stack, agentRole };
}
