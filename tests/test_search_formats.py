"""`--format vimgrep` (path:line:col:name per hit) beside the rich and JSON outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from serving_helpers import FakeEncoder, make_project

from seekcode.cli import main
from seekcode.index.watch import update


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_vimgrep_lines_point_at_the_json_hits(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project(tmp_path / "proj")
    update(root, tmp_path / "idx", FakeEncoder())
    idx = str(tmp_path / "idx")
    hits = json.loads(_out(capsys, "search", idx, "read gzip json", "-k", "3", "--json"))["hits"]
    lines = _out(capsys, "search", idx, "read gzip json", "-k", "3", "--format", "vimgrep"
                 ).splitlines()
    assert lines == [f"{root.resolve()}/{h['path']}:{h['start_line']}:1:{h['func_name']}"
                     for h in hits]
    path, line, col, name = lines[0].split(":")
    assert Path(path).read_text().splitlines()[int(line) - 1].startswith(f"def {name}(")
    sim = _out(capsys, "similar", idx, "pkg/io.py:6", "-k", "2", "--format", "vimgrep")
    assert len(sim.splitlines()) == 2 and all(":1:" in x for x in sim.splitlines())
    with pytest.raises(SystemExit):  # one format: argparse refuses both
        main(["search", idx, "x", "--json", "--format", "vimgrep"])


def test_vimgrep_without_a_source_folder_keeps_the_stored_paths(
        tmp_path: Path, corpus_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", str(corpus_file), "-o", str(tmp_path / "i"), "--encoder", "lexical"]) == 0
    out = _out(capsys, "search", str(tmp_path / "i"), "md5 digest", "-k", "1", "--format",
               "vimgrep")
    assert out == "pkg/mod4.py:41:1:md5_of_file\n"
