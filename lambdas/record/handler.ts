/** Record task of the approval workflow. Logic lives in ./core.ts. */
import { Logger } from '@aws-lambda-powertools/logger';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { auditDepsFromEnv, lambdaClientConfig } from '../shared/aws.js';
import { observed } from '../shared/client-config.js';
import { optionalEnv, requireEnv, requireIntEnv } from '../shared/env.js';
import type { DecisionDetail } from '../shared/intent.js';
import { decisionMetrics, rubberStampSecondsFromEnv } from '../shared/metrics.js';
import { powertoolsSink, publishSafely } from '../shared/metrics-emf.js';
import { posterKick } from '../shared/poster-kick.js';
import { createSlackClient } from '../shared/slack.js';
import { slackSecretLoader } from '../shared/slack-secret.js';
import { handlerTraceExport } from '../shared/tracing.js';
import type { WorkflowState } from '../shared/workflow.js';
import { teamsFromEnv } from '../teams/environment.js';
import { teamsNotifier } from '../teams/teams-notifier.js';
import { type RecordDeps, recordDecision } from './core.js';

const logger = new Logger({ serviceName: 'countersign' });
const loadSecret = slackSecretLoader(
  observed(new SecretsManagerClient(lambdaClientConfig)),
  requireEnv('COUNTERSIGN_SLACK_SECRET_ARN'),
);
const slackApiUrl = optionalEnv('COUNTERSIGN_SLACK_API_URL');
let slack: ReturnType<typeof createSlackClient> | undefined;
const teams = teamsFromEnv();
const metrics = powertoolsSink();
const rubberStampSeconds = rubberStampSecondsFromEnv();

const posterArn = optionalEnv('COUNTERSIGN_POSTER_FUNCTION_ARN');
/** Starts the card poster. */
const kickPoster = posterKick(posterArn, 'record');

const deps: RecordDeps = {
  ...auditDepsFromEnv(),
  grantTtlSeconds: optionalEnv('COUNTERSIGN_GRANT_TTL_SECONDS')
    ? requireIntEnv('COUNTERSIGN_GRANT_TTL_SECONDS')
    : 900,
  slack: async () => {
    slack ??= createSlackClient((await loadSecret()).botToken, slackApiUrl);
    return slack;
  },
  warn: (message, extra) => logger.warn(message, extra ?? {}),
  alertChannel: optionalEnv('COUNTERSIGN_SLACK_CHANNEL'),
  ...(posterArn ? { kickPoster } : {}),
  ...(teams ? { otherChannels: [teamsNotifier({ connector: teams.connector, logger })] } : {}),
};

const exportTrace = handlerTraceExport('record', (message, extra) => logger.warn(message, extra));

export const handler = async (state: WorkflowState): Promise<DecisionDetail> => {
  const { detail: decision, request } = await recordDecision(deps, state);
  logger.info('decision recorded', {
    requestId: decision.intentId,
    status: decision.status,
    automatic: decision.automatic,
    policies: decision.policies,
  });
  // After the decision is durable; bounded, and never throws (docs/observability.md).
  await exportTrace(deps, decision.intentId, 'closing');
  publishSafely(
    metrics,
    () => decisionMetrics(decision, request, { rubberStampSeconds }),
    (m, e) => logger.warn(m, e),
  );
  return decision;
};
