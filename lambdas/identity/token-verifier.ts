/**
 * Verifies the IdP's tokens with `jose`: the signature against the issuer's
 * key set (fetched from its discovery document, refetched when a token names
 * a key it does not hold, so the IdP can rotate keys), `iss` exactly, `aud`
 * (the client id for ID tokens, the approval API for access tokens), `exp`,
 * `nbf` and `iat` within a small clock tolerance, the `nonce` of an ID token,
 * and a verified email. Every failure is a {@link TokenRefused} with a stable
 * code and a sentence; nothing the token says is used before it verified.
 */
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { canonicalEmail, type EmailRules, emailRules } from '../shared/email.js';
import type { IdentityProviderConfig } from './config.js';
import { type SignIn, TokenRefused, type TokenVerifier } from './contract.js';
import { type GroupSource, groupSourceFor } from './groups.js';

/** Asymmetric algorithms accepted: never `none`, never a shared-secret HMAC an attacker could pick. */
export const TOKEN_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'EdDSA',
];

/** What {@link createTokenVerifier} needs beyond the configuration (tests and the sandbox inject these). */
export interface TokenVerifierOptions {
  /** Where groups come from. @default from the configuration (groups claim or identity store) */
  groups?: GroupSource;
  /** Shortest time between two key-set fetches triggered by unknown keys. @default 30_000 */
  jwksCooldownMs?: number;
  /** Longest time a fetched key set is trusted without refetching. @default 600_000 */
  jwksMaxAgeMs?: number;
  /** Time limit of a discovery or key-set request. @default 5_000 */
  timeoutMs?: number;
  /** The current time. @default () => new Date() */
  now?: () => Date;
  /** @default the deployment's email rules */
  emailRules?: EmailRules;
}

/** The configuration the verifier reads. */
export type TokenVerifierConfig = Pick<
  IdentityProviderConfig,
  'issuer' | 'clientId' | 'apiAudience' | 'jwksUri' | 'clockToleranceSeconds'
> &
  Partial<
    Pick<
      IdentityProviderConfig,
      'groupsClaim' | 'identityStoreId' | 'identityStoreMatch' | 'identityStoreRegion'
    >
  >;

/** Finds the issuer's `jwks_uri` in its discovery document, which must name the same issuer. */
export async function discoverJwksUri(issuer: string, timeoutMs = 5_000): Promise<URL> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let document: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    document = (await response.json()) as typeof document;
  } catch (error) {
    throw new TokenRefused(
      'unavailable',
      `the identity provider's discovery document (${url}) could not be read: ${(error as Error).message}`,
    );
  }
  if (document.issuer !== issuer) {
    throw new TokenRefused(
      'unavailable',
      `the discovery document at ${url} names issuer ${JSON.stringify(document.issuer)}, not ${issuer}`,
    );
  }
  const jwks = typeof document.jwks_uri === 'string' ? URL.parse(document.jwks_uri) : null;
  if (!jwks) throw new TokenRefused('unavailable', `the discovery document at ${url} names no jwks_uri`);
  return jwks;
}

/** Maps what jose threw to a refusal; anything unrecognised is a refusal too (fail closed). */
function refusal(error: unknown, audience: string): TokenRefused {
  if (error instanceof TokenRefused) return error;
  if (error instanceof errors.JWTExpired) return new TokenRefused('expired', 'the token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    const { claim, reason } = error;
    if (reason === 'missing') return new TokenRefused('missing-claim', `the token has no "${claim}" claim`);
    // Stryker disable next-line all: unreachable while verify() refuses a foreign issuer before jose sees it
    if (claim === 'iss') return new TokenRefused('wrong-issuer', 'the token was issued by another issuer');
    if (claim === 'aud') return new TokenRefused('wrong-audience', `the token is not for ${audience}`);
    // jose checks `iat` only for type here (a future `iat` is refused in verify()): a bad one is malformed.
    if (claim === 'nbf')
      return new TokenRefused('not-yet-valid', 'the token is not valid yet ("nbf" is in the future)');
    return new TokenRefused('malformed', `the token's "${claim}" claim is invalid`);
  }
  if (error instanceof errors.JWKSNoMatchingKey)
    return new TokenRefused(
      'unknown-key',
      'the token is signed with a key the identity provider does not publish',
    );
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new TokenRefused('bad-signature', "the token's signature does not verify");
  if (error instanceof errors.JOSEAlgNotAllowed)
    return new TokenRefused('malformed', 'the token is signed with an algorithm Countersign does not accept');
  if (
    error instanceof errors.JWKSTimeout ||
    error instanceof errors.JWKSInvalid ||
    error instanceof TypeError
  )
    return new TokenRefused(
      'unavailable',
      `the identity provider's keys could not be read: ${(error as Error).message}`,
    );
  if (error instanceof errors.JOSEError)
    return new TokenRefused('malformed', 'the token is not a valid signed JWT');
  return new TokenRefused(
    'unavailable',
    `the token could not be verified: ${(error as Error)?.message ?? String(error)}`,
  );
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * Creates the verifier of one IdP configuration. The key set is fetched on
 * first use and kept in the function's memory; a token naming an unknown `kid`
 * refetches it (at most once per cooldown).
 */
export function createTokenVerifier(
  config: TokenVerifierConfig,
  options: TokenVerifierOptions = {},
): TokenVerifier {
  const now = options.now ?? (() => new Date());
  const groups =
    options.groups ??
    groupSourceFor({
      groupsClaim: config.groupsClaim ?? 'groups',
      identityStoreId: config.identityStoreId,
      identityStoreMatch: config.identityStoreMatch ?? 'email',
      identityStoreRegion: config.identityStoreRegion,
    });
  let keys: Promise<JWTVerifyGetKey> | undefined;
  const keySet = (): Promise<JWTVerifyGetKey> => {
    keys ??= (async () => {
      const uri = config.jwksUri
        ? new URL(config.jwksUri)
        : await discoverJwksUri(config.issuer, options.timeoutMs);
      return createRemoteJWKSet(uri, {
        // Stryker disable LogicalOperator: jose's own defaults are the same 30 s, 10 min and 5 s
        cooldownDuration: options.jwksCooldownMs ?? 30_000,
        cacheMaxAge: options.jwksMaxAgeMs ?? 600_000,
        timeoutDuration: options.timeoutMs ?? 5_000,
        // Stryker restore LogicalOperator
      });
    })();
    // A failed discovery is retried on the next token, never cached.
    keys.catch(() => {
      keys = undefined;
    });
    return keys;
  };

  const verify = async (token: string, audience: string): Promise<JWTPayload> => {
    if (typeof token !== 'string' || token.length === 0)
      throw new TokenRefused('missing', 'no token was presented');
    if (token.length > 16_384) throw new TokenRefused('malformed', 'the token is longer than any IdP issues');
    // Read the unverified claims only to refuse a foreign issuer with a clear reason; nothing else is trusted.
    let unverified: JWTPayload;
    try {
      decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw new TokenRefused('malformed', 'the token is not a signed JWT');
    }
    if (unverified.iss !== config.issuer) {
      throw new TokenRefused(
        'wrong-issuer',
        `the token was issued by ${JSON.stringify(unverified.iss ?? null)}, not by ${config.issuer}`,
      );
    }
    try {
      const { payload } = await jwtVerify(token, await keySet(), {
        issuer: config.issuer,
        audience,
        algorithms: TOKEN_ALGORITHMS,
        clockTolerance: config.clockToleranceSeconds,
        currentDate: now(),
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      // jose checks iat only for a maximum age; a token issued in the future is refused like an early nbf.
      if (
        typeof payload.iat === 'number' &&
        payload.iat > now().getTime() / 1000 + config.clockToleranceSeconds
      )
        throw new TokenRefused('not-yet-valid', 'the token is not valid yet ("iat" is in the future)');
      return payload;
    } catch (error) {
      throw refusal(error, audience);
    }
  };

  const signIn = async (payload: JWTPayload, via: SignIn['via']): Promise<SignIn> => {
    if (typeof payload.sub !== 'string' || payload.sub.length === 0)
      throw new TokenRefused('missing-claim', 'the token has no subject ("sub")');
    if (payload.email === undefined)
      throw new TokenRefused('missing-claim', 'the token has no "email" claim: it names no person');
    if (payload.email_verified !== true)
      throw new TokenRefused('unverified-email', 'the identity provider has not verified this email');
    const email = canonicalEmail(payload.email, options.emailRules ?? emailRules());
    if (!email.ok)
      throw new TokenRefused(
        'unverified-email',
        `the token's email is not acceptable as an identity: ${email.reason}`,
      );
    const authTime = payload.auth_time;
    if (authTime !== undefined && (typeof authTime !== 'number' || !Number.isFinite(authTime)))
      throw new TokenRefused('malformed', 'the token\'s "auth_time" is not a time');
    const acr = payload.acr;
    const name = payload.name;
    return {
      issuer: config.issuer,
      subject: payload.sub,
      email: email.email,
      emailVerified: true,
      ...(typeof name === 'string' && name.length > 0 ? { name: name.slice(0, 200) } : {}),
      groups: await groups.groupsOf({
        issuer: config.issuer,
        subject: payload.sub,
        email: email.email,
        claims: payload,
      }),
      amr: stringList(payload.amr),
      ...(typeof acr === 'string' ? { acr } : {}),
      ...(typeof authTime === 'number' ? { authTime } : {}),
      via,
    };
  };

  return {
    async verifyIdToken(token, expected) {
      const payload = await verify(token, config.clientId);
      if (typeof expected?.nonce !== 'string' || expected.nonce.length === 0)
        throw new TokenRefused('wrong-nonce', 'no nonce was expected: the sign-in was not started here');
      if (payload.nonce !== expected.nonce)
        throw new TokenRefused('wrong-nonce', 'the token was issued for another sign-in (nonce mismatch)');
      // An ID token meant for several clients must name us as its authorized party.
      if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== config.clientId)
        throw new TokenRefused('wrong-audience', `the token's authorized party is not ${config.clientId}`);
      return signIn(payload, 'session');
    },
    async verifyAccessToken(token) {
      if (!config.apiAudience)
        throw new TokenRefused(
          'wrong-audience',
          'this deployment accepts no API tokens (no apiAudience configured)',
        );
      const payload = await verify(token, config.apiAudience);
      return signIn(payload, 'bearer');
    },
  };
}
