"""Issue 15's defects, one regression test (or more) per numbered item.

Each test names its item; each failed before the fix. Items 5, 6 and 8's walker
cases are tested where they were fixed (corpus walking, checkpoint loading).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from serving_helpers import LOOPBACK, FakeEncoder

from seekcode.cli import main
from seekcode.corpus.jsonl import read_json_lines, read_records, write_records
from seekcode.corpus.record import Record
from seekcode.corpus.skips import SkipReport
from seekcode.index import files
from seekcode.index.search import Hit
from seekcode.index.store import MANIFEST, VECTORS, Index, IndexError_
from seekcode.server import create_app


def _records(n: int = 6, tag: str = "v1") -> list[Record]:
    return [Record(code=f"def fn_{i}():\n    return '{tag} {i}'\n", func_name=f"fn_{i}",
                   docstring=f"Return value number {i}.", path=f"pkg/m{i}.py",
                   start_line=1, end_line=2, language="python") for i in range(n)]


def _build(out: Path, tag: str = "v1", n: int = 6) -> Index:
    index, _ = Index.build(_records(n, tag), out, FakeEncoder(), progress=False)
    return index


def _rewrite_manifest(gen: Path, change) -> None:  # type: ignore[no-untyped-def]
    m = json.loads((gen / MANIFEST).read_text())
    (gen / MANIFEST).write_text(json.dumps(change(m)))


# ---- 1. data loss --------------------------------------------------------------------

def test_item1_index_refuses_a_non_empty_folder_that_is_not_an_index(
        tmp_path: Path, corpus_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d"
    (out / "gen-reports").mkdir(parents=True)
    (out / "gen-reports" / "q3.txt").write_text("x")
    code = main(["index", str(corpus_file), "-o", str(out), "--encoder", "lexical"])
    assert code == 2
    err = capsys.readouterr().err
    assert "not empty and is not a seekcode index" in err and "Traceback" not in err
    assert (out / "gen-reports" / "q3.txt").read_text() == "x"
    assert sorted(p.name for p in out.iterdir()) == ["gen-reports"]  # nothing written


def test_item1_cleanup_deletes_only_generations_seekcode_created(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    _build(out, "v1").close()
    # Folders that look like generations (one even "newer" than current) but are not ours.
    for name in ("gen-reports", "gen-999999"):
        (out / name).mkdir()
        (out / name / "notes.txt").write_text("keep me")
    for tag in ("v2", "v3", "v4"):  # publishes, abandoned-generation clean-ups, keep=2
        _build(out, tag).close()
    for name in ("gen-reports", "gen-999999"):
        assert (out / name / "notes.txt").read_text() == "keep me"
    ours = files.generations(out)
    assert [g.name for g in ours] == ["gen-000003", "gen-000004"]  # old ones went


def test_item1_output_naming_a_file_is_a_one_line_error(
        tmp_path: Path, corpus_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    assert main(["index", str(corpus_file), "-o", str(target), "--encoder", "lexical"]) == 2
    err = capsys.readouterr().err.strip()
    assert "is a file, not an index folder" in err and len(err.splitlines()) == 1
    assert target.read_text() == "mine"


# ---- 2. one bad record ---------------------------------------------------------------

BAD_FIELDS = [
    ({"start_line": "abc"}, "start_line: not a line number"),
    ({"end_line": float("inf")}, None),  # 1e400 in the file: not finite
    ({"start_line": 10**30}, "start_line: not a line number"),
    ({"start_line": True}, "start_line: not a line number"),
    ({"path": 123}, "path: expected text"),
    ({"code_tokens": "abc"}, "code_tokens: expected a list of strings"),
    ({"docstring": ["a"]}, "docstring: expected text"),
]


def test_item2_bad_field_types_are_skipped_with_a_counted_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "c.jsonl"
    lines = [json.dumps({"code": "def ok(): return 1", "docstring": "Return one."})]
    for i, (fields, _) in enumerate(BAD_FIELDS):
        line = json.dumps({"code": f"def bad{i}(): return 1", **fields})
        lines.append(line.replace("Infinity", "1e400"))
    corpus.write_text("\n".join(lines) + "\n")
    skips = SkipReport()
    recs = list(read_records(corpus, skips))
    assert [r.func_name or r.code for r in recs] == ["def ok(): return 1"]
    assert skips.total == len(BAD_FIELDS)
    reasons = " | ".join(skips.counts)
    for _, reason in BAD_FIELDS:
        assert reason is None or reason in reasons
    assert "out of range" in reasons  # the 1e400 line

    idx = tmp_path / "idx"
    assert main(["index", str(corpus), "-o", str(idx), "--encoder", "lexical"]) == 0
    capsys.readouterr()
    assert main(["search", str(idx), "return one", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [h["start_line"] for h in out["hits"]] == [0]


def test_item2_hits_survive_a_malformed_stored_record(tmp_path: Path) -> None:
    index = _build(tmp_path / "idx")
    # An index written before validation may hold anything: hits never crash on it.
    bad = [{"url": "u", "start_line": "abc", "end_line": float("inf"), "code": "x"}]
    index.records_at = lambda ids: bad  # type: ignore[method-assign]
    hit = index.hits(np.array([0.5], np.float32), np.array([0]))[0]
    assert (hit.start_line, hit.end_line) == (0, 0)


# ---- 3. a generation deleted under a server -------------------------------------------

def test_item3_publish_never_deletes_a_generation_a_reader_holds(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    reader = _build(out, "v1")
    first = reader.gen
    for tag in ("v2", "v3", "v4"):  # keep=2 would have deleted `first` twice over
        _build(out, tag).close()
    assert first.is_dir() and reader.alive()
    # A thread that never touched the metadata store yet still reads it.
    import threading

    got: list[int] = []
    t = threading.Thread(target=lambda: got.append(len(reader.search("return value", k=3))))
    t.start()
    t.join()
    assert got == [3]
    reader.close()
    _build(out, "v5").close()  # the next clean-up may take it now
    assert not first.exists()


def test_item3_health_is_503_when_the_served_generation_vanishes(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    _build(out, "v1").close()
    client = TestClient(create_app(out, FakeEncoder(), check_every=0.0), base_url=LOOPBACK)
    assert client.get("/health").json()["status"] == "ok"
    served = files.current_generation(out)
    assert served is not None
    shutil.rmtree(served)  # by hand: the lease cannot stop that
    r = client.get("/health")
    assert r.status_code == 503 and "deleted" in r.json()["error"]
    r = client.get("/search", params={"q": "return value"})
    assert r.status_code == 503 and r.json()["detail"]
    _build(out, "v2").close()  # a new generation heals it
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["generation"] == "gen-000002"


# ---- 4. DNS rebinding ------------------------------------------------------------------

def test_item4_only_loopback_host_headers_are_answered(tmp_path: Path) -> None:
    _build(tmp_path / "idx").close()
    client = TestClient(create_app(tmp_path / "idx", FakeEncoder()), base_url=LOOPBACK)
    for route in ("/search?q=return+value", "/stats", "/", "/health"):
        r = client.get(route, headers={"Host": "evil.example"})
        assert r.status_code == 400, route
        assert "evil.example" in r.json()["detail"] and "--host" in r.json()["detail"]
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000", "LOCALHOST."):
        assert client.get("/stats", headers={"Host": host}).status_code == 200, host


def test_item4_serve_host_option_widens_what_is_answered() -> None:
    from seekcode.cli.serve_cmd import allowed_hosts

    assert "evil.example" not in allowed_hosts("127.0.0.1")
    assert "search.lan" in allowed_hosts("search.lan")
    assert allowed_hosts("0.0.0.0") == ("*",)


# ---- 7. terminal injection -------------------------------------------------------------

def test_item7_markup_and_control_characters_are_shown_not_interpreted(
        capsys: pytest.CaptureFixture[str]) -> None:
    from seekcode.cli.search_cmd import print_hits

    hits = [Hit(rank=1, score=0.5, url="u1", path="x[/bold].py", start_line=3, end_line=4,
                func_name="f[red]", language="python", repo="",
                code="def f():\n    print('\x1b]0;pwned\x07\x1b[2J')\r\n    return '\u202e'\n"),
            Hit(rank=2, score=0.4, url="u2", path="pages/[id].js", start_line=0, end_line=0,
                func_name="[bold]", language="javascript", repo="", code="x\x9b31m")]
    print_hits("read [/bold] a file", hits, "exact", 1.0)
    out = capsys.readouterr().out
    assert "read [/bold] a file" in out
    assert "x[/bold].py:3" in out and "pages/[id].js" in out and "f[red]" in out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out and "\u202e" not in out
    assert "\\x1b]0;pwned\\x07" in out and "\\u202e" in out and "\\x9b" in out
    assert "\\x0d" not in out  # CRLF line ends are line ends, not controls


# ---- 8. one item aborting a run --------------------------------------------------------

def test_item8_surrogate_deep_nesting_and_non_utf8_lines_are_skipped(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    good = json.dumps({"code": "def ok(): return 1"}).encode()
    deep = b"[" * 100_000 + b"]" * 100_000
    corpus.write_bytes(b"\n".join([
        good,
        b'{"code": "def f(): return \'\\ud800\'"}',  # a lone surrogate
        b'{"code": "def g(): pass", "meta": {"k": "\\udfff"}}',
        deep,
        b'{"code": "def h(): return \xff"}',
        json.dumps({"code": "def e(): pass", "x": json.loads("[" * 80 + "]" * 80)}).encode(),
        good.replace(b"ok", b"ok2"),
    ]))
    skips = SkipReport()
    recs = list(read_records(corpus, skips))
    assert [r.code for r in recs] == ["def ok(): return 1", "def ok2(): return 1"]
    assert skips.counts["line has a lone surrogate (\\ud800-\\udfff)"] == 2
    assert skips.counts["line nested too deeply"] == 1
    assert skips.counts["line not UTF-8"] == 1
    assert any("nested over 64 levels" in r for r in skips.counts)
    assert skips.examples["line not UTF-8"] == [f"{corpus}:5"]
    write_records(tmp_path / "again.jsonl", recs)  # and what was read writes back


def test_item8_eval_queries_skips_a_non_utf8_line(
        tmp_path: Path, index_dir_lexical: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = Index.open(index_dir_lexical)
    url = next(index.iter_records()).url
    index.close()
    queries = tmp_path / "q.jsonl"
    queries.write_bytes(json.dumps({"query": "gzip json", "relevant": [url]}).encode()
                        + b"\n{\"query\": \"caf\xe9\"}\n"
                        + json.dumps({"query": "x", "relevant": 5}).encode() + b"\n")
    assert main(["eval", str(index_dir_lexical), "--queries", str(queries), "--json"]) == 0
    err = capsys.readouterr().err
    assert "1 line not UTF-8" in err and f"{queries}:2" in err
    assert "relevant is not a list of urls" in err
    skips = SkipReport()
    assert len(list(read_json_lines(queries, skips))) == 2 and skips.total == 1


@pytest.fixture
def index_dir_lexical(tmp_path: Path, corpus_file: Path) -> Path:
    out = tmp_path / "lex-idx"
    assert main(["index", str(corpus_file), "-o", str(out), "--encoder", "lexical"]) == 0
    return out


# ---- 9. blow-ups -----------------------------------------------------------------------

def test_item9_nested_functions_are_capped_per_file(tmp_path: Path) -> None:
    from seekcode.corpus.build import extract_file
    from seekcode.corpus.extract import extractor_for
    from seekcode.corpus.languages import base

    n = 3000
    src = "".join(f"function f{i}() {{\n" for i in range(n)) + "}\n" * n
    extractor = extractor_for("deep.js")
    assert extractor is not None
    found = extractor.extract(src, "deep.js")
    total = sum(len(f.code) for f in found)
    assert total <= base.MAX_CODE_FACTOR * len(src) + base.MAX_CODE_SLACK
    assert 0 < len(found) < n and "left out" in found.capped  # type: ignore[attr-defined]

    from seekcode.corpus.sources import SourceFile

    skips = SkipReport()
    sf = SourceFile(repo="", path="deep.js", url_base="", data=src.encode(), display="deep.js")
    assert extract_file(sf, extractor, skips)
    assert skips.counts["functions capped per file"] == 1
    # An ordinary file is not capped.
    flat = "".join(f"function g{i}() {{ return {i}; }}\n" for i in range(200))
    assert len(extractor.extract(flat, "flat.js")) == 200


@pytest.mark.parametrize("opcode", [b"\x8d", b"\x8e", b"\x96", b"X"])
def test_item9_a_pickle_claiming_a_huge_string_is_refused(tmp_path: Path, opcode: bytes) -> None:
    from seekcode.corpus.codesearchnet import load_definitions

    size = struct.pack("<Q", 2**62) if opcode != b"X" else struct.pack("<I", 2**31)
    path = tmp_path / "python_dedupe_definitions_v2.pkl"
    path.write_bytes(b"\x80\x04" + opcode + size + b"abc")
    with pytest.raises(ValueError, match="not a CodeSearchNet definitions pickle"):
        load_definitions(path)


# ---- 10. the integrity check trusts the manifest ---------------------------------------

def _corrupt_vector_and_reseal(gen: Path, table_change) -> None:  # type: ignore[no-untyped-def]
    vectors = np.load(gen / VECTORS)
    vectors[2] = np.inf
    np.save(gen / VECTORS, vectors)
    _rewrite_manifest(gen, table_change)


def test_item10_an_emptied_files_table_does_not_switch_checks_off(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    _build(out).close()
    gen = files.current_generation(out)
    assert gen is not None
    _corrupt_vector_and_reseal(gen, lambda m: {**m, "files": {}})
    with pytest.raises(IndexError_, match="no checksum for"):
        Index.open(out)


def test_item10_a_non_finite_vector_is_refused_even_with_matching_checksums(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    _build(out).close()
    gen = files.current_generation(out)
    assert gen is not None
    _corrupt_vector_and_reseal(gen, lambda m: {**m, "files": files.file_table(gen)})
    index = Index.open(out)  # the files match the manifest...
    with pytest.raises(IndexError_, match="row 2 is not finite"):
        index.search("return value")  # ...but the vectors are refused, not ranked


def test_item10_search_json_never_prints_non_json_numbers(
        tmp_path: Path, index_dir_lexical: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A corrupted vector, resealed in the manifest: refused, never ranked as Infinity.
    out = tmp_path / "sealed"
    shutil.copytree(index_dir_lexical, out, symlinks=True)
    gen = files.current_generation(out)
    assert gen is not None
    _corrupt_vector_and_reseal(gen, lambda m: {**m, "files": files.file_table(gen)})
    capsys.readouterr()
    code = main(["search", str(out), "gzip json", "--json"])
    captured = capsys.readouterr()
    assert code == 2 and "not finite" in captured.err and captured.out == ""
    # A query vector that is not finite (an encoder fault) scores nothing.
    from seekcode.encoders.lexical import LexicalEncoder

    def nan_queries(self, texts, progress=True):  # type: ignore[no-untyped-def]
        return np.full((len(texts), self.dim), np.nan, np.float32)

    monkeypatch.setattr(LexicalEncoder, "encode_queries", nan_queries)
    assert main(["search", str(index_dir_lexical), "gzip json", "--json", "--exact"]) == 0
    text = capsys.readouterr().out
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in --json output"))


@pytest.mark.parametrize("damage, reason", [
    (lambda gen, out: (gen / MANIFEST).write_text("[]"), "not a JSON object"),
    (lambda gen, out: _rewrite_manifest(gen, lambda m: {k: v for k, v in m.items()
                                                        if k != "encoder"}), "'encoder'"),
    (lambda gen, out: _rewrite_manifest(gen, lambda m: {**m, "count": "7"}), "'count'"),
    (lambda gen, out: _rewrite_manifest(
        gen, lambda m: {**m, "files": {**m["files"], "../../etc/passwd": {
            "bytes": 1, "sha256": "0"}}}), "files.../../etc/passwd"),
    (lambda gen, out: ((out / "current").unlink(), os.symlink("current", out / "current")),
     "not a generation folder"),
    (lambda gen, out: ((out / "current").unlink(), os.symlink("/etc", out / "current")),
     "not a generation folder"),
    (lambda gen, out: ((gen / VECTORS).unlink(), (gen / VECTORS).mkdir()), "vectors.npy"),
    (lambda gen, out: (gen / MANIFEST).write_bytes(b"\xff\xfe"), "unreadable manifest"),
])
def test_item10_broken_indexes_are_one_line_errors(
        tmp_path: Path, damage, reason: str, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "idx"
    _build(out).close()
    gen = files.current_generation(out)
    damage(gen, out)
    with pytest.raises(IndexError_) as e:
        Index.open(out)
    assert reason in str(e.value)
    assert main(["search", str(out), "return value"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_item10_eval_max_queries_negative_is_a_one_line_error(
        index_dir_lexical: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(index_dir_lexical), "--max-queries", "-5"]) == 2
    assert "--max-queries -5: evaluate at least 1 query" in capsys.readouterr().err


# ---- 11. smaller ones ------------------------------------------------------------------

def test_item11_lock_is_never_opened_through_a_symlink(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    _build(out).close()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / ".lock").unlink()
    os.symlink(victim, out / ".lock")
    with pytest.raises(ValueError, match="cannot open the index lock"):
        _build(out, "v2")
    assert victim.read_text() == "precious"


def test_item11_fewer_hits_than_k_is_said(index_dir_lexical: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from seekcode.cli.search_cmd import shortfall_note

    assert "coshc recalls a bounded candidate set" in shortfall_note(161, 1000, "coshc", 5000, False)
    assert shortfall_note(8, 1000, "exact", 8, False) == ""  # the whole index came back
    assert main(["search", str(index_dir_lexical), "gzip json", "-k", "5", "--path", "pkg/mod1*",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["returned"] == 1 and "pass --lang/--path" in out["note"]


@pytest.mark.parametrize("glob", ["[", "a[b[c]]", "/abs/*", "x\x01"])
def test_item11_cli_validates_path_like_the_server(
        index_dir_lexical: Path, glob: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", str(index_dir_lexical), "gzip json", "--path", glob]) == 2
    assert capsys.readouterr().err.startswith("seekcode search: --path: ")
    client = TestClient(create_app(index_dir_lexical), base_url=LOOPBACK)
    r = client.get("/search", params={"q": "gzip json", "path": glob})
    assert r.status_code == 422 and r.json()["detail"].startswith("path: ")


def test_item11_serve_on_a_busy_port_exits_2_before_printing_its_url(
        index_dir_lexical: Path, capsys: pytest.CaptureFixture[str]) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        assert main(["serve", str(index_dir_lexical), "--port", str(port)]) == 2
    finally:
        busy.close()
    err = capsys.readouterr().err
    assert f"--port {port}: cannot listen" in err and "http://" not in err


def test_item11_pypi_spec_with_shell_characters_is_a_clear_error(tmp_path: Path) -> None:
    from seekcode.corpus.registries import pypi_files
    from seekcode.corpus.sources import SourceError, SourceOptions

    with pytest.raises(SourceError, match=r"expected pypi:NAME or pypi:NAME==VERSION \(letters"):
        list(pypi_files("a==1;rm -rf", SourceOptions(), SkipReport()))


def test_item11_search_ms_excludes_model_loading(
        index_dir_lexical: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from seekcode.encoders.lexical import LexicalEncoder

    real = LexicalEncoder.encode_queries
    loaded: list[bool] = []

    def lazy_load(self, texts, progress=True):  # type: ignore[no-untyped-def]
        if not loaded:  # the first call loads "the model"
            time.sleep(1.0)
            loaded.append(True)
        return real(self, texts, progress)

    monkeypatch.setattr(LexicalEncoder, "encode_queries", lazy_load)
    assert main(["search", str(index_dir_lexical), "gzip json", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ms"] < 500


def test_item10_rebuilding_repairs_a_corrupted_index(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    _build(out).close()
    gen = files.current_generation(out)
    assert gen is not None
    data = bytearray((gen / VECTORS).read_bytes())
    data[-1] ^= 0xFF  # same size, wrong checksum
    (gen / VECTORS).write_bytes(bytes(data))
    with pytest.raises(IndexError_, match="checksum mismatch"):
        Index.open(out)
    # The same records again: not "unchanged", nothing copied from the corrupted vectors.
    index, stats = Index.build(_records(), out, FakeEncoder(), progress=False)
    assert stats["unchanged"] == 0 and stats["reused"] == 0
    assert index.gen != gen and index.search("return value", k=2)
    index.close()
