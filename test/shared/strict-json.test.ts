/**
 * Strict JSON as every reader of raw agent JSON relies on it: one text means
 * one value. Duplicate keys (however escaped) and nesting past the limit are
 * refused with a reason naming where; strings, escapes and whitespace never
 * confuse the scan; malformed text gets JSON.parse's own message.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { transformSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { EVENTBRIDGE_MAX_DEPTH, keysMisread, parseStrictJson } from '../../lambdas/shared/strict-json.js';

const reason = (text: string, maxDepth?: number) => {
  const result = parseStrictJson(text, maxDepth === undefined ? {} : { maxDepth });
  return result.ok ? undefined : result.reason;
};

describe('parseStrictJson', () => {
  it.each([
    ['a duplicate at the root', '{"a":1,"a":2}', 'duplicate key "a" at (root)'],
    ['a duplicate after whitespace', '{ "a" : 1 ,\n\t\r "a" : 2 }', 'duplicate key "a" at (root)'],
    ['a duplicate spelled with an escape', '{"ab":1,"a\\u0062":2}', 'duplicate key "ab" at (root)'],
    ['a duplicate in a nested object', '{"p":{"q":{"k":1,"k":2}}}', 'duplicate key "k" at p.q'],
    ['a duplicate in a list item', '{"p":[1,{"k":1},{"k":1,"k":2}]}', 'duplicate key "k" at p[2]'],
    ['a duplicate in a list in a list', '[[0,{"k":1,"k":1}]]', 'duplicate key "k" at [0][1]'],
    ['a duplicate after a string value holding quotes', '{"a":"x\\"y","a":1}', 'duplicate key "a" at (root)'],
    ['a duplicate after an object value', '{"a":{"b":1},"a":1}', 'duplicate key "a" at (root)'],
    ['a duplicate after a list value', '{"a":[1,2],"a":1}', 'duplicate key "a" at (root)'],
    ['a duplicate control-character key', '{"\\n":1,"\\n":2}', 'duplicate key "\\n" at (root)'],
  ])('refuses %s', (_name, text, expected) => {
    expect(reason(text)).toBe(expected);
  });

  it('names a long key cut to 64 characters in the path and the reason', () => {
    // Prepare
    const key = 'k'.repeat(70);

    // Act
    const deep = reason(`{"${key}":{"x":1,"x":2}}`);
    const dup = reason(`{"${key}":1,"${key}":2}`);

    // Assess
    expect(deep).toBe(`duplicate key "x" at ${'k'.repeat(64)}…`);
    expect(dup).toBe(`duplicate key "${'k'.repeat(64)}…" at (root)`);
  });

  it.each([
    ['keys that only look equal', '{"a":1,"A":2,"a ":3}', { a: 1, A: 2, 'a ': 3 }],
    ['the same key in sibling objects', '[{"a":1},{"a":2}]', [{ a: 1 }, { a: 2 }]],
    ['a key text inside a string value', '{"a":"\\"a\\":1","b":"{\\"a\\":2}"}', { a: '"a":1', b: '{"a":2}' }],
    ['a string value equal to a key', '{"a":"a","b":"a"}', { a: 'a', b: 'a' }],
    ['strings as list items that equal keys', '{"a":["a","a"]}', { a: ['a', 'a'] }],
    ['a backslash at the end of a string', '{"a":"x\\\\","b":1}', { a: 'x\\', b: 1 }],
    ['an empty object and list', '{"a":{},"b":[]}', { a: {}, b: [] }],
    ['a scalar', ' 42 ', 42],
  ])('accepts %s', (_name, text, value) => {
    expect(parseStrictJson(text)).toEqual({ ok: true, value });
  });

  it(`refuses nesting past ${EVENTBRIDGE_MAX_DEPTH} levels by default, naming where`, () => {
    // Prepare
    const nest = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

    // Act
    const atLimit = parseStrictJson(nest(1000));
    const past = reason(nest(1001));

    // Assess
    expect(atLimit.ok).toBe(true);
    expect(past).toBe(`nested deeper than 1000 levels (at ${'[0]'.repeat(1000)})`);
  });

  it('takes another limit, and names an object path where it is crossed', () => {
    // Act
    const ok = parseStrictJson('{"a":{"b":1}}', { maxDepth: 2 });
    const deep = reason('{"a":{"b":{"c":1}}}', 2);
    const root = reason('[1]', 0);

    // Assess
    expect(ok.ok).toBe(true);
    expect(deep).toBe('nested deeper than 2 levels (at a.b)');
    expect(root).toBe('nested deeper than 0 levels (at (root))');
  });

  it('counts list positions across nested values when naming a place', () => {
    expect(reason('[{"a":[1,2]},"x,y",[3],{"k":1,"k":2}]')).toBe('duplicate key "k" at [3]');
  });

  it('shows a key of exactly 64 characters whole', () => {
    expect(reason(`{"${'k'.repeat(64)}":1,"${'k'.repeat(64)}":2}`)).toBe(
      `duplicate key "${'k'.repeat(64)}" at (root)`,
    );
  });

  it.each([
    ['truncated text', '{"a":'],
    ['two bad escapes as keys', '{"\\x":1,"\\x":2}'],
    ['values separated by a comma at the root', '1,2'],
    ['a comma alone', ','],
    ['an unterminated string', '{"a":"x'],
    ['an unterminated string in a list', '[1,"abc'],
    ['a trailing comma', '{"a":1,}'],
    ['a bad escape in a key', '{"\\x":1}'],
  ])('refuses %s with the JSON parser message', (_name, text) => {
    expect(reason(text)).toMatch(/^not valid JSON: ./);
  });
});

describe('parseStrictJson never returns keys the text does not hold', () => {
  // Node 24's JSON.parse (V8 13.6) reads an escaped one-character key as "\\" once an object keyed
  // "\\" was parsed earlier in the same realm. Each case runs in a fresh realm, so the sequence is
  // exactly the one that triggers it: the module is compiled and loaded into a new context.
  const inFreshRealm = () => {
    const source = readFileSync(
      fileURLToPath(new URL('../../lambdas/shared/strict-json.ts', import.meta.url)),
      'utf8',
    );
    const module = { exports: {} as { parseStrictJson: typeof parseStrictJson } };
    runInNewContext(transformSync(source, { loader: 'ts', format: 'cjs' }).code, {
      module,
      exports: module.exports,
    });
    return module.exports.parseStrictJson;
  };
  const engineMisreads = (key: string) =>
    runInNewContext('JSON.parse(first); Object.keys(JSON.parse(second))[0] !== key', {
      first: String.raw`{"\\":1}`,
      second: JSON.stringify({ [key]: 1 }).replace(
        /"(.)"/,
        (_, c: string) => `"\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}"`,
      ),
      key,
    }) as boolean;

  for (const key of ['\n', 'A', '`']) {
    it(`after a text keyed "\\\\", the escaped key ${JSON.stringify(key)} is read as written or refused`, () => {
      const parse = inFreshRealm();
      expect(parse(String.raw`{"\\":1}`)).toEqual({ ok: true, value: { '\\': 1 } });
      const escaped = `{"\\u${key.charCodeAt(0).toString(16).padStart(4, '0')}":1}`;
      const result = parse(escaped);
      if (engineMisreads(key)) {
        expect(result).toEqual({
          ok: false,
          reason:
            'the JSON parser read an object key differently from how it is written; the text is refused',
        });
      } else {
        expect(result).toEqual({ ok: true, value: { [key]: 1 } });
      }
    });
  }

  it('refuses a text whose parser returns other keys than the text holds, naming no key', () => {
    // Prepare: a parser that reads the escaped key "\n" as "\\", as Node 24's can.
    const misreading = () => ({ '\\': 1 });

    // Act
    const result = parseStrictJson('{"\\u000a":1}', { parse: misreading });

    // Assess
    expect(result).toEqual({
      ok: false,
      reason: 'the JSON parser read an object key differently from how it is written; the text is refused',
    });
  });

  it('compares nested objects in text order, whatever order integer-like keys take', () => {
    const result = parseStrictJson('{"b":{"2":[{"x":1},{"y":{"1":0,"a":2}}],"1":true},"a":[]}');
    expect(result).toEqual({
      ok: true,
      value: { b: { '2': [{ x: 1 }, { y: { '1': 0, a: 2 } }], '1': true }, a: [] },
    });
  });
});

describe('keysMisread: the parsed value held against the keys as written', () => {
  const MISREAD =
    'the JSON parser read an object key differently from how it is written; the text is refused';

  it('accepts a value whose every object carries the keys written for it, in text order', () => {
    // Prepare: objects in the order their braces appear, through lists, nulls and scalars.
    const value = {
      b: { '2': [{ x: 1 }, null, 'y', { y: { '1': 0, a: 2 } }], '1': true },
      a: [],
      c: { z: null },
    };
    const written = [['b', 'a', 'c'], ['2', '1'], ['x'], ['y'], ['1', 'a'], ['z']];

    // Act
    const reason = keysMisread(value, written);

    // Assess
    expect(reason).toBeUndefined();
  });

  it('accepts a scalar, and a list of scalars, with no objects written', () => {
    expect(keysMisread(42, [])).toBeUndefined();
    expect(keysMisread([1, 'a', null, true], [])).toBeUndefined();
  });

  it.each([
    ['a key at the root', { '\\': 1 }, [['\n']]],
    ['a key of the first object in a list', [{ '\\': 1 }, { b: 1 }], [['\n'], ['b']]],
    ['a key of the last object in a list', [{ b: 1 }, { '\\': 1 }], [['b'], ['\n']]],
    ['a key of an object under the first key', { a: { '\\': 1 }, b: 1 }, [['a', 'b'], ['\n']]],
    ['a key of an object under the last key', { a: 1, b: { '\\': 1 } }, [['a', 'b'], ['\n']]],
    ['a key more than written', { a: 1, b: 2 }, [['a']]],
    ['a key fewer than written', { a: 1 }, [['a', 'b']]],
    ['an object more than written', { a: {} }, [['a']]],
  ])('refuses a value with %s read differently', (_name, value, written) => {
    expect(keysMisread(value, written)).toBe(MISREAD);
  });
});
