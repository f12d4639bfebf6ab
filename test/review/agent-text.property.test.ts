/**
 * Properties of the agent-text renderers over arbitrary strings (fast-check,
 * full Unicode including controls, bidi and astral characters): every visible
 * form reads back to the value (or a declared prefix of it), never carries a
 * raw hidden character, a backtick inside a fence or a span, a raw `<`/`>`,
 * and never exceeds its budget.
 */
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  codeJson,
  codeValue,
  fencedJson,
  inlineValue,
  plainValue,
  unescapeEntities,
  unreveal,
} from '../../lambdas/shared/agent-text.js';
import { RAW_HIDDEN } from '../support/inert.js';

const tricky = fc.constantFrom(
  '`',
  '```',
  '\\',
  '\\u202E',
  '\u202E',
  '\u200B',
  '\uFEFF',
  '\n',
  '\r',
  '\t',
  ' ',
  '<',
  '>',
  '&',
  '&lt;',
  '*',
  '_',
  '~',
  ':white_check_mark:',
  '<!channel>',
  '\u{E0041}',
  '😀',
);
/**
 * JSON.parse in a fresh realm. Node 24's JSON.parse (V8 13.6) reuses the
 * property transitions earlier parses left on the realm's object map, and
 * reads a one-character escaped key (`"\\u0060"`, `"\\n"`) as `"\\"` once
 * any earlier object in the same realm had the key `"\\"` at that position.
 * The fenced text is right (a fresh process parses it back); reading it in a
 * realm no earlier case touched keeps this property about the renderer.
 */
const parseFresh = (text: string): unknown => runInNewContext('JSON.parse(text)', { text });

const hostileString = fc
  .array(fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), tricky), { maxLength: 40 })
  .map((parts) => parts.join(''));

describe('agent-text renderers (property-based)', () => {
  it('plain_text reads back to the value or a declared prefix, within budget, no raw hidden character', () => {
    fc.assert(
      fc.property(hostileString, fc.integer({ min: 1, max: 120 }), (value, max) => {
        const shown = plainValue(value, max);
        const text = shown.value.text === ' ' && value !== ' ' ? '' : shown.value.text;
        expect(text.length).toBeLessThanOrEqual(Math.max(max, 1));
        expect(RAW_HIDDEN.test(text)).toBe(false);
        const back = unreveal(text, 'line');
        if (shown.cut) expect(value.startsWith(back)).toBe(true);
        else expect(back).toBe(value);
        expect(shown.value.emoji).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('a code fence cannot be closed by the value, reads back, stays within budget', () => {
    fc.assert(
      fc.property(hostileString, fc.integer({ min: 10, max: 200 }), (value, max) => {
        const shown = codeValue(value, max);
        expect(shown.value.length).toBeLessThanOrEqual(max);
        const inner = shown.value.slice(3, -3);
        expect(inner).not.toMatch(/[`<>]/);
        expect(inner).not.toMatch(/&(?!amp;|lt;|gt;)/);
        expect(RAW_HIDDEN.test(inner.replace(/[\n\t]/g, ''))).toBe(false);
        const back = unreveal(unescapeEntities(inner), 'lines');
        // Nothing fits: the fence holds one placeholder space and the cut says 0 characters are shown.
        if (shown.cut?.shown === 0) expect(inner).toBe(' ');
        else if (shown.cut) expect(value.startsWith(back)).toBe(true);
        else expect(back === value || (value === '' && back === ' ')).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('an inline span is one code span on one line that reads back to the value', () => {
    fc.assert(
      fc.property(hostileString, (value) => {
        const span = inlineValue(value, 1000);
        expect(span).not.toContain('\n');
        if (value === '') return;
        const match = /^`([^`]+)`/.exec(span);
        expect(match).not.toBeNull();
        expect(match![1]).not.toMatch(/^ | $|[<>]/);
        expect(unreveal(unescapeEntities(match![1]!), 'line')).toBe(value);
      }),
      { numRuns: 500 },
    );
  });

  it('fenced JSON parses back to the parameters, keys included', () => {
    fc.assert(
      fc.property(fc.dictionary(hostileString, fc.oneof(hostileString, fc.integer())), (parameters) => {
        const shown = codeJson(parameters, 1_000_000);
        const inner = shown.value.slice(3, -3);
        expect(inner).not.toMatch(/[`<>]/);
        expect(parseFresh(unescapeEntities(inner))).toEqual(parameters);
      }),
      { numRuns: 300 },
    );
  });

  it('fenced JSON keeps one-character keys that need escaping apart (backslash, backtick, newline)', () => {
    // The sequence Node 24's JSON.parse gets wrong in one realm: a lone-backslash key, then escaped one-character keys.
    for (const parameters of [
      { '\\': 'a' },
      { '`': 'b' },
      { '\n': 'c' },
      { '': '', '\\': 'd' },
      { '': '', '`': 'e' },
    ]) {
      const inner = codeJson(parameters, 1_000_000).value.slice(3, -3);
      expect(parseFresh(unescapeEntities(inner))).toEqual(parameters);
    }
  });
});

describe('fenced JSON', () => {
  it('keeps JSON’s own two-space layout, one member per line', () => {
    expect(codeJson({ rowLimit: 10, table: 'users' }, 1000)).toEqual({
      value: '```{\n  "rowLimit": 10,\n  "table": "users"\n}```',
      hidden: false,
    });
  });

  it('says when a value holds a hidden character, and not for a backtick', () => {
    const hidden = fencedJson({ note: 'a\u202Eb' });
    expect(hidden.hidden).toBe(true);
    expect(hidden.tokens.join('')).toContain('"a\\u202Eb"');
    expect(fencedJson({ note: 'a`b' })).toEqual({
      tokens: expect.arrayContaining(['\\u0060']),
      hidden: false,
    });
  });

  it('writes a hidden astral character as its two JSON escapes', () => {
    const shown = fencedJson({ tag: '\u{E0041}' }).tokens.join('');
    expect(shown).toContain('"\\uDB40\\uDC41"');
    expect(JSON.parse(shown)).toEqual({ tag: '\u{E0041}' });
  });

  it('fits the whole fence, backticks included, within its budget', () => {
    const shown = codeJson({ query: 'x'.repeat(200) }, 50);
    expect(shown.value.length).toBeLessThanOrEqual(50);
    expect(shown.value.length).toBeGreaterThan(40);
    expect(shown.cut).toBeDefined();
  });

  it('shows nothing to show as null', () => {
    expect(codeJson(undefined, 100).value).toBe('```null```');
  });
});
