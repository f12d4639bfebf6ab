/**
 * Stands in for `@aws-sdk/credential-provider-node` in Lambda bundles (an
 * esbuild alias set by lib/handler-function.ts). The Lambda runtime passes the
 * function role's credentials in environment variables, so the environment
 * provider is the only link of the default chain a handler ever uses; the
 * rest of the chain (profiles, SSO, web identity, IMDS and the STS/SSO
 * clients they bring) would add ~80 KB to every bundle and its cold start.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

/** Same signature as the default chain's factory; ignores its init options. */
export const defaultProvider = (_init?: unknown) => fromEnv();
