/**
 * The web inbox and approval API behind API Gateway's HTTP API (payload 2.0).
 * The channel: ./core.ts; the review core it calls: ../review-core/.
 * Configuration is read at load, so a missing variable fails the cold start.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { signInResolver } from '../identity/actor-resolver.js';
import { IDENTITY_PROVIDER_ENV, identityProviderFromEnv } from '../identity/config.js';
import { createTokenVerifier } from '../identity/token-verifier.js';
import { slackNotifier } from '../interaction/slack-notifier.js';
import type { ReviewNotifier } from '../review-core/contract.js';
import { reviewCoreFromEnv } from '../review-core/environment.js';
import { everyChannel } from '../review-core/notifiers.js';
import { lambdaClientConfig, observed } from '../shared/client-config.js';
import { optionalEnv, requireEnv } from '../shared/env.js';
import { createSlackClient } from '../shared/slack.js';
import { slackSecretLoader } from '../shared/slack-secret.js';
import { teamsFromEnv } from '../teams/environment.js';
import { teamsNotifier } from '../teams/teams-notifier.js';
import type { WebDeps } from './contract.js';
import { handleWeb } from './core.js';
import { fromApiGateway, html, toApiGateway } from './http.js';
import { messagePage } from './pages.js';
import { clientSecretLoader, sessionKeyLoader } from './secrets.js';
import { openIdSignIn, type SignInFlow } from './sign-in.js';

const logger = new Logger({ serviceName: 'countersign-web' });
const metrics = new Metrics({ namespace: 'Countersign', serviceName: 'web' });
const identity = identityProviderFromEnv();
if (!identity) throw new Error(`${IDENTITY_PROVIDER_ENV} is required by the web inbox`);
const secrets = observed(new SecretsManagerClient(lambdaClientConfig));
const sessionKey = sessionKeyLoader(secrets, requireEnv('COUNTERSIGN_WEB_SESSION_SECRET_ARN'));
const clientSecret = identity.clientSecretId
  ? clientSecretLoader(secrets, identity.clientSecretId)
  : undefined;
const loadSlack = slackSecretLoader(secrets, requireEnv('COUNTERSIGN_SLACK_SECRET_ARN'));
const slackApiUrl = optionalEnv('COUNTERSIGN_SLACK_API_URL');
const verifier = createTokenVerifier(identity);
const base = { ...reviewCoreFromEnv(), logger, resolveActor: signInResolver({ issuer: identity.issuer }) };
const stepUpAcr = optionalEnv('COUNTERSIGN_WEB_STEP_UP_ACR');
const scope = optionalEnv('COUNTERSIGN_WEB_SCOPE');
/** A custom domain in front of the API, when there is one; else the API's own domain. */
const fixedOrigin = optionalEnv('COUNTERSIGN_WEB_ORIGIN');
const flows = new Map<string, SignInFlow>();
const teams = teamsFromEnv();
let notifier: ReviewNotifier | undefined;

/** The sign-in flow for an origin (its callback URL is registered with the IdP). */
function flowFor(origin: string): SignInFlow {
  let flow = flows.get(origin);
  if (!flow) {
    flow = openIdSignIn({
      issuer: identity!.issuer,
      clientId: identity!.clientId,
      clientSecret: async () => clientSecret?.(),
      redirectUri: `${origin}/callback`,
      verifier,
      ...(stepUpAcr ? { stepUpAcr } : {}),
      ...(scope ? { scope } : {}),
    });
    flows.set(origin, flow);
  }
  return flow;
}

export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const origin = fixedOrigin ?? `https://${event.requestContext.domainName}`;
  let answer: Awaited<ReturnType<typeof handleWeb>>;
  try {
    const slack = await loadSlack();
    // A decision here repaints the request's cards in every chat channel it was shown in.
    notifier ??= everyChannel(
      slackNotifier({ slack: createSlackClient(slack.botToken, slackApiUrl), logger }),
      ...(teams ? [teamsNotifier({ connector: teams.connector, logger })] : []),
    );
    const deps: WebDeps = {
      core: { ...base, notifier },
      verifier,
      signIn: flowFor(origin),
      sessionKey: await sessionKey(),
      origin,
    };
    answer = await handleWeb(deps, fromApiGateway(event));
  } catch (error) {
    // Only a secret can fail here (the channel never throws): nothing is accepted without it.
    logger.error('web inbox cannot serve', error as Error);
    answer = html(
      500,
      messagePage('Unavailable', 'Countersign cannot serve this now; nothing changed.'),
      'error',
    );
  }
  metrics.addMetric(
    `Web${answer.outcome.replace(/(^|-)([a-z])/g, (_m, _d, l: string) => l.toUpperCase())}`,
    MetricUnit.Count,
    1,
  );
  metrics.publishStoredMetrics();
  return toApiGateway(answer);
};
