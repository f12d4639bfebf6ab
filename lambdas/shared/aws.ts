/**
 * SDK clients shared by the handlers, built once per cold start. Endpoints come
 * only from the SDK's standard configuration (`AWS_ENDPOINT_URL`,
 * `AWS_ENDPOINT_URL_<SERVICE>`), which is how tests and the local sandbox point
 * handlers at local servers.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AuditDeps } from './audit.js';
import { lambdaClientConfig, observed } from './client-config.js';
import { requireEnv } from './env.js';

export { lambdaClientConfig };

/** A DynamoDB document client that drops undefined attributes instead of failing. */
export function createDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(observed(new DynamoDBClient({ ...lambdaClientConfig })), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

/**
 * The audit writer every handler needs, from `COUNTERSIGN_TABLE_NAME`. Read at
 * module load, so a missing variable fails the cold start.
 */
export function auditDepsFromEnv(): AuditDeps {
  return { ddb: createDocumentClient(), table: requireEnv('COUNTERSIGN_TABLE_NAME'), now: () => new Date() };
}
