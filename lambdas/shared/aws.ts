/**
 * SDK clients shared by the handlers, built once per cold start. Endpoints come
 * only from the SDK's standard configuration (`AWS_ENDPOINT_URL`,
 * `AWS_ENDPOINT_URL_<SERVICE>`), which is how tests and the local sandbox point
 * handlers at local servers.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type AuditDeps, legalHoldFromEnv, type ObjectLockSettings } from './audit.js';
import { requireEnv, requireIntEnv } from './env.js';

/**
 * Configuration every handler's SDK client starts from. Credentials come from
 * the default provider, which Lambda bundles replace with the environment
 * provider (see lambda-credentials.ts).
 */
export const lambdaClientConfig = {} as const;

/** A DynamoDB document client that drops undefined attributes instead of failing. */
export function createDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ ...lambdaClientConfig }), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

/**
 * An S3 client. A custom S3 endpoint (a local S3-compatible server) has no
 * per-bucket DNS names, so path-style addressing is used exactly when one is
 * configured; checksums are sent only where an operation requires them or the
 * caller supplies one (audit writes always supply SHA-256).
 */
export function createS3Client(): S3Client {
  const customEndpoint = Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL);
  return new S3Client({
    ...lambdaClientConfig,
    forcePathStyle: customEndpoint,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/**
 * The audit writer every handler needs, from `COUNTERSIGN_TABLE_NAME`. Read at
 * module load, so a missing variable fails the cold start.
 */
export function auditDepsFromEnv(): AuditDeps {
  return { ddb: createDocumentClient(), table: requireEnv('COUNTERSIGN_TABLE_NAME'), now: () => new Date() };
}

/**
 * Where audit objects go and how they are locked, for the functions that write
 * them (the archive and digest handlers): `COUNTERSIGN_AUDIT_BUCKET`,
 * `COUNTERSIGN_AUDIT_RETENTION_DAYS` and `COUNTERSIGN_AUDIT_LEGAL_HOLD`.
 */
export function objectLockFromEnv(): ObjectLockSettings {
  return {
    bucket: requireEnv('COUNTERSIGN_AUDIT_BUCKET'),
    retentionDays: requireIntEnv('COUNTERSIGN_AUDIT_RETENTION_DAYS'),
    legalHold: legalHoldFromEnv(),
  };
}
