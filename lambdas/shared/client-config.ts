/**
 * Configuration every handler's SDK client starts from. Credentials come from
 * the default provider, which Lambda bundles replace with the environment
 * provider (see lambda-credentials.ts).
 */
export const lambdaClientConfig = {} as const;
