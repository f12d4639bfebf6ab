/**
 * A request's timeline as a waterfall: one bar per span of its trace (the
 * request span first, then its steps by start time), placed on a shared time
 * axis, with the request span's events (reminders, escalation, expiry) as
 * marks. Input is `GET /api/traces/<intentId>`. Every value is escaped.
 */
import { escapeHtml } from './blockkit.js';

/** Attributes worth a glance on each bar, in order. */
const SUMMARY_KEYS = [
  'countersign.outcome',
  'countersign.vote',
  'countersign.refusal_code',
  'countersign.approver',
  'countersign.approvers',
  'countersign.approver_groups',
  'countersign.action',
  'countersign.environment',
];

/** "1.2 s", "4 min 3 s", "350 ms". */
export function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

function summary(attributes) {
  return SUMMARY_KEYS.filter((key) => attributes[key] !== undefined && attributes[key] !== null)
    .map((key) => {
      const value = attributes[key];
      return `${key.slice('countersign.'.length)}=${Array.isArray(value) ? value.join(',') : String(value)}`;
    })
    .join(' · ');
}

function title(span) {
  return Object.entries(span.attributes)
    .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(', ') : String(value)}`)
    .join('\n');
}

/** The waterfall's HTML for a timeline. */
export function renderTimeline(timeline) {
  const spans = [...timeline.spans];
  if (spans.length === 0) return '<p class="timeline-note">No spans yet.</p>';
  const root = spans.find((s) => s.name === 'countersign.review') ?? spans[0];
  const steps = spans.filter((s) => s !== root).sort((a, b) => a.start - b.start || a.end - b.end);
  const t0 = Math.min(...spans.map((s) => s.start));
  const total = Math.max(1, Math.max(...spans.map((s) => s.end)) - t0);
  const pct = (ms) => `${((ms / total) * 100).toFixed(3)}%`;
  const row = (span, depth) => {
    const left = span.start - t0;
    const width = Math.max(0, span.end - span.start);
    const marks = (span.events ?? [])
      .map(
        (e) =>
          `<span class="timeline-event" style="left:${pct(e.at - t0)}" title="${escapeHtml(`${e.name} at +${formatDuration(e.at - t0)}`)}"></span>`,
      )
      .join('');
    return `<div class="timeline-row status-${escapeHtml(span.status)}" data-span="${escapeHtml(span.name)}">
        <div class="timeline-label" style="padding-left:${depth * 12}px" title="${escapeHtml(title(span))}">
          <code>${escapeHtml(span.name.replace(/^countersign\./, ''))}</code>
          <span class="timeline-summary">${escapeHtml(summary(span.attributes))}</span>
        </div>
        <div class="timeline-track">
          <span class="timeline-bar" style="left:${pct(left)};width:max(2px,${pct(width)})"></span>${marks}
        </div>
        <div class="timeline-duration">${escapeHtml(formatDuration(width))}</div>
      </div>`;
  };
  const source = timeline.exported
    ? 'as received by the local OTLP receiver'
    : 'from the audit trail so far (exported when the request is decided)';
  const parent = timeline.parentSpanId
    ? ` · parent span <code>${escapeHtml(timeline.parentSpanId)}</code> (the agent's)`
    : ' · trace started by Countersign';
  return `<p class="timeline-note">Trace <code>${escapeHtml(timeline.traceId)}</code>${parent} · ${escapeHtml(source)}</p>
    <div class="timeline">${row(root, 0)}${steps.map((s) => row(s, 1)).join('')}</div>`;
}
