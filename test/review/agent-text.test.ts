/**
 * The agent-text renderers case by case, as the card, the modals, the Teams
 * card and the web inbox rely on them: which characters count as hidden and
 * how each is shown, when a backslash is doubled so the shown text reads back
 * to the value, how each layout writes newlines and tabs, the entity escapes
 * that keep mentions and links from forming, where a value is cut and how the
 * cut is declared, and the marks a label carries. The property tests
 * (agent-text.property.test.ts) cover arbitrary strings; these pin the exact
 * forms a reviewer reads.
 */
import { describe, expect, it } from 'vitest';
import {
  chunkTokens,
  codeLines,
  codeValue,
  escapeEntities,
  inlineValue,
  isHidden,
  marks,
  plainValue,
  revealTokens,
  unescapeEntities,
  unreveal,
} from '../../lambdas/shared/agent-text.js';

describe('isHidden', () => {
  it.each([
    ['a control character (Cc)', '\u0007'],
    ['a right-to-left override (Cf)', '\u202E'],
    ['a zero-width space (Cf)', '\u200B'],
    ['a line separator (Zl)', '\u2028'],
    ['a paragraph separator (Zp)', '\u2029'],
    ['the Hangul choseong filler', '\u115F'],
    ['the Hangul jungseong filler', '\u1160'],
    ['the Hangul filler', '\u3164'],
    ['the half-width Hangul filler', '\uFFA0'],
    ['the blank Braille pattern', '\u2800'],
    ['the object replacement character', '\uFFFC'],
    ['an astral tag character (Cf)', '\u{E0041}'],
  ])('counts %s as hidden', (_name, char) => {
    expect(isHidden(char)).toBe(true);
  });

  it.each([
    ['a letter', 'a'],
    ['a space', ' '],
    ['a backtick', '`'],
    ['a non-Latin letter', 'ж'],
    ['an emoji', '😀'],
    ['a visible Braille pattern', '\u2801'],
  ])('shows %s as itself', (_name, char) => {
    expect(isHidden(char)).toBe(false);
  });
});

describe('revealTokens', () => {
  it('gives one token per code point, a hidden one as its upper-case \\u escape, and says it hid one', () => {
    // Act
    const shown = revealTokens('a\u0007\u202Eb\u{E0041}😀', { layout: 'line' });

    // Assess
    expect(shown).toEqual({
      tokens: ['a', '\\u0007', '\\u202E', 'b', '\\u{E0041}', '😀'],
      hidden: true,
    });
  });

  it('says nothing was hidden in plain text', () => {
    expect(revealTokens('plain text', { layout: 'line' })).toEqual({
      tokens: Array.from('plain text'),
      hidden: false,
    });
  });

  it('writes newlines and tabs as \\n and \\t on one line, as themselves on several, and \\r always', () => {
    // Act
    const line = revealTokens('a\nb\tc\rd', { layout: 'line' });
    const lines = revealTokens('a\nb\tc\rd', { layout: 'lines' });

    // Assess
    expect(line).toEqual({ tokens: ['a', '\\n', 'b', '\\t', 'c', '\\r', 'd'], hidden: false });
    expect(lines).toEqual({ tokens: ['a', '\n', 'b', '\t', 'c', '\\r', 'd'], hidden: false });
  });

  it('shows backticks as \\u0060 only in code', () => {
    expect(revealTokens('a`b', { layout: 'line', code: true }).tokens).toEqual(['a', '\\u0060', 'b']);
    expect(revealTokens('a`b', { layout: 'line' }).tokens).toEqual(['a', '`', 'b']);
  });

  it('shows a leading and a trailing space as \\u0020 only when asked, and inner spaces as they are', () => {
    expect(revealTokens(' a b ', { layout: 'line', edges: true }).tokens).toEqual([
      '\\u0020',
      'a',
      ' ',
      'b',
      '\\u0020',
    ]);
    expect(revealTokens(' a', { layout: 'line', edges: true }).tokens).toEqual(['\\u0020', 'a']);
    expect(revealTokens('a ', { layout: 'line', edges: true }).tokens).toEqual(['a', '\\u0020']);
    expect(revealTokens(' a ', { layout: 'line' }).tokens).toEqual([' ', 'a', ' ']);
  });

  it('doubles a backslash only where what follows it would read as an escape', () => {
    // Prepare: on one line \n, \r, \t, \u and \\ are escapes; on several lines only \r, \u and \\.
    const line = (value: string) => revealTokens(value, { layout: 'line' }).tokens.join('');
    const lines = (value: string) => revealTokens(value, { layout: 'lines' }).tokens.join('');

    // Assess
    expect(line('\\n \\r \\t \\u0041 \\x')).toBe('\\\\n \\\\r \\\\t \\\\u0041 \\x');
    expect(lines('\\n \\r \\t \\u0041 \\x')).toBe('\\n \\\\r \\t \\\\u0041 \\x');
    // Before a newline shown as \n, and before another backslash that is itself doubled.
    expect(line('\\\n')).toBe('\\\\\\n');
    expect(line('\\\\n')).toBe('\\\\\\\\n');
    // A backslash at the end has nothing after it to read as an escape.
    expect(revealTokens('a\\', { layout: 'line' }).tokens).toEqual(['a', '\\']);
  });
});

describe('unreveal', () => {
  it.each([
    ['plain text', 'plain text', 'line'],
    ['hidden characters', 'a\u0007\u202E\u{E0041}\u{10FFFF}b', 'line'],
    ['newlines, tabs and returns on one line', 'a\nb\tc\rd', 'line'],
    ['newlines, tabs and returns on several lines', 'a\nb\tc\rd', 'lines'],
    ['backslashes before letters that are escapes', '\\n\\r\\t\\u0041\\u{E0041}\\\\', 'line'],
    ['backslashes before letters that are escapes on several lines', '\\n\\r\\t\\u0041\\\\', 'lines'],
    ['a backslash before a letter that is no escape', '\\q', 'line'],
    ['a backslash that is no escape, followed later by escape-like text', '\\q u0041 u{E0041}', 'line'],
    ['a trailing backslash', 'a\\', 'line'],
    ['a lone backslash', '\\', 'lines'],
  ] as const)('reads back %s', (_name, value, layout) => {
    // Act
    const shown = revealTokens(value, { layout }).tokens.join('');

    // Assess
    expect(unreveal(shown, layout)).toBe(value);
  });

  it('reads \\n and \\t as letters on several lines, where the layout writes them as themselves', () => {
    expect(unreveal('\\n\\t\\r', 'lines')).toBe('\\n\\t\r');
    expect(unreveal('\\n\\t\\r', 'line')).toBe('\n\t\r');
  });

  it('reads an escape with braces only for five or six hex digits, and \\u only with four', () => {
    expect(unreveal('\\u{E0041}', 'line')).toBe('\u{E0041}');
    expect(unreveal('\\u{10FFFF}', 'line')).toBe('\u{10FFFF}');
    expect(unreveal('\\u{0041}', 'line')).toBe('\\u{0041}');
    expect(unreveal('\\u{1000000}', 'line')).toBe('\\u{1000000}');
    expect(unreveal('\\u202E', 'line')).toBe('\u202E');
    expect(unreveal('\\u20', 'line')).toBe('\\u20');
    expect(unreveal('\\u202e', 'line')).toBe('\\u202e');
  });
});

describe('entity escapes', () => {
  it('escapes &, < and > so no mention, link or entity can form, and reads them back', () => {
    // Prepare
    const text = '<!channel> <https://x|y> &amp; a&b';

    // Act
    const escaped = escapeEntities(text);

    // Assess
    expect(escaped).toBe('&lt;!channel&gt; &lt;https://x|y&gt; &amp;amp; a&amp;b');
    expect(unescapeEntities(escaped)).toBe(text);
    expect(unescapeEntities('&amp;lt; &lt;&gt;')).toBe('&lt; <>');
  });
});

describe('plainValue', () => {
  it('is a plain_text object with emoji codes off, one line by default', () => {
    expect(plainValue('a\nb :smile: \\n', 100)).toStrictEqual({
      value: { type: 'plain_text', text: 'a\\nb :smile: \\\\n', emoji: false },
      hidden: false,
    });
  });

  it('keeps newlines on several lines when asked', () => {
    expect(plainValue('a\nb', 100, 'lines').value.text).toBe('a\nb');
  });

  it('shows an empty value as one space (Slack refuses empty text)', () => {
    expect(plainValue('', 10).value.text).toBe(' ');
  });

  it('fits exactly at its budget and cuts one character past it, declaring the cut', () => {
    expect(plainValue('abc', 3)).toStrictEqual({
      value: { type: 'plain_text', text: 'abc', emoji: false },
      hidden: false,
    });
    expect(plainValue('abcd', 3)).toStrictEqual({
      value: { type: 'plain_text', text: 'abc', emoji: false },
      hidden: false,
      cut: { shown: 3, of: 4 },
    });
  });

  it('never splits an escape: a cut counts the value’s characters, not the escape’s', () => {
    // Prepare: 'a' + '\u202E' (6 characters) + 'b' is 8 characters shown.
    const value = 'a\u202Eb';

    // Act
    const fits = plainValue(value, 8);
    const cut = plainValue(value, 7);

    // Assess
    expect(fits).toStrictEqual({
      value: { type: 'plain_text', text: 'a\\u202Eb', emoji: false },
      hidden: true,
    });
    expect(cut).toStrictEqual({
      value: { type: 'plain_text', text: 'a\\u202E', emoji: false },
      hidden: true,
      cut: { shown: 2, of: 3 },
    });
    expect(plainValue(value, 6).cut).toEqual({ shown: 1, of: 3 });
  });
});

describe('codeValue', () => {
  it('fences the value on several lines by default, backticks and entities escaped', () => {
    expect(codeValue('```\n<@U1> & `x`', 100)).toStrictEqual({
      value: '```\\u0060\\u0060\\u0060\n&lt;@U1&gt; &amp; \\u0060x\\u0060```',
      hidden: false,
    });
  });

  it('writes a newline as \\n on one line', () => {
    expect(codeValue('a\nb', 100, 'line').value).toBe('```a\\nb```');
  });

  it('counts the fence in its budget, and fences an empty value around a space', () => {
    expect(codeValue('abcd', 10)).toStrictEqual({ value: '```abcd```', hidden: false });
    expect(codeValue('abcde', 10)).toStrictEqual({
      value: '```abcd```',
      hidden: false,
      cut: { shown: 4, of: 5 },
    });
    expect(codeValue('', 10).value).toBe('``` ```');
  });

  it('never splits an entity escape when it cuts', () => {
    expect(codeValue('a&b', 10)).toStrictEqual({ value: '```a```', hidden: false, cut: { shown: 1, of: 3 } });
  });

  it('says when the value held a hidden character', () => {
    expect(codeValue('a\u200Bb', 100)).toStrictEqual({ value: '```a\\u200Bb```', hidden: true });
  });
});

describe('inlineValue', () => {
  it('is one code span on one line with its edge spaces, backticks and entities escaped', () => {
    expect(inlineValue(' `a`\n<b> ')).toBe('`\\u0020\\u0060a\\u0060\\n&lt;b&gt;\\u0020`');
  });

  it('doubles a backslash before a letter that reads as an escape on one line', () => {
    expect(inlineValue('a\\nb\\tc')).toBe('`a\\\\nb\\\\tc`');
  });

  it('says (empty) for an empty value', () => {
    expect(inlineValue('')).toBe('(empty)');
  });

  it('cuts at 200 characters by default and says so after the span', () => {
    expect(inlineValue('x'.repeat(200))).toBe(`\`${'x'.repeat(200)}\``);
    expect(inlineValue('x'.repeat(201))).toBe(`\`${'x'.repeat(200)}\` (cut at 200 of 201 characters)`);
  });

  it('shows a space the cut leaves at the end of the span escaped, and only that one', () => {
    expect(inlineValue('a b c', 4)).toBe('`a b\\u0020` (cut at 4 of 5 characters)');
  });

  it('says after the span when it shows hidden characters', () => {
    expect(inlineValue('a\u202Eb')).toBe(
      '`a\\u202Eb` (contains hidden or direction-changing characters, shown as \\u…)',
    );
    expect(inlineValue('a\u202Eb', 2)).toBe(
      '`a` (cut at 1 of 3 characters) (contains hidden or direction-changing characters, shown as \\u…)',
    );
  });
});

describe('codeLines', () => {
  it('puts one value a line in one fence, a newline inside a value shown as \\n', () => {
    expect(codeLines(['a', 'b\nc', '<d>'], 100)).toStrictEqual({
      value: '```a\nb\\nc\n&lt;d&gt;```',
      hidden: false,
    });
  });

  it('doubles a backslash before a letter that reads as an escape on one line', () => {
    expect(codeLines(['a\\nb', 'c\\td'], 100).value).toBe('```a\\\\nb\nc\\\\td```');
  });

  it('says when any value held a hidden character', () => {
    expect(codeLines(['a', '\u202E', 'b'], 100)).toStrictEqual({
      value: '```a\n\\u202E\nb```',
      hidden: true,
    });
  });

  it('counts the fence in its budget, the line breaks as characters', () => {
    expect(codeLines(['ab', 'cd'], 11)).toStrictEqual({ value: '```ab\ncd```', hidden: false });
    expect(codeLines(['ab', 'cd'], 10)).toStrictEqual({
      value: '```ab\nc```',
      hidden: false,
      cut: { shown: 4, of: 5 },
    });
  });

  it('fences no values around a space', () => {
    expect(codeLines([], 10)).toStrictEqual({ value: '``` ```', hidden: false });
  });
});

describe('chunkTokens', () => {
  it('fills each chunk up to its size with whole tokens', () => {
    expect(chunkTokens(['ab', 'cd', 'e', '\\u202E', 'f'], 5)).toEqual(['abcde', '\\u202E', 'f']);
    expect(chunkTokens(['ab', 'cd', 'e'], 4)).toEqual(['abcd', 'e']);
  });

  it('gives no chunk for no tokens', () => {
    expect(chunkTokens([], 5)).toEqual([]);
  });
});

describe('marks', () => {
  it('marks hidden characters and a cut in Countersign’s voice, one a line, counts grouped', () => {
    expect(marks({ hidden: true, cut: { shown: 1200, of: 34567 } })).toBe(
      ':warning: _contains hidden or direction-changing characters, shown as_ `\\u…`\n' +
        ':scissors: _cut: 1,200 of 34,567 characters, see View full request_',
    );
  });

  it('marks only what applies, and nothing for a plain value', () => {
    expect(marks({ hidden: true })).toBe(
      ':warning: _contains hidden or direction-changing characters, shown as_ `\\u…`',
    );
    expect(marks({ hidden: false, cut: { shown: 1, of: 2 } })).toBe(
      ':scissors: _cut: 1 of 2 characters, see View full request_',
    );
    expect(marks({ hidden: false })).toBe('');
  });
});
