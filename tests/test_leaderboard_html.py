"""The HTML leaderboard in headless Chromium (Debian's chromium): it loads with no console error,
sorting by a column works, and a screenshot is taken. Skipped, with the reason, where chromium is absent
(`make test` installs it with apt-get where it can)."""

from __future__ import annotations

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
    dom_asc, _ = rendered("suite=span_mini&sort=span_iou@5&dir=asc")
    assert order(dom_asc) == ["fixed", "cluster", "semantic"]
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--screenshot={shot}", "--window-size=1200,800", f"file://{page}"], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
