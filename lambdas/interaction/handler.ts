/**
 * Slack interaction endpoint (Lambda Function URL, auth NONE: the Slack
 * signature authenticates). The Slack channel: ./core.ts; the review core it
 * calls: ../review-core/.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { WebClient } from '@slack/web-api';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { identityStoreDirectory, linkedSlackResolver } from '../identity/actor-resolver.js';
import { identityProviderFromEnv } from '../identity/config.js';
import { createIdentityStoreClient } from '../identity/groups.js';
import { reviewCoreFromEnv } from '../review-core/environment.js';
import { repaintThroughPoster } from '../review-core/repaint.js';
import { lambdaClientConfig, observed } from '../shared/client-config.js';
import { optionalEnv, requireEnv } from '../shared/env.js';
import { identityResolverFor } from '../shared/identity.js';
import { posterKick } from '../shared/poster-kick.js';
import { answerWindow, createWindowSlackClient } from '../shared/slack.js';
import { slackSecretLoader } from '../shared/slack-secret.js';
import { teamsFromEnv } from '../teams/environment.js';
import { teamsNotifier } from '../teams/teams-notifier.js';
import { handleInteraction, type InteractionOutcome, type InteractionResult } from './core.js';
import { toHttpRequest } from './payload.js';

const logger = new Logger({ serviceName: 'countersign-interaction' });
const metrics = new Metrics({ namespace: 'Countersign', serviceName: 'interaction' });
const loadSecret = slackSecretLoader(
  observed(new SecretsManagerClient(lambdaClientConfig)),
  requireEnv('COUNTERSIGN_SLACK_SECRET_ARN'),
);
const slackApiUrl = optionalEnv('COUNTERSIGN_SLACK_API_URL');
const teams = teamsFromEnv();
const posterArn = optionalEnv('COUNTERSIGN_POSTER_FUNCTION_ARN');
/** Starts the card poster. */
const kickPoster = posterKick(posterArn, 'repaint');
const core = reviewCoreFromEnv();
const base = {
  ...core,
  logger,
  // A request also shown in Teams has its Teams card repainted by a vote here.
  ...(teams ? { otherChannels: [teamsNotifier({ connector: teams.connector, logger })] } : {}),
  // A card update Slack rate-limited goes to the poster, which can wait out the Retry-After.
  ...(posterArn ? { repaintLater: repaintThroughPoster(core, kickPoster) } : {}),
};

const idp = identityProviderFromEnv();
// With an identity store, a Slack user is an approver only as the IdP's person with that email.
const idpDirectory = idp?.identityStoreId
  ? identityStoreDirectory(createIdentityStoreClient(idp), {
      identityStoreId: idp.identityStoreId,
      name: idp.issuer,
    })
  : undefined;
/** Every Slack call of this handler happens before its answer, so all go through the answer-window client. */
const window = answerWindow();
let slack: WebClient | undefined;

/** Metric name per outcome, e.g. `approved` -> `InteractionApproved`. */
const metricName = (outcome: InteractionOutcome) =>
  `Interaction${outcome.replace(/(^|-)([a-z])/g, (_m, _dash, letter: string) => letter.toUpperCase())}`;

export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  window.open();
  let result: InteractionResult;
  try {
    const secret = await loadSecret();
    slack ??= createWindowSlackClient(secret.botToken, slackApiUrl, window);
    result = await handleInteraction(
      {
        ...base,
        slack,
        signingSecret: secret.signingSecret,
        ...(idpDirectory ? { identity: linkedSlackResolver(identityResolverFor(slack), idpDirectory) } : {}),
      },
      toHttpRequest(event),
    );
  } catch (error) {
    // Only the secret can fail here (the core never throws): no signature can be checked, so nothing is accepted.
    logger.error('interaction endpoint cannot serve', error as Error);
    result = { statusCode: 500, body: 'internal error', outcome: 'error' };
  }
  metrics.addMetric(metricName(result.outcome), MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
  return {
    statusCode: result.statusCode,
    // A view submission's answer (`response_action`) is JSON; an empty 200 closes the modal.
    headers: { 'content-type': result.contentType ?? 'text/plain; charset=utf-8' },
    body: result.body,
  };
};
