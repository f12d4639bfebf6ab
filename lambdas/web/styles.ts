/**
 * The inbox's one stylesheet, served from `/static/inbox.css` (the CSP allows
 * styles from the inbox's own origin only). Mobile first: one column, large
 * touch targets; wider screens get a two-column fact list.
 */
export const INBOX_CSS = `
:root { color-scheme: light; --ink:#1d2330; --muted:#5b6475; --line:#d9dee8; --bg:#f5f7fb; --card:#fff;
  --ok:#0f7b3f; --bad:#b42318; --warn:#9a6700; --accent:#2451c4; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--ink); background:var(--bg); }
.bar { display:flex; flex-wrap:wrap; gap:.5rem 1rem; align-items:center; padding:.75rem 1rem; background:#111827; color:#fff; }
.bar a { color:#fff; text-decoration:none; }
.brand { font-weight:700; letter-spacing:.02em; }
.bar nav { display:flex; gap:1rem; }
.who { margin-left:auto; display:flex; gap:.5rem; align-items:center; font-size:.9rem; }
.who form { margin:0; }
button.link { background:none; border:0; color:#c7d2fe; padding:0; font:inherit; cursor:pointer; text-decoration:underline; min-height:auto; }
main { max-width:60rem; margin:0 auto; padding:1rem; overflow-wrap:anywhere; }
h1 { font-size:1.4rem; margin:.5rem 0 1rem; }
h2 { font-size:1.1rem; margin:1.5rem 0 .5rem; }
h2 small, h3 small { font-weight:400; color:var(--muted); }
.hint, .empty { color:var(--muted); }
.list { list-style:none; padding:0; margin:0; display:grid; gap:.75rem; }
.item a { display:block; padding:.9rem 1rem; background:var(--card); border:1px solid var(--line); border-radius:.6rem; color:inherit; text-decoration:none; }
.item a:hover, .item a:focus { border-color:var(--accent); }
.line { margin:.15rem 0; overflow-wrap:anywhere; }
.meta { font-size:.9rem; color:var(--muted); }
.label { font-size:.8rem; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); margin-right:.25rem; }
.status { display:inline-block; font-size:.8rem; font-weight:600; padding:.1rem .5rem; border-radius:1rem; background:#e8edf7; }
.status.pending { background:#fff4d6; color:var(--warn); }
.status.approved { background:#dcf5e6; color:var(--ok); }
.status.denied, .status.expired { background:#fde4e1; color:var(--bad); }
.facts { background:var(--card); border:1px solid var(--line); border-radius:.6rem; padding:.5rem 1rem; margin:1rem 0; }
.row { display:grid; grid-template-columns:minmax(0, 1fr); padding:.4rem 0; border-bottom:1px solid var(--line); }
.row > * { min-width:0; }
.row:last-child { border-bottom:0; }
dt { font-size:.8rem; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
dd { margin:0; overflow-wrap:anywhere; }
.agent-text { font-family:ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:.9rem; background:#f0f1f4; border:1px dashed #9aa3b5; border-radius:.3rem; padding:0 .3rem; white-space:pre-wrap; overflow-wrap:anywhere; }
pre.agent-text { display:block; padding:.6rem .8rem; margin:.25rem 0 1rem; max-height:24rem; overflow:auto; }
.mark { color:var(--warn); font-size:.9rem; margin:.25rem 0; }
.notice { border-radius:.6rem; padding:.75rem 1rem; margin:0 0 1rem; border:1px solid var(--line); background:var(--card); }
.notice p { margin:0 0 .25rem; }
.notice.refused { border-color:var(--bad); background:#fff5f4; }
.notice.done { border-color:var(--ok); background:#f2fbf5; }
.decided { margin:.5rem 0; }
.decide-all { display:grid; gap:1rem; margin-top:1.5rem; }
.decide { background:var(--card); border:1px solid var(--line); border-radius:.6rem; padding:1rem; display:grid; gap:.5rem; }
.decide h3 { margin:0; font-size:1rem; }
label { font-weight:600; font-size:.95rem; }
textarea, input:not([type=hidden]) { width:100%; font:inherit; padding:.6rem; border:1px solid var(--line); border-radius:.4rem; }
button, .button { display:inline-block; min-height:2.75rem; padding:.6rem 1.2rem; font:inherit; font-weight:600; border-radius:.5rem; border:1px solid var(--line); background:#fff; color:var(--ink); cursor:pointer; text-decoration:none; }
button.primary { background:var(--ok); border-color:var(--ok); color:#fff; }
button.danger { background:var(--bad); border-color:var(--bad); color:#fff; }
.button { background:var(--accent); border-color:var(--accent); color:#fff; }
@media (min-width: 48rem) {
  .row { grid-template-columns: 14rem minmax(0, 1fr); gap:1rem; }
  .decide-all { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
  .decide.modify { grid-column: 1 / -1; }
}
`;
