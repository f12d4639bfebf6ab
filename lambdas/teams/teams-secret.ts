/**
 * The bot's Entra app password lives in one Secrets Manager secret, JSON
 * `{ "appPassword": "..." }`, filled by the operator (docs/teams.md). It is
 * read once per cold start and cached for the life of the container; a failed
 * read is not cached.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod/mini';

/** The secret's JSON shape. */
export const teamsSecretSchema = z.object({
  appPassword: z.string().check(
    z.minLength(16, 'appPassword must be the Entra app client secret'),
    z.refine((v) => !v.startsWith('replace-me'), 'appPassword is still the placeholder'),
  ),
});

/** Returns a loader of the app password. */
export function teamsSecretLoader(
  client: Pick<SecretsManagerClient, 'send'>,
  secretId: string,
): () => Promise<string> {
  let cached: Promise<string> | undefined;
  return () => {
    cached ??= client.send(new GetSecretValueCommand({ SecretId: secretId })).then((out) => {
      if (!out.SecretString) throw new Error(`Teams secret ${secretId} has no string value`);
      const parsed = teamsSecretSchema.safeParse(JSON.parse(out.SecretString));
      if (!parsed.success)
        throw new Error(`Teams secret ${secretId} is not filled in: ${parsed.error.issues[0]?.message}`);
      return parsed.data.appPassword;
    });
    cached.catch(() => {
      cached = undefined;
    });
    return cached;
  };
}
