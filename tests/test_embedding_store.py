"""The embedding cache's segment files: vectors stored once, a segment at a time, referred to by row."""

from __future__ import annotations

import logging
import pickle
import shutil

import numpy as np
import pytest

from ragsweep.store.embedding_cache import EmbeddingCache, EmbeddingRows, ModelSegments, encode_segment, text_keys
from ragsweep.errors import CacheError
from tests.helpers import run, statuses


def by_length(texts):
    return np.array([[len(t), 1.0, 0.5] for t in texts], dtype=np.float32)


def test_a_long_encoding_is_stored_a_segment_at_a_time_and_resumes(tmp_path):
    texts = [f"text {i}" for i in range(10)]
    calls: list[int] = []

    def fails_on_third_segment(batch):
        calls.append(len(batch))
        if len(calls) == 3:
            raise KeyboardInterrupt  # a run stopped part way
        return by_length(batch)

    cache = EmbeddingCache(tmp_path / "e", segment_texts=4)
    with pytest.raises(KeyboardInterrupt):
        cache.rows("m", texts, fails_on_third_segment)
    assert calls == [4, 4, 2] and len(list((tmp_path / "e").rglob("*.emb"))) == 2
    seen: list[str] = []
    resumed = EmbeddingCache(tmp_path / "e", segment_texts=4)
    vecs, hits = resumed.encode("m", texts, lambda batch: seen.extend(batch) or by_length(batch))
    assert hits == 8 and seen == ["text 8", "text 9"]
    np.testing.assert_array_equal(vecs, by_length(texts))


def test_rows_in_runs_and_scattered_come_back_in_the_texts_order(tmp_path):
    cache = EmbeddingCache(tmp_path / "e", segment_texts=3)
    texts = ["alpha", "beta", "gamma", "delta"]
    ref, _ = cache.rows("m", texts, by_length)
    assert len(ref.segments) == 2  # 3 + 1 texts
    np.testing.assert_array_equal(cache.vectors(ref), by_length(texts))  # two runs, one read each
    # out of order, repeated, across three segments: each row where the text asked for it
    asked = ["delta", "new one", "alpha", "delta", "gamma", "beta"]
    ref2, hits = cache.rows("m", asked, by_length)
    assert hits == 5 and len(ref2.segments) == 3
    np.testing.assert_array_equal(cache.vectors(ref2), by_length(asked))
    many = [f"t{i}" for i in range(40)]
    ref3, _ = cache.rows("m", many, by_length)
    reversed_ref = EmbeddingRows(ref3.model_id, ref3.segments, ref3.seg[::-1].copy(), ref3.rows[::-1].copy())
    np.testing.assert_array_equal(cache.vectors(reversed_ref), by_length(many[::-1]))  # scattered: gathered


def test_a_process_checks_only_the_vectors_it_uses(tmp_path, caplog):
    EmbeddingCache(tmp_path / "e").encode("m", ["first"], by_length)
    EmbeddingCache(tmp_path / "e").encode("m", ["second one"], by_length)
    segments = sorted((tmp_path / "e").rglob("*.emb"))
    damaged = next(p for p in segments if EmbeddingCache(tmp_path / "e").rows("m", ["second one"], by_length)[0].segments[0] == p.name)
    raw = damaged.read_bytes()
    damaged.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0x40]))  # a vector byte
    caplog.set_level(logging.WARNING)
    cache = EmbeddingCache(tmp_path / "e")
    _, hits = cache.encode("m", ["first"], by_length)
    assert hits == 1 and "corrupt" not in caplog.text  # the damaged segment is opened (keys), not used: its vectors unread
    vecs, hits = cache.encode("m", ["second one"], by_length)
    assert hits == 0 and vecs.tolist() == by_length(["second one"]).tolist()
    assert f"corrupt embedding segment {damaged} (checksum mismatch in its vectors)" in caplog.text


def test_models_and_roles_never_share_vectors(tmp_path):
    cache = EmbeddingCache(tmp_path / "e")
    cache.encode("m#query", ["same text"], lambda t: np.ones((len(t), 2)))
    vecs, hits = cache.encode("m#passage", ["same text"], lambda t: np.zeros((len(t), 2)))
    assert hits == 0 and vecs.tolist() == [[0.0, 0.0]]
    assert len([p for p in (tmp_path / "e").iterdir() if p.is_dir()]) == 2


def test_empty_and_hostile_texts(tmp_path):
    cache = EmbeddingCache(tmp_path / "e")
    vecs, hits = cache.encode("m", [], by_length)
    assert vecs.shape == (0, 0) and hits == 0
    odd = ["", "\x00", "<script>alert(1)</script>", "../../etc/passwd", "ไทย"]
    vecs, hits = cache.encode("m", odd, by_length)
    np.testing.assert_array_equal(vecs[:, 0], [len(t) for t in odd])
    assert sorted(p.name for p in (tmp_path / "e").rglob("*") if p.is_file() and not p.name.endswith(".emb")) == ["lock", "model.txt"]


def test_an_encoder_returning_the_wrong_shape_stops_with_one_line(tmp_path):
    cache = EmbeddingCache(tmp_path / "e")
    with pytest.raises(CacheError, match=r"^embedder m returned \(1, 2\) vectors for 2 texts$"):
        cache.encode("m", ["a", "b"], lambda t: np.ones((1, 2)))
    assert not list((tmp_path / "e").rglob("*.emb"))  # nothing stored


def test_an_unwritable_cache_folder_stops_with_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(CacheError, match=r"^cannot write to .*file/e .*: point cache_dir \(or RAGSWEEP_CACHE\) at a writable folder$"):
        EmbeddingCache(tmp_path / "file" / "e")


def test_keys_sharing_their_first_eight_bytes_are_told_apart(tmp_path):
    """The sorted index compares the first 8 key bytes, then the whole key: a collision on 8 bytes, and a key
    stored twice, both resolve to the right rows."""
    folder = tmp_path / "m"
    folder.mkdir()
    keys = np.zeros((3, 32), dtype=np.uint8)
    keys[:, 8] = [1, 2, 3]  # same first 8 bytes, different keys
    (folder / "a.emb").write_bytes(encode_segment(keys, np.array([[1.0], [2.0], [3.0]], dtype=np.float32)))
    (folder / "b.emb").write_bytes(encode_segment(keys[2:], np.array([[3.0]], dtype=np.float32)))
    segments = ModelSegments(folder)
    segments.refresh()
    absent = np.zeros((1, 32), dtype=np.uint8)
    absent[0, 8] = 9
    present, seg, rows = segments.locate(np.concatenate([keys[[2, 0, 1]], absent]))
    assert present.tolist() == [True, True, True, False]
    values = [float(segments.segments[s].rows(np.array([r]))[0, 0]) for s, r in zip(seg[:3], rows[:3])]
    assert values == [3.0, 1.0, 2.0]


def test_text_keys_are_sha256_of_model_and_text():
    import hashlib

    assert text_keys("m", ["abc"])[0].tobytes() == hashlib.sha256(b"m\x00abc").digest()


@pytest.mark.model
@pytest.mark.parametrize("loss", ["deleted", "damaged"])
def test_a_dense_index_refers_to_the_cache_and_is_rebuilt_when_the_embeddings_are_gone(tmp_path, caplog, loss):
    overrides = ("task=span_mini", "retriever=dense", "generator=none")
    run_dir, first = run(tmp_path, *overrides)
    cache = tmp_path / "cache"
    [index_entry] = (cache / "index").rglob("*.pkl")
    vectors_bytes = sum(p.stat().st_size for p in (cache / "embeddings").rglob("*.emb"))
    assert index_entry.stat().st_size < vectors_bytes / 10  # references, not a second copy of the vectors
    ranked = (run_dir / "records.parquet").read_bytes()
    if loss == "deleted":
        shutil.rmtree(cache / "embeddings")
    else:
        for segment in (cache / "embeddings").rglob("*.emb"):
            raw = segment.read_bytes()
            segment.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    shutil.rmtree(cache / "retrieve")
    caplog.set_level(logging.WARNING)
    _, second = run(tmp_path, *overrides)
    assert "the dense index refers to embeddings no longer in the cache (moved aside or deleted): rebuilding it" in caplog.text
    assert statuses(second)["index"] == "computed" and second["counters"]["embedding_cache_misses"] > 0
    assert (run_dir / "records.parquet").read_bytes() == ranked


def test_an_index_artifact_pickles_without_vectors(tmp_path):
    cache = EmbeddingCache(tmp_path / "e")
    ref, _ = cache.rows("m", [f"t{i}" for i in range(1000)], lambda t: np.ones((len(t), 384), dtype=np.float32))
    assert len(pickle.dumps(ref)) < 1000 * 16 + 1000  # about 12 bytes a text, not 1,536
