/** Detector: the target of the CloudTrail rule on the default bus. Logic lives in ./core.ts. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseCatalog } from '../grant/catalog.js';
import { parseExecutors } from '../grant/exchange.js';
import { auditDepsFromEnv, lambdaClientConfig } from '../shared/aws.js';
import { observed } from '../shared/client-config.js';
import { optionalEnv, requireEnv } from '../shared/env.js';
import { createSlackClient } from '../shared/slack.js';
import { slackSecretLoader } from '../shared/slack-secret.js';
import { type DetectorDeps, handleCloudTrailEvent } from './core.js';

/** Name of the metric the unapproved-action alarm watches (namespace Countersign, service detector). */
export const UNAPPROVED_METRIC = 'UnapprovedActions';

const logger = new Logger({ serviceName: 'countersign' });
const metrics = new Metrics({ namespace: 'Countersign', serviceName: 'detector' });
const loadSecret = slackSecretLoader(
  observed(new SecretsManagerClient(lambdaClientConfig)),
  requireEnv('COUNTERSIGN_SLACK_SECRET_ARN'),
);
const slackApiUrl = optionalEnv('COUNTERSIGN_SLACK_API_URL');
let slack: ReturnType<typeof createSlackClient> | undefined;

const deps: DetectorDeps = {
  ...auditDepsFromEnv(),
  catalog: parseCatalog(requireEnv('COUNTERSIGN_ENFORCEMENT_CATALOG'), 'COUNTERSIGN_ENFORCEMENT_CATALOG'),
  executors: parseExecutors(process.env.COUNTERSIGN_EXECUTORS),
  ownRoles: JSON.parse(process.env.COUNTERSIGN_OWN_ROLES ?? '[]') as string[],
  channel: requireEnv('COUNTERSIGN_SLACK_CHANNEL'),
  slack: async () => {
    slack ??= createSlackClient((await loadSecret()).botToken, slackApiUrl);
    return slack;
  },
  countUnapproved: () => {
    metrics.addMetric(UNAPPROVED_METRIC, MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
  },
  warn: (message, extra) => logger.warn(message, extra ?? {}),
};

export const handler = async (event: { 'detail-type'?: unknown; detail?: unknown }) => {
  const verdict = await handleCloudTrailEvent(deps, event);
  logger.info('cloudtrail event judged', {
    verdict: verdict.kind,
    ...('reasons' in verdict ? { reasons: verdict.reasons } : {}),
  });
  return verdict;
};
