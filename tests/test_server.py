"""The HTTP API and the search page, through FastAPI's TestClient."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving_helpers import LOOPBACK, FakeEncoder, make_project

from seekcode.cli import main
from seekcode.index import files
from seekcode.index.store import Index, IndexError_
from seekcode.index.watch import update
from seekcode.server import create_app


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "proj")
    (root / "web").mkdir()
    (root / "web" / "x.js").write_text("function addNumbers(a, b) {\n  return a + b;\n}\n")
    return root


@pytest.fixture
def index_dir(tmp_path: Path, project: Path) -> Path:
    update(project, tmp_path / "idx", FakeEncoder())
    return tmp_path / "idx"


@pytest.fixture
def client(index_dir: Path) -> TestClient:
    return TestClient(create_app(index_dir, FakeEncoder(), check_every=0.0), base_url=LOOPBACK)


def test_search_returns_hits_with_location_code_score_and_latency(client: TestClient,
                                                                   project: Path) -> None:
    r = client.get("/search", params={"q": "read gzip json", "k": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == "read gzip json" and body["k"] == 3 and body["searcher"] == "exact"
    assert body["took_ms"] >= 0 and body["generation"].startswith("gen-")
    top = body["hits"][0]
    assert top["func_name"] == "read_gzip_json" and top["path"] == "pkg/io.py"
    assert (top["start_line"], top["end_line"], top["language"]) == (5, 7, "python")
    assert top["url"] == f"file://{project.resolve()}/pkg/io.py#L5-L7"
    assert top["code"].startswith("def read_gzip_json(path):") and top["rank"] == 1
    assert top["score"] >= body["hits"][1]["score"]
    assert len(body["hits"]) == 3


def test_filters_by_language_and_path(client: TestClient) -> None:
    js = client.get("/search", params={"q": "add numbers", "lang": "JavaScript"}).json()["hits"]
    if not js:
        pytest.skip("no JavaScript extractor registered")
    assert {h["language"] for h in js} == {"javascript"}
    hits = client.get("/search", params={"q": "file", "path": "pkg/*.py", "k": 100}).json()["hits"]
    assert hits and all(h["path"].startswith("pkg/") for h in hits)
    none = client.get("/search", params={"q": "file", "path": "nowhere/**"}).json()["hits"]
    assert none == []


@pytest.mark.parametrize(("params", "reason"), [
    ({}, "q: Field required"),
    ({"q": ""}, "q: empty query"),
    ({"q": "   "}, "q: empty query"),
    ({"q": "x" * 1001}, "q: String should have at most 1000 characters"),
    ({"q": "a", "k": 0}, "k: Input should be greater than or equal to 1"),
    ({"q": "a", "k": 101}, "k: Input should be less than or equal to 100"),
    ({"q": "a", "k": -5}, "k: Input should be greater than or equal to 1"),
    ({"q": "a", "k": "ten"}, "k: Input should be a valid integer"),
    ({"q": "a", "lang": "cobol"}, "lang: 'cobol' is not in this index (it has: "),
    ({"q": "a", "path": "src/[ab"}, "path: unclosed [ in glob"),
    ({"q": "a", "path": "a]b["}, "path: unbalanced [ ] in glob"),
    ({"q": "a", "path": "/etc/*"}, "path: globs match paths relative to the indexed folder"),
    ({"q": "a", "path": "a\x00b"}, "path: control characters in the glob"),
    ({"q": "a", "path": "*" * 300}, "path: glob of 300 characters; at most 256"),
    ({"q": "a", "exact": "maybe"}, "exact: Input should be a valid boolean"),
])
def test_bad_input_is_422_with_the_reason(client: TestClient, params: dict, reason: str) -> None:
    r = client.get("/search", params=params)
    assert r.status_code == 422
    assert reason in r.json()["detail"]


def test_health_and_stats(client: TestClient, index_dir: Path) -> None:
    h = client.get("/health").json()
    gen = files.current_generation(index_dir)
    assert h == {"status": "ok", "generation": gen.name, "records": 6, "error": None}  # type: ignore[union-attr]
    client.get("/search", params={"q": "md5"})
    s = client.get("/stats").json()
    assert s["records"] == 6 and s["languages"]["python"] == 5
    assert s["encoder"] == {"type": "lexical", "id": "lexical:256", "dim": 256}
    assert s["searchers"] == ["exact"] and s["searches"] == 1 and s["bytes"] > 0


def test_reopens_new_generation_and_keeps_serving_when_it_is_corrupt(
        client: TestClient, index_dir: Path, project: Path) -> None:
    (project / "pkg" / "img.py").write_text("def resize_image(img, w, h):\n    return img\n")
    update(project, index_dir, FakeEncoder())
    r = client.get("/search", params={"q": "resize image", "k": 1}).json()
    assert r["hits"][0]["func_name"] == "resize_image"
    assert client.get("/stats").json()["reloads"] == 1

    (project / "pkg" / "img.py").unlink()
    _, res = update(project, index_dir, FakeEncoder())
    vec = index_dir / res.generation / "vectors.npy"
    vec.write_bytes(vec.read_bytes()[:-8])  # truncated after publishing
    h = client.get("/health").json()
    assert h["status"] == "ok" and res.generation in h["error"] and "truncated" in h["error"]
    # Still answering from the previous generation, which has the function.
    r = client.get("/search", params={"q": "resize image", "k": 1}).json()
    assert r["hits"][0]["func_name"] == "resize_image"


def test_page_shows_highlighted_results_with_location_score_and_latency(client: TestClient) -> None:
    r = client.get("/", params={"q": "read gzip json", "k": "2"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert 'class="loc" title="file://' in page and "pkg/io.py:5-7" in page
    assert '<span class="k">def</span>' in page  # Pygments: keyword token
    assert 'id="latency"' in page and " ms</span>" in page
    assert '<option value="python">python</option>' in page
    assert page.count('<article class="hit">') == 2
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_page_escapes_input_and_reports_bad_input(client: TestClient) -> None:
    r = client.get("/", params={"q": "<script>alert(1)</script>", "path": '"><b>'})
    assert "<script>alert" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    bad = client.get("/", params={"q": "x", "k": "500"})
    assert bad.status_code == 422 and "k: 500 out of range" in bad.text
    bad = client.get("/", params={"q": "x", "k": "many"})
    assert bad.status_code == 422 and "is not a number" in bad.text
    assert client.get("/").status_code == 200  # no query: just the form


def test_no_file_routes_and_loopback_only_headers(client: TestClient, index_dir: Path) -> None:
    for path in ("/static/style.css", "/static/../../etc/passwd", "/..%2f..%2fetc%2fpasswd",
                 "/gen-000001/manifest.json", f"/{index_dir}/current/meta.sqlite", "/redoc"):
        assert client.get(path).status_code == 404, path
    r = client.get("/health")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_docs_are_offline_and_openapi_describes_search(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "GET /search" in docs.text
    assert "cdn" not in docs.text.lower() and "<script" not in docs.text
    schema = client.get("/openapi.json").json()
    params = {p["name"]: p for p in schema["paths"]["/search"]["get"]["parameters"]}
    assert set(params) == {"q", "k", "lang", "path", "searcher", "exact", "mode"}
    assert params["k"]["schema"]["maximum"] == 100
    assert json.dumps(schema)  # plain JSON


def test_create_app_on_a_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexError_, match="not a seekcode index"):
        create_app(tmp_path / "nothing")


def test_serve_command_rejects_a_missing_index(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(tmp_path / "nothing")]) == 2
    assert "not a seekcode index" in capsys.readouterr().err


def test_index_opened_without_encoder_uses_the_manifest_one(index_dir: Path) -> None:
    c = TestClient(create_app(index_dir), base_url=LOOPBACK)  # lexical: rebuilt from the manifest's config
    assert c.get("/search", params={"q": "md5 of file", "k": 1}).json()["hits"][0]["func_name"] \
        == "md5_of_file"
    assert Index.open(index_dir).encoder.id == "lexical:256"


@pytest.mark.slow
def test_real_encoder_end_to_end(tmp_path: Path, project: Path) -> None:
    """MiniLM: index the project, serve it, and find functions by what they do."""
    from seekcode.encoders.base import load_encoder

    try:
        encoder = load_encoder("minilm")
        encoder.encode_queries(["warm up"], progress=False)
    except Exception as e:  # noqa: BLE001 - the bundled model missing is an environment fact
        pytest.skip(f"MiniLM unavailable: {e}")
    update(project, tmp_path / "real", encoder)
    c = TestClient(create_app(tmp_path / "real"), base_url=LOOPBACK)
    for query, expected in [("decompress a gzip file and parse it as json", "read_gzip_json"),
                            ("send an email", "Client.send_smtp_mail"),
                            ("checksum of a file", "md5_of_file")]:
        hits = c.get("/search", params={"q": query, "k": 1}).json()["hits"]
        assert hits[0]["func_name"] == expected, query


def test_serve_binds_loopback_by_default() -> None:
    from seekcode.cli import build_parser

    args = build_parser().parse_args(["serve", "INDEX"])
    assert (args.host, args.port, args.threads) == ("127.0.0.1", 8000, 1)
