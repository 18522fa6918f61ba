"""The leaderboard as one self-contained HTML page (no network: data, script, style and plots inline).

One tab per suite; a table per suite, sortable by clicking a header and filterable by a text box, with
every component, each metric as mean and 95% bootstrap interval, latency, tokens, cost and the paired
test against the best; plots where a picture beats a table: the suite's headline metric against mean chunk
size, and quality against cost (seconds of generation per query, or per-query latency) with the Pareto
front marked. Every number comes from the runs' metrics.json and records.parquet.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from typing import Any

from ragsweep.report import ALPHA, data_notes, n_queries, ranked_runs, suite_groups, suite_metrics

COST_FIELDS = (("mean_latency_s", "latency s/q"), ("prompt_tokens", "prompt tokens"), ("completion_tokens", "completion tokens"),
               ("cost_usd", "cost USD"))


def suite_rows(runs: list[dict[str, Any]], metrics: list[str], key: str | None) -> list[dict[str, Any]]:
    runs, p_values = ranked_runs(runs, key)
    rows = []
    for rank, (r, p) in enumerate(zip(runs, p_values)):
        m, summary = r["metrics"], r["metrics"]["summary"]
        row: dict[str, Any] = {"run": r["path"].name, "sweep": m.get("sweep", ""), **{g: m["components"].get(g, "") for g in ("chunker", "retriever", "reranker", "generator", "judge")}}
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


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def suite_plots(rows: list[dict[str, Any]], key: str | None) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = []
    have = [r for r in rows if key and r.get(key)]
    if len(have) >= 2:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        for chunker in sorted({r["chunker"].split()[0] for r in have}):
            pts = sorted((r["mean_chunk_chars"], r[key][0]) for r in have if r["chunker"].split()[0] == chunker)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", label=chunker)
        ax.set_xlabel("mean chunk size (characters)")
        ax.set_ylabel(key)
        ax.legend(fontsize=7)
        plots.append((f"{key} vs chunk size", _png(fig)))
        plt.close(fig)
        cost_field = next((f for f in ("cost_usd", "mean_latency_s") if sum(1 for r in have if r.get(f)) >= 2 and len({r.get(f) for r in have}) > 1), None)
        if cost_field:
            usable = [r for r in have if r.get(cost_field) is not None]
            points = [(float(r[cost_field]), r[key][0]) for r in usable]
            front = set(pareto_front(points))
            fig, ax = plt.subplots(figsize=(5, 3.2))
            ax.scatter([p[0] for p in points], [p[1] for p in points], c=["C3" if i in front else "C0" for i in range(len(points))], s=18)
            fx = sorted(points[i] for i in front)
            ax.plot([p[0] for p in fx], [p[1] for p in fx], "-", color="C3", label="Pareto front")
            ax.set_xscale("log")
            ax.set_xlabel(dict(COST_FIELDS)[cost_field] + " (log)")
            ax.set_ylabel(key)
            ax.legend(fontsize=7)
            plots.append((f"{key} vs {dict(COST_FIELDS)[cost_field]}", _png(fig)))
            plt.close(fig)
    return plots


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ragsweep leaderboard</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
nav button{margin-right:.3em;padding:.3em .8em;border:1px solid #999;background:#f4f4f4;cursor:pointer}
nav button.active{background:#224;color:#fff}
table{border-collapse:collapse;font-size:12px;margin-top:.6em}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
td.t{text-align:left} th{background:#eee;cursor:pointer;position:sticky;top:0}
tr.best td{background:#e9f6e9} tr.tie td{background:#f4faf4}
.ci,.n{color:#777;font-size:10px} .n{color:#a40} .plots img{margin:.5em 1em 0 0;border:1px solid #ddd}
</style></head><body>
<h1>ragsweep leaderboard</h1>
<p>Mean over queries with its 95% bootstrap interval. <b>vs best</b>: paired sign-flip test on the suite's
sort metric over the same queries; highlighted rows are the best and those not significantly different from it (p &ge; __ALPHA__).
Click a header to sort; type to filter rows.</p>
<input id="filter" placeholder="filter rows (e.g. dense, recursive)" size="40">
<nav id="tabs"></nav><div id="content"></div>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
// Every value is inserted as text (textContent), never parsed as HTML: run names, sweep names and
// model ids come from users' configs.
const DATA = JSON.parse(document.getElementById("data").textContent);
const fmt = v => v === null || v === undefined ? "" : (typeof v === "number" ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(3)) : String(v));
let current = 0, sortCol = null, sortDir = -1;
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls !== undefined) e.className = cls; return e; }
function cellValue(row, col) { const v = row[col]; return Array.isArray(v) ? v[0] : v; }
function render() {
  const suite = DATA.suites[current], q = document.getElementById("filter").value.toLowerCase();
  let rows = suite.rows.filter(r => !q || Object.values(r).join(" ").toLowerCase().includes(q));
  if (sortCol !== null) rows = rows.slice().sort((a, b) => {
    const x = cellValue(a, sortCol), y = cellValue(b, sortCol);
    if (x === null || x === undefined) return 1; if (y === null || y === undefined) return -1;
    return (x < y ? -1 : x > y ? 1 : 0) * sortDir; });
  const cols = suite.columns, content = document.getElementById("content");
  content.replaceChildren(el("h2", suite.name + " (" + suite.n_queries + " queries, " + suite.rows.length + " runs)"));
  if (suite.notes) content.appendChild(el("p", "Data: " + suite.notes, "notes"));
  const table = el("table"), head = el("tr"), body = el("tbody");
  table.id = "board";
  for (const c of cols) {
    const th = el("th", c.label + (sortCol === c.key ? (sortDir > 0 ? " ▲" : " ▼") : ""));
    th.dataset.col = c.key;
    th.addEventListener("click", () => { sortDir = sortCol === c.key ? -sortDir : -1; sortCol = c.key; render(); });
    head.appendChild(th);
  }
  table.appendChild(el("thead")).appendChild(head);
  for (const r of rows) {
    const tr = el("tr", undefined, r.vs_best === "best" ? "best" : (typeof r.vs_best === "number" && r.vs_best >= DATA.alpha ? "tie" : ""));
    for (const c of cols) {
      const v = r[c.key], td = el("td", undefined, c.text ? "t" : "");
      if (Array.isArray(v)) {
        td.appendChild(document.createTextNode(fmt(v[0]) + " "));
        td.appendChild(el("span", "[" + fmt(v[1]) + ", " + fmt(v[2]) + "]", "ci"));
        if (v[3] !== null && v[3] !== undefined && v[3] < v[4]) td.appendChild(el("span", " n=" + v[3] + "/" + v[4], "n"));
      } else td.textContent = fmt(v);
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  table.appendChild(body);
  content.appendChild(table);
  const plots = el("div", undefined, "plots");
  for (const p of suite.plots) {
    const fig = el("figure"), img = el("img");
    fig.style.display = "inline-block"; img.alt = p[0]; img.src = p[1];
    fig.appendChild(img); fig.appendChild(el("figcaption", p[0])); plots.appendChild(fig);
  }
  content.appendChild(plots);
  document.querySelectorAll("#tabs button").forEach((b, i) => b.classList.toggle("active", i === current));
}
DATA.suites.forEach((s, i) => { const b = el("button", s.name);
  b.addEventListener("click", () => { current = i; sortCol = null; render(); }); document.getElementById("tabs").appendChild(b); });
document.getElementById("filter").addEventListener("input", render);
const hash = new URLSearchParams(location.hash.slice(1));
if (hash.has("suite")) current = Math.max(0, DATA.suites.findIndex(s => s.name === hash.get("suite")));
if (hash.has("sort")) { sortCol = hash.get("sort"); sortDir = hash.get("dir") === "asc" ? 1 : -1; }
render();
</script></body></html>
"""


def render_html(runs: list[dict[str, Any]], sort: str | None = None, columns: tuple[str, ...] | None = None) -> str:
    suites = []
    for name, suite_runs in suite_groups(runs):
        metrics, key = suite_metrics(suite_runs, sort, columns)
        rows = suite_rows(suite_runs, metrics, key)
        cols = [{"key": k, "label": k, "text": True} for k in ("sweep", "chunker", "retriever", "reranker", "generator", "judge")]
        cols += [{"key": m, "label": m} for m in metrics]
        cols += [{"key": f, "label": label} for f, label in COST_FIELDS if any(r.get(f) is not None for r in rows)]
        cols += [{"key": "chunks", "label": "chunks"}, {"key": "mean_chunk_chars", "label": "mean chunk chars"},
                 {"key": "vs_best", "label": f"vs best ({key}, p)"}]
        suites.append({"name": name, "n_queries": n_queries(suite_runs[0]), "notes": data_notes(suite_runs), "columns": cols,
                       "rows": rows, "plots": suite_plots(rows, key)})
    # Inside <script type="application/json"> only "</" could end the element early: escape it (and "<!--").
    data = json.dumps({"suites": suites, "alpha": ALPHA}, ensure_ascii=False).replace("<", "\\u003c")
    return PAGE.replace("__DATA__", data).replace("__ALPHA__", html.escape(str(ALPHA)))
