/**
 * The Teams channel as a Lambda builds it from its environment, once per
 * cold start: the bot's app id, tenant and channel, the app password's
 * secret, and (for the sandbox only) the endpoints of the fake Bot Connector,
 * token endpoint and Graph. Absent `COUNTERSIGN_TEAMS_APP_ID` means the
 * deployment has no Teams channel.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { lambdaClientConfig, observed } from '../shared/client-config.js';
import { optionalEnv, requireEnv } from '../shared/env.js';
import { clientCredentialsToken, tokenUrlOf } from './client-token.js';
import { BOT_FRAMEWORK_SCOPE, type BotConnector, botConnector } from './connector.js';
import { teamsSecretLoader } from './teams-secret.js';

/** Teams' public service URL for bot-initiated conversations. */
export const DEFAULT_TEAMS_SERVICE_URL = 'https://smba.trafficmanager.net/teams/';

/** The Teams channel's configuration and outbound clients. */
export interface TeamsEnvironment {
  appId: string;
  tenantId: string;
  /** The Teams channel review cards are posted to (`19:…@thread.tacv2`). */
  channelId: string;
  /** The Bot Connector endpoint cards are posted through. */
  serviceUrl: string;
  tokenUrl: string;
  appPassword: () => Promise<string>;
  connector: () => Promise<BotConnector>;
}

/** Reads the Teams configuration, or undefined when Teams is not configured. */
export function teamsFromEnv(): TeamsEnvironment | undefined {
  const appId = optionalEnv('COUNTERSIGN_TEAMS_APP_ID');
  if (!appId) return undefined;
  const tenantId = requireEnv('COUNTERSIGN_TEAMS_TENANT_ID');
  const tokenUrl = optionalEnv('COUNTERSIGN_TEAMS_TOKEN_URL') ?? tokenUrlOf(tenantId);
  const appPassword = teamsSecretLoader(
    observed(new SecretsManagerClient(lambdaClientConfig)),
    requireEnv('COUNTERSIGN_TEAMS_SECRET_ARN'),
  );
  const connector = botConnector({
    token: clientCredentialsToken({ appId, appPassword, tokenUrl, scope: BOT_FRAMEWORK_SCOPE }),
  });
  return {
    appId,
    tenantId,
    channelId: requireEnv('COUNTERSIGN_TEAMS_CHANNEL_ID'),
    serviceUrl: optionalEnv('COUNTERSIGN_TEAMS_SERVICE_URL') ?? DEFAULT_TEAMS_SERVICE_URL,
    tokenUrl,
    appPassword,
    connector: async () => connector,
  };
}
