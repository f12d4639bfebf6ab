/**
 * Configuration every handler's SDK client starts from. Credentials come from
 * the default provider, which Lambda bundles replace with the environment
 * provider (see lambda-credentials.ts).
 */
export const lambdaClientConfig = {} as const;

/**
 * Where a test process installs an observer of the SDK clients handlers build
 * (the IAM proof records every call through it, see docs/testing.md). Nothing
 * installs one in Lambda.
 */
export const CLIENT_OBSERVER = Symbol.for('countersign.sdk-client-observer');

/**
 * Hands a newly built SDK client to the installed observer, if any, and
 * returns it. Without an observer (always, in Lambda) this is one global
 * lookup per client, at cold start.
 */
export function observed<T>(client: T): T {
  (globalThis as { [CLIENT_OBSERVER]?: (client: unknown) => void })[CLIENT_OBSERVER]?.(client);
  return client;
}
