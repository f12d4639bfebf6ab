/** Evaluate task of the approval workflow. Logic lives in ./core.ts. */
import { Logger } from '@aws-lambda-powertools/logger';
import { auditDepsFromEnv } from '../shared/aws.js';
import { requireEnv, requireIntEnv } from '../shared/env.js';
import { ENVIRONMENTS_ENV, parseEnvironmentMap } from '../shared/environment.js';
import { evaluateIntent, quotaClass, quotasFor } from '../shared/policy.js';
import { defaultRateFromEnv } from '../shared/rate-limit.js';
import { AGENTS_ENV, parseAgentRegistry, verifyIntent } from '../shared/registration.js';
import type { Evaluation, WorkflowState } from '../shared/workflow.js';
import { type EvaluateDeps, evaluate } from './core.js';

const logger = new Logger({ serviceName: 'countersign' });

// Read at cold start: a malformed registry or environment map fails the start, not a request.
const trusted = {
  agents: parseAgentRegistry(requireEnv(AGENTS_ENV)),
  environments: parseEnvironmentMap(requireEnv(ENVIRONMENTS_ENV)),
};

const deps: EvaluateDeps = {
  ...auditDepsFromEnv(),
  policy: evaluateIntent,
  verify: (agentId, intent) => verifyIntent(trusted, agentId, intent),
  defaults: {
    approverGroup: requireEnv('COUNTERSIGN_APPROVER_GROUP'),
    timeoutSeconds: requireIntEnv('COUNTERSIGN_DEFAULT_REVIEW_TIMEOUT_SECONDS'),
  },
  // The default quota is read at cold start: a malformed one fails the start, not a request.
  quota: { quotasFor, classOf: quotaClass, fallback: defaultRateFromEnv() },
  warn: (message, extra) => logger.warn(message, extra ?? {}),
};

export const handler = async (state: WorkflowState): Promise<Evaluation> => {
  const evaluation = await evaluate(deps, state);
  logger.info('intent evaluated', {
    requestId: evaluation.requestId,
    outcome: evaluation.outcome,
    agentId: evaluation.agentId,
    policies: evaluation.policies,
  });
  return evaluation;
};
