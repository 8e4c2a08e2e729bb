"""The index directory: build, reopen, search, filters, reuse, and refusing bad indexes."""

import json

import numpy as np
import pytest

from seekcode.encoders.lexical import LexicalEncoder
from seekcode.index.store import FORMAT_VERSION, Index, IndexError_


def test_build_open_search(tmp_path, records, encoder):
    index, stats = Index.build(records, tmp_path / "idx", encoder, progress=False)
    assert (stats["records"], stats["duplicate_urls"], stats["reused"], stats["encoded"]) == (8, 0, 0, 8)
    again = Index.open(tmp_path / "idx")
    assert again.count == 8 and again.encoder.id == encoder.id
    hits = again.search("read gzip json", k=3)
    assert hits[0].func_name == "read_gzip_json"
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].location == "pkg/mod0.py:1"
    assert hits[0].score >= hits[1].score >= hits[2].score
    norms = np.linalg.norm(again.vectors, axis=1)
    assert np.allclose(norms, 1, atol=1e-5)


def test_filters(tmp_path, records, encoder):
    records[3].language = "go"
    index, _ = Index.build(records, tmp_path / "idx", encoder, progress=False)
    assert {h.language for h in index.search("file", k=8, lang="go")} == {"go"}
    hits = index.search("file", k=8, path="pkg/mod[01].py")
    assert {h.path for h in hits} <= {"pkg/mod0.py", "pkg/mod1.py"} and hits
    assert index.search("file", k=8, path="nothing/*") == []
    assert index.languages() == ["go", "python"]


def test_reindex_reuses_unchanged_vectors(tmp_path, records, encoder):
    Index.build(records, tmp_path / "idx", encoder, progress=False)
    records[0].code += "\n    # changed"
    records.pop()  # a deleted function
    index, stats = Index.build(records, tmp_path / "idx", encoder, progress=False)
    assert stats["encoded"] == 1 and stats["reused"] == 6 and index.count == 7
    fresh = encoder.encode_code(records, progress=False)
    assert np.allclose(index.vectors, fresh)


def test_duplicate_urls_are_dropped(tmp_path, records, encoder):
    _, stats = Index.build(records + records[:2], tmp_path / "idx", encoder, progress=False)
    assert stats["duplicate_urls"] == 2 and stats["records"] == 8


def test_other_encoder_is_a_clear_error(tmp_path, records, encoder):
    Index.build(records, tmp_path / "idx", encoder, progress=False)
    with pytest.raises(IndexError_, match="lexical:512.*lexical:64"):
        Index.open(tmp_path / "idx", encoder=LexicalEncoder(dim=64))


def test_other_format_version_is_a_clear_error(tmp_path, records, encoder):
    index, _ = Index.build(records, tmp_path / "idx", encoder, progress=False)
    manifest = index.gen / "manifest.json"
    data = json.loads(manifest.read_text())
    data["format_version"] = FORMAT_VERSION + 1
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexError_, match=f"version {FORMAT_VERSION + 1}.*rebuild"):
        Index.open(tmp_path / "idx")


def test_truncated_and_corrupted_files_are_detected(tmp_path, records, encoder):
    index, _ = Index.build(records, tmp_path / "idx", encoder, progress=False)
    vectors = index.gen / "vectors.npy"
    data = vectors.read_bytes()
    vectors.write_bytes(data[:-16])
    with pytest.raises(IndexError_, match="truncated"):
        Index.open(tmp_path / "idx")
    vectors.write_bytes(data[:-4] + b"\x00\x00\x80\x7f")
    with pytest.raises(IndexError_, match="checksum"):
        Index.open(tmp_path / "idx")


def test_not_an_index(tmp_path):
    with pytest.raises(IndexError_, match="not a seekcode index"):
        Index.open(tmp_path)


@pytest.mark.slow
def test_unchanged_rebuild_never_loads_minilm(tmp_path, records):
    """Re-indexing unchanged code with the default encoder reads no weights: the id, the
    dimension and the no-op check need none; a search loads them on demand."""
    from seekcode.encoders.minilm import MiniLMEncoder

    first = MiniLMEncoder()
    assert first.dim == 384 and first.id and first._session is None
    Index.build(records, tmp_path / "idx", first, progress=False)
    assert first._session is not None
    again = MiniLMEncoder()
    index, stats = Index.build(records, tmp_path / "idx", again, progress=False)
    assert stats["unchanged"] == 1
    assert again._session is None and again._fast_tokenizer is None
    assert index.search("parse a json file", k=1) and again._session is not None


def test_build_and_update_a_relative_folder(tmp_path, records, encoder, monkeypatch):
    """`seekcode demo` (runs/demo) and `seekcode index SRC -o idx` pass relative paths;
    the streaming build and the watch update open SQLite by URI, which needs absolute ones."""
    from seekcode.index.watch import update

    monkeypatch.chdir(tmp_path)
    Index.build(records, "rel/idx", encoder, progress=False)
    again, stats = Index.build(records[:5], "rel/idx", encoder, progress=False)
    assert again.count == 5 and stats["reused"] == 5
    src = tmp_path / "src"
    src.mkdir()
    (src / "m.py").write_text("def parse_json(text):\n    return text\n")
    update(src, "rel/src-idx", encoder)  # type: ignore[arg-type]
    (src / "n.py").write_text("def read_gzip(path):\n    return path\n")
    index, result = update(src, "rel/src-idx", encoder)  # type: ignore[arg-type]
    assert index.count == 2 and result.added == 1
