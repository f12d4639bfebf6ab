/**
 * The web channel's two secrets, read from Secrets Manager once per cold
 * start (a failed read is tried again on the next request, never cached): the
 * session key the stack generates, and the IdP client secret the operator
 * stores (the secret's string itself, or JSON with `clientSecret`).
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { checkSessionKey } from './session.js';

function cachedSecret<T>(
  client: Pick<SecretsManagerClient, 'send'>,
  secretId: string,
  read: (text: string) => T,
): () => Promise<T> {
  let cached: Promise<T> | undefined;
  return () => {
    cached ??= client.send(new GetSecretValueCommand({ SecretId: secretId })).then((out) => {
      if (!out.SecretString) throw new Error(`secret ${secretId} has no string value`);
      return read(out.SecretString);
    });
    cached.catch(() => {
      cached = undefined;
    });
    return cached;
  };
}

/** The session key (`{"sessionKey": …}`), checked for length. */
export const sessionKeyLoader = (client: Pick<SecretsManagerClient, 'send'>, secretId: string) =>
  cachedSecret(client, secretId, (text) => {
    const value = (JSON.parse(text) as { sessionKey?: unknown }).sessionKey;
    if (typeof value !== 'string') throw new Error(`secret ${secretId} has no sessionKey`);
    return checkSessionKey(value);
  });

/** The IdP client secret: the string, or its `clientSecret` field when the string is JSON. */
export const clientSecretLoader = (client: Pick<SecretsManagerClient, 'send'>, secretId: string) =>
  cachedSecret(client, secretId, (text) => {
    if (!text.trimStart().startsWith('{')) return text;
    const value = (JSON.parse(text) as { clientSecret?: unknown }).clientSecret;
    if (typeof value !== 'string' || !value) throw new Error(`secret ${secretId} has no clientSecret`);
    return value;
  });
