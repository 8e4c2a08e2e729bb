"""Code-to-code search: `seekcode similar`, `GET /similar` and the page's "more like this"."""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from serving_helpers import LOOPBACK, TWIN, FakeEncoder, make_project

from seekcode.cli import main
from seekcode.index.similar import NotFound, function_at, similar
from seekcode.index.store import Index
from seekcode.index.watch import update
from seekcode.server import create_app


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "proj")
    (root / "tools" / "twin.py").write_text(TWIN)
    update(root, tmp_path / "idx", FakeEncoder())
    return tmp_path / "idx"


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_planted_near_duplicate_comes_first_and_the_function_is_left_out(
        index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, "similar", str(index_dir), "tools/hashing.py:6", "--json")
    names = [h["func_name"] for h in out["hits"]]
    assert names[0] == "sha1_of_path" and "md5_of_file" not in names
    assert len(names) == 6  # every other function, ranked
    # Any line of the function, any suffix of its path, or its url: the same function.
    index = Index.open(index_dir)
    row = function_at(index, "hashing.py", 4)
    assert function_at(index, "tools/hashing.py", 8) == row
    url = index.records_at([row])[0]["url"]
    assert _json(capsys, "similar", str(index_dir), url, "--json")["hits"] == out["hits"]
    assert [h.url for h in similar(index, url=url, k=3)] == [h["url"] for h in out["hits"][:3]]


def test_pasted_code_and_stdin(index_dir: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    code = TWIN.split("\n\n\n")[1]  # sha1_of_path, verbatim: itself is left out
    out = _json(capsys, "similar", str(index_dir), "--code", code, "-k", "2", "--json")
    assert [h["func_name"] for h in out["hits"]][0] == "md5_of_file"
    assert all(h["func_name"] != "sha1_of_path" for h in out["hits"])
    edited = code.replace("digest", "d")  # not in the index: nothing to leave out
    monkeypatch.setattr("sys.stdin", io.StringIO(edited))
    out = _json(capsys, "similar", str(index_dir), "-", "-k", "2", "--json")
    assert [h["func_name"] for h in out["hits"]][:2] == ["sha1_of_path", "md5_of_file"]


@pytest.mark.parametrize(("argv", "reason"), [
    (["tools/hashing.py:1"], "not inside an indexed function (functions at lines 4-8"),
    (["nowhere.py:3"], "nowhere.py: no indexed function in this file"),
    (["tools/hashing.py"], "expected PATH:LINE"),
    ([], "exactly one"),
    (["tools/hashing.py:5", "--code", "def f(): pass"], "exactly one"),
    (["tools/hashing.py:5", "-k", "0"], "-k: 0 out of range"),
    (["--code", "   "], "empty code"),
])
def test_bad_input_is_one_line_and_exit_2(index_dir: Path, capsys: pytest.CaptureFixture[str],
                                          argv: list[str], reason: str) -> None:
    assert main(["similar", str(index_dir), *argv]) == 2
    err = capsys.readouterr().err
    assert reason in err and err.count("\n") == 1


def test_ambiguous_suffix_asks_for_more_of_the_path(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"a/util.py": "def f(x):\n    return x\n",
                                         "b/util.py": "def g(x):\n    return x\n"})
    index, _ = update(root, tmp_path / "i", FakeEncoder())
    with pytest.raises(NotFound, match="matches 2 indexed files"):
        function_at(index, "util.py", 1)
    assert index.records_at([function_at(index, "a/util.py", 2)])[0]["func_name"] == "f"


def test_http_similar_and_the_more_like_this_link(index_dir: Path) -> None:
    client = TestClient(create_app(index_dir, FakeEncoder(), check_every=0.0), base_url=LOOPBACK)
    by_path = client.get("/similar", params={"path": "tools/hashing.py", "line": 5, "k": 3})
    assert by_path.status_code == 200
    body = by_path.json()
    assert body["hits"][0]["func_name"] == "sha1_of_path" and body["searcher"] == "code-to-code"
    url = client.get("/search", params={"q": "md5 of file", "k": 1}).json()["hits"][0]["url"]
    assert client.get("/similar", params={"id": url, "k": 3}).json()["hits"] == body["hits"]
    bad = client.get("/similar", params={"id": "file:///nowhere#L1-L2"})
    assert bad.status_code == 422 and "no function with this id" in bad.json()["detail"]
    assert "exactly one" in client.get("/similar").json()["detail"]

    page = client.get("/", params={"q": "md5 of file", "k": 2}).text
    link = f'href="/?like={quote(url, safe="")}"'
    assert link in page and "more like this" in page
    like = client.get("/", params={"like": url, "k": 3})
    assert like.status_code == 200
    assert like.text.count('<article class="hit">') == 3
    assert "sha1_of_path" in like.text.split('<article class="hit">')[1]  # first hit
    assert "code-to-code" in like.text
