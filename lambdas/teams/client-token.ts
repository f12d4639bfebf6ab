/**
 * An OAuth 2.0 client-credentials token of the bot's Entra app (for the Bot
 * Connector or Microsoft Graph), fetched on first use and cached until
 * {@link TOKEN_MARGIN_SECONDS} before it expires; concurrent callers share one
 * request and a failure is never cached.
 */

/** Seconds before a token's expiry at which a new one is fetched. */
export const TOKEN_MARGIN_SECONDS = 300;

/** Options of {@link clientCredentialsToken}. */
export interface ClientCredentials {
  appId: string;
  /** Reads the app password (Secrets Manager in AWS). */
  appPassword: () => Promise<string>;
  /** The Entra tenant's token endpoint (the sandbox's fake on 127.0.0.1). */
  tokenUrl: string;
  /** `https://api.botframework.com/.default`, `https://graph.microsoft.com/.default`. */
  scope: string;
  /** Epoch milliseconds. @default Date.now */
  now?: () => number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** @default 5000 */
  timeoutMs?: number;
}

/** A token source: call it for a valid token; `forget()` after a 401. */
export interface TokenSource {
  (): Promise<string>;
  forget(): void;
}

/** The default token endpoint of a tenant. */
export const tokenUrlOf = (tenantId: string) =>
  `https://login.microsoftonline.com/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`;

/** Creates a cached token source. */
export function clientCredentialsToken(options: ClientCredentials): TokenSource {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  let cached: { token: string; until: number } | undefined;
  let pending: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: options.appId,
      client_secret: await options.appPassword(),
      scope: options.scope,
    });
    const response = await fetchImpl(options.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
    if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
    const json = (await response.json()) as { access_token?: unknown; expires_in?: unknown };
    if (typeof json.access_token !== 'string') throw new Error('token endpoint sent no access_token');
    const seconds = Number(json.expires_in ?? 3600);
    cached = { token: json.access_token, until: now() + Math.max(0, seconds - TOKEN_MARGIN_SECONDS) * 1000 };
    return json.access_token;
  }

  const source = (async () => {
    if (cached && now() < cached.until) return cached.token;
    pending ??= fetchToken().finally(() => {
      pending = undefined;
    });
    return pending;
  }) as TokenSource;
  source.forget = () => {
    cached = undefined;
  };
  return source;
}
