/**
 * Masking of intent parameters before they reach Slack (or any other place a
 * person reads them). Two layers:
 * 1. the dot paths the matching review policies list in `@mask(...)`;
 * 2. anything that looks like a secret, wherever it is: AWS access key ids,
 *    values under secret-sounding keys, PEM private keys, bearer/basic
 *    credentials, Slack/GitHub/Stripe/npm/Google-style tokens, JWTs, passwords
 *    inside URLs and `Password=` pairs in connection strings.
 * The input is never mutated; the full intent stays in the audit trail.
 */

/** What a masked value (or the secret part of a string) becomes. */
export const MASK = '****';

/** Keys whose values are secrets, whatever they look like. */
const SECRET_KEY =
  /(secret|passw(or)?d|^pwd$|token|api[-_]?key|private[-_]?key|credential|authorization|cookie)/i;
/** Keys that name or point at a secret rather than hold one (`secretId`, `tokenArn`, `passwordPolicyName`). */
const REFERENCE_KEY = /(id|ids|arn|arns|name|names|policy|length|count|expiry|expiresAt|ttl|type)$/i;

/** Patterns replaced inside any string. Order matters: whole blocks before their parts. */
const TEXT_RULES: Array<{ pattern: RegExp; replace: string }> = [
  // pem-private-key
  {
    pattern: /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(-----END \1PRIVATE KEY-----|$)/g,
    replace: MASK,
  },
  // url-password
  {
    pattern: /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@?#]+):([^\s@/?#]+)@/gi,
    replace: `$1:${MASK}@`,
  },
  // aws-secret-access-key
  {
    // An `aws_` in front is kept as it is, like the rest of the name.
    pattern: /(secret_?access_?key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]{40}/gi,
    replace: `$1${MASK}`,
  },
  // aws-access-key-id
  {
    pattern: /\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b/g,
    replace: MASK,
  },
  // http-auth
  { pattern: /\b(Bearer|Basic|Token)\s+[A-Za-z0-9\-._~+/]{8,}=*/g, replace: `$1 ${MASK}` },
  // slack-token
  { pattern: /\bxox[abposre]-[A-Za-z0-9-]{8,}/g, replace: MASK },
  // slack-app-token
  { pattern: /\bxapp-[A-Za-z0-9-]{8,}/g, replace: MASK },
  // github-token
  {
    pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g,
    replace: MASK,
  },
  // stripe-key
  { pattern: /\b[rsp]k_(?:live|test)_[A-Za-z0-9]{10,}/g, replace: MASK },
  // npm-token
  { pattern: /\bnpm_[A-Za-z0-9]{30,}/g, replace: MASK },
  // google-api-key
  { pattern: /\bAIza[0-9A-Za-z_-]{35}\b/g, replace: MASK },
  // jwt
  { pattern: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, replace: MASK },
  // connection-string-password
  {
    pattern: /\b(password|pwd|passwd)(\s*=\s*)("[^"]*"|'[^']*'|[^;\s&]+)/gi,
    replace: `$1$2${MASK}`,
  },
];

/** Masks the secret-looking parts of a string; returns it unchanged when nothing matches. */
export function maskText(text: string): string {
  let out = text;
  for (const rule of TEXT_RULES) out = out.replace(rule.pattern, rule.replace);
  return out;
}

/** True when a key's value should be hidden whatever it looks like. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !REFERENCE_KEY.test(key);
}

/** Whether a value under a secret key holds something to hide (an absent or empty secret is worth seeing). */
const holdsSecret = (value: unknown) => value !== null && value !== undefined && value !== '';

function maskDeep(value: unknown): unknown {
  if (typeof value === 'string') return maskText(value);
  if (Array.isArray(value)) return value.map((v) => maskDeep(v));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = isSecretKey(k) && holdsSecret(v) ? MASK : maskDeep(v);
    return out;
  }
  return value;
}

function maskPath(value: unknown, segments: string[]): unknown {
  if (segments.length === 0) return MASK;
  if (Array.isArray(value)) return value.map((v) => maskPath(v, segments));
  if (value === null || typeof value !== 'object') return value;
  const [head, ...rest] = segments;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const k of Object.keys(out)) {
    if (head === '*' || head === k) out[k] = maskPath(out[k], rest);
  }
  return out;
}

/**
 * Returns a copy of `parameters` with every configured path masked and every
 * secret-looking value masked. Paths are dot paths into `parameters`
 * (`password`, `db.connectionString`, `users.*.token`; `*` matches any key; a
 * path crossing an array applies to each element); a leading `parameters.` is
 * accepted and ignored. A masked path's whole value becomes {@link MASK}.
 */
export function maskParameters(
  parameters: Record<string, unknown>,
  paths: readonly string[],
): Record<string, unknown> {
  let out = maskDeep(parameters ?? {}) as Record<string, unknown>;
  for (const path of paths) {
    const relative =
      path.startsWith('parameters.') && !('parameters' in (parameters ?? {})) ? path.slice(11) : path;
    const segments = relative.split('.').filter((s) => s.length > 0);
    if (segments.length > 0) out = maskPath(out, segments) as Record<string, unknown>;
  }
  return out;
}
