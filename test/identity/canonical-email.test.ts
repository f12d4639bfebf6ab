/** Emails as identities: one canonical form, lookalikes refused (lambdas/shared/email.ts). */
import { describe, expect, it, vi } from 'vitest';
import {
  canonicalEmail,
  DEFAULT_EMAIL_RULES,
  type EmailRules,
  parseEmailRules,
  sameIdentity,
} from '../../lambdas/shared/email.js';

const onlyExample: EmailRules = { subaddressDomains: ['example.com'], punycodeDomains: [] };
const withPunycode: EmailRules = { subaddressDomains: ['*'], punycodeDomains: ['xn--bcher-kva.example'] };

describe('canonicalEmail', () => {
  it.each([
    ['lower-cases the whole address', 'Carol@Example.COM', DEFAULT_EMAIL_RULES, 'carol@example.com'],
    ['trims', '  erin@example.com\t', DEFAULT_EMAIL_RULES, 'erin@example.com'],
    [
      'removes a +tag (default: every domain)',
      'erin+bot@example.com',
      DEFAULT_EMAIL_RULES,
      'erin@example.com',
    ],
    [
      'removes a +tag and folds case together',
      'Carol+X@EXAMPLE.com',
      DEFAULT_EMAIL_RULES,
      'carol@example.com',
    ],
    ['removes everything after the first +', 'erin+a+b@example.com', DEFAULT_EMAIL_RULES, 'erin@example.com'],
    ['removes a +tag for a listed domain', 'erin+bot@example.com', onlyExample, 'erin@example.com'],
    [
      'keeps + where the domain is not listed',
      'erin+bot@other.example',
      onlyExample,
      'erin+bot@other.example',
    ],
    ['keeps dots in the local part', 'first.last@example.com', DEFAULT_EMAIL_RULES, 'first.last@example.com'],
    [
      'accepts a configured punycode domain',
      'ann@xn--bcher-kva.example',
      withPunycode,
      'ann@xn--bcher-kva.example',
    ],
  ] as const)('%s', (_name, raw, rules, expected) => {
    expect(canonicalEmail(raw, rules)).toEqual({ ok: true, email: expected });
  });

  it.each([
    ['a Cyrillic а in the local part', 'c\u0430rol@example.com', /U\+0430.*only ASCII/],
    ['a Unicode domain', 'carol@ex\u00e4mple.com', /U\+00E4/],
    ['a zero-width space', 'carol\u200b@example.com', /U\+200B/],
    ['a right-to-left override', 'carol@example.com\u202e', /U\+202E/],
    ['NFC does not rescue a composed lookalike', 'caro\u006c\u0301@example.com', /U\+013A|U\+0301/],
    ['a punycode domain not configured', 'carol@xn--exmple-cua.com', /punycode domain "xn--exmple-cua.com"/],
    ['two @', 'a@b@example.com', /not an email/],
    ['no domain dot', 'carol@localhost', /invalid domain/],
    ['an empty mailbox before +', '+tag@example.com', /empty mailbox/],
    ['a quoted local part', '"carol"@example.com', /local part/],
    ['not a string', 42, /not a string/],
  ] as const)('refuses %s', (_name, raw, reason) => {
    const result = canonicalEmail(raw, DEFAULT_EMAIL_RULES);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toMatch(reason);
  });
});

describe('sameIdentity', () => {
  it.each([
    ['erin+bot@example.com', 'erin@example.com', true],
    ['Carol+x@Example.com', 'carol@example.com', true],
    ['carol@example.com', 'carl@example.com', false],
    ['c\u0430rol@example.com', 'carol@example.com', false],
    ['c\u0430rol@example.com', 'c\u0430rol@example.com', false], // unacceptable equals nothing, not even itself
    [undefined, undefined, false],
  ])('%s vs %s -> %s', (a, b, same) => {
    expect(sameIdentity(a, b, DEFAULT_EMAIL_RULES)).toBe(same);
  });
});

describe('parseEmailRules', () => {
  it('reads the rules and defaults what is missing', () => {
    expect(parseEmailRules('{"punycodeDomains":["xn--bcher-kva.example"]}')).toEqual({
      subaddressDomains: ['*'],
      punycodeDomains: ['xn--bcher-kva.example'],
    });
  });
  it('refuses a malformed list, naming it', () => {
    expect(() => parseEmailRules('{"subaddressDomains":["Not A Domain"]}')).toThrow(/subaddressDomains/);
  });
});

describe('canonicalEmail: the edges of an address', () => {
  const label63 = 'd'.repeat(63);
  it.each([
    ['a 64-character local part', `${'l'.repeat(64)}@example.com`],
    ['a 63-character domain label', `a@${label63}.com`],
    ['a one-character label', 'a@b.example'],
    ['hyphens inside a label', 'a@my-host.example'],
    ['a 253-character domain', `a@${[label63, label63, label63, 'd'.repeat(61)].join('.')}`],
    ['the printable specials of a local part', "a!#$%&'*/=?^_`{|}~-x@example.com"],
    ['a tab around it', '\tann@example.com\n'],
  ])('accepts %s', (_name, raw) => {
    expect(canonicalEmail(raw, DEFAULT_EMAIL_RULES).ok).toBe(true);
  });

  it.each([
    [
      'a 65-character local part',
      `${'l'.repeat(65)}@example.com`,
      'has a local part Countersign does not accept as an identity',
    ],
    [
      'a local part starting with a dot',
      '.ann@example.com',
      'has a local part Countersign does not accept as an identity',
    ],
    [
      'a local part ending with a dot',
      'ann.@example.com',
      'has a local part Countersign does not accept as an identity',
    ],
    ['two dots in a row', 'a..nn@example.com', 'has a local part Countersign does not accept as an identity'],
    [
      'a comma in the local part',
      'a,nn@example.com',
      'has a local part Countersign does not accept as an identity',
    ],
    ['nothing before @', '@example.com', 'is not an email address'],
    ['no @', 'ann.example.com', 'is not an email address'],
    ['a 64-character label', `a@${'d'.repeat(64)}.com`, `has an invalid domain "${'d'.repeat(64)}.com"`],
    ['a label starting with a hyphen', 'a@-x.example', 'has an invalid domain "-x.example"'],
    ['a label ending with a hyphen', 'a@x-.example', 'has an invalid domain "x-.example"'],
    ['an empty label', 'a@x..example', 'has an invalid domain "x..example"'],
    ['an underscore in the domain', 'a@x_y.example', 'has an invalid domain "x_y.example"'],
    [
      'a 254-character domain',
      `a@${[label63, label63, label63, 'd'.repeat(62)].join('.')}`,
      'has an invalid domain',
    ],
    [
      'a punycode label below the domain',
      'a@xn--bcher-kva.mail.example',
      'has the punycode domain "xn--bcher-kva.mail.example"',
    ],
  ])('refuses %s', (_name, raw, reason) => {
    const result = canonicalEmail(raw, DEFAULT_EMAIL_RULES);
    expect(result).toEqual({ ok: false, reason: expect.stringContaining(reason) });
  });

  it('names the first character that is not printable ASCII, as a code point', () => {
    expect(canonicalEmail('ann @example.com', DEFAULT_EMAIL_RULES)).toEqual({
      ok: false,
      reason:
        'contains U+0020; only ASCII emails are accepted as identities (internationalised and lookalike addresses are refused)',
    });
    expect(canonicalEmail('ann\u0007@example.com', DEFAULT_EMAIL_RULES)).toMatchObject({
      reason: expect.stringMatching(/^contains U\+0007;/),
    });
  });

  it('accepts a punycode domain only exactly as configured', () => {
    const rules: EmailRules = { subaddressDomains: [], punycodeDomains: ['xn--bcher-kva.example'] };
    expect(canonicalEmail('a@xn--bcher-kva.example', rules).ok).toBe(true);
    expect(canonicalEmail('a@mail.xn--bcher-kva.example', rules).ok).toBe(false);
  });

  it('keeps the +tag with no sub-addressing domain configured, even for "+" alone', () => {
    const none: EmailRules = { subaddressDomains: [], punycodeDomains: [] };
    expect(canonicalEmail('erin+bot@example.com', none)).toEqual({ ok: true, email: 'erin+bot@example.com' });
    expect(canonicalEmail('+@example.com', none)).toEqual({ ok: true, email: '+@example.com' });
  });
});

describe('parseEmailRules: what configuration may list', () => {
  it.each([
    [
      '"*" as a punycode domain',
      '{"punycodeDomains":["*"]}',
      /^COUNTERSIGN_EMAIL_RULES\.punycodeDomains must be a list of lower-case domain names$/,
    ],
    [
      'a list that is not a list',
      '{"subaddressDomains":"example.com"}',
      'COUNTERSIGN_EMAIL_RULES.subaddressDomains must be a list of lower-case domain names or "*"',
    ],
    ['a domain without a dot', '{"subaddressDomains":["localhost"]}', 'subaddressDomains'],
    ['a domain with text around it', '{"subaddressDomains":[" example.com"]}', 'subaddressDomains'],
    ['an upper-case domain', '{"punycodeDomains":["Example.com"]}', 'punycodeDomains'],
    [
      'a domain over 253 characters',
      `{"punycodeDomains":["${'d'.repeat(63)}.${'d'.repeat(63)}.${'d'.repeat(63)}.${'d'.repeat(63)}.com"]}`,
      'punycodeDomains',
    ],
  ])('refuses %s', (_name, json, message) => {
    expect(() => parseEmailRules(json)).toThrow(message);
  });

  it('refuses a domain hidden in a nested list', () => {
    expect(() => parseEmailRules('{"subaddressDomains":[["example.com"]]}')).toThrow(/subaddressDomains/);
  });

  it('accepts one-character and 63-character labels, and refuses a 64-character one', () => {
    expect(
      parseEmailRules(`{"punycodeDomains":["a.io","mail.x.io","${'d'.repeat(63)}.io"]}`).punycodeDomains,
    ).toHaveLength(3);
    expect(() => parseEmailRules(`{"punycodeDomains":["${'d'.repeat(64)}.io"]}`)).toThrow(/punycodeDomains/);
    expect(() => parseEmailRules('{"punycodeDomains":["a-.io"]}')).toThrow(/punycodeDomains/);
  });

  it("reads the deployment's rules from COUNTERSIGN_EMAIL_RULES once, and the defaults when it is blank", async () => {
    // Prepare: the rules are read once per module load, so load fresh copies under each environment.
    const before = process.env.COUNTERSIGN_EMAIL_RULES;
    try {
      vi.resetModules();
      process.env.COUNTERSIGN_EMAIL_RULES = '{"subaddressDomains":[]}';
      const configured = await import('../../lambdas/shared/email.js');
      const first = configured.canonicalEmail('erin+bot@example.com');
      process.env.COUNTERSIGN_EMAIL_RULES = '{"subaddressDomains":["*"]}';
      const again = configured.emailRules();
      vi.resetModules();
      process.env.COUNTERSIGN_EMAIL_RULES = '  ';
      const blank = await import('../../lambdas/shared/email.js');

      // Assess
      expect(first).toEqual({ ok: true, email: 'erin+bot@example.com' });
      expect(again.subaddressDomains).toEqual([]);
      expect(blank.emailRules()).toEqual(DEFAULT_EMAIL_RULES);
    } finally {
      if (before === undefined) delete process.env.COUNTERSIGN_EMAIL_RULES;
      else process.env.COUNTERSIGN_EMAIL_RULES = before;
      vi.resetModules();
    }
  });

  it('accepts "*" and domain names for sub-addressing, and reads empty JSON as the defaults', () => {
    expect(parseEmailRules('{"subaddressDomains":["*","mail.example.com"]}')).toEqual({
      subaddressDomains: ['*', 'mail.example.com'],
      punycodeDomains: [],
    });
    expect(parseEmailRules('{}')).toEqual(DEFAULT_EMAIL_RULES);
  });
});
