"""The HTML leaderboard in headless Chromium (Debian's chromium): it loads with no console error,
sorting by a column works, and a screenshot is taken. Skipped, with the reason, where chromium is absent
(`make test` installs it with apt-get where it can)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import pytest

from ragsweep.analysis.leaderboard import load_runs
from ragsweep.analysis.report_html import pareto_front, render_html
from tests.test_report import _write_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"]


def test_pareto_front_hand_computed():
    # (cost, quality): (1, .5) and (2, .9) are undominated; (3, .8) is beaten by (2, .9); (1, .4) by (1, .5).
    assert pareto_front([(1, 0.5), (2, 0.9), (3, 0.8), (1, 0.4)]) == [0, 1]


@pytest.fixture()
def page(tmp_path):
    _write_run(tmp_path, "s", "a", "fixed", 0.10)
    _write_run(tmp_path, "s", "b", "semantic", 0.30)
    _write_run(tmp_path, "s", "c", "cluster", 0.20)
    path = tmp_path / "leaderboard.html"
    path.write_text(render_html(load_runs(tmp_path)), encoding="utf-8")
    return path


def test_page_is_self_contained(page):
    text = page.read_text().replace('"http://www.w3.org/2000/svg"', "SVG_NAMESPACE")  # a name, never fetched
    assert "http://" not in text and "https://" not in text and "<script src" not in text and "<img" not in text


def test_no_pareto_plot_on_the_latency_of_extractive_runs():
    from ragsweep.analysis.report_html import cost_axis, suite_plots

    row = lambda run, lat, tokens, cost=None: {"run": run, "chunker": "fixed", "retriever": "bm25", "generator": "g", "mean_chunk_chars": 100.0,  # noqa: E731
                                               "mean_latency_s": lat, "completion_tokens": tokens, "cost_usd": cost, "m": [0.5, 0.4, 0.6, 14, 14]}
    extractive = [row("a", 0.001, 0), row("b", 0.002, 0)]
    assert cost_axis(extractive) is None and [p["title"] for p in suite_plots(extractive, "m")] == ["m vs chunk size"]
    llm = [row("a", 1.5, 300), row("b", 0.7, 120), row("c", 0.001, 0)]
    plots = suite_plots(llm, "m")
    assert cost_axis(llm) == "mean_latency_s" and [p["run"] for p in plots[1]["points"]] == ["a", "b"]  # the extractive run is not on it
    assert cost_axis([row("a", 1, 5, 0.01), row("b", 1, 5, 0.02)]) == "cost_usd"


@pytest.mark.process
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs it with apt-get where it can)")
def test_page_loads_sorts_and_screenshots_in_chromium(page, tmp_path):
    def rendered(fragment: str) -> tuple[str, str]:
        out = subprocess.run([CHROMIUM, *FLAGS, "--enable-logging=stderr", "--v=0", "--dump-dom", f"file://{page}#{fragment}"],
                             capture_output=True, text=True, timeout=120)
        return out.stdout, out.stderr

    dom, log = rendered("suite=span_mini")
    assert "CONSOLE" not in log and "Uncaught" not in log, log[-2000:]
    order = lambda html: re.findall(r"<tr class=\"[a-z]*\" data-run=\"\w+\"><td class=\"t\">s</td>(?:<td class=\"\">.*?</td>){2}<td class=\"t\">(\w+)", html)  # noqa: E731
    assert order(dom) == ["semantic", "cluster", "fixed"]  # default: the suite's headline, best first
    # the plot is drawn in the page: one point per run, each naming its run on hover
    assert sorted(re.findall(r'<circle [^>]*data-run="(\w+)"><title>\1\n', dom)) == ["a", "b", "c"]
    # what to change: the chunker's three main effects, each in the direction that improves span_iou@5, best first;
    # every query scores as its run's mean here, so each effect is a difference of means with no spread
    effects = re.search(r'<table id="effects">.*?</table>', dom, re.S)
    shown = re.findall(r"<tr><td>chunker</td><td>(\w+)</td><td>(\w+)</td><td>([^<]+)</td><td>1</td><td>14</td></tr>", effects.group(0) if effects else "")
    assert shown[0] == ("fixed", "semantic", "+0.2000 [+0.2000, +0.2000]")
    assert sorted(shown[1:]) == [("cluster", "semantic", "+0.1000 [+0.1000, +0.1000]"), ("fixed", "cluster", "+0.1000 [+0.1000, +0.1000]")]
    # and as a forest plot: one dot per effect, at its estimate, named on hover
    dots = re.findall(r'<circle [^>]*data-effect="chunker: (\w+) -&gt; (\w+)"><title>[^<]*: ([-+.0-9]+) \[', dom)
    assert [(a, b) for a, b, _ in dots][0] == ("fixed", "semantic") and len(dots) == 3
    assert float(dots[0][2]) == pytest.approx(0.2)
    dom_asc, _ = rendered("suite=span_mini&sort=span_iou@5&dir=asc")
    assert order(dom_asc) == ["fixed", "cluster", "semantic"]
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--screenshot={shot}", "--window-size=1200,800", f"file://{page}"], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000


NODE = shutil.which("node")


@pytest.mark.process
@pytest.mark.skipif(NODE is None, reason="node not installed (the page's tick functions are checked with it)")
def test_plot_ticks_are_round_values_computed_by_hand():
    from ragsweep.analysis.report_html import PAGE

    script = PAGE.split('"use strict";', 1)[1]
    functions = "\n".join(re.search(rf"^function {name}\(.*?^}}$", script, re.S | re.M).group(0) for name in ("niceTicks", "logTicks"))
    cases = "[niceTicks(0.084, 0.316, 5), niceTicks(0, 1000, 4), niceTicks(248.88, 251.12, 4), logTicks(0.003, 2.1), logTicks(0.5, 2)]"
    out = subprocess.run([NODE, "-e", functions + f"\nconsole.log(JSON.stringify({cases}.map(ts => ts.map(t => t.text))));"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    # 0.084..0.316 in ~5 steps: raw step 0.0464 -> 0.05; 0..1000 in 4: 250 -> 500; 248.88..251.12: 0.56 -> 1;
    # a log axis over 2.8 decades: the powers of ten inside; over 0.6 decades: round values, step 0.375 -> 0.5.
    assert json.loads(out) == [["0.10", "0.15", "0.20", "0.25", "0.30"], ["0", "500", "1000"], ["249", "250", "251"],
                               ["0.01", "0.1", "1"], ["0.5", "1.0", "1.5", "2.0"]]


@pytest.mark.process
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs it with apt-get where it can)")
def test_filter_words_address_p_values_and_ticks_in_chromium(page):
    def dom(fragment: str) -> str:
        return subprocess.run([CHROMIUM, *FLAGS, "--dump-dom", f"file://{page}#{fragment}"], capture_output=True, text=True, timeout=120).stdout

    runs = lambda html: re.findall(r'<tr class="[a-z]*" data-run="(\w+)">', html)  # noqa: E731
    # every word must be in the row's description, in any order; one word absent from all rows leaves none
    assert runs(dom("suite=span_mini&filter=bm25+sem")) == ["b"] and "1 of 3 runs contain every word" in dom("suite=span_mini&filter=bm25+sem")
    assert runs(dom("suite=span_mini&filter=bm25")) == ["b", "c", "a"] and runs(dom("suite=span_mini&filter=semantic+dense")) == []
    html_ = dom("suite=span_mini&filter=bm25")
    # a header is a link to the sorted view, keeping tab and filter; the current sort column's link reverses it
    heads = dict(re.findall(r'<th data-col="([^"]+)"><a href="([^"]+)">', html_))
    assert heads["span_iou@5"] == "#suite=span_mini&amp;sort=span_iou%405&amp;dir=asc&amp;filter=bm25"
    assert heads["chunker"] == "#suite=span_mini&amp;sort=chunker&amp;dir=desc&amp;filter=bm25"
    # p = 2/2^14 for both worse runs (lower on all 14 queries): below the 3 decimals shown
    assert re.findall(r'<td class="">(best|&lt; 0.001|0\.\d+)</td>', html_)[:3] == ["best", "&lt; 0.001", "&lt; 0.001"]
    assert re.findall(r'class="ytick">([^<]+)<', html_) == ["0.10", "0.15", "0.20", "0.25", "0.30"]


@pytest.mark.process
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs it with apt-get where it can)")
def test_a_phone_width_window_shows_the_ranking_columns_without_page_scroll(page, tmp_path):
    # Headless Chromium's window is at least 500 px wide: the page is laid out in a 390 px iframe (a phone), and a
    # probe inside it counts the header cells wholly in view and the page's own width.
    probe = ('<script>window.addEventListener("load", () => { const W = window.innerWidth, ths = [...document.querySelectorAll("#board th")];'
             ' parent.document.title = "probe " + W + " " + ths.filter(t => t.getBoundingClientRect().right <= W + 0.5).length'
             ' + " " + document.documentElement.scrollWidth; });</script></body>')
    wrapper = tmp_path / "phone.html"
    wrapper.write_text('<!doctype html><html><head><title>none</title></head><body><iframe width="390" height="800" srcdoc="'
                       + html.escape(page.read_text().replace("</body>", probe)) + '"></iframe></body></html>', encoding="utf-8")
    out = subprocess.run([CHROMIUM, *FLAGS, "--window-size=800,900", "--dump-dom", f"file://{wrapper}"], capture_output=True, text=True, timeout=120).stdout
    width, columns_in_view, page_width = map(int, re.search(r"<title>probe (\d+) (\d+) (\d+)</title>", out).groups())
    # sweep, the sort metric, vs best, chunker and retriever in view; the table scrolls inside its box, not the page
    assert width == 390 and columns_in_view >= 5 and page_width <= 390


@pytest.mark.process
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs it with apt-get where it can)")
def test_headroom_and_search_tables_are_drawn_in_chromium(tmp_path, monkeypatch):
    from ragsweep.analysis.leaderboard import bracket_metric, headroom_rows
    from ragsweep.commands.search import main as search_main
    from tests.helpers import run

    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=extractive", "brackets=[closed_book,oracle]", "sweep_name=s")
    assert search_main(["search_chunking", "task=multihop_mini", "--trials", "3"]) == 0
    runs = load_runs(tmp_path / "runs")
    page = tmp_path / "leaderboard.html"
    page.write_text(render_html(runs), encoding="utf-8")
    out = subprocess.run([CHROMIUM, *FLAGS, "--enable-logging=stderr", "--v=0", "--dump-dom", f"file://{page}#suite=multihop_mini"],
                         capture_output=True, text=True, timeout=120)
    assert "CONSOLE" not in out.stderr and "Uncaught" not in out.stderr, out.stderr[-2000:]
    headroom = re.search(r'<table id="headroom">.*?</table>', out.stdout, re.S)
    (row,) = headroom_rows(runs, str(bracket_metric(runs)))
    assert headroom and "".join(f"<td>{html.escape(cell)}</td>" for cell in row) in headroom.group(0)  # the computed row, as drawn
    search = re.search(r'<table id="search">.*?</table>', out.stdout, re.S)
    found = json.loads((tmp_path / "searches" / "search_chunking" / "multihop_mini.json").read_text())
    assert search and search.group(0).count("<tr><td>") == len(found["trials"]) + 1  # every trial, then the held-out row
    assert f"<td>held out</td><td>{found['best']['params']['chunker.size']}</td>" in search.group(0)
