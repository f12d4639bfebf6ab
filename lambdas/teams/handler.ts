/**
 * The Teams bot's messaging endpoint (Lambda Function URL, auth NONE: the Bot
 * Framework token authenticates every activity). The Teams channel:
 * ./core.ts; the review core it calls: ../review-core/.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { slackNotifier } from '../interaction/slack-notifier.js';
import type { ReviewNotifier } from '../review-core/contract.js';
import { reviewCoreFromEnv } from '../review-core/environment.js';
import { lambdaClientConfig, observed } from '../shared/client-config.js';
import { optionalEnv } from '../shared/env.js';
import { createSlackClient } from '../shared/slack.js';
import { slackSecretLoader } from '../shared/slack-secret.js';
import { clientCredentialsToken } from './client-token.js';
import { handleTeamsActivity, type TeamsOutcome, type TeamsResult } from './core.js';
import { GRAPH_SCOPE, graphResolver } from './directory.js';
import { teamsFromEnv } from './environment.js';
import { botFrameworkVerifier } from './inbound-token.js';

const logger = new Logger({ serviceName: 'countersign-teams' });
const metrics = new Metrics({ namespace: 'Countersign', serviceName: 'teams' });
const teams = teamsFromEnv();
if (!teams) throw new Error('missing environment variable COUNTERSIGN_TEAMS_APP_ID');
const verifier = botFrameworkVerifier({
  appId: teams.appId,
  ...(optionalEnv('COUNTERSIGN_TEAMS_OPENID_METADATA_URL')
    ? { metadataUrl: optionalEnv('COUNTERSIGN_TEAMS_OPENID_METADATA_URL') }
    : {}),
});
const resolveActor = graphResolver({
  token: clientCredentialsToken({
    appId: teams.appId,
    appPassword: teams.appPassword,
    tokenUrl: teams.tokenUrl,
    scope: GRAPH_SCOPE,
  }),
  ...(optionalEnv('COUNTERSIGN_TEAMS_GRAPH_URL')
    ? { graphUrl: optionalEnv('COUNTERSIGN_TEAMS_GRAPH_URL') }
    : {}),
});
/** A request shown in Slack too has its Slack card repainted by a vote here. */
const slackSecretArn = optionalEnv('COUNTERSIGN_SLACK_SECRET_ARN');
const otherChannels: ReviewNotifier[] = [];
if (slackSecretArn) {
  const loadSlack = slackSecretLoader(observed(new SecretsManagerClient(lambdaClientConfig)), slackSecretArn);
  const slackApiUrl = optionalEnv('COUNTERSIGN_SLACK_API_URL');
  let slack: ReturnType<typeof createSlackClient> | undefined;
  otherChannels.push({
    async requestChanged(request, note) {
      try {
        slack ??= createSlackClient((await loadSlack()).botToken, slackApiUrl);
      } catch (error) {
        logger.warn('Slack card not repainted: no Slack secret', { error: (error as Error).message });
        return;
      }
      await slackNotifier({ slack, logger }).requestChanged(request, note);
    },
    postHocAcknowledged: async () => {},
  });
}
const base = {
  ...reviewCoreFromEnv(),
  logger,
  verifier,
  resolveActor,
  connector: teams.connector,
  tenantId: teams.tenantId,
  otherChannels,
};

/** Metric name per outcome, e.g. `approved` -> `TeamsApproved`. */
const metricName = (outcome: TeamsOutcome) =>
  `Teams${outcome.replace(/(^|-)([a-z])/g, (_m, _dash, letter: string) => letter.toUpperCase())}`;

export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const raw = event.body ?? '';
  const result: TeamsResult = await handleTeamsActivity(base, {
    headers: Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    rawBody: Buffer.from(raw, event.isBase64Encoded ? 'base64' : 'utf8'),
  });
  metrics.addMetric(metricName(result.outcome), MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
  return {
    statusCode: result.statusCode,
    headers: { 'content-type': result.contentType },
    body: result.body,
  };
};
