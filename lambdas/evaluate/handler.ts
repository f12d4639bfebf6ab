/** Evaluate task of the approval workflow. Logic lives in ./core.ts. */
import { Logger } from '@aws-lambda-powertools/logger';
import { auditDepsFromEnv } from '../shared/aws.js';
import { requireEnv, requireIntEnv } from '../shared/env.js';
import { evaluateIntent } from '../shared/policy.js';
import type { Evaluation, WorkflowState } from '../shared/workflow.js';
import { type EvaluateDeps, evaluate } from './core.js';

const logger = new Logger({ serviceName: 'countersign' });

const deps: EvaluateDeps = {
  ...auditDepsFromEnv(),
  policy: evaluateIntent,
  defaults: {
    approverGroup: requireEnv('COUNTERSIGN_APPROVER_GROUP'),
    timeoutSeconds: requireIntEnv('COUNTERSIGN_DEFAULT_REVIEW_TIMEOUT_SECONDS'),
  },
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
