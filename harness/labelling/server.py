"""``ragsweep label --sweep NAME --rubric faithfulness --annotator ME``: a labelling page for a sweep's answers on
127.0.0.1 (never another address). It samples ``--budget`` questions per data set (the same for every configuration;
labelling/items.py says why), shows each answer blind and saves every label as it is made (store/labels.py), so a
crash or a restart loses nothing and the page goes on where it stopped. ``--import FILE`` brings labels made elsewhere
(JSONL or CSV) in through the same keys; ``--agreement`` prints how far the annotators agree and what to adjudicate
(label as ``--annotator adjudicated`` to settle an item).
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Sequence

from ragsweep.help_text import plain_doc
from ragsweep.errors import ConfigError, DataError
from ragsweep.labelling.items import Item, judged_runs, labelling_items
from ragsweep.labelling.page import page_state, render_page
from ragsweep.logs import setup_logging
from ragsweep.paths import results_root
from ragsweep.store.labels import Label, LabelStore, annotator_agreement, import_labels, plain_name
from ragsweep.store.run_folder import latest_of_sweep

log = logging.getLogger("ragsweep.label")
HOST = "127.0.0.1"  # labels stay on this machine: the page is never served on another address


class LabellingSession:
    """One annotator labelling one rubric's items: what to show next, a label saved, the last one undone."""

    def __init__(self, items: Sequence[Item], store: LabelStore, rubric: str, annotator: str, scale: dict[str, float]):
        self.items, self.store, self.rubric, self.annotator, self.scale = list(items), store, rubric, plain_name(annotator, "annotator"), scale
        self.by_key = {(i.query_id, i.answer_sha): i for i in self.items}
        self.lock = threading.Lock()

    def mine(self) -> dict[tuple[str, str], Label]:
        """This annotator's labels and skips on this session's items (read from the store: a restart loses nothing)."""
        return {label.key: label for label in self.store.labels(self.rubric) if label.annotator == self.annotator and label.key in self.by_key}

    def state(self, said: str = "") -> dict[str, Any]:
        mine = self.mine()
        upcoming = next((i for i in self.items if (i.query_id, i.answer_sha) not in mine), None)
        skipped = sum(1 for label in mine.values() if label.score is None)
        return page_state(upcoming.shown() if upcoming else None, len(mine) - skipped, skipped, len(self.items), bool(mine), said)

    def label(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (body.get("query_id"), body.get("answer_sha"))
        if key not in self.by_key:
            raise DataError("request", f"no item {key!r} in this labelling session", field="query_id")
        name = body.get("label")
        if name is not None and name not in self.scale:
            raise DataError("request", f"label {name!r} is not one of {', '.join(self.scale)}", field="label")
        note = body.get("note") or ""
        if not isinstance(note, str) or len(note) > 2000:
            raise DataError("request", "a note is text of at most 2000 characters", field="note")
        with self.lock:
            self.store.put(Label(key[0], key[1], self.rubric, self.annotator, name, None if name is None else self.scale[name], note))
        return self.state("skipped" if name is None else f"saved: {name}")

    def undo(self) -> dict[str, Any]:
        with self.lock:
            mine = self.mine()
            if not mine:
                return self.state("nothing to undo")
            last = max(mine.values(), key=lambda label: label.made)
            self.store.remove(self.rubric, self.annotator, last.query_id, last.answer_sha)
        return self.state(f"undone: {last.label or 'skip'}")


def handler(session: LabellingSession, page: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            log.debug("%s %s", self.address_string(), format % args)

        def reply(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def json(self, code: int, obj: dict[str, Any]) -> None:
            self.reply(code, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path in ("/", "/index.html"):
                self.reply(200, page.encode("utf-8"), "text/html; charset=utf-8")
            elif self.path == "/api/state":
                self.json(200, session.state())
            else:
                self.json(404, {"error": f"no such page: {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(min(length, 100_000)) or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("expected a JSON object")
                if self.path == "/api/label":
                    self.json(200, session.label(body))
                elif self.path == "/api/undo":
                    self.json(200, session.undo())
                else:
                    self.json(404, {"error": f"no such action: {self.path}"})
            except (ValueError, DataError) as err:
                self.json(400, {"error": str(err)})

    return Handler


def sweep_runs(runs_dir: Path, sweep: str) -> list[Path]:
    """The runs of the sweep's latest invocation where recorded, else every run folder of the sweep."""
    recorded = latest_of_sweep(runs_dir / sweep)
    folders = recorded[0] if recorded else sorted(p.parent for p in (runs_dir / sweep).glob("*/metrics.json"))
    if not folders:
        raise ConfigError(f"no runs of sweep {sweep!r} under {runs_dir}: run `ragsweep sweep {sweep}` first")
    return folders


def serve(session: LabellingSession, title: str, port: int) -> None:
    server = ThreadingHTTPServer((HOST, port), handler(session, render_page(title, list(session.scale))))
    print(f"labelling page: http://{HOST}:{server.server_address[1]}/  ({len(session.items)} answers; every label is saved as it is "
          "made; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ragsweep label", description=plain_doc(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", help="the sweep whose judged answers to label")
    parser.add_argument("--rubric", required=True, help="the judge rubric whose column the labels score (e.g. faithfulness)")
    parser.add_argument("--annotator", default="me", help="who labels: a plain name (default: me); 'adjudicated' settles disagreements")
    parser.add_argument("--budget", type=int, default=20, help="questions sampled per data set, the same for every configuration (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample and of the order shown")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--runs", type=Path, default=None, help="the runs folder (default: <results>/runs)")
    parser.add_argument("--labels", type=Path, default=None, help="the label store (default: <results>/labels)")
    parser.add_argument("--import", dest="import_file", type=Path, default=None, help="import labels from a JSONL or CSV file and exit")
    parser.add_argument("--agreement", action="store_true", help="print the annotators' agreement and the items to adjudicate, and exit")
    args = parser.parse_args(argv)
    setup_logging()
    store = LabelStore(args.labels or results_root() / "labels")
    plain_name(args.rubric, "--rubric")
    if args.agreement:
        print(json.dumps(annotator_agreement(store.labels(args.rubric)), indent=1))
        return 0
    if not args.sweep:
        raise ConfigError("--sweep is needed to label (or --agreement, or --import with --sweep for the rubric's labels)")
    runs = judged_runs(sweep_runs(args.runs or results_root() / "runs", args.sweep), args.rubric)
    if not runs:
        raise ConfigError(f"no run of sweep {args.sweep!r} was judged with rubric {args.rubric!r}: nothing to label")
    scale = runs[0]["scale"]
    if args.import_file:
        count = import_labels(args.import_file, store, {args.rubric: scale})
        print(f"imported {count} labels of rubric {args.rubric!r} into {store.root}")
        return 0
    items, _ = labelling_items(runs, args.budget, args.seed)
    store.write_design(args.rubric, args.seed, args.budget)  # the estimates use exactly this sample
    session = LabellingSession(items, store, args.rubric, args.annotator, scale)
    serve(session, f"{args.sweep} / {args.rubric} ({session.annotator})", args.port)
    return 0
