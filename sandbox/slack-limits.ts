/**
 * Slack's Block Kit limits as a pure check, so the fake Slack can refuse what
 * real Slack refuses (`invalid_blocks`, `msg_blocks_too_long`, `msg_too_long`)
 * and tests can assert that every message and modal Countersign builds fits.
 *
 * Limits from Slack's Block Kit reference: 50 blocks per message and 100 per
 * modal; text objects 1-3,000 characters; section text 3,000, at most 10
 * fields of 2,000; header 150 (plain_text only); context at most 10 elements;
 * actions at most 25 elements; button text 75 and value 2,000; block_id and
 * action_id 255; input label and hint 2,000, placeholder 150; modal title,
 * submit and close 24, private_metadata 3,000, callback_id 255. Message `text`
 * over 40,000 characters is refused here (Slack truncates it). Slack also
 * refuses messages whose blocks carry roughly 13,000 characters of text in
 * total (`msg_blocks_too_long`, observed rather than documented); the fake
 * refuses above {@link MAX_BLOCK_TEXT} so that what passes here has a margin.
 */

/** Most blocks in a message. */
export const MAX_MESSAGE_BLOCKS = 50;
/** Most blocks in a modal. */
export const MAX_MODAL_BLOCKS = 100;
/** Most characters of text across a message's blocks that the fake accepts. */
export const MAX_BLOCK_TEXT = 12_000;
/** Longest message `text` accepted. */
export const MAX_MESSAGE_TEXT = 40_000;

/** A refusal: Slack's error code and the path of every offending field. */
export interface LimitProblem {
  error: 'invalid_blocks' | 'msg_blocks_too_long' | 'msg_too_long' | 'invalid_arguments';
  path: string;
  message: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

class Checker {
  readonly problems: LimitProblem[] = [];
  textChars = 0;

  bad(path: string, message: string, error: LimitProblem['error'] = 'invalid_blocks') {
    this.problems.push({ error, path, message });
  }

  max(path: string, value: unknown, limit: number) {
    if (typeof value === 'string' && value.length > limit)
      this.bad(path, `${value.length} characters; the limit is ${limit}`);
  }

  text(path: string, value: unknown, limit = 3000, only?: 'plain_text') {
    if (!isObject(value)) return this.bad(path, 'must be a text object');
    const { type, text } = value;
    if (type !== 'plain_text' && type !== 'mrkdwn')
      return this.bad(path, `unknown text type ${String(type)}`);
    if (only && type !== only) this.bad(path, `must be ${only}`);
    if (typeof text !== 'string' || text.length === 0)
      return this.bad(`${path}.text`, 'must be 1 or more characters');
    if ('emoji' in value && type !== 'plain_text') this.bad(`${path}.emoji`, 'only plain_text has emoji');
    if ('verbatim' in value && type !== 'mrkdwn') this.bad(`${path}.verbatim`, 'only mrkdwn has verbatim');
    this.textChars += text.length;
    this.max(`${path}.text`, text, Math.min(limit, 3000));
  }

  element(path: string, e: unknown) {
    if (!isObject(e)) return this.bad(path, 'must be an object');
    this.max(`${path}.action_id`, e.action_id, 255);
    if (e.type === 'button') {
      this.text(`${path}.text`, e.text, 75, 'plain_text');
      this.max(`${path}.value`, e.value, 2000);
      this.max(`${path}.url`, e.url, 3000);
    } else if (e.type === 'plain_text_input') {
      this.max(`${path}.initial_value`, e.initial_value, 3000);
      if (e.placeholder !== undefined) this.text(`${path}.placeholder`, e.placeholder, 150, 'plain_text');
    }
  }

  block(path: string, b: unknown) {
    if (!isObject(b)) return this.bad(path, 'must be an object');
    this.max(`${path}.block_id`, b.block_id, 255);
    switch (b.type) {
      case 'header':
        return this.text(`${path}.text`, b.text, 150, 'plain_text');
      case 'section': {
        if (b.text === undefined && b.fields === undefined) this.bad(path, 'a section needs text or fields');
        if (b.text !== undefined) this.text(`${path}.text`, b.text, 3000);
        if (b.fields !== undefined) {
          if (!Array.isArray(b.fields) || b.fields.length === 0 || b.fields.length > 10)
            this.bad(`${path}.fields`, 'must hold 1 to 10 text objects');
          else for (const [i, f] of b.fields.entries()) this.text(`${path}.fields[${i}]`, f, 2000);
        }
        if (b.accessory !== undefined) this.element(`${path}.accessory`, b.accessory);
        return;
      }
      case 'context': {
        const elements = b.elements;
        if (!Array.isArray(elements) || elements.length === 0 || elements.length > 10)
          return this.bad(`${path}.elements`, 'must hold 1 to 10 elements');
        for (const [i, e] of elements.entries())
          if (isObject(e) && (e.type === 'mrkdwn' || e.type === 'plain_text'))
            this.text(`${path}.elements[${i}]`, e);
        return;
      }
      case 'actions': {
        const elements = b.elements;
        if (!Array.isArray(elements) || elements.length === 0 || elements.length > 25)
          return this.bad(`${path}.elements`, 'must hold 1 to 25 elements');
        for (const [i, e] of elements.entries()) this.element(`${path}.elements[${i}]`, e);
        return;
      }
      case 'input':
        this.text(`${path}.label`, b.label, 2000, 'plain_text');
        if (b.hint !== undefined) this.text(`${path}.hint`, b.hint, 2000, 'plain_text');
        return this.element(`${path}.element`, b.element);
      case 'divider':
      case 'image':
      case 'rich_text':
        return;
      default:
        this.bad(path, `unknown block type ${String(b.type)}`);
    }
  }

  blocks(path: string, blocks: unknown, most: number) {
    if (!Array.isArray(blocks)) return this.bad(path, 'must be an array');
    if (blocks.length > most) this.bad(path, `${blocks.length} blocks; the limit is ${most}`);
    for (const [i, b] of blocks.entries()) this.block(`${path}[${i}]`, b);
  }
}

/** Problems of a message (`text` and `blocks` as they would be sent); empty when Slack would take it. */
export function messageProblems(message: { text?: unknown; blocks?: unknown }): LimitProblem[] {
  const check = new Checker();
  if (typeof message.text === 'string' && message.text.length > MAX_MESSAGE_TEXT)
    check.bad('text', `${message.text.length} characters; the limit is ${MAX_MESSAGE_TEXT}`, 'msg_too_long');
  if (message.blocks !== undefined) {
    check.blocks('blocks', message.blocks, MAX_MESSAGE_BLOCKS);
    if (check.textChars > MAX_BLOCK_TEXT)
      check.bad(
        'blocks',
        `${check.textChars} characters of text in blocks; the fake's limit is ${MAX_BLOCK_TEXT}`,
        'msg_blocks_too_long',
      );
  }
  return check.problems;
}

/** Problems of a modal view; empty when Slack would open it. */
export function viewProblems(view: unknown): LimitProblem[] {
  const check = new Checker();
  if (!isObject(view)) {
    check.bad('view', 'must be an object', 'invalid_arguments');
    return check.problems;
  }
  check.text('view.title', view.title, 24, 'plain_text');
  if (view.submit !== undefined) check.text('view.submit', view.submit, 24, 'plain_text');
  if (view.close !== undefined) check.text('view.close', view.close, 24, 'plain_text');
  check.max('view.private_metadata', view.private_metadata, 3000);
  check.max('view.callback_id', view.callback_id, 255);
  check.blocks('view.blocks', view.blocks, MAX_MODAL_BLOCKS);
  return check.problems.map((p) => ({
    ...p,
    error: p.error === 'invalid_blocks' ? 'invalid_arguments' : p.error,
  }));
}
