"""Time the perplexity chunker on 1 MB of real text on this machine's CPU.

Text: the corpora of Chroma's general evaluation set ($RAGSWEEP_DATA/chroma_general, or
RAGSWEEP_DATA), concatenated and cut to ``--chars`` characters at a paragraph break. Skips with a
message when the data is absent. Writes results/bench/perplexity_chunker.json.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from ragsweep.paths import results_root
from ragsweep.bench.common import out_file, positive_int, write_result
from ragsweep.chunkers.perplexity import PerplexityChunker
from ragsweep.models.causal_lm import load_causal_lm
from ragsweep.types import Document
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.bench.perplexity_chunker")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ragsweep bench perplexity_chunker", description=plain_doc(__doc__))
    parser.add_argument("--chars", type=positive_int, default=1_000_000, help="characters of text to chunk")
    parser.add_argument("--model", default="bundled:SmolLM2-135M-Instruct", help="the language model whose perplexity places the cuts")
    parser.add_argument("--out", type=out_file, default=results_root() / "bench" / "perplexity_chunker.json", help="where the result goes (default: <results>/bench/perplexity_chunker.json)")
    args = parser.parse_args(argv)
    setup_logging()
    corpora = Path(os.environ.get("RAGSWEEP_DATA", "data")) / "chroma_general" / "corpora"
    if not corpora.is_dir():
        log.info("skipped: %s not found (set RAGSWEEP_DATA)", corpora)
        return
    text = "\n\n".join(p.read_text("utf-8") for p in sorted(corpora.glob("*.md")))
    cut = text.rfind("\n\n", 0, args.chars)
    text = text[: cut if cut > 0 else args.chars]
    chunker = PerplexityChunker(model=args.model)
    t0 = time.perf_counter()
    tokenizer, _ = load_causal_lm(args.model, "cpu")
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    chunks = chunker.chunk([Document("bench", text)], progress=False)
    chunk_s = time.perf_counter() - t0
    n_tokens = len(tokenizer.encode(text, add_special_tokens=False))
    write_result(
        args.out,
        {
            "what": "perplexity chunker (Meta-Chunking PPL, threshold 0) over real text, CPU",
            "model": args.model,
            "chars": len(text),
            "tokens": n_tokens,
            "chunks": len(chunks),
            "model_load_s": round(load_s, 2),
            "chunking_s": round(chunk_s, 2),
            "chars_per_s": round(len(text) / chunk_s, 1),
            "tokens_per_s": round(n_tokens / chunk_s, 1),
        },
    )
