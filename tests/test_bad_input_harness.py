"""A bad-input harness: Hypothesis generates hostile input of six kinds and checks that
nothing crashes (every input ends in a result, a counted skip or a one-line error),
nothing outside the given root is read or written, and the index keeps answering.

Kinds: corpus lines, source files, file names, archive members, queries, HTTP requests.
Runs are derandomized (the same cases every run, so `make test` is repeatable) and
bounded by `max_examples`; `HYPOTHESIS_PROFILE=explore` draws new, more cases. The
cases tried per kind are written to `benchmarks/out/bad-input-harness.json`.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving_helpers import LOOPBACK, FakeEncoder

from seekcode.cli import UsageError
from seekcode.cli.search_cmd import print_hits, validate_query
from seekcode.corpus.build import extract_file, iter_records, to_record
from seekcode.corpus.extract import EXTRACTORS, extractor_for
from seekcode.corpus.filters import FilterConfig
from seekcode.corpus.jsonl import read_records
from seekcode.corpus.languages import base
from seekcode.corpus.record import FIELDS, MAX_LINE, Record
from seekcode.corpus.registries import archive_files
from seekcode.corpus.skips import SkipReport
from seekcode.corpus.sources import SourceFile, SourceOptions
from seekcode.index.store import Index
from seekcode.server import create_app

settings.register_profile(
    "ci", derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large])
settings.register_profile("explore", parent=settings.get_profile("ci"), derandomize=False)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
SCALE = 5 if PROFILE == "explore" else 1

CASES: Counter[str] = Counter()
OUTCOMES: Counter[str] = Counter()
CANARY = "canary_outside_the_root"


@pytest.fixture(scope="module", autouse=True)
def _record_counts() -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    report = {"profile": PROFILE, "seconds": round(time.perf_counter() - t0, 1),
              "cases": dict(CASES), "outcomes": dict(OUTCOMES)}
    out = Path(__file__).resolve().parent.parent / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bad-input-harness.json").write_text(json.dumps(report, indent=2))
    print(f"\nbad-input harness: {json.dumps(report)}")


def _examples(n: int):  # type: ignore[no-untyped-def]
    return settings(settings.get_profile(PROFILE), max_examples=n * SCALE)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root for each kind's input, beside an `outside/` folder nothing may touch."""
    top = tmp_path_factory.mktemp("harness")
    (top / "outside").mkdir()
    (top / "outside" / "secret.py").write_text(f"def {CANARY}():\n    return 'secret'\n")
    return top


def _outside_state(sandbox: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in (sandbox / "outside").rglob("*"))


@pytest.fixture(scope="module")
def live_index(sandbox: Path) -> Path:
    """The index the kinds keep asking: built once from good records."""
    recs = [Record(code=f"def read_value_{i}(path):\n    return open(path).read()  # {i}\n",
                   docstring=f"Read value {i} from a file.", func_name=f"read_value_{i}",
                   path=f"pkg/m{i}.py", start_line=1, end_line=2) for i in range(12)]
    Index.build(recs, sandbox / "idx", FakeEncoder(), progress=False)
    return sandbox / "idx"


def _answers(index_dir: Path) -> None:
    """The previous index always answers: the known function is still the top hit."""
    index = Index.open(index_dir)
    try:
        hits = index.search("read value 3 from a file", k=3)
        assert hits and all(np.isfinite(h.score) for h in hits)
    finally:
        index.close()


# ---- strategies ------------------------------------------------------------------------

# Text with what hostile input carries: markup, escapes, controls, bidi overrides, surrogates.
NASTY = st.sampled_from(["[/bold]", "[red]", "\x1b[2J", "\x1b]0;t\x07", "\r", "\x00", "\u202e",
                         "\ud800", "\udfff", "../", "/etc/passwd", "*", "[", "]", "%s", "\\",
                         "\x9b", "\n", "\t", "é", "𝔘"])
TEXT = st.lists(st.one_of(st.text(max_size=12), NASTY), max_size=6).map("".join)
NUMBER = st.one_of(st.integers(min_value=-2**70, max_value=2**70), st.floats(allow_nan=True),
                   st.booleans(), st.none())
JSON_VALUE = st.recursive(st.one_of(TEXT, NUMBER),
                          lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                  st.dictionaries(TEXT, inner, max_size=3)),
                          max_leaves=8)
FIELD_NAMES = st.sampled_from([*FIELDS, "start_line", "end_line", "function", "extra"])


@st.composite
def corpus_line(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["record", "record", "record", "bytes", "deep", "scalar"]))
    if kind == "bytes":
        return draw(st.binary(max_size=60)).replace(b"\n", b" ")
    if kind == "deep":
        depth = draw(st.sampled_from([50, 70, 999, 5000, 100_000]))
        inner = b'"x"' if draw(st.booleans()) else b""
        return b'{"code": "def f(): pass", "x": ' + b"[" * depth + inner + b"]" * depth + b"}"
    if kind == "scalar":
        return json.dumps(draw(JSON_VALUE)).encode()
    obj = draw(st.dictionaries(FIELD_NAMES, st.one_of(TEXT, JSON_VALUE), max_size=4))
    if draw(st.integers(0, 3)):
        obj["code"] = draw(st.one_of(TEXT, st.just("def ok():\n    return 1\n")))
    text = json.dumps(obj)  # ensure_ascii: a surrogate becomes its \ud800 escape
    return text.encode()


SOURCE_PIECES = st.sampled_from([
    "function f() {", "}", "def f():\n    ", "return 1\n", "class A {", "class A:\n    ",
    "/** Doc. */\n", "/*", "*/", "#", "//", "\n", "    ", "(", ")", "=>", "{", "'", '"',
    "func F() {", "<?php ", "public void m() {", "end\n", "def m\n", "\x1b[2J", "\u202e",
])


TEMPLATES = {
    "py": "def f{i}(a):\n    '''Doc {i}.'''\n    return a\n",
    "js": "/** Doc {i}. */\nfunction f{i}(a) {{ return a; }}\n",
    "go": "// F{i} does it.\nfunc F{i}(a int) int {{ return a }}\n",
    "java": "class A{i} {{ /** Doc. */ int m(int a) {{ return a; }} }}\n",
    "php": "function f{i}($a) {{ return $a; }}\n",
    "rb": "# Doc {i}.\ndef m{i}(a)\n  a\nend\n",
}


def _template(ext: str) -> str:
    key = {"ts": "js", "tsx": "js", "jsx": "js", "mjs": "js", "cjs": "js"}.get(ext, ext)
    return TEMPLATES.get(key, TEMPLATES["js"])


@st.composite
def source_file(draw: st.DrawFn) -> tuple[str, bytes]:
    ext = draw(st.sampled_from(sorted(EXTRACTORS)))
    roll = draw(st.integers(0, 9))
    if roll == 0:
        data = draw(st.binary(max_size=200))
    elif roll < 7:  # real functions, with hostile pieces spliced in
        funcs = [_template(ext[1:]).format(i=i) for i in range(draw(st.integers(1, 6)))]
        text = ("package p\n" if ext == ".go" else "<?php\n" if ext == ".php" else "") \
            + "".join(funcs)
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.one_of(NASTY, SOURCE_PIECES)) + text[at:]
        data = text.encode("utf-8", "surrogatepass")
    else:
        pieces = draw(st.lists(st.one_of(SOURCE_PIECES, st.text(max_size=8)), max_size=80))
        data = "".join(pieces).encode("utf-8", "surrogatepass")
    return f"src/file{ext}", data


NAME_CHARS = st.one_of(st.characters(blacklist_characters="/\x00",
                                     blacklist_categories=("Cs",)),
                       st.sampled_from(["[", "]", "\x1b", "\n", "\udcff", "\udc80", " ", "."]))


@st.composite
def member_name(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["", "/", "../", "../../", "pkg/", "pkg/../../", "./", "a//"])) \
        + draw(st.text(NAME_CHARS, min_size=1, max_size=12)).replace("\udcff", "x") \
        + draw(st.sampled_from([".py", ".js", ".go", ".txt", ""]))


# ---- the kinds ---------------------------------------------------------------------------

@_examples(60)
@given(lines=st.lists(corpus_line(), min_size=1, max_size=8))
def test_corpus_lines(lines: list[bytes], sandbox: Path, live_index: Path) -> None:
    CASES["corpus lines"] += len(lines)
    path = sandbox / "corpus.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    skips = SkipReport()
    records = list(read_records(path, skips))
    # Every non-blank line is a record or a counted skip, never an exception.
    assert len(records) + skips.total == sum(1 for line in lines if line.strip())
    OUTCOMES["corpus lines: record"] += len(records)
    OUTCOMES["corpus lines: skipped"] += skips.total
    for r in records:
        text = r.to_json()
        text.encode("utf-8")
        json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} stored"))
        assert 0 <= r.start_line <= MAX_LINE and 0 <= r.end_line <= MAX_LINE
    if records:  # what was accepted builds, and the index still answers
        Index.build(records, sandbox / "lines-idx", FakeEncoder(), progress=False)[0].close()
        Index.open(sandbox / "lines-idx").close()
    _answers(live_index)


@_examples(80)
@given(src=source_file())
def test_source_files(src: tuple[str, bytes]) -> None:
    CASES["source files"] += 1
    path, data = src
    extractor = extractor_for(path)
    assert extractor is not None
    skips = SkipReport()
    sf = SourceFile(repo="r", path=path, url_base=f"file:///r/{path}", data=data, display=path)
    found = extract_file(sf, extractor, skips)
    if found is None:
        assert skips.total == 1  # skipped with its reason
        OUTCOMES["source files: skipped"] += 1
        return
    OUTCOMES["source files: functions"] += len(found)
    assert sum(len(f.code.encode("utf-8", "surrogatepass")) for f in found) \
        <= base.MAX_CODE_FACTOR * len(data) + base.MAX_CODE_SLACK
    for fn in found:
        assert 1 <= fn.start_line <= fn.end_line
        to_record(sf, fn)


@_examples(25)
@given(names=st.lists(st.text(NAME_CHARS, min_size=1, max_size=20), min_size=1, max_size=4))
def test_file_names(names: list[str], sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    CASES["file names"] += len(names)
    root = sandbox / "tree"
    if root.exists():
        import shutil

        shutil.rmtree(root)
    root.mkdir()
    before = _outside_state(sandbox)
    (root / "link.py").symlink_to(sandbox / "outside" / "secret.py")
    (root / "linked_dir").symlink_to(sandbox / "outside")
    made = 0
    for i, name in enumerate(names):
        if name in (".", ".."):
            continue
        try:
            (root / f"{name}.py").write_text(f"def f{i}():\n    '''Doc {i}.'''\n    return {i}\n")
            made += 1
        except (OSError, UnicodeEncodeError):
            OUTCOMES["file names: not creatable"] += 1
    skips = SkipReport()
    records = list(iter_records([str(root)], FilterConfig.all_functions(), skips))
    OUTCOMES["file names: records"] += len(records)
    OUTCOMES["file names: skipped"] += skips.total
    assert not any(CANARY in r.code for r in records)  # nothing read through the symlinks
    for r in records:
        assert not r.path.startswith("/") and ".." not in Path(r.path).parts
        r.to_json().encode("utf-8")
    assert _outside_state(sandbox) == before  # nothing written outside
    from seekcode.index.search import Hit

    hits = [Hit(rank=n, score=0.5, url=r.url, path=r.path, start_line=r.start_line,
                end_line=r.end_line, func_name=r.func_name, language=r.language, repo=r.repo,
                code=r.code) for n, r in enumerate(records, 1)]
    print_hits("names", hits, "exact", 1.0)
    assert "\x1b" not in capsys.readouterr().out


@st.composite
def archive(draw: st.DrawFn) -> tuple[str, list[tuple[str, str, str]]]:
    fmt = draw(st.sampled_from(["tar.gz", "zip"]))
    members = draw(st.lists(st.tuples(member_name(), st.sampled_from(["file", "file", "symlink",
                                                                        "hardlink", "dir"]),
                                      st.sampled_from(["def f():\n    return 1\n", "\x00\xff",
                                                       "function g() { return 2; }\n"])),
                            min_size=1, max_size=6))
    return fmt, members


@_examples(40)
@given(spec=archive())
def test_archive_members(spec: tuple[str, list[tuple[str, str, str]]], sandbox: Path) -> None:
    fmt, members = spec
    CASES["archive members"] += len(members)
    work = sandbox / "archives"
    work.mkdir(exist_ok=True)
    path = work / f"pkg-1.0.{fmt}"
    secret = str(sandbox / "outside" / "secret.py")
    if fmt == "zip":
        with zipfile.ZipFile(path, "w") as z:
            for name, _kind, body in members:
                z.writestr(name or "x", body)
    else:
        with tarfile.open(path, "w:gz") as t:
            for name, kind, body in members:
                info = tarfile.TarInfo(name or "x")
                data = body.encode("utf-8", "surrogateescape")
                if kind == "symlink":
                    info.type, info.linkname = tarfile.SYMTYPE, secret
                elif kind == "hardlink":
                    info.type, info.linkname = tarfile.LNKTYPE, secret
                elif kind == "dir":
                    info.type = tarfile.DIRTYPE
                else:
                    info.size = len(data)
                t.addfile(info, io.BytesIO(data) if kind == "file" else None)
    listing = sorted(p.name for p in work.iterdir())
    before = _outside_state(sandbox)
    skips = SkipReport()
    got = list(archive_files(path, "pkg", "pypi:pkg==1.0", SourceOptions(), skips))
    OUTCOMES["archive members: files"] += len(got)
    OUTCOMES["archive members: skipped"] += skips.total
    for sf in got:
        assert not sf.path.startswith("/") and ".." not in sf.path.split("/")
        assert CANARY.encode() not in sf.data
    assert sorted(p.name for p in work.iterdir()) == listing  # read, never unpacked
    assert _outside_state(sandbox) == before
    path.unlink()


@_examples(80)
@given(q=TEXT, k=st.one_of(st.integers(1, 1000), st.integers(-5, 2000)),
       glob=st.one_of(st.none(), st.none(), TEXT),
       lang=st.sampled_from([None, "python", "cobol", "[x]"]))
def test_queries(q: str, k: int, glob: str | None, lang: str | None, live_index: Path) -> None:
    CASES["queries"] += 1
    try:
        query = validate_query(q, k, glob)
    except UsageError as e:
        assert "\n" not in str(e).strip()  # one line
        OUTCOMES["queries: usage error"] += 1
        return
    index = Index.open(live_index)
    try:
        if lang is not None and lang not in index.languages():
            OUTCOMES["queries: unknown language"] += 1
            return
        hits = index.search(query, k=k, lang=lang, path=glob)
    finally:
        index.close()
    OUTCOMES["queries: answered"] += 1
    assert len(hits) <= k and all(np.isfinite(h.score) for h in hits)
    json.dumps([h.to_dict() for h in hits], allow_nan=False).encode("utf-8")
    out = io.StringIO()
    with redirect_stdout(out):
        print_hits(query, hits, "exact", 1.0)
    assert "\x1b" not in out.getvalue()


PARAM = st.one_of(TEXT, st.integers(-10, 10**6).map(str), st.sampled_from(["", "true", "nan",
                                                                           "1e400", "-1"]))


@pytest.fixture(scope="module")
def client(live_index: Path) -> TestClient:
    return TestClient(create_app(live_index, FakeEncoder(), check_every=0.0), base_url=LOOPBACK)


@_examples(150)
@given(method=st.sampled_from(["GET"] * 6 + ["POST", "PUT", "HEAD", "OPTIONS"]),
       route=st.one_of(st.just("/search"), st.just("/search"), st.just("/"),
                       st.sampled_from(["/search", "/stats", "/health", "/", "/docs",
                                        "/similar", "/openapi.json", "/../etc/passwd",
                                        "/static/../../x", "/search/"]),
                       st.text(st.characters(min_codepoint=33, max_codepoint=126),
                               max_size=20).map(lambda s: "/" + s.lstrip("/"))),
       params=st.tuples(st.one_of(st.none(), PARAM), st.dictionaries(
           st.sampled_from(["q", "k", "lang", "path", "searcher", "exact", "id", "line", "x"]),
           PARAM, max_size=4)).map(lambda t: ({"q": t[0]} if t[0] is not None else {}) | t[1]),
       host=st.one_of(st.just("127.0.0.1"), st.just("localhost:8000"),
                      st.sampled_from(["127.0.0.1", "localhost:8000", "[::1]:1", "evil.example",
                                       "127.0.0.1.evil.example", "", "LOCALHOST"])))
def test_http_requests(method: str, route: str, params: dict[str, str], host: str,
                       client: TestClient) -> None:
    CASES["http requests"] += 1
    safe_params = {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
                   for k, v in params.items()}
    headers = {"host": host} if host else {}
    r = client.request(method, route, params=safe_params, headers=headers)
    OUTCOMES[f"http requests: {r.status_code}"] += 1
    assert r.status_code in (200, 400, 404, 405, 422, 503), (r.status_code, r.text[:300])
    if r.headers.get("content-type", "").startswith("application/json") and method != "HEAD":
        body = json.loads(r.text, parse_constant=lambda c: pytest.fail(f"{c} in a response"))
        if r.status_code >= 400:
            assert body.get("detail"), r.text[:200]  # errors say why
    # The index keeps answering.
    ok = client.get("/search", params={"q": "read value 3 from a file", "k": 3})
    assert ok.status_code == 200 and ok.json()["hits"]


def test_every_kind_was_tried() -> None:
    assert set(CASES) == {"corpus lines", "source files", "file names", "archive members",
                          "queries", "http requests"}
