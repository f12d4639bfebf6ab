/**
 * The seam between the company's identity provider and every channel that
 * lets a signed-in person act on a review (the web inbox, the approval API,
 * and the step-up page a chat card links to).
 *
 * A channel's inbound verifier turns a presented token into a {@link SignIn}
 * (or refuses it with a {@link TokenRefused}); the channel then hands the
 * review core a `ChannelActor` carrying that sign-in. The core never sees a
 * token: it reads the verified facts, records them on the vote, and compares
 * them with a request's {@link StepUpRequirement}.
 */

/** A person as the IdP vouched for them in one verified token. */
export interface SignIn {
  /** The token's `iss`, exactly as configured (compared as a string). */
  issuer: string;
  /** The token's `sub`: stable for this person at this issuer. */
  subject: string;
  /** Canonical email (see ../shared/email.ts); what "self" and approver checks compare. */
  email: string;
  /** Whether the IdP asserted the email as verified (`email_verified`). An unverified email never identifies an approver. */
  emailVerified: boolean;
  /** Display name (`name`), when the IdP sent one. */
  name?: string;
  /** Group names from the configured groups claim or the identity store: the names Cedar policies read. */
  groups: string[];
  /** Authentication methods (`amr`), as sent (empty when absent). */
  amr: string[];
  /** Authentication context class (`acr`), when sent. */
  acr?: string;
  /** When the person last actively authenticated (`auth_time`), epoch seconds. */
  authTime?: number;
  /** How the token reached us: an ID token behind a web session, or an API bearer (access) token. */
  via: 'session' | 'bearer';
}

/**
 * What a vote, a decision and an audit record keep of a sign-in: whose it was
 * (issuer and subject) and how strong and fresh it was. Email and groups are
 * recorded elsewhere on the vote; tokens never are.
 */
export interface SignInRef {
  issuer: string;
  subject: string;
  amr: string[];
  acr?: string;
  authTime?: number;
}

/** The facts of a sign-in a vote records. */
export function signInRef(signIn: SignIn): SignInRef {
  return {
    issuer: signIn.issuer,
    subject: signIn.subject,
    amr: [...signIn.amr],
    ...(signIn.acr !== undefined ? { acr: signIn.acr } : {}),
    ...(signIn.authTime !== undefined ? { authTime: signIn.authTime } : {}),
  };
}

/**
 * What a high-risk request needs of an approver's sign-in before an approval
 * counts (a policy's `@stepup` annotation). Deny never needs it.
 */
export interface StepUpRequirement {
  /** Authentication methods, any one of which satisfies the requirement (e.g. `["mfa"]`, `["hwk", "swk"]`). */
  amr: string[];
  /** Longest time between the sign-in (`auth_time`) and the vote. */
  maxAgeSeconds: number;
  /**
   * Further method lists, each of which must also be met (one method of each):
   * what several matching policies with different methods combine to.
   */
  allOf?: string[][];
}

/** Why a token was refused: a stable code for audit records and tests, and a sentence for a 401 body. */
export type TokenRefusalCode =
  | 'missing'
  | 'malformed'
  | 'bad-signature'
  | 'unknown-key'
  | 'wrong-issuer'
  | 'wrong-audience'
  | 'expired'
  | 'not-yet-valid'
  | 'wrong-nonce'
  | 'missing-claim'
  | 'unverified-email'
  /** The IdP (its key set, its identity store) could not be reached: refused, never waved through. */
  | 'unavailable';

/** A presented token that did not verify. Nothing is changed on its account. */
export class TokenRefused extends Error {
  override readonly name = 'TokenRefused';
  constructor(
    readonly code: TokenRefusalCode,
    message: string,
  ) {
    super(message);
  }
}

/** Verifies the IdP's tokens (signature against the issuer's rotating JWKS, issuer, audience, times with a small clock skew). */
export interface TokenVerifier {
  /** An ID token from the authorization-code flow this deployment started, bound to its `nonce`. */
  verifyIdToken(token: string, expected: { nonce: string }): Promise<SignIn>;
  /** An access token presented as `Authorization: Bearer` to the approval API (audience = the API). */
  verifyAccessToken(token: string): Promise<SignIn>;
}
