"""CodeSearchNet's own layouts: split jsonl.gz folders and the definitions pickle."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import pytest

from seekcode.corpus.codesearchnet import (
    is_codesearchnet,
    load_definitions,
    pool_files,
    read_definitions,
    read_splits,
    split_files,
)
from seekcode.corpus.skips import SkipReport


def _record(i: int, lang: str) -> dict:
    return {
        "repo": f"owner/repo{i}",
        "path": f"src/f{i}.{lang}",
        "func_name": f"f{i}",
        "original_string": f"def f{i}():\n    return {i}",
        "language": lang,
        "code": f"def f{i}():\n    return {i}",
        "code_tokens": ["def", f"f{i}", "(", ")", ":", "return", str(i)],
        "docstring": f"Return {i}.",
        "docstring_tokens": ["Return", str(i), "."],
        "sha": "abc",
        "partition": "wrong",  # the folder decides, as in CodeSearchNet
        "url": f"https://example.invalid/owner/repo{i}/f{i}#L1-L2",
    }


@pytest.fixture
def csn(tmp_path: Path) -> Path:
    for lang in ("python", "go"):
        for n, part in enumerate(("train", "valid", "test")):
            folder = tmp_path / lang / "final" / "jsonl" / part
            folder.mkdir(parents=True)
            lines = [json.dumps(_record(10 * n + i, lang)) for i in range(2)] + ["{not json"]
            with gzip.open(folder / f"{lang}_{part}_0.jsonl.gz", "wt") as f:
                f.write("\n".join(lines) + "\n")
    return tmp_path


def test_layout_detected_at_every_level(csn: Path, tmp_path: Path):
    assert is_codesearchnet(csn)
    assert is_codesearchnet(csn / "python")
    assert is_codesearchnet(csn / "python" / "final")
    assert is_codesearchnet(csn / "python" / "final" / "jsonl")
    (tmp_path / "plain").mkdir()
    assert not is_codesearchnet(tmp_path / "plain")
    assert len(split_files(csn)) == 6 and len(split_files(csn / "go")) == 3


def test_partitions_come_from_folders(csn: Path):
    skips = SkipReport()
    records = list(read_splits(csn / "python", skips))
    assert [r.partition for r in records] == ["train"] * 2 + ["valid"] * 2 + ["test"] * 2
    assert records[0].func_name == "f0" and records[0].docstring == "Return 0."
    assert records[0].code_tokens[:2] == ["def", "f0"]
    assert skips.counts["line not JSON"] == 3  # one broken line per file, skipped


def _definitions() -> list[dict]:
    return [
        {
            "nwo": "owner/repo",
            "sha": "0123",
            "path": "pkg/mod.py",
            "language": "python",
            "identifier": "mod.load",
            "parameters": "(path)",
            "argument_list": "",
            "return_statement": "return data",
            "docstring": "Load a file.",
            "docstring_summary": "Load a file.",
            "docstring_tokens": ["Load", "a", "file", "."],
            "function": "def load(path):\n    return open(path).read()",
            "function_tokens": ["def", "load", "(", "path", ")"],
            "url": "https://example.invalid/owner/repo/pkg/mod.py#L1-L2",
        },
        {"nwo": "x/y", "function": ""},  # no code: skipped
        "not a dict",
    ]


def test_definitions_pickle(tmp_path: Path):
    path = tmp_path / "python_dedupe_definitions_v2.pkl"
    path.write_bytes(pickle.dumps(_definitions()))
    assert pool_files(tmp_path) == [path]
    skips = SkipReport()
    records = list(read_definitions(path, skips))
    assert len(records) == 1 and skips.total == 2
    r = records[0]
    assert (r.repo, r.path, r.func_name, r.language) == (
        "owner/repo",
        "pkg/mod.py",
        "mod.load",
        "python",
    )
    assert r.code_tokens == ["def", "load", "(", "path", ")"]
    assert r.url.endswith("#L1-L2") and r.partition == ""
    assert r.extra["parameters"] == "(path)"


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickle_with_globals_is_refused(tmp_path: Path):
    path = tmp_path / "go_dedupe_definitions_v2.pkl"
    path.write_bytes(pickle.dumps([{"function": "x"}, Evil()]))
    with pytest.raises(ValueError, match="refusing"):
        load_definitions(path)
    (tmp_path / "java_dedupe_definitions_v2.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not a CodeSearchNet"):
        load_definitions(tmp_path / "java_dedupe_definitions_v2.pkl")
