/** Cancellation handler: target of the bus rule for `Privileged Action Cancelled`. Logic: ./core.ts. */
import { Logger } from '@aws-lambda-powertools/logger';
import { SFNClient } from '@aws-sdk/client-sfn';
import { createDocumentClient, createS3Client, lambdaClientConfig } from '../shared/aws.js';
import { requireEnv, requireIntEnv } from '../shared/env.js';
import type { BusEvent } from '../shared/workflow.js';
import { type CancelDeps, cancel } from './core.js';

const logger = new Logger({ serviceName: 'countersign' });

const deps: CancelDeps = {
  ddb: createDocumentClient(),
  table: requireEnv('COUNTERSIGN_TABLE_NAME'),
  s3: createS3Client(),
  bucket: requireEnv('COUNTERSIGN_AUDIT_BUCKET'),
  retentionDays: requireIntEnv('COUNTERSIGN_AUDIT_RETENTION_DAYS'),
  sfn: new SFNClient(lambdaClientConfig),
  now: () => new Date(),
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
