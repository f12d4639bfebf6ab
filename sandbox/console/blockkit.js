/**
 * A small Block Kit renderer: turns the blocks the handlers post to Slack into
 * HTML that looks like Slack's. Covers what Countersign's cards use (header,
 * section text and fields, context, actions with buttons, divider, image) and
 * Slack's mrkdwn basics (*bold*, _italic_, ~strike~, `code`, ```blocks```,
 * > quotes, <@U…> mentions, <!date^…|fallback>, <url|label>, :emoji:).
 *
 * Every piece of text is escaped before it reaches innerHTML.
 */

const EMOJI = {
  hourglass_flowing_sand: '⏳',
  hourglass: '⌛',
  white_check_mark: '✅',
  heavy_check_mark: '✔️',
  no_entry: '⛔',
  no_entry_sign: '🚫',
  alarm_clock: '⏰',
  wastebasket: '🗑️',
  warning: '⚠️',
  lock: '🔒',
  key: '🔑',
  rotating_light: '🚨',
  bell: '🔔',
  eyes: '👀',
  x: '❌',
  information_source: 'ℹ️',
  pencil2: '✏️',
  memo: '📝',
  robot_face: '🤖',
  shield: '🛡️',
  clock1: '🕐',
  fire: '🔥',
  zap: '⚡',
  stopwatch: '⏱️',
  arrow_right: '➡️',
  scissors: '✂️',
  mag: '🔍',
};

const HTML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML. */
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** Slack escapes &, < and > in message text; undo that before escaping for HTML. */
function unescapeSlack(text) {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

function ordinal(n) {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** Formats `<!date^epoch^format|fallback>` tokens the way Slack does, in the viewer's time zone. */
export function formatSlackDate(epochSeconds, format, now = new Date()) {
  const d = new Date(epochSeconds * 1000);
  if (Number.isNaN(d.getTime())) return undefined;
  const month = MONTHS[d.getMonth()];
  const yesterday = new Date(now.getTime() - 86_400_000);
  const tomorrow = new Date(now.getTime() + 86_400_000);
  const pretty = (fallback) =>
    sameDay(d, now)
      ? 'Today'
      : sameDay(d, yesterday)
        ? 'Yesterday'
        : sameDay(d, tomorrow)
          ? 'Tomorrow'
          : fallback;
  const time = d.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
  const tokens = {
    date_num: `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`,
    date: `${month} ${ordinal(d.getDate())}, ${d.getFullYear()}`,
    date_short: `${month.slice(0, 3)} ${d.getDate()}, ${d.getFullYear()}`,
    date_long: `${d.toLocaleDateString([], { weekday: 'long' })}, ${month} ${ordinal(d.getDate())}, ${d.getFullYear()}`,
    time,
    time_secs: d.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit', second: '2-digit' }),
  };
  tokens.date_pretty = pretty(tokens.date);
  tokens.date_short_pretty = pretty(tokens.date_short);
  tokens.date_long_pretty = pretty(tokens.date_long);
  return format.replace(/\{(\w+)\}/g, (whole, name) => tokens[name] ?? whole);
}

/**
 * Renders one `<…>` control sequence (Slack's escape for links, mentions and
 * dates) to HTML.
 */
function renderControl(inner, ctx) {
  const [target, label] = splitOnce(inner, '|');
  if (target.startsWith('@')) {
    const id = target.slice(1);
    const user = ctx.users?.get(id);
    const name = user ? user.name : label || id;
    const title = user ? `${user.realName ?? user.name} · ${id}` : id;
    return `<span class="bk-mention" title="${escapeHtml(title)}">@${escapeHtml(name)}</span>`;
  }
  if (target.startsWith('#')) {
    return `<span class="bk-mention">#${escapeHtml(label || target.slice(1))}</span>`;
  }
  if (target.startsWith('!date^')) {
    const [, epoch, format = '{date_short_pretty} {time}'] = target.split('^');
    const text = formatSlackDate(Number(epoch), format, ctx.now ?? new Date()) ?? label;
    return `<time class="bk-date" title="${escapeHtml(label || '')}">${escapeHtml(text ?? '')}</time>`;
  }
  if (target.startsWith('!subteam^')) {
    return `<span class="bk-mention">${escapeHtml(label || '@group')}</span>`;
  }
  if (target.startsWith('!')) {
    return `<span class="bk-mention">@${escapeHtml(label || target.slice(1))}</span>`;
  }
  if (/^(https?:|mailto:)/i.test(target)) {
    const text = label || target.replace(/^mailto:/i, '');
    return `<a href="${escapeHtml(target)}" target="_blank" rel="noopener noreferrer">${escapeHtml(text)}</a>`;
  }
  return escapeHtml(`<${inner}>`);
}

function splitOnce(text, separator) {
  const i = text.indexOf(separator);
  return i < 0 ? [text, ''] : [text.slice(0, i), text.slice(i + 1)];
}

/** Inline mrkdwn for text outside code: controls, emphasis, emoji. */
function renderInline(text, ctx) {
  const placeholders = [];
  const hold = (html) => {
    placeholders.push(html);
    return `\uE000${placeholders.length - 1}\uE000`;
  };
  // Real control sequences use literal angle brackets; user text has them escaped as &lt; &gt;.
  let out = text.replace(/<([^<>\n]+)>/g, (_m, inner) => hold(renderControl(unescapeSlack(inner), ctx)));
  out = escapeHtml(unescapeSlack(out));
  out = out
    .replace(/(^|[\s(>\uE000])\*(?!\s)([^*\n]+?)\*(?=$|[\s.,;:!?)<\uE000])/g, '$1<strong>$2</strong>')
    .replace(/(^|[\s(>\uE000])_(?!\s)([^_\n]+?)_(?=$|[\s.,;:!?)<\uE000])/g, '$1<em>$2</em>')
    .replace(/(^|[\s(>\uE000])~(?!\s)([^~\n]+?)~(?=$|[\s.,;:!?)<\uE000])/g, '$1<del>$2</del>')
    .replace(/:([a-z0-9_+-]+):/g, (whole, name) =>
      EMOJI[name] ? `<span class="bk-emoji" title=":${name}:">${EMOJI[name]}</span>` : whole,
    );
  return out.replace(/\uE000(\d+)\uE000/g, (_m, i) => placeholders[Number(i)]);
}

/** Text outside ``` fences: inline code spans, quotes and line breaks. */
function renderProse(text, ctx) {
  const lines = text.split('\n');
  const html = [];
  let quote = [];
  const flushQuote = () => {
    if (quote.length) html.push(`<blockquote class="bk-quote">${quote.join('<br>')}</blockquote>`);
    quote = [];
  };
  for (const line of lines) {
    const quoted = /^(&gt;|>)\s?/.exec(line);
    const rendered = renderCodeSpans(quoted ? line.slice(quoted[0].length) : line, ctx);
    if (quoted) quote.push(rendered);
    else {
      flushQuote();
      html.push(rendered, '<br>');
    }
  }
  flushQuote();
  if (html.at(-1) === '<br>') html.pop();
  return html.join('').replace(/<br>(<blockquote)/g, '$1');
}

function renderCodeSpans(line, ctx) {
  return line
    .split(/(`[^`\n]+`)/g)
    .map((part) =>
      part.length > 2 && part.startsWith('`') && part.endsWith('`')
        ? `<code class="bk-code">${escapeHtml(unescapeSlack(part.slice(1, -1)))}</code>`
        : renderInline(part, ctx),
    )
    .join('');
}

/** Renders Slack mrkdwn to HTML. `ctx.users` maps user ids to directory users. */
export function mrkdwn(text, ctx = {}) {
  const parts = String(text ?? '').split('```');
  return parts
    .map((part, i) => {
      if (i % 2 === 1 && i < parts.length - 1) {
        const code = part.replace(/^\n/, '').replace(/\n$/, '');
        return `<pre class="bk-pre">${escapeHtml(unescapeSlack(code))}</pre>`;
      }
      return renderProse(i % 2 === 1 ? `\`\`\`${part}` : part, ctx);
    })
    .join('');
}

/**
 * Renders a text object. plain_text is text, as in Slack: escaped for HTML,
 * no markup, mentions, links or dates, line breaks kept, emoji codes only when
 * `emoji` is not false. This is where agent values land (see agent-text.ts).
 */
export function textObject(text, ctx) {
  if (!text) return '';
  if (text.type === 'mrkdwn') return mrkdwn(text.text, ctx);
  const plain = escapeHtml(text.text ?? '');
  const shown =
    text.emoji === false ? plain : plain.replace(/:([a-z0-9_+-]+):/g, (whole, n) => EMOJI[n] ?? whole);
  return `<span class="bk-plain">${shown}</span>`;
}

function renderElement(element, ctx, block) {
  switch (element.type) {
    case 'button': {
      const style = element.style === 'primary' || element.style === 'danger' ? element.style : 'default';
      // A link button (a step-up request's Approve) opens its page, as Slack does.
      if (typeof element.url === 'string' && /^https?:\/\//.test(element.url)) {
        return `<a class="bk-button bk-button-${style}" href="${escapeHtml(element.url)}" target="_blank" rel="noopener noreferrer"
        data-action-id="${escapeHtml(element.action_id ?? '')}">${textObject(element.text, ctx)}</a>`;
      }
      return `<button type="button" class="bk-button bk-button-${style}"
        data-action-id="${escapeHtml(element.action_id ?? '')}"
        data-value="${escapeHtml(element.value ?? '')}"
        data-block-id="${escapeHtml(block.block_id ?? '')}">${textObject(element.text, ctx)}</button>`;
    }
    case 'image':
      return `<img class="bk-context-image" src="${escapeHtml(element.image_url ?? '')}" alt="${escapeHtml(element.alt_text ?? '')}">`;
    case 'mrkdwn':
    case 'plain_text':
      return `<span class="bk-context-text">${textObject(element, ctx)}</span>`;
    default:
      return `<span class="bk-unsupported">[${escapeHtml(element.type)}]</span>`;
  }
}

/** An input block of a modal: label, the element (text, number or select) and hint. */
function renderInput(block, ctx) {
  const element = block.element ?? {};
  const id = `input-${escapeHtml(block.block_id ?? '')}`;
  const name = escapeHtml(block.block_id ?? '');
  const placeholder = element.placeholder ? escapeHtml(element.placeholder.text ?? '') : '';
  const initial = escapeHtml(element.initial_value ?? '');
  let control;
  if (element.type === 'static_select' || element.type === 'radio_buttons') {
    const options = (element.options ?? [])
      .map(
        (o) =>
          `<option value="${escapeHtml(o.value)}" ${element.initial_option?.value === o.value ? 'selected' : ''}>${textObject(o.text, ctx)}</option>`,
      )
      .join('');
    control = `<select id="${id}" name="${name}"><option value="">${placeholder || 'Choose…'}</option>${options}</select>`;
  } else if (element.multiline) {
    control = `<textarea id="${id}" name="${name}" rows="4" placeholder="${placeholder}" ${element.max_length ? `maxlength="${Number(element.max_length)}"` : ''}>${initial}</textarea>`;
  } else {
    const type = element.type === 'number_input' ? 'number' : 'text';
    control = `<input id="${id}" name="${name}" type="${type}" value="${initial}" placeholder="${placeholder}">`;
  }
  const optional = block.optional ? ' <span class="bk-optional">(optional)</span>' : '';
  const hint = block.hint ? `<div class="bk-hint">${textObject(block.hint, ctx)}</div>` : '';
  return `<div class="bk-input" data-block-id="${name}"><label for="${id}">${textObject(block.label, ctx)}${optional}</label>${control}${hint}<div class="bk-input-error" hidden></div></div>`;
}

/** Renders one block. */
export function renderBlock(block, ctx = {}) {
  switch (block.type) {
    case 'header':
      return `<div class="bk-header">${textObject(block.text, ctx)}</div>`;
    case 'section': {
      const text = block.text ? `<div class="bk-section-text">${textObject(block.text, ctx)}</div>` : '';
      const fields = block.fields?.length
        ? `<div class="bk-fields">${block.fields.map((f) => `<div class="bk-field">${textObject(f, ctx)}</div>`).join('')}</div>`
        : '';
      const accessory = block.accessory
        ? `<div class="bk-accessory">${renderElement(block.accessory, ctx, block)}</div>`
        : '';
      return `<div class="bk-section"><div class="bk-section-body">${text}${fields}</div>${accessory}</div>`;
    }
    case 'context':
      return `<div class="bk-context">${(block.elements ?? []).map((e) => renderElement(e, ctx, block)).join('')}</div>`;
    case 'actions':
      return `<div class="bk-actions">${(block.elements ?? []).map((e) => renderElement(e, ctx, block)).join('')}</div>`;
    case 'divider':
      return '<hr class="bk-divider">';
    case 'input':
      return renderInput(block, ctx);
    case 'image':
      return `<figure class="bk-image"><img src="${escapeHtml(block.image_url ?? '')}" alt="${escapeHtml(block.alt_text ?? '')}">${block.title ? `<figcaption>${textObject(block.title, ctx)}</figcaption>` : ''}</figure>`;
    default:
      return `<div class="bk-unsupported">Unsupported block: ${escapeHtml(block.type)}</div>`;
  }
}

/** Renders a message's blocks. */
export function renderBlocks(blocks, ctx = {}) {
  return (blocks ?? []).map((b) => renderBlock(b, ctx)).join('');
}
