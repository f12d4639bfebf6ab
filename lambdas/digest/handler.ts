/**
 * Digest task, run hourly by EventBridge Scheduler. Logic lives in ./core.ts.
 * An invocation may name a period (`{ "period": "2025-01-01T10:00:00Z" }`) to
 * write that hour's digest; otherwise the due hour is written, after any missed ones.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { KMSClient } from '@aws-sdk/client-kms';
import { auditDepsFromEnv, lambdaClientConfig } from '../shared/aws.js';
import { observed } from '../shared/client-config.js';
import { kmsSigner } from '../shared/digest.js';
import { requireEnv } from '../shared/env.js';
import { digestMetrics, pendingMetrics } from '../shared/metrics.js';
import { powertoolsSink, publishSafely } from '../shared/metrics-emf.js';
import { readPendingReviews } from '../shared/metrics-pending.js';
import { createS3Client, objectLockFromEnv } from '../shared/s3.js';
import { type DigestDeps, writeDigest, writeDueDigests } from './core.js';

const logger = new Logger({ serviceName: 'countersign' });
const metrics = powertoolsSink();

const deps: DigestDeps = {
  ...auditDepsFromEnv(),
  ...objectLockFromEnv(),
  s3: createS3Client(),
  signer: kmsSigner(observed(new KMSClient(lambdaClientConfig)), requireEnv('COUNTERSIGN_DIGEST_KEY_ID')),
};

export const handler = async (event: { period?: unknown } | null | undefined) => {
  const period = typeof event?.period === 'string' ? new Date(event.period) : undefined;
  const results = period ? [await writeDigest(deps, period)] : await writeDueDigests(deps);
  for (const result of results) {
    for (const anomaly of result.anomalies)
      logger.error('audit record anomaly', { anomaly, digest: result.key });
    if (result.gapBefore) logger.error('digest chain gap', { missing: result.gapBefore, digest: result.key });
    logger.info('digest', { key: result.key, status: result.status, recordCount: result.digest.recordCount });
  }
  publishSafely(
    metrics,
    () => digestMetrics(results),
    (m, e) => logger.warn(m, e),
  );
  // Hourly, with the digest: how many reviews are pending, the oldest, and any past its timeout.
  const now = new Date();
  const pending = await readPendingReviews(deps, now).catch((error: unknown) => {
    logger.error('pending reviews not read', { error: String(error) });
    return undefined;
  });
  if (pending)
    publishSafely(
      metrics,
      () => pendingMetrics(pending, now),
      (m, e) => logger.warn(m, e),
    );
  return results.map((r) => ({ key: r.key, status: r.status, recordCount: r.digest.recordCount }));
};
