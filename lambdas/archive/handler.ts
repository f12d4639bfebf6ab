/**
 * Archive handler, fed by the table's stream (new audit rows only, by an event
 * filter). Logic lives in ./core.ts.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { archivedRecordMetrics } from '../shared/metrics.js';
import { powertoolsSink, publishSafely } from '../shared/metrics-emf.js';
import { createS3Client, objectLockFromEnv } from '../shared/s3.js';
import { type ArchiveDeps, archiveBatch } from './core.js';

const logger = new Logger({ serviceName: 'countersign' });
const metrics = powertoolsSink();

const deps: ArchiveDeps = {
  ...objectLockFromEnv(),
  s3: createS3Client(),
  error: (message, details) => logger.error(message, details),
  archived: ({ record }) =>
    publishSafely(
      metrics,
      () => archivedRecordMetrics(record, new Date()),
      (m, e) => logger.warn(m, e),
    ),
};

export const handler = (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> =>
  archiveBatch(deps, event);
