/**
 * Emails as identities. Who counts as "self" (the agent's owner, the human it
 * acts for) and who is a named approver or responder is decided by comparing
 * emails, so every such comparison goes through {@link canonicalEmail}:
 *
 * 1. NFC, trimmed, lower-cased (local part too: mail providers treat it
 *    case-insensitively, and folding errs toward "same person", the safe side
 *    for a self-approval check);
 * 2. only printable ASCII: a non-ASCII local part or domain (Unicode
 *    lookalikes such as a Cyrillic `а`, invisible or bidi characters) is
 *    refused as an identity, never folded into a lookalike;
 * 3. punycode (`xn--`) domain labels are refused unless the domain is listed
 *    in `punycodeDomains`;
 * 4. sub-addressing removed: `erin+bot@…` is `erin@…` for every domain in
 *    `subaddressDomains` (`*`, the default, means every domain: Google,
 *    Microsoft 365, Fastmail, Proton and most hosted mail deliver `+tag` to the
 *    base mailbox, and treating a tagged address as its base can only make
 *    more people "self", never fewer).
 *
 * Dots in the local part are kept (`first.last` and `firstlast` are distinct
 * mailboxes at most providers).
 */

/** How emails compare; set per deployment (`countersign.emailIdentity`). */
export interface EmailRules {
  /** Domains whose `+tag` is removed; `*` means every domain. */
  readonly subaddressDomains: readonly string[];
  /** Punycode (`xn--`) domains accepted as identities; none by default. */
  readonly punycodeDomains: readonly string[];
}

/** The default rules: sub-addressing removed for every domain, no punycode domain accepted. */
export const DEFAULT_EMAIL_RULES: EmailRules = { subaddressDomains: ['*'], punycodeDomains: [] };

/** Environment variable carrying the deployment's {@link EmailRules} as JSON. */
export const EMAIL_RULES_ENV = 'COUNTERSIGN_EMAIL_RULES';

/** The result of {@link canonicalEmail}. */
export type CanonicalEmail = { ok: true; email: string } | { ok: false; reason: string };

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const LOCAL = /^[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/;
/** A domain name as configuration may list it (ASCII, lower-case, at least one dot). */
export const DOMAIN_NAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * The canonical form of an email used as an identity, or why it cannot be one.
 *
 * @param raw the email as received (intent field, Slack profile, policy annotation)
 * @param rules the deployment's rules; {@link emailRules} by default
 */
export function canonicalEmail(raw: unknown, rules: EmailRules = emailRules()): CanonicalEmail {
  if (typeof raw !== 'string') return { ok: false, reason: 'is not a string' };
  const text = raw.normalize('NFC').trim();
  const foreign = /[^\x21-\x7e]/u.exec(text)?.[0];
  if (foreign !== undefined) {
    return {
      ok: false,
      reason: `contains ${codePoint(foreign)}; only ASCII emails are accepted as identities (internationalised and lookalike addresses are refused)`,
    };
  }
  const lower = text.toLowerCase();
  const at = lower.lastIndexOf('@');
  if (at <= 0 || lower.indexOf('@') !== at) return { ok: false, reason: 'is not an email address' };
  let local = lower.slice(0, at);
  const domain = lower.slice(at + 1);
  if (!LOCAL.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    return { ok: false, reason: 'has a local part Countersign does not accept as an identity' };
  }
  const labels = domain.split('.');
  if (domain.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l))) {
    return { ok: false, reason: `has an invalid domain "${domain}"` };
  }
  if (labels.some((l) => l.startsWith('xn--')) && !rules.punycodeDomains.includes(domain)) {
    return {
      ok: false,
      reason: `has the punycode domain "${domain}"; internationalised domains are refused as identities unless configured (emailIdentity.punycodeDomains)`,
    };
  }
  if (rules.subaddressDomains.includes('*') || rules.subaddressDomains.includes(domain)) {
    local = local.split('+', 1)[0]!;
    if (local === '') return { ok: false, reason: 'has an empty mailbox before "+"' };
  }
  return { ok: true, email: `${local}@${domain}` };
}

/**
 * True when both emails are canonical and the same identity. An email that is
 * not acceptable as an identity equals nothing; callers that must fail closed
 * (a self check) use {@link canonicalEmail} and refuse on `ok: false`.
 */
export function sameIdentity(a: unknown, b: unknown, rules: EmailRules = emailRules()): boolean {
  const x = canonicalEmail(a, rules);
  const y = canonicalEmail(b, rules);
  // Stryker disable next-line LogicalOperator: a refused email has no canonical form, so it equals no accepted one
  return x.ok && y.ok && x.email === y.email;
}

/** Parses {@link EmailRules} JSON; throws naming what is wrong. */
export function parseEmailRules(json: string): EmailRules {
  const value = JSON.parse(json) as Partial<EmailRules>;
  const list = (name: keyof EmailRules, allowStar: boolean) => {
    const v = value[name] ?? DEFAULT_EMAIL_RULES[name];
    if (
      !Array.isArray(v) ||
      !v.every((d) => (allowStar && d === '*') || (typeof d === 'string' && DOMAIN_NAME.test(d)))
    ) {
      throw new Error(
        `${EMAIL_RULES_ENV}.${name} must be a list of lower-case domain names${allowStar ? ' or "*"' : ''}`,
      );
    }
    return v as string[];
  };
  return {
    subaddressDomains: list('subaddressDomains', true),
    punycodeDomains: list('punycodeDomains', false),
  };
}

let configured: EmailRules | undefined;

/** The deployment's rules from `COUNTERSIGN_EMAIL_RULES`, or the defaults when it is unset; read once. */
export function emailRules(): EmailRules {
  if (!configured) {
    const raw = process.env[EMAIL_RULES_ENV];
    configured = raw && raw.trim() !== '' ? parseEmailRules(raw) : DEFAULT_EMAIL_RULES;
  }
  return configured;
}
