"""The labelling page's own cost: a sweep's judged answers labelled through ``ragsweep label``'s page in headless
Chromium (Playwright), one key per item, as fast as the page lets a person go. What it measures is what the tool
adds to a person's reading time: each item's round trip (the label saved atomically, the next item fetched and
shown), the page's first load, and a restart of the server mid-session. Writes results/bench/labelling.json; the
labels go to a temporary store, never the results folder's.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

from ragsweep.bench.common import out_file, positive_int, write_result
from ragsweep.help_text import plain_doc
from ragsweep.errors import ConfigError
from ragsweep.labelling.items import judged_runs, labelling_items
from ragsweep.labelling.page import render_page
from ragsweep.labelling.server import HOST, LabellingSession, handler, sweep_runs
from ragsweep.logs import setup_logging
from ragsweep.paths import results_root
from ragsweep.store.labels import LabelStore

log = logging.getLogger("ragsweep.bench.labelling")


def started(session: LabellingSession) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer((HOST, 0), handler(session, render_page("bench", list(session.scale))))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{HOST}:{server.server_address[1]}/"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ragsweep bench labelling", description=plain_doc(__doc__))
    parser.add_argument("--sweep", required=True, help="a judged sweep (its runs' answers are labelled)")
    parser.add_argument("--rubric", default="faithfulness", help="the rubric whose column the labels score")
    parser.add_argument("--items", type=positive_int, default=100, help="items to label (default 100)")
    parser.add_argument("--budget", type=positive_int, default=40, help="questions sampled per data set")
    parser.add_argument("--out", type=out_file, default=results_root() / "bench" / "labelling.json", help="where the result goes")
    args = parser.parse_args(argv)
    setup_logging()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise ConfigError("bench labelling needs Chromium (apt-get install chromium) and Playwright (pip install playwright)")
    from playwright.sync_api import sync_playwright

    runs = judged_runs(sweep_runs(results_root() / "runs", args.sweep), args.rubric)
    if not runs:
        raise ConfigError(f"no run of sweep {args.sweep!r} was judged with rubric {args.rubric!r}")
    items, _ = labelling_items(runs, args.budget, 0)
    if len(items) < args.items:
        raise ConfigError(f"the sample holds {len(items)} items, fewer than --items {args.items}: raise --budget")
    with tempfile.TemporaryDirectory() as tmp:
        store = LabelStore(Path(tmp) / "labels")
        session = LabellingSession(items, store, args.rubric, "bench", runs[0]["scale"])
        server, url = started(session)
        per_item: list[float] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']")
            first_load = time.perf_counter() - t0
            restart_s = None
            for n in range(args.items):
                if n == args.items // 2:  # a restart mid-session: a new server over the same store, the page reloaded
                    t1 = time.perf_counter()
                    server.shutdown()
                    server.server_close()
                    server, url = started(LabellingSession(items, store, args.rubric, "bench", runs[0]["scale"]))
                    page.goto(url)
                    page.wait_for_selector("body[data-ready='1']")
                    restart_s = time.perf_counter() - t1
                before = page.get_attribute("body", "data-item")
                t1 = time.perf_counter()
                page.keyboard.press("1")
                page.wait_for_function(f"document.body.dataset.item !== {before!r} || !document.getElementById('done').hidden")
                per_item.append(time.perf_counter() - t1)
                if n % 25 == 24:
                    log.info("labelled %d of %d items", n + 1, args.items)
            browser.close()
        server.shutdown()
        server.server_close()
        saved = sum(1 for label in store.labels(args.rubric) if label.score is not None)
    if saved != args.items:
        raise RuntimeError(f"{saved} labels saved for {args.items} keys pressed")
    write_result(args.out, {
        "sweep": args.sweep, "rubric": args.rubric, "items": args.items, "labels_saved": saved, "first_load_s": first_load,
        "restart_s": restart_s, "per_item_s": per_item, "per_item_median_s": statistics.median(per_item),
        "total_s": sum(per_item), "note": "the page's own time; a person's reading and deciding comes on top",
    })
    return 0
