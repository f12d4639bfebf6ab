/** Review task (`.waitForTaskToken`) of the approval workflow. Logic lives in ./core.ts. */
import { Logger } from '@aws-lambda-powertools/logger';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createDocumentClient, createS3Client, lambdaClientConfig } from '../shared/aws.js';
import { optionalEnv, requireEnv, requireIntEnv } from '../shared/env.js';
import { createSlackClient } from '../shared/slack.js';
import { slackSecretLoader } from '../shared/slack-secret.js';
import { type ReviewDeps, type ReviewInput, review } from './core.js';

const logger = new Logger({ serviceName: 'countersign' });
const loadSecret = slackSecretLoader(
  new SecretsManagerClient(lambdaClientConfig),
  requireEnv('COUNTERSIGN_SLACK_SECRET_ARN'),
);
const slackApiUrl = optionalEnv('COUNTERSIGN_SLACK_API_URL');
let slack: ReturnType<typeof createSlackClient> | undefined;

const deps: ReviewDeps = {
  ddb: createDocumentClient(),
  table: requireEnv('COUNTERSIGN_TABLE_NAME'),
  s3: createS3Client(),
  bucket: requireEnv('COUNTERSIGN_AUDIT_BUCKET'),
  retentionDays: requireIntEnv('COUNTERSIGN_AUDIT_RETENTION_DAYS'),
  now: () => new Date(),
  channel: requireEnv('COUNTERSIGN_SLACK_CHANNEL'),
  slack: async () => {
    slack ??= createSlackClient((await loadSecret()).botToken, slackApiUrl);
    return slack;
  },
};

export const handler = async (input: ReviewInput): Promise<void> => {
  const card = await review(deps, input);
  logger.info('review card posted', { requestId: input.requestId, ...card });
};
