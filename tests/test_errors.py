"""Input seekcode refuses (an InputError) against a bug in seekcode, at every front end.

The CLI exits 2 with one line naming the input only for an InputError; any other
exception (here a ValueError planted inside a command, standing for an internal bug)
propagates with its traceback and a note that it is a bug. The HTTP server answers
422 and 500 respectively; the MCP server a tool error with the reason, or one that
says it is a bug.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mcp.server.fastmcp.exceptions import ToolError
from serving_helpers import LOOPBACK, FakeEncoder, make_project

from seekcode.cli import UsageError, main
from seekcode.corpus.jsonl import BadLine
from seekcode.corpus.sources import SourceError
from seekcode.errors import InputError
from seekcode.index.search import QueryError
from seekcode.index.store import Index, IndexError_
from seekcode.index.watch import update
from seekcode.mcp.server import build_server
from seekcode.mcp.workspace import Workspace, WorkspaceError
from seekcode.server import create_app
from seekcode.server.service import BadRequest, SearchService


@pytest.fixture
def index_dir(tmp_path: Path, corpus_file: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "idx"
    assert main(["index", str(corpus_file), "-o", str(out), "--encoder", "lexical"]) == 0
    capsys.readouterr()
    return out


def _plant_bug(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> None:
    """Make `owner.name` raise the ValueError a bug inside seekcode would raise."""
    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("planted internal bug")

    monkeypatch.setattr(owner, name, broken)


def test_every_specific_input_error_is_an_input_error_and_a_value_error() -> None:
    for cls in (UsageError, QueryError, IndexError_, BadLine, SourceError, BadRequest,
                WorkspaceError):
        assert issubclass(cls, InputError) and issubclass(cls, ValueError), cls


def test_an_internal_value_error_is_a_crash_not_a_usage_error(
        index_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _plant_bug(monkeypatch, Index, "search")
    with pytest.raises(ValueError, match="planted internal bug") as e:
        main(["search", str(index_dir), "md5 digest of a file"])
    assert not isinstance(e.value, InputError)
    assert any("bug in seekcode" in note for note in e.value.__notes__)
    assert "seekcode search: planted" not in capsys.readouterr().err  # not worded as bad input


def test_an_internal_file_not_found_error_is_a_crash_too(
        index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A file seekcode itself expected to exist is not a path the user got wrong.
    def vanished(*args: object, **kwargs: object) -> None:
        raise FileNotFoundError("/internal/cache/file")

    monkeypatch.setattr(Index, "search", vanished)
    with pytest.raises(FileNotFoundError):
        main(["search", str(index_dir), "md5 digest of a file"])


def test_interrupt_exits_130(index_dir: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Index, "search", interrupted)
    assert main(["search", str(index_dir), "md5"]) == 130
    assert capsys.readouterr().err == "seekcode search: interrupted\n"


def _corrupt_gzip(tmp: Path) -> Path:
    (tmp / "bad.jsonl.gz").write_bytes(b"not gzip at all")
    return tmp / "bad.jsonl.gz"


def _only_bad_lines(tmp: Path) -> Path:
    (tmp / "bad.jsonl").write_text("{not json\n[1, 2]\n")
    return tmp / "bad.jsonl"


def _other_encoder(index: Path) -> Path:
    """The index's manifest claims an encoder that reopens under another id, as when a
    model folder is retrained after the index was built."""
    manifest = index / "current" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["encoder"]["id"] = "lexical:64"
    manifest.write_text(json.dumps(data))
    return index


@pytest.mark.parametrize("argv, message", [
    (["search", "{idx}", " \t "], "query: empty query"),
    (["search", "{idx}", "md5", "--path", "src/[a"], "--path: unclosed [ in glob 'src/[a'"),
    (["search", "{tmp}/no-index", "md5"], "{tmp}/no-index: not a seekcode index"),
    (["search", "{other_encoder}", "md5"], "index was built with encoder 'lexical:64'"),
    (["index", "{bad_gzip}", "-o", "{tmp}/x"], "{bad_gzip}: not a readable gzip file"),
    (["index", "{bad_lines}", "-o", "{tmp}/x"], "{bad_lines}: no records (skipped 2"),
    (["eval", "{idx}", "--queries", "{tmp}"], "{tmp}: a folder, not a query file"),
    (["predict", "{idx}", "--queries", "{tmp}"], "{tmp}: a folder, not a query file"),
    (["train", "encoder", "--model", "nbow", "--corpus", "{corpus}", "-o", "{corpus}"],
     "{corpus}: a file, not a model folder"),
])
def test_input_errors_exit_2_with_one_line_naming_the_input(
        index_dir: Path, corpus_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        argv: list[str], message: str) -> None:
    names = {"idx": index_dir, "tmp": tmp_path, "corpus": corpus_file}
    if "{bad_gzip}" in " ".join(argv) + message:
        names["bad_gzip"] = _corrupt_gzip(tmp_path)
    if "{bad_lines}" in " ".join(argv) + message:
        names["bad_lines"] = _only_bad_lines(tmp_path)
    if "{other_encoder}" in " ".join(argv):
        names["other_encoder"] = _other_encoder(index_dir)
    argv = [a.format(**names) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"seekcode {argv[0]}: ") and err.count("\n") == 1, err
    assert message.format(**names) in err


# ---- the HTTP server and the MCP server ---------------------------------------------------
@pytest.fixture
def served_index(tmp_path: Path) -> Path:
    update(make_project(tmp_path / "proj"), tmp_path / "served", FakeEncoder())
    return tmp_path / "served"


def test_http_input_error_is_422_and_a_bug_is_500(served_index: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(served_index, FakeEncoder(), check_every=0.0)
    client = TestClient(app, base_url=LOOPBACK, raise_server_exceptions=False)
    r = client.get("/search", params={"q": "read json", "path": "src/[a"})
    assert r.status_code == 422 and "unclosed [" in r.json()["detail"]
    r = client.get("/similar", params={"id": "file:///nowhere#L1-L2"})
    assert r.status_code == 422

    _plant_bug(monkeypatch, Index, "search")
    r = client.get("/search", params={"q": "read json"})
    assert r.status_code == 500 and "planted" not in r.text
    # The page shows input errors in its form; a bug is not one of them.
    r = client.get("/", params={"q": "read json"})
    assert r.status_code == 500 and 'id="error"' not in r.text


def test_mcp_input_error_is_its_reason_and_a_bug_says_so(
        served_index: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    server = build_server(Workspace([served_index], FakeEncoder()))
    with pytest.raises(ToolError) as e:
        asyncio.run(server.call_tool("search", {"query": "   "}))
    assert "empty query" in str(e.value) and "bug" not in str(e.value)
    with pytest.raises(ToolError, match="index 'nope': not served"):
        asyncio.run(server.call_tool("search", {"query": "read json", "index": "nope"}))

    _plant_bug(monkeypatch, SearchService, "search")
    with pytest.raises(ToolError) as e:
        asyncio.run(server.call_tool("search", {"query": "read json"}))
    assert "internal error (ValueError: planted internal bug)" in str(e.value)
    assert "bug in seekcode" in str(e.value)
    assert "Traceback" in capsys.readouterr().err  # the server's log has where it happened

