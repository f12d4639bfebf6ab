/**
 * Inbound authentication of the Teams channel: every activity the Bot
 * Connector sends carries `Authorization: Bearer <JWT>` signed by the Bot
 * Framework. It is verified with `jose` against the keys the Bot Framework's
 * OpenID metadata names (fetched once, then refreshed daily and whenever a
 * token names an unknown key id), and must have:
 * - issuer `https://api.botframework.com`,
 * - audience = the bot's app id (or `api://<app id>`),
 * - an RS256/384/512 signature by one of those keys,
 * - `exp` / `nbf` within a 5-minute clock skew,
 * - a `serviceurl` claim equal to the activity's `serviceUrl` (compared
 *   lower-case without a trailing slash), so a token minted for one
 *   conversation endpoint cannot carry an activity that sends replies elsewhere.
 * Anything else is refused (the handler answers 401 and changes nothing).
 */
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from 'jose';

/** The Bot Framework's OpenID metadata (public cloud). */
export const BOT_FRAMEWORK_METADATA_URL = 'https://login.botframework.com/v1/.well-known/openidconfiguration';
/** The issuer of the tokens the Bot Connector sends. */
export const BOT_FRAMEWORK_ISSUER = 'https://api.botframework.com';
/** Clock skew allowed on `exp` / `nbf`. */
export const CLOCK_TOLERANCE_SECONDS = 300;
/** How long the key set is trusted before it is fetched again. */
export const KEYS_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** Why an inbound token was refused: a stable code for logs, metrics and tests. */
export type InboundRefusal =
  | 'missing'
  | 'malformed'
  | 'bad-signature'
  | 'unknown-key'
  | 'wrong-issuer'
  | 'wrong-audience'
  | 'expired'
  | 'not-yet-valid'
  | 'service-url-mismatch'
  | 'metadata-unavailable';

/** The verdict on an inbound activity's token. */
export type InboundCheck =
  | { ok: true; claims: JWTPayload }
  | { ok: false; code: InboundRefusal; reason: string };

/** Verifies the Bot Connector's tokens. */
export interface InboundVerifier {
  verify(authorization: string | undefined, activityServiceUrl: string | undefined): Promise<InboundCheck>;
}

/** Options of {@link botFrameworkVerifier}. */
export interface VerifierOptions {
  /** The bot's Entra app id: the audience every token must name. */
  appId: string;
  /** @default BOT_FRAMEWORK_METADATA_URL (the sandbox points it at its fake connector) */
  metadataUrl?: string;
  /** @default BOT_FRAMEWORK_ISSUER */
  issuer?: string;
  /** Epoch seconds, for tests of expiry. @default the real clock */
  nowSeconds?: () => number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Time limit of the metadata request: a metadata host that hangs is refused, never waited on. @default 5000 */
  metadataTimeoutMs?: number;
  /**
   * Least time between two fetches of the key set caused by unknown key ids,
   * so forged tokens cannot make the bot hammer the metadata host. @default 30_000
   */
  refetchCooldownMs?: number;
}

/** A service URL as compared: lower-case, without trailing slashes. */
export const normalServiceUrl = (url: string) => url.trim().toLowerCase().replace(/\/+$/, '');

/** Creates a verifier whose metadata and keys are cached for the life of the container. */
export function botFrameworkVerifier(options: VerifierOptions): InboundVerifier {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const metadataUrl = options.metadataUrl ?? BOT_FRAMEWORK_METADATA_URL;
  let keys: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  const keySet = () => {
    keys ??= (async () => {
      const response = await fetchImpl(metadataUrl, {
        signal: AbortSignal.timeout(options.metadataTimeoutMs ?? 5000),
      });
      if (!response.ok) throw new Error(`OpenID metadata answered ${response.status}`);
      const metadata = (await response.json()) as { jwks_uri?: unknown };
      if (typeof metadata.jwks_uri !== 'string') throw new Error('OpenID metadata names no jwks_uri');
      // jose refetches on a key id it has not seen (at most every 30 s) and after `cacheMaxAge`: rotation.
      return createRemoteJWKSet(new URL(metadata.jwks_uri), {
        cacheMaxAge: KEYS_MAX_AGE_MS,
        // Stryker disable next-line LogicalOperator: jose's own default cooldown is the same 30 s
        cooldownDuration: options.refetchCooldownMs ?? 30_000,
        timeoutDuration: 5000,
      });
    })();
    keys.catch(() => {
      keys = undefined;
    });
    return keys;
  };
  const audience = [options.appId, `api://${options.appId}`];
  const issuer = options.issuer ?? BOT_FRAMEWORK_ISSUER;

  return {
    async verify(authorization, activityServiceUrl) {
      if (!authorization) return { ok: false, code: 'missing', reason: 'no Authorization header' };
      const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization);
      if (!match) return { ok: false, code: 'malformed', reason: 'Authorization is not a Bearer JWT' };
      let jwks: ReturnType<typeof createRemoteJWKSet>;
      try {
        jwks = await keySet();
      } catch (error) {
        return { ok: false, code: 'metadata-unavailable', reason: (error as Error).message };
      }
      let claims: JWTPayload;
      try {
        const verified = await jwtVerify(match[1]!, jwks, {
          issuer,
          audience,
          algorithms: ['RS256', 'RS384', 'RS512'],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ['exp', 'iat'],
          ...(options.nowSeconds ? { currentDate: new Date(options.nowSeconds() * 1000) } : {}),
        });
        claims = verified.payload;
      } catch (error) {
        return refusalOf(error);
      }
      const claimed = typeof claims.serviceurl === 'string' ? claims.serviceurl : undefined;
      if (
        !claimed ||
        !activityServiceUrl ||
        normalServiceUrl(claimed) !== normalServiceUrl(activityServiceUrl)
      ) {
        return {
          ok: false,
          code: 'service-url-mismatch',
          reason: 'the token was not issued for the serviceUrl of this activity',
        };
      }
      return { ok: true, claims };
    },
  };
}

function refusalOf(error: unknown): InboundCheck {
  const reason = (error as Error).message ?? String(error);
  if (error instanceof errors.JWTExpired) return { ok: false, code: 'expired', reason };
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return { ok: false, code: 'wrong-issuer', reason };
    if (error.claim === 'aud') return { ok: false, code: 'wrong-audience', reason };
    // jose checks `iat` only for presence and type here: a missing or non-numeric one is malformed.
    if (error.claim === 'nbf') return { ok: false, code: 'not-yet-valid', reason };
    return { ok: false, code: 'malformed', reason };
  }
  if (error instanceof errors.JWKSNoMatchingKey) return { ok: false, code: 'unknown-key', reason };
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return { ok: false, code: 'bad-signature', reason };
  if (error instanceof errors.JOSEAlgNotAllowed) return { ok: false, code: 'bad-signature', reason };
  return { ok: false, code: 'malformed', reason };
}
