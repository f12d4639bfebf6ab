/**
 * The approval console: lists requests with their Slack cards (the latest
 * chat.update content the handlers posted), lets you pick who you are from the
 * sandbox directory, and sends your clicks to the server, which signs them as
 * Slack would and posts them to /slack/interactions.
 */
import { escapeHtml, mrkdwn, renderBlocks } from './blockkit.js';
import { renderTimeline } from './timeline.js';

const STORAGE_KEY = 'countersign.console.user';
const FINAL = new Set(['APPROVED', 'DENIED', 'EXPIRED', 'CANCELLED']);

const state = {
  directory: undefined,
  users: new Map(),
  userId: localStorage.getItem(STORAGE_KEY) ?? '',
  filter: 'pending',
  requests: [],
  rendered: new Map(),
  openAudits: new Set(),
  openTimelines: new Set(),
  ephemerals: [],
  events: [],
  busy: new Set(),
  online: true,
};

const $ = (selector) => document.querySelector(selector);

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

function initials(user) {
  const name = user.realName ?? user.name;
  return name
    .split(/\s+/)
    .map((w) => w[0])
    .join('')
    .slice(0, 2)
    .toUpperCase();
}

function avatarColor(id) {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) % 360;
  return `hsl(${h} 45% 42%)`;
}

function relativeTime(iso) {
  const ms = new Date(iso).getTime() - Date.now();
  const abs = Math.abs(ms);
  const units = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  for (const [unit, size] of units) {
    if (abs >= size || unit === 's') {
      const n = Math.max(1, Math.floor(abs / size));
      return ms >= 0 ? `in ${n}${unit}` : `${n}${unit} ago`;
    }
  }
  return '';
}

// ---------------------------------------------------------------- user picker

function renderPicker() {
  const picker = $('#user-picker');
  const users = state.directory.users;
  picker.innerHTML = [
    '<option value="">Choose who you are…</option>',
    ...users.map((u) => {
      const groups = u.groups.length ? u.groups.join(', ') : 'no groups';
      const flags = [u.isBot ? 'bot' : '', u.email ? '' : 'no email'].filter(Boolean).join(', ');
      return `<option value="${escapeHtml(u.id)}">${escapeHtml(u.realName ?? u.name)} (@${escapeHtml(u.name)}) · ${escapeHtml(groups)}${flags ? ` · ${escapeHtml(flags)}` : ''}</option>`;
    }),
  ].join('');
  picker.value = state.users.has(state.userId) ? state.userId : '';
  picker.addEventListener('change', () => {
    state.userId = picker.value;
    localStorage.setItem(STORAGE_KEY, state.userId);
    renderIdentity();
    renderAll(true);
    refreshEphemerals();
  });
  renderIdentity();
}

function roleNote(user) {
  const demo = state.directory.demo ?? {};
  if (!user) return 'Pick a directory user to approve or deny as them.';
  if (user.isBot) return 'A bot user: agents never approve anything.';
  if (!user.email)
    return 'No email in the directory: the identity cannot be resolved, so clicks are refused.';
  if (user.email === demo.onBehalfOf)
    return 'The demo agent acts on your behalf: your own approvals are refused.';
  if (user.email === demo.owner) return 'You own the demo agent: your own approvals are refused.';
  if (user.groups.includes(state.directory.approverGroup))
    return `Member of ${state.directory.approverGroup}: you can approve.`;
  return `Not in ${state.directory.approverGroup}: clicks are refused for most requests.`;
}

function renderIdentity() {
  const user = state.users.get(state.userId);
  const avatar = $('#identity-avatar');
  avatar.textContent = user ? initials(user) : '?';
  avatar.style.background = user ? avatarColor(user.id) : '#9aa0a6';
  $('#identity-note').textContent = roleNote(user);
}

// ---------------------------------------------------------------- requests

function statusClass(status) {
  return `status-${String(status).toLowerCase()}`;
}

function cardHtml(request) {
  const ctx = { users: state.users };
  const user = state.users.get(state.userId);
  const busy = state.busy.has(request.intentId);
  const posted = request.posted
    ? '<span class="meta-pill" title="Content of the Slack message as last updated by the handlers">from Slack</span>'
    : '<span class="meta-pill muted" title="No Slack message was posted (decided by policy, or posted before a restart); rendered from the stored request with the same card renderer">rendered from the request</span>';
  const expires =
    request.status === 'PENDING' && request.expiresAt
      ? `<span class="expires" data-expires="${escapeHtml(request.expiresAt)}" title="${escapeHtml(request.expiresAt)}">expires ${relativeTime(request.expiresAt)}</span>`
      : '';
  const auditOpen = state.openAudits.has(request.intentId);
  return `
    <div class="message-gutter"><div class="app-avatar" aria-hidden="true">CS</div></div>
    <div class="message-body">
      <div class="message-meta">
        <span class="app-name">Countersign</span><span class="app-badge">APP</span>
        <time title="${escapeHtml(request.createdAt)}">${new Date(request.createdAt).toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' })}</time>
        ${posted}
        <span class="status-pill ${statusClass(request.status)}">${escapeHtml(request.status)}</span>
        ${expires}
      </div>
      ${request.orphaned ? '<div class="orphan-note">This review started before the sandbox restarted. Local workflow executions live in memory, so it can no longer be decided. Run <code>npm start -- --reset</code> for a clean slate.</div>' : ''}
      <div class="blocks ${busy ? 'is-busy' : ''} ${user ? '' : 'no-user'}">${renderBlocks(blocksOf(request), ctx)}</div>
      <details class="audit" ${auditOpen ? 'open' : ''} data-audit="${escapeHtml(request.intentId)}">
        <summary>Audit trail</summary>
        <div class="audit-body">Loading…</div>
      </details>
      <details class="audit" ${state.openTimelines.has(request.intentId) ? 'open' : ''} data-timeline="${escapeHtml(request.intentId)}">
        <summary>Timeline</summary>
        <div class="audit-body">Loading…</div>
      </details>
    </div>`;
}

/** Decided cards stay in the Pending view this long, so a card does not vanish the moment it is decided. */
const RECENTLY_DECIDED_MS = 120_000;

/** The card's blocks; an orphaned review keeps its content but loses its buttons. */
function blocksOf(request) {
  return request.orphaned ? request.blocks.filter((b) => b.type !== 'actions') : request.blocks;
}

function visible(request) {
  if (state.filter === 'pending') {
    const decidedAt = Date.parse(request.decision?.decidedAt ?? '');
    return request.status === 'PENDING' || Date.now() - decidedAt < RECENTLY_DECIDED_MS;
  }
  if (state.filter === 'decided') return FINAL.has(request.status);
  return true;
}

function renderAll(force = false) {
  const list = $('#requests');
  const shown = state.requests.filter(visible);
  const pending = state.requests.filter((r) => r.status === 'PENDING').length;
  $('#count-pending').textContent = String(pending);
  $('#count-decided').textContent = String(state.requests.length - pending);
  $('#count-all').textContent = String(state.requests.length);
  document.title = pending ? `(${pending}) Countersign console` : 'Countersign console';

  const keep = new Set(shown.map((r) => r.intentId));
  for (const [id, entry] of state.rendered) {
    if (!keep.has(id)) {
      entry.element.remove();
      state.rendered.delete(id);
    }
  }
  let previous = null;
  for (const request of shown) {
    const fingerprint = JSON.stringify([
      request.status,
      request.orphaned,
      request.blocks,
      state.busy.has(request.intentId),
      state.userId,
    ]);
    let entry = state.rendered.get(request.intentId);
    if (!entry) {
      const element = document.createElement('article');
      element.className = 'message';
      element.dataset.requestId = request.intentId;
      entry = { element, fingerprint: '' };
      state.rendered.set(request.intentId, entry);
    }
    if (force || entry.fingerprint !== fingerprint) {
      entry.element.innerHTML = cardHtml(request);
      entry.element.dataset.status = request.status;
      entry.element.className = `message ${statusClass(request.status)}`;
      entry.fingerprint = fingerprint;
      if (state.openAudits.has(request.intentId)) loadAudit(request.intentId);
      if (state.openTimelines.has(request.intentId)) loadTimeline(request.intentId);
    }
    const anchor = previous ? previous.nextSibling : list.firstChild;
    if (anchor !== entry.element) list.insertBefore(entry.element, anchor);
    previous = entry.element;
  }
  $('#empty').hidden = shown.length > 0;
  $('#empty').innerHTML = emptyText();
}

function emptyText() {
  if (state.requests.length === 0) {
    return `<strong>No requests yet.</strong><br>Run <code>npm run demo</code> in another terminal, or publish an intent with the AWS SDK (endpoint <code>${escapeHtml(location.origin)}</code>).`;
  }
  return state.filter === 'pending'
    ? '<strong>Nothing waiting for review.</strong><br>Decided requests are under “Decided”.'
    : '<strong>Nothing here.</strong>';
}

async function loadAudit(intentId) {
  const details = document.querySelector(`details[data-audit="${CSS.escape(intentId)}"]`);
  if (!details) return;
  try {
    const view = await getJson(`/requests/${encodeURIComponent(intentId)}`);
    const rows = view.audit
      .map((r) => {
        const actor =
          r.actor?.type === 'human'
            ? (state.users.get(r.actor.slackUserId)?.name ?? r.actor.email ?? 'human')
            : r.actor?.type === 'agent'
              ? `agent ${r.actor.agentId}`
              : (r.actor?.component ?? r.actor?.type ?? '');
        return `<tr><td>${r.seq}</td><td>${escapeHtml(new Date(r.at).toLocaleTimeString())}</td><td><code>${escapeHtml(r.kind)}</code></td><td>${escapeHtml(actor)}</td><td><code title="${escapeHtml(r.hash)}">${escapeHtml(String(r.hash).slice(0, 12))}…</code></td></tr>`;
      })
      .join('');
    details.querySelector('.audit-body').innerHTML = `
      <table class="audit-table"><thead><tr><th>#</th><th>At</th><th>Record</th><th>Actor</th><th>Hash</th></tr></thead><tbody>${rows}</tbody></table>
      <a class="raw-link" href="/requests/${encodeURIComponent(intentId)}" target="_blank" rel="noopener">Status API JSON ↗</a>`;
    details.querySelector('summary').textContent = `Audit trail · ${view.audit.length} records, hash-chained`;
  } catch (error) {
    details.querySelector('.audit-body').textContent = `Could not load the audit trail: ${error.message}`;
  }
}

/** The request's trace as a waterfall (GET /api/traces/<intentId>), next to its audit trail. */
async function loadTimeline(intentId) {
  const details = document.querySelector(`details[data-timeline="${CSS.escape(intentId)}"]`);
  if (!details) return;
  try {
    const timeline = await getJson(`/api/traces/${encodeURIComponent(intentId)}`);
    details.querySelector('.audit-body').innerHTML = renderTimeline(timeline);
    details.querySelector('summary').textContent =
      `Timeline · ${timeline.spans.length} spans${timeline.exported ? ', exported' : ''}`;
  } catch (error) {
    details.querySelector('.audit-body').textContent = `Could not load the timeline: ${error.message}`;
  }
}

// ---------------------------------------------------------------- clicks

function toast(html, kind = 'info', ms = 6000) {
  const element = document.createElement('div');
  element.className = `toast toast-${kind}`;
  element.innerHTML = html;
  $('#toasts').append(element);
  setTimeout(() => element.classList.add('leaving'), ms);
  setTimeout(() => element.remove(), ms + 400);
}

async function clickButton(button) {
  const article = button.closest('article[data-request-id]');
  const requestId = button.dataset.value || article?.dataset.requestId;
  if (!state.userId) {
    toast('Pick who you are first (top right).', 'warn');
    $('#user-picker').focus();
    return;
  }
  state.busy.add(requestId);
  renderAll();
  try {
    const res = await fetch('/api/click', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: state.userId, actionId: button.dataset.actionId, requestId }),
    });
    const out = await res.json();
    if (!res.ok) toast(escapeHtml(out.message ?? `HTTP ${res.status}`), 'error');
    else if (out.status !== 200)
      toast(`Slack interaction answered HTTP ${out.status}: ${escapeHtml(out.body)}`, 'error');
    showEphemerals(out.ephemerals);
    if (out.views?.length) openModal(out.views.at(-1));
  } catch (error) {
    toast(`Click failed: ${escapeHtml(error.message)}`, 'error');
  } finally {
    state.busy.delete(requestId);
    await refresh();
    refreshEphemerals();
  }
}

function showEphemerals(messages) {
  for (const message of messages ?? []) {
    toast(
      `<div class="toast-label">Only visible to you</div>${mrkdwn(message.text ?? '', { users: state.users })}`,
      'ephemeral',
      9000,
    );
  }
}

// ---------------------------------------------------------------- modals

/** Shows a modal the handler opened with views.open, as Slack would. */
function openModal(opened) {
  const view = opened.view;
  const dialog = $('#modal');
  const plain = (t) => escapeHtml(t?.text ?? '');
  dialog.innerHTML = `
    <form method="dialog" class="modal-form" data-view-id="${escapeHtml(opened.id)}">
      <header class="modal-head"><h2>${plain(view.title) || 'Countersign'}</h2>
        <button type="button" class="modal-x" data-close aria-label="Close">×</button></header>
      <div class="modal-body">${renderBlocks(view.blocks, { users: state.users })}</div>
      <div class="modal-error" hidden></div>
      <footer class="modal-foot">
        <button type="button" class="bk-button" data-close>${plain(view.close) || 'Cancel'}</button>
        ${view.submit ? `<button type="submit" class="bk-button bk-button-primary">${plain(view.submit)}</button>` : ''}
      </footer>
    </form>`;
  for (const close of dialog.querySelectorAll('[data-close]'))
    close.addEventListener('click', () => dialog.close());
  dialog.querySelector('form').addEventListener('submit', (event) => {
    event.preventDefault();
    submitModal(dialog, opened.id);
  });
  if (!dialog.open) dialog.showModal();
  dialog.querySelector('input, textarea, select')?.focus();
}

async function submitModal(dialog, viewId) {
  const form = dialog.querySelector('form');
  const inputs = {};
  for (const field of form.querySelectorAll('[name]')) inputs[field.name] = field.value;
  for (const error of form.querySelectorAll('.bk-input-error')) error.hidden = true;
  form.classList.add('is-busy');
  const fail = (text) => {
    const box = form.querySelector('.modal-error');
    box.textContent = text;
    box.hidden = false;
  };
  try {
    const res = await fetch('/api/submit', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: state.userId, viewId, inputs }),
    });
    const out = await res.json();
    if (!res.ok) throw new Error(out.message ?? `HTTP ${res.status}`);
    const answer = out.answer && typeof out.answer === 'object' ? out.answer : {};
    if (answer.response_action === 'errors') {
      for (const [blockId, message] of Object.entries(answer.errors ?? {})) {
        const slot = form.querySelector(`[data-block-id="${CSS.escape(blockId)}"] .bk-input-error`);
        if (slot) {
          slot.textContent = message;
          slot.hidden = false;
        } else fail(message);
      }
    } else if (answer.response_action === 'update' && answer.view) {
      openModal({ id: viewId, view: answer.view });
    } else if (out.status !== 200) {
      fail(`Slack interaction answered HTTP ${out.status}: ${out.body}`);
    } else dialog.close();
    showEphemerals(out.ephemerals);
  } catch (error) {
    fail(`Submit failed: ${error.message}`);
  } finally {
    form.classList.remove('is-busy');
    refresh();
  }
}

// ---------------------------------------------------------------- sidebar

async function refreshEphemerals() {
  const box = $('#ephemerals');
  if (!state.userId) {
    box.innerHTML = '<p class="muted">Pick a user to see the messages only they can see.</p>';
    return;
  }
  try {
    state.ephemerals = await getJson(`/api/ephemerals?user=${encodeURIComponent(state.userId)}`);
  } catch {
    return;
  }
  const items = state.ephemerals.slice(-8).reverse();
  box.innerHTML = items.length
    ? items
        .map((m) => `<div class="ephemeral">${mrkdwn(m.text ?? '', { users: state.users })}</div>`)
        .join('')
    : '<p class="muted">Nothing yet. Refusals (self-approval, not an approver, already decided) show up here.</p>';
}

function renderEvents() {
  const box = $('#events');
  const items = state.events.slice(-8).reverse();
  box.innerHTML = items.length
    ? items
        .map((e) => {
          const d = e.detail;
          return `<div class="event"><span class="status-pill ${statusClass(d.status)}">${escapeHtml(d.status)}</span>
            <code>${escapeHtml(d.intentId)}</code>
            <div class="muted small">${escapeHtml(d.automatic ? 'by policy' : (d.approvers ?? []).map((a) => a.email).join(', ') || 'by a human')} · ${escapeHtml(new Date(e.time).toLocaleTimeString())}</div></div>`;
        })
        .join('')
    : '<p class="muted">Decision events published back on the bus appear here.</p>';
}

// ---------------------------------------------------------------- live updates

function setOnline(online) {
  if (state.online === online) return;
  state.online = online;
  $('#connection').hidden = online;
}

let refreshing;
let refreshAgain = false;

/** Reloads requests and events; a call during a reload runs once more after it. */
async function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = load();
  await refreshing;
  refreshing = undefined;
  if (refreshAgain) {
    refreshAgain = false;
    await refresh();
  }
}

/**
 * The server's Server-Sent Events (`/api/updates`) say when something changed;
 * the console reloads then, never on a timer. EventSource reconnects by itself
 * (the server asks for 1 s); a reconnect reloads everything once.
 */
function listen() {
  const source = new EventSource('/api/updates');
  source.addEventListener('ready', async () => {
    setOnline(true);
    await refresh();
    refreshEphemerals();
    // Live from here on: every later change arrives as an event (tests wait for this).
    document.body.dataset.live = 'true';
  });
  source.addEventListener('change', (event) => {
    const change = JSON.parse(event.data);
    refresh();
    if (change.sources.includes('slack')) refreshEphemerals();
  });
  source.addEventListener('error', () => setOnline(false));
}

async function load() {
  try {
    const [requests, events] = await Promise.all([getJson('/requests'), getJson('/events')]);
    state.requests = requests;
    state.events = events;
    setOnline(true);
    renderAll();
    renderEvents();
  } catch {
    setOnline(false);
  }
}

async function main() {
  state.directory = await getJson('/api/directory');
  state.users = new Map(state.directory.users.map((u) => [u.id, u]));
  $('#team-name').textContent = state.directory.team?.name ?? 'Sandbox';
  renderPicker();
  if (!state.directory.fakeSlack) $('#real-slack').hidden = false;

  for (const tab of document.querySelectorAll('[data-filter]')) {
    tab.addEventListener('click', () => {
      state.filter = tab.dataset.filter;
      for (const t of document.querySelectorAll('[data-filter]'))
        t.setAttribute('aria-selected', String(t === tab));
      renderAll(true);
    });
  }
  $('#requests').addEventListener('click', (event) => {
    const button = event.target.closest('button.bk-button');
    if (button && !button.disabled) clickButton(button);
  });
  $('#requests').addEventListener(
    'toggle',
    (event) => {
      const details = event.target;
      if (!(details instanceof HTMLDetailsElement)) return;
      if (details.dataset.timeline) {
        const id = details.dataset.timeline;
        if (details.open) {
          state.openTimelines.add(id);
          loadTimeline(id);
        } else state.openTimelines.delete(id);
        return;
      }
      const id = details.dataset.audit;
      if (details.open) {
        state.openAudits.add(id);
        loadAudit(id);
      } else state.openAudits.delete(id);
    },
    true,
  );

  await refresh();
  refreshEphemerals();
  listen();
  document.body.dataset.ready = 'true';
  setInterval(tickExpiry, 1000);
}

/** Keeps the "expires in" labels current between re-renders. */
function tickExpiry() {
  for (const element of document.querySelectorAll('[data-expires]')) {
    element.textContent = `expires ${relativeTime(element.dataset.expires)}`;
  }
}

main().catch((error) => {
  document.body.dataset.ready = 'error';
  $('#empty').hidden = false;
  $('#empty').textContent = `The console could not start: ${error.message}`;
});
