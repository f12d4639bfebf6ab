/**
 * The Slack credentials live in one Secrets Manager secret, JSON
 * `{ "botToken": "xoxb-...", "signingSecret": "..." }`, filled by the operator.
 * It is read once per cold start and cached for the life of the container.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod/mini';

/** Fewest characters a signing secret may have: Slack's are 32 hexadecimal characters. */
export const MIN_SIGNING_SECRET_LENGTH = 32;

/**
 * Why `secret` cannot be a Slack signing secret, or undefined. The rule: at
 * least {@link MIN_SIGNING_SECRET_LENGTH} characters and no whitespace. A
 * shorter value is a placeholder or a truncated paste, and whitespace (a
 * trailing newline from `echo`) changes every HMAC: either way every Slack
 * request would fail verification and every review would end denied, so the
 * handlers and the sandbox refuse to start with it instead.
 */
export function signingSecretProblem(secret: string): string | undefined {
  if (/\s/.test(secret))
    return 'signingSecret contains whitespace (a pasted newline?); Slack signing secrets have none';
  if (secret.length < MIN_SIGNING_SECRET_LENGTH) {
    return `signingSecret has ${secret.length} characters; a Slack signing secret has ${MIN_SIGNING_SECRET_LENGTH} (Basic Information → App Credentials)`;
  }
  return undefined;
}

/** The secret's JSON shape. */
export const slackSecretSchema = z.object({
  botToken: z.string().check(z.startsWith('xox', 'botToken must be a Slack bot token (xoxb-...)')),
  signingSecret: z.string().check(
    z.refine((secret) => signingSecretProblem(secret) === undefined, {
      error: (issue) => signingSecretProblem(String(issue.input)) ?? 'invalid signingSecret',
    }),
  ),
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
