/**
 * The web inbox's pages: pure functions from what the core answered to HTML.
 * No script at all (the CSP allows none); forms post back to the inbox with
 * the session's anti-forgery token.
 *
 * Agent-written text is data here as on the card: every value the agent chose
 * is HTML-escaped, its hidden and direction-changing characters are shown as
 * `\uXXXX` (the card's {@link revealTokens}), and it sits in a marked
 * `agent-text` box under a label of ours, so it can never pass for
 * Countersign's own words or markup.
 */
import { fencedJson, revealTokens } from '../shared/agent-text.js';
import type { Session } from './session.js';
import type { RequestView } from './view.js';

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Agent text on one line (newlines shown as `\n`), escaped and revealed. */
function agentLine(value: string): string {
  const { tokens, hidden } = revealTokens(value, { layout: 'line', edges: true });
  return `<span class="agent-text">${escapeHtml(tokens.join('')) || '(empty)'}</span>${hidden ? HIDDEN_MARK : ''}`;
}

/** Agent text on several lines, escaped and revealed, in a marked block. */
function agentBlock(value: string): string {
  const { tokens, hidden } = revealTokens(value, { layout: 'lines' });
  return `${hidden ? HIDDEN_MARK : ''}<pre class="agent-text">${escapeHtml(tokens.join('')) || ' '}</pre>`;
}

/** JSON (parameters) in a marked block: hidden characters as JSON escapes, the text still parses to the value. */
function agentJson(value: unknown): string {
  const { tokens, hidden } = fencedJson(value);
  // fencedJson escapes &, < and > already; quotes are harmless in element content.
  return `${hidden ? HIDDEN_MARK : ''}<pre class="agent-text">${tokens.join('')}</pre>`;
}

const HIDDEN_MARK =
  '<p class="mark">⚠ Contains hidden or direction-changing characters, shown as <code>\\u…</code>.</p>';

/** Countersign's own time text. */
const time = (iso: string | undefined) =>
  iso
    ? `<time datetime="${escapeHtml(iso)}">${escapeHtml(iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))}</time>`
    : '—';

/** The shell every page shares: the strict CSP is sent as a header; styles come from our own file. */
function layout(title: string, session: Session | undefined, main: string): string {
  const who = session
    ? `<div class="who"><span>${escapeHtml(session.signIn.email)}</span>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="${escapeHtml(session.csrf)}"><button type="submit" class="link">Sign out</button></form></div>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(title)} · Countersign</title>
<link rel="stylesheet" href="/static/inbox.css">
</head><body>
<header class="bar"><a class="brand" href="/">Countersign</a>
<nav><a href="/">Pending</a><a href="/history">History</a></nav>${who}</header>
<main>${main}</main>
</body></html>`;
}

/** A notice of ours: what the core said (a refusal, a decision, progress). */
export interface PageNotice {
  kind: 'refused' | 'done' | 'info';
  message: string;
  /** Set when the refusal asks for a fresh, stronger sign-in: the link to get it. */
  stepUpHref?: string;
}

function notice(n: PageNotice | undefined): string {
  if (!n) return '';
  const step = n.stepUpHref
    ? ` <a class="button" href="${escapeHtml(n.stepUpHref)}">Sign in again to approve</a>`
    : '';
  return `<div class="notice ${n.kind}" role="${n.kind === 'refused' ? 'alert' : 'status'}"><p>${escapeHtml(n.message)}</p>${step}</div>`;
}

const STATUS_TEXT: Record<string, string> = {
  PENDING: 'Waiting for review',
  APPROVED: 'Approved',
  DENIED: 'Denied',
  EXPIRED: 'Expired (denied: nobody decided in time)',
  CANCELLED: 'Cancelled by the agent',
};

const status = (s: string) =>
  `<span class="status ${escapeHtml(s.toLowerCase())}">${escapeHtml(STATUS_TEXT[s] ?? s)}</span>`;

/** One row of a list: our labels, the agent's values as data. */
function summary(view: RequestView): string {
  return `<li class="item"><a href="/requests/${encodeURIComponent(view.id)}">
<div class="line">${status(view.status)} <span class="label">Action</span> ${agentLine(view.action)}</div>
<div class="line"><span class="label">Resource</span> ${agentLine(view.resource)}</div>
<div class="line meta"><span class="label">Environment</span> <code>${escapeHtml(view.environment.name)}</code>
<span class="label">Agent</span> ${agentLine(view.agentId)}
<span class="label">${view.status === 'PENDING' ? 'Expires' : 'Decided'}</span> ${time(view.status === 'PENDING' ? view.expiresAt : view.decision?.decidedAt)}</div>
</a></li>`;
}

/** The pending requests this person may decide. */
export function inboxPage(session: Session, views: RequestView[], n?: PageNotice): string {
  const list = views.length
    ? `<ul class="list">${views.map(summary).join('\n')}</ul>`
    : '<p class="empty">Nothing is waiting for your review.</p>';
  return layout(
    'Pending',
    session,
    `${notice(n)}<h1>Waiting for your review</h1><p class="hint">Requests you may decide, newest first.</p>${list}`,
  );
}

/** Decided requests, newest first. */
export function historyPage(session: Session, views: RequestView[]): string {
  const list = views.length
    ? `<ul class="list">${views.map(summary).join('\n')}</ul>`
    : '<p class="empty">No decided requests yet.</p>';
  return layout('History', session, `<h1>Decided requests</h1>${list}`);
}

function row(label: string, value: string): string {
  return `<div class="row"><dt>${escapeHtml(label)}</dt><dd>${value}</dd></div>`;
}

/** What this person may do on the request page. */
export interface RequestPageOptions {
  /** The person may approve or deny now (the core's eligibility). */
  mayDecide: boolean;
  notice?: PageNotice;
  /** What the person typed, kept when the core refused it. */
  reason?: string;
}

function decisionForms(session: Session, view: RequestView, options: RequestPageOptions): string {
  if (view.status !== 'PENDING' || !options.mayDecide) return '';
  const hidden = (decision: string) =>
    `<input type="hidden" name="csrf" value="${escapeHtml(session.csrf)}">
<input type="hidden" name="intentHash" value="${escapeHtml(view.intentHash)}">
<input type="hidden" name="decision" value="${decision}">`;
  const action = `/requests/${encodeURIComponent(view.id)}/decision`;
  const modify = view.editable.length
    ? `<form method="post" action="${action}" class="decide modify"><h3>Modify, then approve</h3>${hidden('modify')}
${view.editable
  .map(
    (e, i) =>
      `<label for="p${i}">Parameter <code>${escapeHtml(e.path)}</code>${e.masked ? ' (masked: not shown)' : ''}</label>
<input id="p${i}" name="param:${escapeHtml(e.path)}" value="${e.masked || e.current === undefined ? '' : escapeHtml(typeof e.current === 'string' ? e.current : JSON.stringify(e.current))}" autocomplete="off">`,
  )
  .join('\n')}
<button type="submit">Modify</button></form>`
    : '';
  return `<section class="decide-all"><h2>Your decision</h2>
<form method="post" action="${action}" class="decide approve">${hidden('approve')}
<p class="hint">Approves exactly the version above (hash <code>${escapeHtml(view.intentHash.slice(0, 23))}…</code>).</p>
<button type="submit" class="primary">Approve</button></form>
<form method="post" action="${action}" class="decide deny">${hidden('deny')}
<label for="reason">Reason for denying (required)</label>
<textarea id="reason" name="reason" required maxlength="2000" rows="3">${escapeHtml(options.reason ?? '')}</textarea>
<button type="submit" class="danger">Deny</button></form>
${modify}</section>`;
}

/** One request with the card's full context, and the forms this person may use. */
export function requestPage(session: Session, view: RequestView, options: RequestPageOptions): string {
  const facts = [
    row('Action', agentLine(view.action)),
    row('Resource', agentLine(view.resource)),
    row(
      'Environment',
      view.environment.name === 'unknown'
        ? '<code>unknown</code> (unverified: nothing places this resource)'
        : `<code>${escapeHtml(view.environment.name)}</code> (derived from the ${escapeHtml(view.environment.source)})`,
    ),
    ...(view.environment.declared !== view.environment.name
      ? [row('Environment declared by the agent', agentLine(view.environment.declared))]
      : []),
    row('Agent', agentLine(view.agentId)),
    row('Model', agentLine(view.model)),
    row('On behalf of', agentLine(view.onBehalfOf)),
    row('Owner (registered)', agentLine(view.owner)),
    row('Session', agentLine(view.sessionId)),
    row('Requested', time(view.createdAt)),
    row('Expires', time(view.expiresAt)),
    row(
      'Approvals',
      `${view.approvals.length} of ${view.quorum}${view.approvals.length ? `: ${view.approvals.map((a) => `${escapeHtml(a.email)} ${time(a.at)}`).join(', ')}` : ''}`,
    ),
    ...(view.policies.length ? [row('Policy', view.policies.map((p) => agentLine(p)).join(', '))] : []),
  ].join('\n');
  const decided = view.decision
    ? `<div class="decided">${status(view.status)}${view.decision.breakGlass ? ' on the break-glass path' : ''}${view.decision.decidedBy ? ` by ${escapeHtml(view.decision.decidedBy)}` : view.decision.automatic ? ' by policy' : ''} · ${time(view.decision.decidedAt)}
<h3>Reason</h3>${agentBlock(view.decision.reason)}</div>`
    : status(view.status);
  const modification = view.modification
    ? `<h2>Modified by ${escapeHtml(view.modification.by.email)} ${time(view.modification.by.at)}</h2>
<p class="hint">Policy re-evaluated it; earlier approvals were for other parameters.</p>
${agentBlock(view.modification.diff.map((d) => `${d.path}: ${JSON.stringify(d.from)} → ${JSON.stringify(d.to)}`).join('\n'))}`
    : '';
  const context = [
    view.impact ? `<h2>Impact <small>as the agent wrote it</small></h2>${agentBlock(view.impact)}` : '',
    view.diff ? `<h2>Diff <small>as the agent wrote it</small></h2>${agentBlock(view.diff)}` : '',
    view.datasets
      ? `<h2>Datasets <small>as the agent wrote them</small></h2>${agentBlock(view.datasets.join('\n'))}`
      : '',
  ].join('\n');
  const main = `${notice(options.notice)}
<h1>Privileged action review</h1>
<p class="request-id">Request ${agentLine(view.id)}</p>
${decided}
<dl class="facts">${facts}</dl>
<h2>Why <small>as the agent wrote it</small></h2>${agentBlock(view.justification)}
<h2>Parameters${view.modification ? ' (modified)' : ''}</h2>${agentJson(view.parameters)}
${modification}
${context}
<p class="hint">Hash <code>${escapeHtml(view.intentHash)}</code></p>
${decisionForms(session, view, options)}`;
  return layout('Request', session, main);
}

/** A page for a person who is not signed in, or an error of ours. */
export function messagePage(title: string, message: string, link?: { href: string; text: string }): string {
  return layout(
    title,
    undefined,
    `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>${link ? `<p><a class="button" href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a></p>` : ''}`,
  );
}
