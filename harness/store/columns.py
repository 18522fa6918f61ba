"""Documents and chunks as Arrow tables: how the load and chunk stages store them (parquet inside the stage
cache) instead of row-by-row JSON, so a million chunks are written and read in seconds. Metadata, whose keys
differ by suite, is one JSON text column."""

from __future__ import annotations

import json
from typing import Any, Sequence

from ragsweep.types import Chunk, Document


def _meta(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""


def _unmeta(text: str) -> dict[str, Any]:
    return json.loads(text) if text else {}


def documents_table(docs: Sequence[Document]) -> Any:
    import pyarrow as pa

    return pa.table({
        "doc_id": [d.doc_id for d in docs], "text": pa.array([d.text for d in docs], pa.large_string()),
        "metadata": [_meta(d.metadata) for d in docs],
    })


def documents_from_table(table: Any) -> list[Document]:
    cols = [table.column(c).to_pylist() for c in ("doc_id", "text", "metadata")]
    return [Document(i, t, _unmeta(m)) for i, t, m in zip(*cols)]


def chunks_table(chunks: Sequence[Chunk]) -> Any:
    import pyarrow as pa

    return pa.table({
        "chunk_id": [c.chunk_id for c in chunks], "doc_id": [c.doc_id for c in chunks],
        "start": pa.array([c.start for c in chunks], pa.int64()), "end": pa.array([c.end for c in chunks], pa.int64()),
        "text": pa.array([c.text for c in chunks], pa.large_string()), "metadata": [_meta(c.metadata) for c in chunks],
    })


def chunks_from_table(table: Any) -> list[Chunk]:
    cols = [table.column(c).to_pylist() for c in ("chunk_id", "doc_id", "start", "end", "text", "metadata")]
    return [Chunk(i, d, s, e, t, _unmeta(m)) for i, d, s, e, t, m in zip(*cols)]
