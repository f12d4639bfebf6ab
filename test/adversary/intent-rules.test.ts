/**
 * The rules behind the adversary cases, at unit level: the strict JSON
 * scanner, the intent data rules and the signing-secret rule, each with the
 * input that used to pass and now gets a reason.
 */
import { describe, expect, it } from 'vitest';
import { intentHash } from '../../lambdas/shared/canonical.js';
import { intentDataProblem, MAX_INTENT_DEPTH, parseIntent } from '../../lambdas/shared/intent.js';
import { signingSecretProblem, slackSecretLoader } from '../../lambdas/shared/slack-secret.js';
import { parseStrictJson } from '../../lambdas/shared/strict-json.js';
import { main as startSandbox } from '../../sandbox/start.js';
import { makeIntent } from '../support/fixtures.js';

describe('strict JSON', () => {
  it.each([
    ['{"a":1,"a":2}', /duplicate key "a" at \(root\)/],
    ['{"p":{"role":"x","\\u0072ole":"y"}}', /duplicate key "role" at p/],
    ['{"p":[{"k":1},{"k":1,"k":2}]}', /duplicate key "k" at p\[1\]/],
    ['{"a":', /not valid JSON/],
  ])('%s is refused with %s', (text, reason) => {
    const result = parseStrictJson(text);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(reason);
  });

  it('accepts equal keys in different objects and strings that look like keys', () => {
    expect(parseStrictJson('{"a":{"a":1},"b":"\\"a\\":2","c":[{"a":1},{"a":2}]}')).toEqual({
      ok: true,
      value: { a: { a: 1 }, b: '"a":2', c: [{ a: 1 }, { a: 2 }] },
    });
  });

  it('refuses 100,000 levels with a reason instead of overflowing the stack', () => {
    const text = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const result = parseStrictJson(text);
    expect(!result.ok && result.reason).toMatch(/nested deeper than 1000 levels/);
    expect(parseStrictJson(text, { maxDepth: 100_000 }).ok).toBe(true);
  });
});

describe('intent data rules', () => {
  const withParameters = (parameters: unknown) => ({ ...makeIntent(), parameters });
  const nest = (levels: number) => {
    let value: unknown = 'x';
    for (let i = 0; i < levels; i++) value = { a: value };
    return value;
  };

  it('a __proto__ key was silently dropped from the hash; now it is refused', () => {
    const detail = JSON.parse(
      JSON.stringify(makeIntent()).replace('"parameters":{', '"parameters":{"__proto__":{"admin":true},'),
    );
    expect(Object.keys(detail.parameters)).toContain('__proto__');
    const result = parseIntent(detail);
    expect(result).toEqual({
      ok: false,
      reason: expect.stringMatching(/parameters: key "__proto__" is refused/),
    });
  });

  it.each([
    [
      'constructor deep inside',
      withParameters({ a: [{ b: { constructor: 1 } }] }),
      /parameters\.a\[0\]\.b: key "constructor"/,
    ],
    ['prototype', withParameters({ prototype: 1 }), /key "prototype" is refused/],
    ['an empty key', withParameters({ '': 1 }), /empty keys are refused/],
    ['a 257-character key', withParameters({ k: { ['k'.repeat(257)]: 1 } }), /longer than 256/],
    ['NUL', withParameters({ a: 'x\u0000y' }), /NUL character/],
    ['a lone surrogate', withParameters({ a: 'x\ud800' }), /unpaired UTF-16 surrogate/],
    ['Infinity', withParameters({ a: Number.POSITIVE_INFINITY }), /not finite/],
    ['2^53', withParameters({ a: 2 ** 53 }), /beyond ±2\^53−1/],
    ['1e-131', withParameters({ a: 1e-131 }), /smaller in magnitude/],
    ['25 levels', withParameters(nest(MAX_INTENT_DEPTH)), /nested deeper than 24 levels/],
  ])('%s is refused with a reason naming where', (_name, detail, reason) => {
    expect(intentDataProblem(detail)).toMatch(reason);
  });

  it('accepts the boundaries: 24 levels, ±2^53−1, 1e-130, a surrogate pair, emoji keys', () => {
    const detail = withParameters({
      deep: nest(MAX_INTENT_DEPTH - 2),
      max: Number.MAX_SAFE_INTEGER,
      min: -Number.MAX_SAFE_INTEGER,
      small: 1e-130,
      pair: 'rocket 🚀',
      '🔑': true,
    });
    expect(intentDataProblem(detail)).toBeUndefined();
    const parsed = parseIntent(detail);
    expect(parsed.ok && intentHash(parsed.intent)).toBe(intentHash(detail));
  });

  it('checks 100,000 levels without recursion', () => {
    let value: unknown = 1;
    for (let i = 0; i < 100_000; i++) value = [value];
    expect(parseIntent(withParameters({ deep: value }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/nested deeper than 24 levels/),
    });
  });
});

describe('Slack signing secret rule: at least 32 characters, no whitespace', () => {
  it.each([
    ['short', /has 5 characters; a Slack signing secret has 32/],
    ['0123456789abcdef0123456789abcde', /has 31 characters/],
    ['0123456789abcdef0123456789abcdef\n', /whitespace/],
  ])('%j is refused', (secret, reason) => {
    expect(signingSecretProblem(secret)).toMatch(reason);
  });

  it('accepts a Slack-shaped secret (32 hex characters)', () => {
    expect(signingSecretProblem('8f742231b10e8888abcd99yyyzzz85a5'.replace(/[yz]/g, 'a'))).toBeUndefined();
  });

  it('the handlers refuse a short secret at their first (cold) read, naming the rule', async () => {
    const client = {
      send: async () => ({ SecretString: JSON.stringify({ botToken: 'xoxb-1', signingSecret: 'abc' }) }),
    };
    const load = slackSecretLoader(client as never, 'countersign/slack');
    await expect(load()).rejects.toThrow(/signingSecret has 3 characters; a Slack signing secret has 32/);
  });

  it('the sandbox does not start with a short SLACK_SIGNING_SECRET', async () => {
    await expect(
      startSandbox([], { SLACK_SIGNING_SECRET: 'secret', COUNTERSIGN_DATA_DIR: '/nonexistent-countersign' }),
    ).rejects.toThrow(/SLACK_SIGNING_SECRET refused: signingSecret has 6 characters/);
  });
});
