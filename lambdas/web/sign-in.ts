/**
 * Sign-in to the web inbox with the organisation's IdP: the OpenID Connect
 * authorization code flow with PKCE, `state` and `nonce` (openid-client),
 * asking for a fresh sign-in (`prompt=login`, `max_age`, `acr_values`) when a
 * request needs step-up. The ID token that comes back is then verified by the
 * deployment's {@link TokenVerifier} (issuer, audience, signature against the
 * rotating JWKS, times, nonce) and becomes the session's {@link SignIn}.
 */
import * as client from 'openid-client';
import type { SignIn, StepUpRequirement, TokenVerifier } from '../identity/contract.js';
import { LOGIN_TTL_SECONDS, type LoginState, safeReturnPath } from './session.js';

/** The two halves of a sign-in, as the inbox's routes use them. */
export interface SignInFlow {
  /** Where to send the browser, and what to remember until the callback. */
  start(
    options: { returnTo: string; stepUp?: StepUpRequirement },
    nowSeconds: number,
  ): Promise<{
    url: string;
    login: LoginState;
  }>;
  /** Exchanges the callback's code (state, PKCE and nonce checked) and verifies the ID token. */
  finish(callbackUrl: URL, login: LoginState): Promise<SignIn>;
}

/** Settings of {@link openIdSignIn}. */
export interface OpenIdSettings {
  /** The IdP's issuer URL (discovery at `<issuer>/.well-known/openid-configuration`). */
  issuer: string;
  clientId: string;
  /** Loads the client secret (from Secrets Manager); undefined for a public client. */
  clientSecret: () => Promise<string | undefined>;
  /** The inbox's callback URL, registered with the IdP. */
  redirectUri: string;
  /** @default 'openid email profile' */
  scope?: string;
  /** `acr_values` asked for on a step-up sign-in (the IdP's name for the strength policy requires). */
  stepUpAcr?: string;
  /** Verifies the ID token the IdP returns. */
  verifier: TokenVerifier;
  /** Allows an `http:` issuer (the local IdP on 127.0.0.1 only). @default false */
  allowHttpIssuer?: boolean;
}

/** The flow over openid-client; the IdP's metadata is discovered once and kept. */
export function openIdSignIn(settings: OpenIdSettings): SignInFlow {
  let discovered: Promise<client.Configuration> | undefined;
  const configuration = () => {
    discovered ??= (async () => {
      const secret = await settings.clientSecret();
      const config = await client.discovery(
        new URL(settings.issuer),
        settings.clientId,
        secret ? { client_secret: secret } : undefined,
        secret ? client.ClientSecretPost(secret) : client.None(),
        settings.allowHttpIssuer ? { execute: [client.allowInsecureRequests] } : undefined,
      );
      return config;
    })();
    // A failed discovery is tried again on the next sign-in, never cached.
    discovered.catch(() => {
      discovered = undefined;
    });
    return discovered;
  };
  return {
    async start({ returnTo, stepUp }, nowSeconds) {
      const config = await configuration();
      const codeVerifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const params: Record<string, string> = {
        redirect_uri: settings.redirectUri,
        scope: settings.scope ?? 'openid email profile',
        response_type: 'code',
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      };
      if (stepUp) {
        params.prompt = 'login';
        params.max_age = String(stepUp.maxAgeSeconds);
        if (settings.stepUpAcr) params.acr_values = settings.stepUpAcr;
      }
      return {
        url: client.buildAuthorizationUrl(config, params).href,
        login: {
          state,
          nonce,
          codeVerifier,
          returnTo: safeReturnPath(returnTo),
          ...(stepUp ? { maxAge: stepUp.maxAgeSeconds } : {}),
          expiresAt: nowSeconds + LOGIN_TTL_SECONDS,
        },
      };
    },
    async finish(callbackUrl, login) {
      const config = await configuration();
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: login.codeVerifier,
        expectedState: login.state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
        ...(login.maxAge !== undefined ? { maxAge: login.maxAge } : {}),
      });
      if (!tokens.id_token) throw new Error('the IdP returned no ID token');
      return settings.verifier.verifyIdToken(tokens.id_token, { nonce: login.nonce });
    },
  };
}
