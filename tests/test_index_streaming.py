"""The streaming build: records from any iterator, vectors written batch by batch.

Batches are made tiny here so that every boundary (batch, encoder chunk, reuse from
the previous generation and from the resume cache) is crossed by a few records.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from serving_helpers import FakeEncoder

from seekcode.corpus.record import Record
from seekcode.index import store
from seekcode.index.cache import VectorCache
from seekcode.index.store import Index


def records(n: int, version: int = 1, start: int = 0) -> Iterator[Record]:
    for i in range(start, start + n):
        yield Record(code=f"def f_{i}():\n    return {version * (i % 3)} + {i}\n",
                     docstring=f"Return value number {i}.", func_name=f"f_{i}",
                     path=f"m{i % 4}.py", start_line=i + 1, end_line=i + 2,
                     partition="train" if i % 5 else "test", language="python")


@pytest.fixture(autouse=True)
def tiny_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "_VECTOR_BATCH", 7)
    monkeypatch.setattr(store, "_ROWS_PER_COMMIT", 5)


def test_vectors_and_rows_match_the_records_in_order(tmp_path: Path) -> None:
    enc = FakeEncoder()
    # A generator (read once), with a duplicate url that must be dropped.
    dup = next(records(1, version=9, start=3))
    stream = (r for part in (records(10), [dup], records(13, start=10)) for r in part)
    index, stats = Index.build(stream, tmp_path / "idx", enc, progress=False, chunk=3)
    assert stats["records"] == 23 and stats["duplicate_urls"] == 1 and stats["encoded"] == 23
    expected = list(records(23))
    assert [r.func_name for r in index.iter_records()] == [r.func_name for r in expected]
    np.testing.assert_allclose(index.vectors, FakeEncoder().encode_code(expected), atol=1e-6)
    assert index.manifest["partitions"] == {"train": 18, "test": 5}
    assert index.manifest["languages"] == {"python": 23}
    Index.open(tmp_path / "idx", verify=True)


def test_reuse_from_previous_generation_and_no_new_generation_when_unchanged(
        tmp_path: Path) -> None:
    out = tmp_path / "idx"
    first, _ = Index.build(records(20), out, FakeEncoder(), progress=False, chunk=4)
    same, stats = Index.build(records(20), out, FakeEncoder(), progress=False, chunk=4)
    assert stats["unchanged"] == 1 and same.gen == first.gen
    assert sorted(p.name for p in out.glob("gen-*")) == [first.gen.name]

    # Every third record changes (version 2), 5 are new: only those are encoded.
    enc = FakeEncoder()
    changed = list(records(20, version=2)) + list(records(5, start=20))
    index, stats = Index.build(iter(changed), out, enc, progress=False, chunk=4)
    n_changed = sum(1 for i in range(20) if i % 3)
    assert stats["encoded"] == enc.encoded == n_changed + 5
    assert stats["reused"] == 20 - n_changed
    np.testing.assert_allclose(index.vectors, FakeEncoder().encode_code(changed), atol=1e-6)


def test_resume_cache_is_looked_up_by_hash(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    recs = list(records(30))
    cache = VectorCache(out, FakeEncoder().id)
    cache.append([r.content_hash for r in recs[5:17]], FakeEncoder().encode_code(recs[5:17]))
    cache.close()
    enc = FakeEncoder()
    index, stats = Index.build(iter(recs), out, enc, progress=False, chunk=4)
    assert stats["reused"] == 12 and enc.encoded == 18
    np.testing.assert_allclose(index.vectors, FakeEncoder().encode_code(recs), atol=1e-6)
    assert not cache.dir.exists()  # cleared once published


def test_hooks_get_a_record_sequence_from_sqlite_and_mapped_vectors(tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    def hook(gen, recs, vectors, extras):  # type: ignore[no-untyped-def]
        seen["len"] = len(recs)
        seen["last"] = recs[-1].func_name
        seen["slice"] = [r.func_name for r in recs[2:4]]
        seen["iter"] = sum(1 for _ in recs)
        seen["vectors"] = (type(vectors).__name__, vectors.shape)
        extras["hooked"] = True

    index, _ = Index.build(records(16), tmp_path / "idx", FakeEncoder(), progress=False,
                           hooks=[hook])
    assert seen == {"len": 16, "last": "f_15", "slice": ["f_2", "f_3"], "iter": 16,
                    "vectors": ("memmap", (16, 256))}
    assert index.manifest["extras"]["hooked"] is True
    again = index.update_extras(hook)
    assert again.gen != index.gen and seen["len"] == 16


def test_an_empty_stream_builds_an_empty_index(tmp_path: Path) -> None:
    index, stats = Index.build(iter([]), tmp_path / "idx", FakeEncoder(), progress=False)
    assert stats["records"] == 0 and index.count == 0 and index.vectors.shape == (0, 256)


def test_a_failing_input_leaves_the_previous_generation_and_no_half_one(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    first, _ = Index.build(records(10), out, FakeEncoder(), progress=False)

    def broken() -> Iterator[Record]:
        yield from records(5, version=2)
        raise ValueError("corpus.jsonl.gz: not a readable gzip file")

    with pytest.raises(ValueError, match="not a readable gzip"):
        Index.build(broken(), out, FakeEncoder(), progress=False)
    assert [p.name for p in out.glob("gen-*")] == [first.gen.name]
    assert Index.open(out, verify=True).count == 10
