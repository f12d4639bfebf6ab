/** Reminder handler: the target of the Review step's one-off EventBridge Scheduler schedules. Logic: ./core.ts. */
import { Logger } from '@aws-lambda-powertools/logger';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { auditDepsFromEnv, lambdaClientConfig } from '../shared/aws.js';
import { observed } from '../shared/client-config.js';
import { optionalEnv, requireEnv } from '../shared/env.js';
import type { ReminderPayload } from '../shared/reminders.js';
import { createSlackClient } from '../shared/slack.js';
import { slackSecretLoader } from '../shared/slack-secret.js';
import { teamsFromEnv } from '../teams/environment.js';
import { replyInThreads } from '../teams/teams-notifier.js';
import { type ReminderDeps, remind } from './core.js';

const logger = new Logger({ serviceName: 'countersign' });
const loadSecret = slackSecretLoader(
  observed(new SecretsManagerClient(lambdaClientConfig)),
  requireEnv('COUNTERSIGN_SLACK_SECRET_ARN'),
);
const slackApiUrl = optionalEnv('COUNTERSIGN_SLACK_API_URL');
let slack: ReturnType<typeof createSlackClient> | undefined;
const teams = teamsFromEnv();

const deps: ReminderDeps = {
  ...auditDepsFromEnv(),
  slack: async () => {
    slack ??= createSlackClient((await loadSecret()).botToken, slackApiUrl);
    return slack;
  },
  warn: (message, extra) => logger.warn(message, extra ?? {}),
  ...(teams
    ? { replyElsewhere: async (request, text) => replyInThreads(await teams.connector(), request, text) }
    : {}),
};

export const handler = async (payload: ReminderPayload): Promise<{ outcome: string }> => {
  const outcome = await remind(deps, payload);
  logger.info('wake-up handled', { requestId: payload?.requestId, kind: payload?.kind, outcome });
  return { outcome };
};
