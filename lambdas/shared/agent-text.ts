/**
 * Agent text is data: how every string an agent wrote (justification,
 * resource, parameters, diff, cancel reason, …) reaches a person without ever
 * looking like Countersign's own words.
 *
 * Three representations, each one that the data cannot escape:
 * - {@link plainValue}: a Slack `plain_text` object (`emoji: false`). Slack
 *   parses no markup, mention, link or emoji code in it.
 * - {@link codeValue}: a ``` block in mrkdwn (`verbatim: true`). The data can
 *   never close the fence because every backtick in it is shown as `\u0060`,
 *   and `&`, `<`, `>` are entity-escaped, so no link or mention can form.
 * - {@link inlineValue}: an inline code span for message `text` (DMs,
 *   ephemerals, channel posts, fallbacks), on one line.
 *
 * Hidden characters (bidi controls, zero-width and other format or control
 * characters) are shown as `\uXXXX` and reported, so a surface can mark the
 * value. Every escape is reversible ({@link unreveal}): what a reviewer reads
 * maps back to the exact bytes that are approved, or to a declared cut of them.
 */

/** Characters Slack (or a browser) would not show as themselves: controls, format (bidi, zero-width) and blank lookalikes. */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0\u2800\uFFFC]/u;

/** How a value is laid out: on one line (newlines shown as `\n`) or on several. */
export type Layout = 'line' | 'lines';

/** Options of {@link revealTokens}. */
export interface RevealOptions {
  layout: Layout;
  /** Also show backticks as `\u0060` (inside code fences and code spans). */
  code?: boolean;
  /** Also show leading and trailing spaces as `\u0020` (code spans trim them). */
  edges?: boolean;
}

/** `\uXXXX`, or `\u{XXXXX}` for a code point past the four hex digits of U+FFFF. */
const hex = (cp: number) => {
  const digits = cp.toString(16).toUpperCase();
  return digits.length > 4 ? `\\u{${digits}}` : `\\u${digits.padStart(4, '0')}`;
};

/** Whether a character is hidden (invisible or direction-changing). */
export const isHidden = (char: string) => HIDDEN.test(char);

/**
 * The value as visible tokens, one per code point: a hidden character becomes
 * `\uXXXX`, a backslash that would read as the start of an escape becomes `\\`.
 * Cutting a token list never splits an escape.
 */
export function revealTokens(value: string, options: RevealOptions): { tokens: string[]; hidden: boolean } {
  const chars = Array.from(value);
  const escapes = options.layout === 'line' ? '\\unrt' : '\\ur';
  let hidden = false;
  const tokens = chars.map((char, i) => {
    if (char === '\n') return options.layout === 'lines' ? '\n' : '\\n';
    if (char === '\t') return options.layout === 'lines' ? '\t' : '\\t';
    if (char === '\r') return '\\r';
    if (options.code && char === '`') return '\\u0060';
    if (options.edges && char === ' ' && (i === 0 || i === chars.length - 1)) return '\\u0020';
    if (isHidden(char)) {
      hidden = true;
      return hex(char.codePointAt(0)!);
    }
    return char;
  });
  // A backslash is doubled when what follows it (as shown) would read as an escape.
  for (const [i, token] of tokens.entries()) {
    const next = tokens[i + 1];
    if (token === '\\' && next !== undefined && escapes.includes(next[0]!)) tokens[i] = '\\\\';
  }
  return { tokens, hidden };
}

/** The control characters each layout writes as a letter escape (`\r` always; `\n`, `\t` on one line). */
const CONTROL_ESCAPES: Record<Layout, ReadonlyMap<string | undefined, string>> = {
  line: new Map([
    ['n', '\n'],
    ['r', '\r'],
    ['t', '\t'],
  ]),
  lines: new Map([['r', '\r']]),
};

/** The inverse of {@link revealTokens} joined: the original value. */
export function unreveal(shown: string, layout: Layout): string {
  let out = '';
  for (let i = 0; i < shown.length; i++) {
    const char = shown[i]!;
    if (char !== '\\') {
      out += char;
      continue;
    }
    const next = shown[i + 1];
    const control = CONTROL_ESCAPES[layout].get(next);
    const braced = /^u\{([0-9A-F]{5,6})\}/.exec(shown.slice(i + 1));
    const plain = /^u([0-9A-F]{4})/.exec(shown.slice(i + 1));
    if (next === '\\') {
      out += '\\';
      i += 1;
    } else if (braced) {
      out += String.fromCodePoint(Number.parseInt(braced[1]!, 16));
      i += braced[0].length;
    } else if (plain) {
      out += String.fromCharCode(Number.parseInt(plain[1]!, 16));
      i += plain[0].length;
    } else if (control !== undefined) {
      out += control;
      i += 1;
    } else out += '\\';
  }
  return out;
}

/** Slack's three control characters as entities. */
export function escapeEntities(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The inverse of {@link escapeEntities}. */
export function unescapeEntities(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** A rendered value and what a surface must say about it. */
export interface Shown<T> {
  value: T;
  /** It had hidden or direction-changing characters (shown escaped). */
  hidden: boolean;
  /** It was cut: `shown` of the value's `of` characters are on the surface. */
  cut?: { shown: number; of: number };
}

/**
 * Joins tokens up to `max` visible characters (each token whole). A cut is
 * counted in the value's own characters (one token each), not in escapes.
 */
function fitTokens(tokens: string[], max: number): { text: string; cut?: { shown: number; of: number } } {
  let text = '';
  let total = 0;
  for (const t of tokens) total += t.length;
  if (total <= max) return { text: tokens.join('') };
  let count = 0;
  for (const t of tokens) {
    if (text.length + t.length > max) break;
    text += t;
    count += 1;
  }
  return { text, cut: { shown: count, of: tokens.length } };
}

/** A value as a `plain_text` object of at most `max` characters. */
export function plainValue(
  value: string,
  max: number,
  layout: Layout = 'line',
): Shown<{ type: 'plain_text'; text: string; emoji: false }> {
  const { tokens, hidden } = revealTokens(value, { layout });
  const { text, cut } = fitTokens(tokens, max);
  return { value: { type: 'plain_text', text: text || ' ', emoji: false }, hidden, ...(cut ? { cut } : {}) };
}

/** Code tokens: revealed, backticks shown, then entity-escaped (so a cut never splits `&amp;`). */
function codeTokens(value: string, options: RevealOptions): { tokens: string[]; hidden: boolean } {
  const revealed = revealTokens(value, { ...options, code: true });
  return { tokens: revealed.tokens.map(escapeEntities), hidden: revealed.hidden };
}

/** A value inside a ``` fence, the whole fenced text at most `max` characters. */
export function codeValue(value: string, max: number, layout: Layout = 'lines'): Shown<string> {
  const { tokens, hidden } = codeTokens(value, { layout });
  const { text, cut } = fitTokens(tokens, max - 6);
  return { value: `\`\`\`${text || ' '}\`\`\``, hidden, ...(cut ? { cut } : {}) };
}

/** A value as an inline code span on one line, for message text; a cut is marked after the span. */
export function inlineValue(value: string, max = 200): string {
  const { tokens, hidden } = codeTokens(value, { layout: 'line', edges: true });
  const fitted = fitTokens(tokens, max);
  const cut = fitted.cut;
  // A code span must not end in a space (Slack would not read it as code): show it escaped.
  const text = fitted.text.replace(/ $/, '\\u0020');
  const span = text ? `\`${text}\`` : '(empty)';
  return `${span}${cut ? ` (cut at ${cut.shown} of ${cut.of} characters)` : ''}${hidden ? ' (contains hidden or direction-changing characters, shown as \\u…)' : ''}`;
}

/** Several one-line values in one ``` fence, one per line (a newline inside a value is shown as `\n`). */
export function codeLines(values: readonly string[], max: number): Shown<string> {
  const tokens: string[] = [];
  let hidden = false;
  values.forEach((value, i) => {
    const one = codeTokens(value, { layout: 'line' });
    hidden ||= one.hidden;
    if (i > 0) tokens.push('\n');
    tokens.push(...one.tokens);
  });
  const { text, cut } = fitTokens(tokens, max - 6);
  return { value: `\`\`\`${text || ' '}\`\`\``, hidden, ...(cut ? { cut } : {}) };
}

/**
 * Parameters (or any JSON value) as JSON text that is safe inside a fence:
 * hidden characters and backticks, which can only occur inside JSON strings,
 * become JSON's own `\uXXXX` escapes, so the text still parses to the same value.
 */
export function fencedJson(value: unknown): { tokens: string[]; hidden: boolean } {
  const json = JSON.stringify(value, null, 2) ?? 'null';
  let hidden = false;
  const tokens: string[] = [];
  for (const char of json) {
    // Outside strings JSON has only its own layout; inside them control characters are already escaped.
    if (char === '\n') tokens.push(char);
    else if (char === '`' || isHidden(char)) {
      if (char !== '`') hidden = true;
      // JSON escapes are UTF-16 units: an astral character becomes its surrogate pair (each unit is 4 hex digits).
      tokens.push(Array.from({ length: char.length }, (_, k) => hex(char.charCodeAt(k))).join(''));
    } else tokens.push(escapeEntities(char));
  }
  return { tokens, hidden };
}

/** JSON in one ``` fence of at most `max` characters. */
export function codeJson(value: unknown, max: number): Shown<string> {
  const { tokens, hidden } = fencedJson(value);
  const { text, cut } = fitTokens(tokens, max - 6);
  return { value: `\`\`\`${text}\`\`\``, hidden, ...(cut ? { cut } : {}) };
}

/** Splits tokens into chunks of at most `size` characters (escapes whole). */
export function chunkTokens(tokens: string[], size: number): string[] {
  const chunks: string[] = [];
  let current = '';
  for (const t of tokens) {
    if (current.length + t.length > size) {
      chunks.push(current);
      current = '';
    }
    current += t;
  }
  if (current) chunks.push(current);
  return chunks;
}

/** The marks a label carries for a shown value, in Countersign's voice (mrkdwn). */
export function marks(shown: Pick<Shown<unknown>, 'hidden' | 'cut'>): string {
  const out: string[] = [];
  if (shown.hidden) out.push(':warning: _contains hidden or direction-changing characters, shown as_ `\\u…`');
  if (shown.cut)
    out.push(
      `:scissors: _cut: ${shown.cut.shown.toLocaleString('en-US')} of ${shown.cut.of.toLocaleString('en-US')} characters, see View full request_`,
    );
  return out.join('\n');
}
