/**
 * The Slack credentials live in one Secrets Manager secret, JSON
 * `{ "botToken": "xoxb-...", "signingSecret": "..." }`, filled by the operator.
 * It is read once per cold start and cached for the life of the container.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod/mini';

/** The secret's JSON shape. */
export const slackSecretSchema = z.object({
  botToken: z.string().check(z.startsWith('xox', 'botToken must be a Slack bot token (xoxb-...)')),
  signingSecret: z.string().check(z.minLength(16, 'signingSecret must be the Slack app signing secret')),
});
export type SlackSecret = z.infer<typeof slackSecretSchema>;

/** Returns a loader that fetches and validates the secret once, then serves the cached value. */
export function slackSecretLoader(
  client: SecretsManagerClient,
  secretId: string,
): () => Promise<SlackSecret> {
  let cached: Promise<SlackSecret> | undefined;
  return () => {
    cached ??= client.send(new GetSecretValueCommand({ SecretId: secretId })).then((out) => {
      if (!out.SecretString) throw new Error(`Slack secret ${secretId} has no string value`);
      const parsed = slackSecretSchema.safeParse(JSON.parse(out.SecretString));
      if (!parsed.success) {
        throw new Error(`Slack secret ${secretId} is not filled in: ${parsed.error.issues[0]?.message}`);
      }
      return parsed.data;
    });
    // A failed read is not cached: the next invocation tries again.
    cached.catch(() => {
      cached = undefined;
    });
    return cached;
  };
}
