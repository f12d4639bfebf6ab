/** Cancellation handler: target of the bus rule for `Privileged Action Cancelled`. Logic: ../review-core/cancel.ts. */
import { Logger } from '@aws-lambda-powertools/logger';
import { SFNClient } from '@aws-sdk/client-sfn';
import { type CancelDeps, cancel } from '../review-core/cancel.js';
import { auditDepsFromEnv, lambdaClientConfig } from '../shared/aws.js';
import { observed } from '../shared/client-config.js';
import type { BusEvent } from '../shared/workflow.js';

const logger = new Logger({ serviceName: 'countersign' });

const deps: CancelDeps = {
  ...auditDepsFromEnv(),
  sfn: observed(new SFNClient(lambdaClientConfig)),
  warn: (message, extra) => logger.warn(message, extra ?? {}),
};

export const handler = async (event: BusEvent): Promise<{ outcome: string; reason: string }> => {
  const result = await cancel(deps, event);
  logger.info('cancellation handled', {
    intentId: (event.detail as { intentId?: unknown } | undefined)?.intentId,
    source: event.source,
    ...result,
  });
  return result;
};
