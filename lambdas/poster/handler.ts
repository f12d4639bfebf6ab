/**
 * Card poster: invoked asynchronously by Review (a kick), by itself (a backlog
 * outlasting one invocation) and every minute by a schedule (the sweep). Every
 * invocation drains the configured review channel; the event is only a nudge,
 * never a channel to post to. Logic lives in ./core.ts.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskFailureCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { webInboxUrlFromEnv } from '../identity/step-up.js';
import { auditDepsFromEnv, lambdaClientConfig } from '../shared/aws.js';
import { observed } from '../shared/client-config.js';
import { optionalEnv, requireEnv } from '../shared/env.js';
import { createPosterSlackClient } from '../shared/slack.js';
import { slackSecretLoader } from '../shared/slack-secret.js';
import { type DrainResult, drain, type PosterDeps } from './core.js';
import { paceFromEnv } from './settings.js';

const logger = new Logger({ serviceName: 'countersign' });
const loadSecret = slackSecretLoader(
  observed(new SecretsManagerClient(lambdaClientConfig)),
  requireEnv('COUNTERSIGN_SLACK_SECRET_ARN'),
);
const slackApiUrl = optionalEnv('COUNTERSIGN_SLACK_API_URL');
const channel = requireEnv('COUNTERSIGN_SLACK_CHANNEL');
const settings = paceFromEnv();
const sfn = observed(new SFNClient(lambdaClientConfig));
const lambda = observed(new LambdaClient(lambdaClientConfig));
let slack: ReturnType<typeof createPosterSlackClient> | undefined;
/** Runs the poster again; in AWS an async invoke of this function (replaced in the sandbox). */
let kickAgain: (channel: string, context?: Context) => Promise<void> = async (_channel, context) => {
  if (!context) return;
  await lambda.send(
    new InvokeCommand({
      FunctionName: context.invokedFunctionArn,
      InvocationType: 'Event',
      Payload: JSON.stringify({ kick: 'backlog' }),
    }),
  );
};

/**
 * Replaces the self-invocation. The sandbox runs the poster in-process and
 * re-runs it on a timer instead (sandbox/loop.ts).
 */
export function usePosterRerun(rerun: (channel: string) => Promise<void>): void {
  kickAgain = rerun;
}

export const handler = async (_event: unknown, context?: Context): Promise<DrainResult> => {
  const started = Date.now();
  const deps: PosterDeps = {
    ...auditDepsFromEnv(),
    ...settings,
    slack: async () => {
      slack ??= createPosterSlackClient((await loadSecret()).botToken, slackApiUrl);
      return slack;
    },
    holder: randomUUID(),
    remainingMs: () =>
      context ? context.getRemainingTimeInMillis() : settings.localBudgetMs - (Date.now() - started),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    kickAgain: (c) => kickAgain(c, context),
    failReview: async (request, reason) => {
      if (!request.taskToken) return;
      await sfn.send(
        new SendTaskFailureCommand({ taskToken: request.taskToken, error: 'ReviewError', cause: reason }),
      );
    },
    ...(webInboxUrlFromEnv() ? { webInboxUrl: webInboxUrlFromEnv() } : {}),
    warn: (message, extra) => logger.warn(message, extra ?? {}),
  };
  const result = await drain(deps, channel);
  if (result.posted.length || result.skipped.length || result.failed.length || result.left)
    logger.info('card queue drained', { channel, ...result });
  return result;
};
