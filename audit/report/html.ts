/**
 * Renders report figures as one self-contained HTML page: inline CSS, charts
 * as inline SVG drawn here, no script, and a Content-Security-Policy that
 * forbids every fetch, so the file opens offline and cannot call out. Every
 * value that came from the trail (agent ids, actions, emails, request ids,
 * reasons) is escaped: agent text is data, never markup.
 *
 * Key figures carry `data-figure` attributes holding the same numbers as
 * `audit export`'s summary, so tests (and auditors' scripts) read them exactly.
 */
import { controlMapping } from './controls.js';
import { OUTCOMES, type ReportFigures, type Tally } from './figures.js';

/** Options of {@link renderReport}. */
export interface RenderOptions {
  /** Page title. @default 'Countersign audit report' */
  title?: string;
  /** Links shown above the report (the sandbox console's navigation). */
  nav?: { href: string; label: string }[];
}

const COLORS: Record<(typeof OUTCOMES)[number], string> = {
  APPROVED: '#1a7f37',
  DENIED: '#cf222e',
  EXPIRED: '#9a6700',
  CANCELLED: '#6e7781',
  PENDING: '#0969da',
};

/** HTML-escapes text for element content and attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const e = escapeHtml;

function duration(seconds: number | null): string {
  if (seconds === null) return 'n/a';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A horizontal bar chart of named counts. */
function barChart(id: string, title: string, tallies: readonly Tally[], color = '#0969da'): string {
  if (tallies.length === 0 || tallies.every((t) => t.count === 0))
    return `<figure class="chart" id="${id}"><figcaption>${e(title)}</figcaption><p class="none">None in this period.</p></figure>`;
  const max = Math.max(1, ...tallies.map((t) => t.count));
  const rowH = 22;
  const labelW = 220;
  const barW = 320;
  const h = tallies.length * rowH + 8;
  const bars = tallies
    .map((t, i) => {
      const w = Math.max(t.count > 0 ? 2 : 0, Math.round((t.count / max) * barW));
      const y = i * rowH + 4;
      const label = t.name.length > 34 ? `${t.name.slice(0, 33)}…` : t.name;
      return `<g data-name="${e(t.name)}" data-count="${t.count}"><title>${e(t.name)}: ${t.count}</title><text x="${labelW - 6}" y="${y + 15}" text-anchor="end">${e(label)}</text><rect x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 8}" fill="${color}"/><text x="${labelW + w + 6}" y="${y + 15}">${t.count}</text></g>`;
    })
    .join('');
  return `<figure class="chart" id="${id}"><figcaption>${e(title)}</figcaption><svg role="img" aria-label="${e(title)}" viewBox="0 0 ${labelW + barW + 60} ${h}" width="100%">${bars}</svg></figure>`;
}

/** Requests over time as stacked columns by outcome. */
function overTimeChart(f: ReportFigures): string {
  const { buckets, unit } = f.overTime;
  const title = `Requests per ${unit} by outcome`;
  if (buckets.length === 0) return '';
  const max = Math.max(1, ...buckets.map((b) => OUTCOMES.reduce((n, o) => n + b.counts[o], 0)));
  const plotH = 160;
  const w = 640;
  const colW = w / buckets.length;
  const cols = buckets
    .map((b, i) => {
      let y = plotH;
      const parts = OUTCOMES.filter((o) => b.counts[o] > 0)
        .map((o) => {
          const h = (b.counts[o] / max) * plotH;
          y -= h;
          return `<rect x="${(i * colW + 1).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, colW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[o]}"><title>${e(b.start)} ${o}: ${b.counts[o]}</title></rect>`;
        })
        .join('');
      return parts;
    })
    .join('');
  const first = buckets[0]!.start;
  const last = buckets.at(-1)!.start;
  const legend = OUTCOMES.map(
    (o) => `<span class="key"><i style="background:${COLORS[o]}"></i>${o}</span>`,
  ).join('');
  return `<figure class="chart wide" id="chart-over-time"><figcaption>${e(title)}</figcaption><svg role="img" aria-label="${e(title)}" viewBox="0 0 ${w} ${plotH + 24}" width="100%"><line x1="0" y1="${plotH}" x2="${w}" y2="${plotH}" stroke="#8c959f"/>${cols}<text x="0" y="${plotH + 18}">${e(first.slice(0, 16))}</text><text x="${w}" y="${plotH + 18}" text-anchor="end">${e(last.slice(0, 16))}</text><text x="2" y="12">max ${max}</text></svg><div class="legend">${legend}</div></figure>`;
}

function list(items: readonly string[]): string {
  return items.length
    ? `<ul>${items.map((i) => `<li>${e(i)}</li>`).join('')}</ul>`
    : '<p class="none">None.</p>';
}

/** The report page. */
export function renderReport(f: ReportFigures, options: RenderOptions = {}): string {
  const title = options.title ?? 'Countersign audit report';
  const s = f.summary;
  const v = f.verification;
  const figure = (name: string, value: string | number, label: string) =>
    `<div class="figure"><dd data-figure="${name}">${e(value)}</dd><dt>${e(label)}</dt></div>`;
  const controls = controlMapping(f)
    .map(
      (
        c,
      ) => `<section class="control" id="control-${e(c.id)}"><h3><span class="fw">${e(c.framework)}</span> ${e(c.id)} · ${e(c.title)}</h3>
<p><b>Asks:</b> ${e(c.asks)}</p><p><b>How Countersign meets it:</b> ${e(c.meets)}</p>
<p><b>Evidence this period:</b></p>${list(c.evidence)}<p><b>Exceptions:</b></p>${list(c.exceptions)}</section>`,
    )
    .join('\n');
  const rows = f.rows
    .map(
      (r) =>
        `<tr data-request-id="${e(r.requestId)}"><td>${e(r.requestId)}</td><td>${e(r.agent)}</td><td>${e(r.action)}</td><td class="mono">${e(r.resource)}</td><td>${e(r.environment)}</td><td class="o-${e(r.outcome)}">${e(r.outcome)}</td><td>${r.automatic === null ? '' : r.automatic ? 'policy' : 'human'}</td><td>${e(r.approvers.map((a) => a.email).join(', '))}</td><td>${e(duration(r.timeToDecisionSeconds))}</td><td>${e(r.requestedAt)}</td></tr>`,
    )
    .join('');
  const nav = options.nav?.length
    ? `<nav>${options.nav.map((n) => `<a href="${e(n.href)}">${e(n.label)}</a>`).join(' · ')}</nav>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;max-width:1100px;margin:24px auto;padding:0 20px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}h3{font-size:15px;margin:0 0 6px}
.muted{color:#57606a}nav{margin-bottom:12px}nav a{color:#0969da}
.verdict{padding:12px 16px;border-radius:6px;margin:16px 0}.verdict.ok{background:#dafbe1;border:1px solid #1a7f37}.verdict.failed{background:#ffebe9;border:1px solid #cf222e}
.verdict code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;word-break:break-all}
dl.figures{display:flex;flex-wrap:wrap;gap:12px;margin:0}.figure{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;min-width:110px}.figure dd{font-size:22px;font-weight:600;margin:0}.figure dt{color:#57606a;font-size:12px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}.chart{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:10px}.chart.wide{grid-column:1/-1}figcaption{font-weight:600;margin-bottom:6px}
svg text{font-size:11px;fill:#1f2328}.legend{font-size:12px}.key{margin-right:12px}.key i{display:inline-block;width:10px;height:10px;margin-right:4px}
.none{color:#57606a;font-style:italic}.control{border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;margin:10px 0;break-inside:avoid}.control p{margin:4px 0}.control ul{margin:2px 0 6px}.fw{color:#57606a;font-weight:400}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{border-bottom:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top;word-break:break-word}
.o-APPROVED{color:#1a7f37}.o-DENIED{color:#cf222e}.o-EXPIRED{color:#9a6700}
@media print{body{margin:0}.charts{display:block}.chart{margin-bottom:10px;break-inside:avoid}}
</style></head>
<body>
${nav}
<h1>${e(title)}</h1>
<p class="muted">Period <span data-figure="from">${e(f.from)}</span> to <span data-figure="to">${e(f.to)}</span> · generated ${e(f.generatedAt)} · trail ${e(v.source)}</p>

<div class="verdict ${v.ok ? 'ok' : 'failed'}" id="verification">
<p><b>Verification ${v.ok ? 'passed' : 'FAILED'}.</b> <span data-figure="verified" hidden>${v.ok ? 'true' : 'false'}</span>Every figure below is computed only from records that passed it.</p>
<p>Checked: every digest's signature${v.signaturesChecked ? '' : ' (NOT checked: no public key was given)'}, the digest chain, every record's hash, its place in its request's chain, and that every record is listed in exactly one digest.</p>
<p>Result: <code>${e(v.lines.join(' | '))}</code></p>
<p>Public key fingerprint (SHA-256 of the DER SubjectPublicKeyInfo): ${v.keyFingerprints.map((k) => `<code data-figure="key-fingerprint">sha256:${e(k)}</code>`).join(', ') || '<i>none</i>'}</p>
<p>Re-run it: <code>${e(v.command)}</code></p>
${v.problems.length ? `<p><b>Problems:</b></p>${list(v.problems.map((p) => `${p.category}: ${p.message}`))}` : ''}
${v.warnings.length ? `<p><b>Warnings:</b></p>${list(v.warnings)}` : ''}
</div>

<h2>Summary</h2>
<dl class="figures">
${figure('requests', s.requests, 'requests')}
${figure('approved', s.byOutcome.APPROVED, 'approved')}
${figure('denied', s.byOutcome.DENIED, 'denied')}
${figure('expired', s.byOutcome.EXPIRED, 'expired')}
${figure('cancelled', s.byOutcome.CANCELLED, 'cancelled')}
${figure('pending', s.byOutcome.PENDING, 'pending')}
${figure('decided', s.decided, 'decided')}
${figure('automatic', s.automatic, 'decided by policy')}
${figure('median-seconds', s.timeToDecisionSeconds.median ?? 'n/a', `median time to decision (s) · ${duration(s.timeToDecisionSeconds.median)}`)}
${figure('p90-seconds', s.timeToDecisionSeconds.p90 ?? 'n/a', `p90 time to decision (s) · ${duration(s.timeToDecisionSeconds.p90)}`)}
${figure('break-glass', f.breakGlass.approvals.length, 'break-glass approvals')}
${figure('unapproved', f.unapproved.count, 'unapproved actions')}
${figure('shadow-changed', f.shadow.changed, `shadow policy would have changed (of ${f.shadow.evaluated})`)}
</dl>

<h2>Charts</h2>
<div class="charts">
${overTimeChart(f)}
${barChart('chart-time-to-decision', 'Time to a human decision', f.timeToDecision, '#8250df')}
${barChart('chart-approver-load', 'Approver load (approvals per approver)', f.approverLoad, '#1a7f37')}
${barChart('chart-top-agents', 'Top agents (requests)', f.topAgents)}
${barChart('chart-top-actions', 'Top actions (requests)', f.topActions)}
${barChart('chart-refusals', 'Refused approval attempts by reason', f.refusals, '#cf222e')}
${barChart('chart-shadow', 'Shadow policies that would have changed the outcome', f.shadow.byPolicy, '#9a6700')}
${barChart(
  'chart-break-glass',
  'Break-glass approvals and post-hoc acknowledgements',
  [
    { name: 'break-glass approvals', count: f.breakGlass.approvals.length },
    { name: 'acknowledged afterwards', count: f.breakGlass.acknowledged.length },
    { name: 'not yet acknowledged', count: f.breakGlass.unacknowledged.length },
  ],
  '#9a6700',
)}
${barChart(
  'chart-unapproved',
  'Unapproved actions (calls without an approval, grants used for requests not approved)',
  [
    { name: 'grants consumed', count: f.unapproved.grantsConsumed },
    { name: 'calls without an approval (CloudTrail)', count: f.unapproved.detected },
    { name: 'grants for requests not approved', count: f.unapproved.count - f.unapproved.detected },
  ],
  '#cf222e',
)}
</div>

<h2>Control mapping</h2>
<p class="muted">SOC 2 trust services criteria and NIST SP 800-53 Rev. 5 (FedRAMP) controls Countersign contributes to, with this period's evidence. Control descriptions are summaries.</p>
${controls}

<h2>Requests</h2>
<table><thead><tr><th>Request</th><th>Agent</th><th>Action</th><th>Resource</th><th>Env</th><th>Outcome</th><th>Decided by</th><th>Approvers</th><th>Time</th><th>Requested</th></tr></thead>
<tbody>${rows}</tbody></table>
</body></html>
`;
}
