"""The labelling page: one self-contained HTML document (no file or script from elsewhere), keyboard first.

Keys: 1..9 choose the rubric's labels in order, S skips, U (or Backspace) undoes the last label, N writes a note
(Enter returns). Every text is inserted as text (never as HTML), so an answer holding markup shows as written.
The page asks the server for the next item after each key; the server saves each label before it answers.
"""

from __future__ import annotations

import html
import json
from typing import Any

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ragsweep label: __TITLE__</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 980px; padding: 12px 16px; color: #1b1b1b; }
header { display: flex; justify-content: space-between; align-items: baseline; border-bottom: 1px solid #ccc; }
h1 { font-size: 18px; margin: 6px 0; } #progress { color: #555; }
section { margin: 10px 0; } h2 { font-size: 13px; text-transform: uppercase; color: #666; margin: 0 0 4px; }
.box { white-space: pre-wrap; border: 1px solid #ddd; border-radius: 4px; padding: 8px; background: #fafafa; }
#context .box { margin-bottom: 6px; max-height: 180px; overflow: auto; font-size: 13px; }
#answer { background: #fffbe6; border-color: #e6d58a; }
#labels button { font-size: 15px; margin: 0 8px 6px 0; padding: 6px 12px; }
#status { color: #555; min-height: 1.4em; } #note { width: 60%; }
kbd { border: 1px solid #aaa; border-radius: 3px; padding: 0 4px; font-size: 12px; }
</style></head><body>
<header><h1>Label: __TITLE__</h1><span id="progress"></span></header>
<p id="help">Keys: <kbd>1</kbd>..<kbd>9</kbd> a label, <kbd>S</kbd> skip, <kbd>U</kbd> undo, <kbd>N</kbd> note (<kbd>Enter</kbd> returns).
__INSTRUCTIONS__</p>
<div id="item">
<section><h2>Question</h2><div id="question" class="box"></div></section>
<section id="reference-section"><h2>Reference answer</h2><div id="reference" class="box"></div></section>
<section><h2>Context the judge was shown</h2><div id="context"></div></section>
<section><h2>Answer</h2><div id="answer" class="box"></div></section>
<section id="labels"></section>
<section><label>Note <input id="note" autocomplete="off"></label> <button id="skip">Skip (S)</button> <button id="undo">Undo (U)</button></section>
</div>
<p id="done" hidden>Every sampled answer is labelled. The leaderboard's judged columns use these labels: <code>ragsweep report</code>.</p>
<p id="status" role="status"></p>
<script>
"use strict";
const LABELS = __LABELS__;
let current = null;
let busy = false;
const byId = (id) => document.getElementById(id);

function show(state) {
  current = state.item;
  byId("progress").textContent = state.labelled + " of " + state.total + " labelled" + (state.skipped ? ", " + state.skipped + " skipped" : "");
  byId("undo").disabled = !state.can_undo;
  byId("item").hidden = !current;
  byId("done").hidden = !!current;
  if (!current) return;
  byId("question").textContent = current.question;
  byId("reference-section").hidden = current.reference.length === 0;
  byId("reference").textContent = current.reference.join("  |  ");
  const context = byId("context");
  context.replaceChildren();
  for (const text of current.context) {
    const box = document.createElement("div");
    box.className = "box";
    box.textContent = text;
    context.appendChild(box);
  }
  if (!current.context.length) context.textContent = "(none)";
  byId("answer").textContent = current.answer;
  byId("note").value = "";
  document.body.dataset.item = current.query_id + ":" + current.answer_sha;
}

async function call(path, body) {
  if (busy) return;
  busy = true;
  try {
    const response = await fetch(path, body === undefined ? {} : {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    const state = await response.json();
    if (!response.ok) { byId("status").textContent = state.error || response.statusText; return; }
    byId("status").textContent = state.said || "";
    show(state);
  } catch (err) {
    byId("status").textContent = "not saved: the labelling server does not answer (" + err + ")";
  } finally {
    busy = false;
    document.body.dataset.ready = "1";
  }
}

function choose(label) {
  if (!current) return;
  call("/api/label", {query_id: current.query_id, answer_sha: current.answer_sha, label: label, note: byId("note").value});
}

const buttons = byId("labels");
LABELS.forEach((label, i) => {
  const b = document.createElement("button");
  b.textContent = (i + 1) + "  " + label;
  b.addEventListener("click", () => choose(label));
  buttons.appendChild(b);
});
byId("skip").addEventListener("click", () => choose(null));
byId("undo").addEventListener("click", () => call("/api/undo", {}));
byId("note").addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === "Escape") { e.preventDefault(); byId("note").blur(); } });
document.addEventListener("keydown", (e) => {
  if (e.target === byId("note") || e.ctrlKey || e.metaKey || e.altKey) return;
  const k = e.key.toLowerCase();
  if (/^[1-9]$/.test(k) && Number(k) <= LABELS.length) { e.preventDefault(); choose(LABELS[Number(k) - 1]); }
  else if (k === "s") { e.preventDefault(); choose(null); }
  else if (k === "u" || k === "backspace") { e.preventDefault(); call("/api/undo", {}); }
  else if (k === "n") { e.preventDefault(); byId("note").focus(); }
});
call("/api/state");
</script></body></html>
"""


def render_page(title: str, labels: list[str], instructions: str = "") -> str:
    """The page for one rubric: its labels in key order (1, 2, ...)."""
    return (PAGE.replace("__TITLE__", html.escape(title))
                .replace("__INSTRUCTIONS__", html.escape(instructions))
                .replace("__LABELS__", json.dumps(labels).replace("</", "<\\/")))


def page_state(item: dict[str, Any] | None, labelled: int, skipped: int, total: int, can_undo: bool, said: str = "") -> dict[str, Any]:
    return {"item": item, "labelled": labelled, "skipped": skipped, "total": total, "can_undo": can_undo, "said": said}
