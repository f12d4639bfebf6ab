/** Review task (`.waitForTaskToken`) of the approval workflow. Logic lives in ./core.ts. */
import { Logger } from '@aws-lambda-powertools/logger';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { auditDepsFromEnv, lambdaClientConfig } from '../shared/aws.js';
import { observed } from '../shared/client-config.js';
import { optionalEnv, requireEnv } from '../shared/env.js';
import { posterKick } from '../shared/poster-kick.js';
import type { ReminderScheduler } from '../shared/reminders.js';
import { createSlackClient } from '../shared/slack.js';
import { slackSecretLoader } from '../shared/slack-secret.js';
import { handlerTraceExport } from '../shared/tracing.js';
import { teamsFromEnv } from '../teams/environment.js';
import { teamsPoster } from '../teams/teams-notifier.js';
import { type ReviewDeps, type ReviewInput, review } from './core.js';
import { eventBridgeScheduler } from './scheduler.js';

const logger = new Logger({ serviceName: 'countersign' });
const loadSecret = slackSecretLoader(
  observed(new SecretsManagerClient(lambdaClientConfig)),
  requireEnv('COUNTERSIGN_SLACK_SECRET_ARN'),
);
const slackApiUrl = optionalEnv('COUNTERSIGN_SLACK_API_URL');
let slack: ReturnType<typeof createSlackClient> | undefined;
const scheduleGroup = optionalEnv('COUNTERSIGN_SCHEDULE_GROUP');
const teams = teamsFromEnv();
const posterArn = requireEnv('COUNTERSIGN_POSTER_FUNCTION_ARN');
/** Starts the card poster. */
const kickPoster = posterKick(posterArn, 'review');

const deps: ReviewDeps = {
  ...auditDepsFromEnv(),
  channel: requireEnv('COUNTERSIGN_SLACK_CHANNEL'),
  kickPoster: (channel) => kickPoster(channel),
  slack: async () => {
    slack ??= createSlackClient((await loadSecret()).botToken, slackApiUrl);
    return slack;
  },
  ...(scheduleGroup
    ? {
        scheduler: eventBridgeScheduler(observed(new SchedulerClient(lambdaClientConfig)), {
          group: scheduleGroup,
          functionArn: requireEnv('COUNTERSIGN_REMINDER_FUNCTION_ARN'),
          roleArn: requireEnv('COUNTERSIGN_SCHEDULER_ROLE_ARN'),
          deadLetterArn: requireEnv('COUNTERSIGN_REMINDER_DLQ_ARN'),
        }),
      }
    : {}),
  warn: (message, extra) => logger.warn(message, extra ?? {}),
  channels: (optionalEnv('COUNTERSIGN_REVIEW_CHANNELS') ?? 'slack').split(',').map((c) => c.trim()),
  ...(teams ? { otherChannels: { teams: teamsPoster(teams) } } : {}),
};
const exportTrace = handlerTraceExport('review', (message, extra) => logger.warn(message, extra));

/**
 * Replaces the reminder scheduler. The sandbox has no EventBridge Scheduler
 * emulator: it supplies a timer-based scheduler that invokes the reminder
 * handler module at the time (sandbox/loop.ts).
 */
export function useReminderScheduler(scheduler: ReminderScheduler): void {
  deps.scheduler = scheduler;
}

export const handler = async (input: ReviewInput): Promise<void> => {
  const card = await review(deps, input);
  logger.info('review card queued', { requestId: input.requestId, ...card });
  // The review is open: a stalled agent's trace now shows what it waits for (docs/observability.md).
  await exportTrace(deps, input.requestId, 'opening');
};
