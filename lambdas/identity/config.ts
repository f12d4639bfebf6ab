/**
 * The identity provider's configuration: one zod schema read by the stack's
 * config (`countersign.identityProvider`, see lib/config.ts) and, as JSON in
 * {@link IDENTITY_PROVIDER_ENV}, by every function that verifies a token or
 * links a chat user to the IdP. Only the client secret's Secrets Manager ARN
 * or name is configuration; the secret itself never is.
 */
import { z } from 'zod';

/** Environment variable holding the validated configuration as JSON. */
export const IDENTITY_PROVIDER_ENV = 'COUNTERSIGN_IDENTITY_PROVIDER';

/** Longest clock skew accepted between the IdP and Lambda. */
export const MAX_CLOCK_TOLERANCE_SECONDS = 300;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** An https URL, or http on a loopback host (the local sandbox provider). */
const issuerUrl = z
  .string({ error: 'must be the issuer URL, e.g. https://example.okta.com' })
  .refine((value) => {
    const url = URL.parse(value);
    if (!url || url.search || url.hash || url.username || url.password) return false;
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
  }, 'must be an https URL without query or fragment (http only on 127.0.0.1 or localhost)');

/** A Secrets Manager secret ARN or name: never the secret's value. */
const secretReference = z
  .string({ error: 'must be a Secrets Manager secret ARN or name' })
  .refine(
    (v) =>
      /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/.test(v) ||
      /^[A-Za-z0-9/_+=.@-]{1,512}$/.test(v),
    'must be a Secrets Manager secret ARN or name (the secret itself never goes in configuration)',
  );

/** The schema of `countersign.identityProvider`. */
export const identityProviderSchema = z
  .object({
    /** The IdP's issuer: tokens' `iss` must equal it exactly; its discovery document names the key set. */
    issuer: issuerUrl,
    /** Countersign's OpenID client id at the IdP: the audience of ID tokens. */
    clientId: z
      .string({ error: 'must be the OpenID client id' })
      .regex(/^[\x21-\x7e]{1,200}$/, 'must be the OpenID client id (printable ASCII, no spaces)'),
    /** Secrets Manager ARN or name of the client secret (the web sign-in's code exchange). */
    clientSecretId: secretReference.optional(),
    /** Audience of access tokens presented to the approval API; no API tokens are accepted without it. */
    apiAudience: z
      .string({ error: 'must be the approval API audience' })
      .regex(/^[\x21-\x7e]{1,400}$/, 'must be the approval API audience (printable ASCII, no spaces)')
      .optional(),
    /** The key set's URL when the discovery document must not be used. @default the discovery document's `jwks_uri` */
    jwksUri: issuerUrl.optional(),
    /** The token claim holding the person's group names. Ignored when {@link identityStoreId} is set. */
    groupsClaim: z
      .string({ error: 'must be a claim name' })
      .regex(/^[A-Za-z0-9_:./-]{1,100}$/, 'must be a claim name like groups')
      .default('groups'),
    /**
     * IAM Identity Center identity store id (`d-` and ten hex digits): groups
     * come from its group memberships (for organisations that sync Okta or
     * Entra ID into it by SCIM) instead of a claim.
     */
    identityStoreId: z
      .string({ error: 'must be an identity store id like d-1234567890' })
      .regex(/^d-[0-9a-f]{10}$|^[0-9a-f-]{36}$/, 'must be an identity store id like d-1234567890')
      .optional(),
    /** Region of the identity store. @default the function's region */
    identityStoreRegion: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region like eu-west-1')
      .optional(),
    /**
     * How a signed-in person is found in the identity store: by primary email,
     * or by the SCIM `externalId` (the IdP's subject) issued by {@link issuer}.
     */
    identityStoreMatch: z.enum(['email', 'externalId']).default('email'),
    /** Allowed clock skew on `exp`, `nbf` and `iat`, in seconds. */
    clockToleranceSeconds: z
      .preprocess(
        (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
        z
          .number({ error: `must be an integer number of seconds from 0 to ${MAX_CLOCK_TOLERANCE_SECONDS}` })
          .int(`must be an integer number of seconds from 0 to ${MAX_CLOCK_TOLERANCE_SECONDS}`)
          .min(0, `must be an integer number of seconds from 0 to ${MAX_CLOCK_TOLERANCE_SECONDS}`)
          .max(
            MAX_CLOCK_TOLERANCE_SECONDS,
            `must be an integer number of seconds from 0 to ${MAX_CLOCK_TOLERANCE_SECONDS}`,
          ),
      )
      .default(60),
  })
  .strict();

/** A validated identity provider configuration. */
export type IdentityProviderConfig = z.output<typeof identityProviderSchema>;

/**
 * Reads {@link IDENTITY_PROVIDER_ENV}: the configuration, or undefined when no
 * IdP is configured.
 *
 * @throws Error naming the variable and the offending key when the JSON is invalid
 */
export function identityProviderFromEnv(
  env: Record<string, string | undefined> = process.env,
): IdentityProviderConfig | undefined {
  const raw = env[IDENTITY_PROVIDER_ENV];
  if (raw === undefined || raw === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(`${IDENTITY_PROVIDER_ENV} must be JSON`);
  }
  const parsed = identityProviderSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${IDENTITY_PROVIDER_ENV}.${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}
