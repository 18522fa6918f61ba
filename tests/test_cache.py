from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ragsweep.store.cache import JSON, StageCache, stage_key
from ragsweep.store.embedding_cache import EmbeddingCache
from tests.helpers import in_processes


def test_stage_key_depends_on_every_input_and_not_on_key_order():
    base = stage_key("chunk", "1", {"size": 400, "overlap": 0}, "up", {"f": "abc"})
    assert base == stage_key("chunk", "1", {"overlap": 0, "size": 400}, "up", {"f": "abc"})
    variants = [
        stage_key("index", "1", {"size": 400, "overlap": 0}, "up", {"f": "abc"}),
        stage_key("chunk", "2", {"size": 400, "overlap": 0}, "up", {"f": "abc"}),
        stage_key("chunk", "1", {"size": 401, "overlap": 0}, "up", {"f": "abc"}),
        stage_key("chunk", "1", {"size": 400, "overlap": 0}, "up2", {"f": "abc"}),
        stage_key("chunk", "1", {"size": 400, "overlap": 0}, "up", {"f": "abd"}),
    ]
    assert len({base, *variants}) == 6
    assert len(base) == 64


def test_get_or_compute_computes_once(tmp_path):
    cache = StageCache(tmp_path)
    calls = []
    value, hit = cache.get_or_compute("s", "k" * 64, lambda: calls.append(1) or {"a": [1, 2]})
    assert (value, hit) == ({"a": [1, 2]}, False)
    value, hit = cache.get_or_compute("s", "k" * 64, lambda: calls.append(1) or {"a": [3]})
    assert (value, hit, len(calls)) == ({"a": [1, 2]}, True, 1)
    assert not list(tmp_path.rglob("*.tmp"))


def _writer(root: str, marker_dir: str, worker: int, barrier) -> None:
    def compute():
        Path(marker_dir, f"computed-{worker}").touch()
        return {"payload": list(range(10000))}

    barrier.wait(30)  # every job asks for the key at once
    StageCache(root).get_or_compute("s", "f" * 64, compute)


@pytest.mark.process
def test_parallel_jobs_on_one_key_compute_once_and_never_corrupt(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    in_processes(_writer, [(str(tmp_path / "c"), str(markers), i) for i in range(4)])
    assert len(list(markers.iterdir())) == 1
    value, hit = StageCache(tmp_path / "c").get_or_compute("s", "f" * 64, lambda: None)
    assert hit and value == {"payload": list(range(10000))}


def test_json_codec_is_deterministic():
    assert JSON.dump({"b": 1, "a": [1.5, "x"]}) == JSON.dump({"a": [1.5, "x"], "b": 1})


def test_embedding_cache_hits_per_model_and_text(tmp_path):
    cache = EmbeddingCache(tmp_path / "e")
    seen: list[str] = []

    def encode(texts):
        seen.extend(texts)
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    vecs, hits = cache.encode("m", ["aa", "b", "aa"], encode)
    assert hits == 0 and seen == ["aa", "b"]
    np.testing.assert_array_equal(vecs[:, 0], [2, 1, 2])
    vecs, hits = cache.encode("m", ["b", "ccc"], encode)
    assert hits == 1 and seen == ["aa", "b", "ccc"]
    _, hits = cache.encode("other-model", ["b"], encode)
    assert hits == 0
