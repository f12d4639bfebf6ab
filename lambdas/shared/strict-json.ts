/**
 * JSON text parsed strictly: `JSON.parse` keeps the last of two equal keys
 * (other parsers keep the first, or both), so one text can mean two different
 * intents to the reviewer's card and to the executor. Wherever Countersign
 * reads raw JSON it has the text checked here first: duplicate keys (also when
 * spelled with different escapes) and nesting past a limit are refused with a
 * reason naming where. The scan is iterative, so a 100,000-level text costs
 * memory, never the call stack.
 *
 * The scan also decodes every object's keys itself, and the parsed value must
 * carry exactly those keys. Node 24's `JSON.parse` (V8 13.6) can misread an
 * escaped one-character key (`"\n"`, `"\u0041"`) as `"\\"` once an object
 * with the key `"\\"` has been parsed earlier in the process: one agent's text
 * could change how another's is read in a warm Lambda. Such a text is refused
 * rather than read as something it does not say.
 */

/** Result of {@link parseStrictJson}. */
export type StrictJsonResult = { ok: true; value: unknown } | { ok: false; reason: string };

/** Options of {@link parseStrictJson}. */
export interface StrictJsonOptions {
  /** Deepest nesting of objects and arrays accepted (the outermost is level 1). @default 1000 */
  maxDepth?: number;
  /**
   * The parser that reads the text once the scan accepts it. Replaceable so
   * the refusal of a parser that misreads keys is tested on any engine.
   * @default JSON.parse
   */
  parse?: (text: string) => unknown;
}

/** Nesting EventBridge's PutEvents documents as the most it processes. */
export const EVENTBRIDGE_MAX_DEPTH = 1000;

type Frame =
  | { kind: 'object'; keys: Set<string>; order: string[]; path: string }
  | { kind: 'array'; index: number; path: string };

/**
 * Parses `text` as JSON, refusing duplicate object keys and nesting deeper
 * than `maxDepth`. Malformed text is refused with `JSON.parse`'s own message.
 */
export function parseStrictJson(text: string, options: StrictJsonOptions = {}): StrictJsonResult {
  const maxDepth = options.maxDepth ?? EVENTBRIDGE_MAX_DEPTH;
  const parse = options.parse ?? JSON.parse;
  const objects: string[][] = [];
  const problem = scan(text, maxDepth, objects);
  if (problem) return { ok: false, reason: problem };
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    return { ok: false, reason: `not valid JSON: ${(error as Error).message}` };
  }
  const misread = keysMisread(value, objects);
  if (misread) return { ok: false, reason: misread };
  return { ok: true, value };
}

/**
 * Walks `value` in text order (objects by the keys as written, arrays by
 * index) and compares each object's own keys with `objects`, the keys decoded
 * from the text for each object in the order its `{` appears. Returns a
 * reason when they differ, else undefined. Pure, so the check is tested on
 * any value, whether or not this engine's `JSON.parse` misreads.
 */
export function keysMisread(value: unknown, objects: readonly (readonly string[])[]): string | undefined {
  // A stack popped from the end: children are pushed last-first so they come off in text order.
  const pending: unknown[] = [value];
  let next = 0;
  while (pending.length > 0) {
    const node = pending.pop();
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      for (const item of node.toReversed()) pending.push(item);
      continue;
    }
    const written = objects[next++];
    const read = Object.keys(node);
    if (!written || !sameKeys(written, read)) {
      return 'the JSON parser read an object key differently from how it is written; the text is refused';
    }
    for (const key of written.toReversed()) pending.push((node as Record<string, unknown>)[key]);
  }
  return undefined;
}

/** Equal as sets (the scan has already refused duplicates; the order of integer-like keys differs). */
function sameKeys(written: readonly string[], read: readonly string[]): boolean {
  if (written.length !== read.length) return false;
  const readSet = new Set(read);
  return written.every((key) => readSet.has(key));
}

/** The first duplicate key or too-deep nesting in `text`, or undefined. Malformed text is left to JSON.parse. */
function scan(text: string, maxDepth: number, objects: string[][]): string | undefined {
  const stack: Frame[] = [];
  // Stryker disable next-line BooleanLiteral: only read inside an object, and entering one sets it
  let expectKey = false;
  // Stryker disable next-line EqualityOperator: one step past the end reads undefined, which matches no case
  for (let i = 0; i < text.length; i++) {
    // Whitespace needs no case: it is none of the characters below.
    const ch = text[i]!;
    const top = stack.at(-1);
    if (ch === '"') {
      const end = stringEnd(text, i);
      // Stryker disable next-line EqualityOperator: a closing quote is never at index 0
      if (end < 0) return undefined;
      // Stryker disable next-line ConditionalExpression,OptionalChaining: expectKey is only ever true inside an object
      if (expectKey && top?.kind === 'object') {
        let key: string;
        try {
          key = JSON.parse(text.slice(i, end + 1)) as string;
        } catch {
          return undefined;
        }
        if (top.keys.has(key)) return `duplicate key "${printable(key)}" at ${top.path}`;
        top.keys.add(key);
        top.order.push(key);
        expectKey = false;
      }
      i = end;
      continue;
    }
    if (ch === '{' || ch === '[') {
      if (stack.length + 1 > maxDepth) {
        return `nested deeper than ${maxDepth} levels (at ${top ? childPath(top) : '(root)'})`;
      }
      const path = top ? childPath(top) : '(root)';
      if (ch === '{') {
        const order: string[] = [];
        objects.push(order);
        stack.push({ kind: 'object', keys: new Set(), order, path });
      } else {
        stack.push({ kind: 'array', index: 0, path });
      }
      // Stryker disable next-line ConditionalExpression: expectKey is only read inside an object, where it was set on entry
      expectKey = ch === '{';
      continue;
    }
    if (ch === '}' || ch === ']') {
      stack.pop();
      // Stryker disable next-line BooleanLiteral: in valid JSON a comma or the end follows a closing bracket, and a comma sets it again
      expectKey = false;
      continue;
    }
    if (ch === ',') {
      if (top?.kind === 'object') expectKey = true;
      else if (top?.kind === 'array') top.index++;
    }
  }
  return undefined;
}

/** Index of the closing quote of the string starting at `start`, or -1. */
function stringEnd(text: string, start: number): number {
  // Stryker disable next-line EqualityOperator: one step past the end reads undefined, which matches no case
  for (let i = start + 1; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') i++;
    else if (ch === '"') return i;
  }
  return -1;
}

function childPath(frame: Frame): string {
  const base = frame.path === '(root)' ? '' : frame.path;
  if (frame.kind === 'array') return `${base}[${frame.index}]`;
  const last = [...frame.keys].at(-1) ?? '';
  return base ? `${base}.${printable(last)}` : printable(last);
}

/** A key as it may appear in a message: short, control characters escaped. */
function printable(key: string): string {
  const shown = key.length > 64 ? `${key.slice(0, 64)}…` : key;
  return JSON.stringify(shown).slice(1, -1);
}
