/**
 * The S3 side of the handlers that write audit objects (archive, digest): the
 * client and the Object Lock settings, from the environment. Kept apart from
 * aws.ts so the archive bundle carries no DynamoDB client.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { legalHoldFromEnv, type ObjectLockSettings } from './audit-record.js';
import { lambdaClientConfig, observed } from './client-config.js';
import { requireEnv, requireIntEnv } from './env.js';

/**
 * An S3 client. A custom S3 endpoint (a local S3-compatible server) has no
 * per-bucket DNS names, so path-style addressing is used exactly when one is
 * configured; checksums are sent only where an operation requires them or the
 * caller supplies one (audit writes always supply SHA-256).
 */
export function createS3Client(): S3Client {
  const customEndpoint = Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL);
  return observed(
    new S3Client({
      ...lambdaClientConfig,
      forcePathStyle: customEndpoint,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
  );
}

type S3Failure = { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;

/** A conditional write (`If-None-Match: *`) found the object already there. */
export function isPreconditionFailed(error: unknown): boolean {
  const e = error as S3Failure;
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}

/** A read found no object at the key. */
export function isNotFound(error: unknown): boolean {
  const e = error as S3Failure;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/**
 * Where audit objects go and how they are locked: `COUNTERSIGN_AUDIT_BUCKET`,
 * `COUNTERSIGN_AUDIT_RETENTION_DAYS` and `COUNTERSIGN_AUDIT_LEGAL_HOLD`. Read at
 * module load, so a missing variable fails the cold start.
 */
export function objectLockFromEnv(): ObjectLockSettings {
  return {
    bucket: requireEnv('COUNTERSIGN_AUDIT_BUCKET'),
    retentionDays: requireIntEnv('COUNTERSIGN_AUDIT_RETENTION_DAYS'),
    legalHold: legalHoldFromEnv(),
  };
}
