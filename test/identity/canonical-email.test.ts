/** Emails as identities: one canonical form, lookalikes refused (lambdas/shared/email.ts). */
import { describe, expect, it } from 'vitest';
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
