"""The leaderboard as one self-contained HTML page (no network: data, script, style and plots inline).

One tab per suite; a table per suite, sortable by clicking a header and filterable by a text box, with
every component, each metric as mean and 95% bootstrap interval, latency, tokens, cost and the paired
test against the best beside the sort column; interactive plots (inline SVG, hover names the run and marks its
row) where a picture beats a table: the suite's headline metric against mean chunk size, and quality against
cost (USD, or the latency of LLM generation: never the timing noise of extractive runs) with the Pareto
front marked. Every number comes from the runs' metrics.json and records.parquet.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from ragsweep.analysis.leaderboard import (
    ALPHA, SERVING_COLUMNS, column_label, data_notes, extra_tables, judge_notes, n_queries, ppi_rows, ranked_runs, suite_groups, suite_metrics,
)
from ragsweep.analysis.ppi_columns import PPI_HEADER, PPI_NOTE

COST_FIELDS = (("mean_latency_s", "latency s/q"), ("prompt_tokens", "prompt tokens"), ("completion_tokens", "completion tokens"),
               ("cost_usd", "cost USD"), *SERVING_COLUMNS)


TABLE_COMPONENTS = ("chunker", "retriever", "reranker", "selector", "generator", "judge")


def suite_rows(runs: list[dict[str, Any]], metrics: list[str], key: str | None) -> list[dict[str, Any]]:
    runs, p_values = ranked_runs(runs, key)
    rows = []
    for rank, (r, p) in enumerate(zip(runs, p_values)):
        m, summary = r["metrics"], r["metrics"]["summary"]
        row: dict[str, Any] = {"run": r["path"].name, "sweep": m.get("sweep", ""), **{g: m["components"].get(g, "") for g in TABLE_COMPONENTS}}
        for name in metrics:
            stat = m["metrics"].get(name)
            row[name] = (
                None if not stat or stat["mean"] is None or math.isnan(stat["mean"])
                else [stat["mean"], stat["ci_low"], stat["ci_high"], stat.get("n"), n_queries(r)]
            )
        for field, _ in COST_FIELDS:
            row[field] = summary.get(field)
        row["chunks"], row["mean_chunk_chars"] = summary["n_chunks"], summary["mean_chunk_chars"]
        row["vs_best"] = "best" if rank == 0 and key else (None if p is None else round(p, 4))
        rows.append(row)
    return rows


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats on both axes (lower cost x, higher quality y)."""
    front = []
    for i, (x, y) in enumerate(points):
        if not any((x2 <= x and y2 >= y) and (x2 < x or y2 > y) for j, (x2, y2) in enumerate(points) if j != i):
            front.append(i)
    return front


def scatter(title: str, x_label: str, y_label: str, points: list[dict[str, Any]], log_x: bool = False, front: list[int] | None = None) -> dict[str, Any]:
    """A plot the page draws as inline SVG: each point names its run (hover), its colour group, x and y."""
    return {"title": title, "x_label": x_label, "y_label": y_label, "log_x": log_x, "points": points, "front": front or []}


def cost_axis(rows: list[dict[str, Any]]) -> str | None:
    """What quality is plotted against for a Pareto front: money where runs have a price, else the
    latency of runs whose generator is a language model (completion tokens > 0). Extractive or retrieval-only
    runs have no generation cost: their latency is timing noise, not a trade-off, so they get no such plot."""
    priced = [r for r in rows if r.get("cost_usd")]
    if len(priced) >= 2 and len({r["cost_usd"] for r in priced}) > 1:
        return "cost_usd"
    generating = [r for r in rows if (r.get("completion_tokens") or 0) > 0 and r.get("mean_latency_s")]
    return "mean_latency_s" if len(generating) >= 2 else None


def suite_plots(rows: list[dict[str, Any]], key: str | None) -> list[dict[str, Any]]:
    have = [r for r in rows if key and r.get(key)]
    if len(have) < 2:
        return []
    assert key is not None
    point = lambda r, x: {"run": r["run"], "label": f"{r['chunker']} | {r['retriever']} | {r['generator']}", "group": r["chunker"].split()[0], "x": x, "y": r[key][0]}  # noqa: E731
    plots = [scatter(f"{key} vs chunk size", "mean chunk size (characters)", key, [point(r, r["mean_chunk_chars"]) for r in have])]
    field = cost_axis(have)
    if field:
        usable = [r for r in have if r.get(field) and (field == "cost_usd" or (r.get("completion_tokens") or 0) > 0)]
        points = [point(r, float(r[field])) for r in usable]
        front = pareto_front([(p["x"], p["y"]) for p in points])
        plots.append(scatter(f"{key} vs {dict(COST_FIELDS)[field]}", dict(COST_FIELDS)[field] + " (log)", key, points, True, front))
    return plots


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ragsweep leaderboard</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
nav button{margin-right:.3em;padding:.3em .8em;border:1px solid #999;background:#f4f4f4;cursor:pointer}
nav button.active{background:#224;color:#fff}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:12px;margin-top:.6em}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
td.t{text-align:left;white-space:normal;min-width:9em;max-width:22em} th{background:#eee;position:sticky;top:0}
th a{color:inherit;text-decoration:none;display:block}
tr.best td{background:#e9f6e9} tr.tie td{background:#f4faf4}
.ci,.n{color:#777;font-size:10px} .n{color:#a40} tr.hl td{background:#fff3b0}
.plots figure{display:inline-block;margin:.5em 1em 0 0;max-width:100%} .plots svg{border:1px solid #ddd;background:#fff;max-width:100%;height:auto}
.plots circle{cursor:pointer} .plots circle:hover{stroke:#000;stroke-width:2} .legend{font-size:11px}
@media (max-width:600px){
 body{margin:.5em;font-size:14px} h1{font-size:1.3em} h2{font-size:1.1em} #filter{width:100%;box-sizing:border-box}
 table{font-size:11px} th,td{padding:2px 3px} td.t{min-width:4.5em;max-width:8em;overflow-wrap:break-word}
 .ci{display:block}
}
</style></head><body>
<h1>ragsweep leaderboard</h1>
<p>Mean over queries with its 95% bootstrap interval. <b>vs best</b>: paired sign-flip test on the suite's
sort metric over the same queries; highlighted rows are the best and those not significantly different from it (p &ge; __ALPHA__).
Click a header to sort (the address keeps the tab, sort and filter: share it); type words to filter rows (a row must
contain every word); hover a point of a plot to name its run (and mark its row).</p>
<p id="sweeps"></p>
<input id="filter" placeholder="filter rows: words all rows shown must contain (e.g. sentences dense)" size="48">
<nav id="tabs"></nav><div id="content"></div>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
// Every value is inserted as text (textContent), never parsed as HTML: run names, sweep names and
// model ids come from users' configs.
const DATA = JSON.parse(document.getElementById("data").textContent);
const fmt = v => v === null || v === undefined ? "" : (typeof v === "number" ? (Number.isInteger(v) || Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(3)) : String(v));
// A p-value under the 3 decimals shown is "< 0.001", never "0.000".
const fmtP = v => typeof v === "number" ? (v < 0.001 ? "< 0.001" : v.toFixed(3)) : fmt(v);
// State lives in the address (#suite=..&sort=..&dir=..&filter=..): a header is a link, the back button and a
// shared link restore the view.
let current = 0, sortCol = null, sortDir = -1;
function stateHash(over) {
  const st = Object.assign({suite: DATA.suites[current].name, sort: sortCol, dir: sortDir > 0 ? "asc" : "desc",
                            filter: document.getElementById("filter").value}, over), h = new URLSearchParams();
  for (const k of ["suite", "sort", "dir", "filter"]) if (st[k]) h.set(k, st[k]);
  if (!st.sort) h.delete("dir");
  return "#" + h.toString();
}
function readHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  current = Math.max(0, DATA.suites.findIndex(s => s.name === h.get("suite")));
  sortCol = h.get("sort"); sortDir = h.get("dir") === "asc" ? 1 : -1;
  document.getElementById("filter").value = h.get("filter") || "";
}
// Axis ticks at round values: steps of 1, 2 or 5 times a power of ten, labelled with the decimals the step needs.
function niceTicks(lo, hi, n) {
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / mag;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag, decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const out = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push({v: k * step, text: (k * step).toFixed(decimals)});
  return out;
}
// On a log axis spanning over a decade and a half: the powers of ten; else round values as on a linear axis.
function logTicks(lo, hi) {
  if (Math.log10(hi / lo) < 1.5) return niceTicks(lo, hi, 4);
  const out = [];
  for (let e = Math.ceil(Math.log10(lo)); e <= Math.floor(Math.log10(hi)); e++) out.push({v: Math.pow(10, e), text: Math.pow(10, e).toFixed(Math.max(0, -e))});
  return out;
}
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls !== undefined) e.className = cls; return e; }
function cellValue(row, col) { const v = row[col]; return Array.isArray(v) ? v[0] : v; }
// Scatter plots as inline SVG drawn from the data: no image, no library, no network.
const SVG = "http://www.w3.org/2000/svg", COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"];
function svg(tag, attrs, text) { const e = document.createElementNS(SVG, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; return e; }
function markRow(run, on) { document.querySelectorAll("#board tr").forEach(tr => { if (tr.dataset.run === run) tr.classList.toggle("hl", on); }); }
function drawForest(p) {  // each effect a dot with its interval, against the line at 0
  const W = 560, L = 230, R = 16, T = 10, B = 40, step = 22, H = T + B + step * p.items.length;
  let x0 = Math.min(0, ...p.items.map(q => q.low)), x1 = Math.max(0, ...p.items.map(q => q.high));
  if (x1 === x0) { x0 -= 0.05; x1 += 0.05; }
  const pad = (x1 - x0) * 0.06; x0 -= pad; x1 += pad;
  const sx = v => L + (v - x0) / (x1 - x0) * (W - L - R);
  const s = svg("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", class: "forest"});
  s.appendChild(svg("title", {}, p.title));
  s.appendChild(svg("line", {x1: sx(0), y1: T, x2: sx(0), y2: H - B, stroke: "#999", "stroke-dasharray": "3,3"}));
  s.appendChild(svg("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#444"}));
  for (const t of niceTicks(x0, x1, 4))
    s.appendChild(svg("text", {x: sx(t.v), y: H - B + 14, "text-anchor": "middle", "font-size": 10, class: "xtick"}, t.text));
  s.appendChild(svg("text", {x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle", "font-size": 11}, p.x_label));
  p.items.forEach((q, i) => {
    const y = T + step * (i + 0.5);
    s.appendChild(svg("text", {x: L - 6, y: y + 4, "text-anchor": "end", "font-size": 11}, q.label));
    s.appendChild(svg("line", {x1: sx(q.low), y1: y, x2: sx(q.high), y2: y, stroke: "#1f77b4", "stroke-width": 2}));
    const c = svg("circle", {cx: sx(q.estimate), cy: y, r: 4, fill: "#1f77b4", "data-effect": q.label});
    c.appendChild(svg("title", {}, q.label + ": " + fmt(q.estimate) + " [" + fmt(q.low) + ", " + fmt(q.high) + "]"));
    s.appendChild(c);
  });
  const fig = el("figure");
  fig.appendChild(s); fig.appendChild(el("figcaption", p.title));
  return fig;
}
function drawPlot(p) {
  if (p.kind === "forest") return drawForest(p);
  const W = 460, H = 300, L = 56, R = 12, T = 12, B = 42;
  const tx = v => p.log_x ? Math.log10(v) : v;
  const xs = p.points.map(q => tx(q.x)), ys = p.points.map(q => q.y);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) { x0 -= 1; x1 += 1; } if (y1 === y0) { y0 -= 0.05; y1 += 0.05; }
  const px = (x1 - x0) * 0.06, py = (y1 - y0) * 0.08; x0 -= px; x1 += px; y0 -= py; y1 += py;
  const sx = v => L + (tx(v) - x0) / (x1 - x0) * (W - L - R), sy = v => H - B - (v - y0) / (y1 - y0) * (H - T - B);
  const s = svg("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img"});
  s.appendChild(svg("title", {}, p.title));
  s.appendChild(svg("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#444"}));
  s.appendChild(svg("line", {x1: L, y1: T, x2: L, y2: H - B, stroke: "#444"}));
  for (const t of (p.log_x ? logTicks(Math.pow(10, x0), Math.pow(10, x1)) : niceTicks(x0, x1, 4)))
    s.appendChild(svg("text", {x: sx(t.v), y: H - B + 14, "text-anchor": "middle", "font-size": 10, class: "xtick"}, t.text));
  for (const t of niceTicks(y0, y1, 5))
    s.appendChild(svg("text", {x: L - 4, y: sy(t.v) + 3, "text-anchor": "end", "font-size": 10, class: "ytick"}, t.text));
  s.appendChild(svg("text", {x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle", "font-size": 11}, p.x_label));
  s.appendChild(svg("text", {x: 12, y: (T + H - B) / 2, "text-anchor": "middle", "font-size": 11, transform: "rotate(-90 12 " + (T + H - B) / 2 + ")"}, p.y_label));
  if (p.front.length > 1) {
    const pts = p.front.map(i => p.points[i]).sort((a, b) => a.x - b.x).map(q => sx(q.x) + "," + sy(q.y)).join(" ");
    s.appendChild(svg("polyline", {points: pts, fill: "none", stroke: "#d62728", "stroke-width": 1.5}));
  }
  const groups = [...new Set(p.points.map(q => q.group))];
  p.points.forEach((q, i) => {
    const c = svg("circle", {cx: sx(q.x), cy: sy(q.y), r: 5, fill: COLORS[groups.indexOf(q.group) % COLORS.length],
                             stroke: p.front.includes(i) ? "#d62728" : "none", "stroke-width": 2, "data-run": q.run});
    c.appendChild(svg("title", {}, q.run + "\\n" + q.label + "\\n" + p.x_label + ": " + fmt(q.x) + ", " + p.y_label + ": " + fmt(q.y)));
    c.addEventListener("mouseenter", () => markRow(q.run, true));
    c.addEventListener("mouseleave", () => markRow(q.run, false));
    s.appendChild(c);
  });
  const fig = el("figure"), legend = el("div", undefined, "legend");
  groups.forEach((g, i) => { const sw = el("span", "● "); sw.style.color = COLORS[i % COLORS.length]; legend.appendChild(sw); legend.appendChild(document.createTextNode(g + "  ")); });
  if (p.front.length > 1) { const f = el("span", " — Pareto front"); f.style.color = "#d62728"; legend.appendChild(f); }
  fig.appendChild(s); fig.appendChild(legend); fig.appendChild(el("figcaption", p.title));
  return fig;
}
function render() {
  const suite = DATA.suites[current], words = document.getElementById("filter").value.toLowerCase().split(/\s+/).filter(w => w);
  const described = r => [r.run, r.sweep, r.chunker, r.retriever, r.reranker, r.generator, r.judge].join(" ").toLowerCase();
  let rows = suite.rows.filter(r => words.every(w => described(r).includes(w)));
  if (sortCol !== null) rows = rows.slice().sort((a, b) => {
    const x = cellValue(a, sortCol), y = cellValue(b, sortCol);
    if (x === null || x === undefined) return 1; if (y === null || y === undefined) return -1;
    return (x < y ? -1 : x > y ? 1 : 0) * sortDir; });
  const cols = suite.columns, content = document.getElementById("content");
  content.replaceChildren(el("h2", suite.name + " (" + suite.n_queries + " queries, " + suite.rows.length + " runs)"));
  if (words.length) content.appendChild(el("p", rows.length + " of " + suite.rows.length + " runs contain every word of the filter", "shown"));
  if (suite.notes) content.appendChild(el("p", "Data: " + suite.notes, "notes"));
  if (suite.judges.length) content.appendChild(el("p", "Judges (agreement with human labels, by ragsweep judge-eval): " + suite.judges.join("; "), "notes"));
  const table = el("table"), head = el("tr"), body = el("tbody");
  table.id = "board";
  for (const c of cols) {
    // Unsorted, the rows stand in the suite's ranking: its sort metric, best first.
    const by = sortCol !== null ? sortCol : suite.key, a = el("a", c.label + (by === c.key ? (sortDir > 0 ? " ▲" : " ▼") : ""));
    const th = el("th");
    th.dataset.col = c.key;
    a.href = stateHash({sort: c.key, dir: by === c.key && sortDir < 0 ? "asc" : "desc"});
    head.appendChild(th).appendChild(a);
  }
  table.appendChild(el("thead")).appendChild(head);
  for (const r of rows) {
    const tr = el("tr", undefined, r.vs_best === "best" ? "best" : (typeof r.vs_best === "number" && r.vs_best >= DATA.alpha ? "tie" : ""));
    tr.dataset.run = r.run;
    for (const c of cols) {
      const v = r[c.key], td = el("td", undefined, c.text ? "t" : "");
      if (Array.isArray(v)) {
        td.appendChild(document.createTextNode(fmt(v[0]) + " "));
        td.appendChild(el("span", "[" + fmt(v[1]) + ", " + fmt(v[2]) + "]", "ci"));
        if (v[3] !== null && v[3] !== undefined && v[3] < v[4]) td.appendChild(el("span", " n=" + v[3] + "/" + v[4], "n"));
      } else td.textContent = c.p ? fmtP(v) : fmt(v);
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  table.appendChild(body);
  content.appendChild(el("div", undefined, "scroll")).appendChild(table);
  for (const extra of suite.tables) {  // the judged columns corrected by human labels; what to change
    content.appendChild(el("p", extra.note, "notes"));
    const t = el("table"), top = el("tr");
    t.id = extra.id;
    for (const h of extra.header) top.appendChild(el("th", h));
    t.appendChild(el("thead")).appendChild(top);
    const rowsBody = el("tbody");
    for (const r of extra.rows) { const tr = el("tr"); for (const c of r) tr.appendChild(el("td", c)); rowsBody.appendChild(tr); }
    t.appendChild(rowsBody);
    content.appendChild(el("div", undefined, "scroll")).appendChild(t);
    if (extra.plot) content.appendChild(el("div", undefined, "plots")).appendChild(drawPlot(extra.plot));  // the effects' forest plot
  }
  const plots = el("div", undefined, "plots");
  for (const p of suite.plots) plots.appendChild(drawPlot(p));
  content.appendChild(plots);
  document.querySelectorAll("#tabs button").forEach((b, i) => b.classList.toggle("active", i === current));
}
document.getElementById("sweeps").textContent = DATA.sweeps;
DATA.suites.forEach(s => { const b = el("button", s.name);
  b.addEventListener("click", () => { location.hash = stateHash({suite: s.name, sort: null}); }); document.getElementById("tabs").appendChild(b); });
// Typing filters at once and updates the address in place (no history entry per keystroke).
document.getElementById("filter").addEventListener("input", () => { history.replaceState(null, "", stateHash({})); render(); });
window.addEventListener("hashchange", () => { readHash(); render(); });
readHash();
render();
</script></body></html>
"""


def render_html(runs: list[dict[str, Any]], sort: str | None = None, columns: tuple[str, ...] | None = None, sweeps_note: str = "") -> str:
    suites = []
    for name, suite_runs in suite_groups(runs):
        metrics, key = suite_metrics(suite_runs, sort, columns)
        rows = suite_rows(suite_runs, metrics, key)
        # The sort metric and the test against the best come right after the sweep name, before the (long)
        # component descriptions, so both are in view without scrolling.
        cols = [{"key": "sweep", "label": "sweep", "text": True}]
        cols += [{"key": m, "label": column_label(suite_runs, m)} for m in metrics if m == key]
        cols += [{"key": "vs_best", "label": "vs best (p)", "p": True}] if key else []
        # The selector column only where a run of the suite chose one (runs from before selectors have none).
        cols += [{"key": k, "label": k, "text": True} for k in TABLE_COMPONENTS if k != "selector" or any(r[k] not in ("", "none") for r in rows)]
        cols += [{"key": m, "label": column_label(suite_runs, m)} for m in metrics if m != key]
        cols += [{"key": f, "label": label} for f, label in COST_FIELDS if any(r.get(f) is not None for r in rows)]
        cols += [{"key": "chunks", "label": "chunks"}, {"key": "mean_chunk_chars", "label": "mean chunk chars"}]
        tables = []
        if corrected := ppi_rows(suite_runs, metrics):
            tables.append({"id": "ppi", "note": PPI_NOTE.replace("`", ""), "header": PPI_HEADER, "rows": corrected})
        tables += extra_tables(suite_runs, key)
        suites.append({"name": name, "n_queries": n_queries(suite_runs[0]), "notes": data_notes(suite_runs), "judges": judge_notes(suite_runs, metrics), "columns": cols, "key": key,
                       "rows": rows, "plots": suite_plots(rows, key), "tables": tables})
    # Inside <script type="application/json"> only "</" could end the element early: escape it (and "<!--").
    data = json.dumps({"suites": suites, "alpha": ALPHA, "sweeps": sweeps_note}, ensure_ascii=False).replace("<", "\\u003c")
    return PAGE.replace("__DATA__", data).replace("__ALPHA__", html.escape(str(ALPHA)))
