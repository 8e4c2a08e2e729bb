"""The keyword index (FTS5 BM25 over identifiers), hybrid fusion, and `--mode`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from serving_helpers import LOOPBACK, FakeEncoder, make_project

from seekcode.cli import main
from seekcode.eval.modes import mode_metrics, mode_ranks, ranker_for
from seekcode.eval.queries import corpus_queries
from seekcode.index.hybrid import Fusion, Ranker, fuse, zscore
from seekcode.index.keyword import KeywordIndex, Weights, terms
from seekcode.index.store import Index
from seekcode.index.watch import update

# Functions whose names the query spells out but whose code says little in words.
EXTRA = {
    "net/http.py": '''class HTTPConnection:
    def request(self, method, url, body=None):
        """Send a request to the server."""
        self._send(method, url, body)

    def getresponse(self):
        """Get the response from the server."""
        return self._read()


def http_connection_pool(size):
    """A pool of reusable http connection objects."""
    return [object() for _ in range(size)]
''',
    "web/parse.py": '''def parse_qsl(qs):
    """Parse a query string given as a string argument."""
    return [tuple(p.split("=", 1)) for p in qs.split("&")]


def parseQueryString(text):
    return dict(parse_qsl(text))
''',
}


@pytest.fixture
def index(tmp_path: Path) -> Index:
    root = make_project(tmp_path / "proj")
    make_project(root, EXTRA)
    idx, _ = update(root, tmp_path / "idx", FakeEncoder())
    return idx


def test_terms_keep_identifiers_whole_and_split() -> None:
    assert terms("HTTPConnection.request") == ["httpconnection.request", "httpconnection",
                                              "http", "connection", "request"]
    assert terms("parse_qsl") == ["parse_qsl", "parse", "qsl"]
    assert terms("getElementsByTagName") == ["getelementsbytagname", "get", "elements",
                                             "tag", "name"]
    assert terms("Read the file of a user") == ["read", "file", "user"]  # stopwords gone


def test_keyword_scores_rank_exact_names_first(index: Index) -> None:
    kw = index.ranker().keyword
    names = {r["func_name"]: i for i, r in enumerate(index.records_at(range(index.count)))}
    s = kw.scores("HTTPConnection.request")
    assert int(np.argmax(s)) == names["HTTPConnection.request"]
    s = kw.scores("parse_qsl")
    assert int(np.argmax(s)) == names["parse_qsl"]
    assert s[names["parseQueryString"]] > 0  # it calls parse_qsl: a code-column match
    assert s[names["md5_of_file"]] == 0
    # Docstrings can be left out: "reusable" only occurs in a docstring.
    assert kw.scores("reusable")[names["http_connection_pool"]] > 0
    no_doc = index.ranker(Weights(doc=0)).keyword
    assert no_doc.scores("reusable")[names["http_connection_pool"]] == 0
    assert not kw.scores("the of and").any()  # stopwords only: no match at all
    # Cached beside the index, keyed by its records: the second open reads it back.
    cached = sorted((index.root / ".cache").glob("keyword-*"))
    assert [c.name.rsplit("-", 1)[1] for c in cached] == ["n3d0c1", "n3d1c1"]
    assert all(c.is_dir() for c in cached)
    again = KeywordIndex.of(index.gen / "meta.sqlite", index.manifest, cached[0].parent)
    assert np.array_equal(again.scores("parse_qsl"), kw.scores("parse_qsl"))
    memory = KeywordIndex.of(index.gen / "meta.sqlite", index.manifest, None)
    assert np.array_equal(memory.scores("parse_qsl"), kw.scores("parse_qsl"))


def test_zscore_fusion_is_scale_free_and_weight_zero_is_semantic() -> None:
    rng = np.random.default_rng(0)
    sem, kw = rng.normal(size=500), np.abs(rng.normal(size=500)) * 30
    assert np.allclose(zscore(sem * 7 + 3, 100), zscore(sem, 100))
    assert np.array_equal(np.argsort(fuse(sem, kw, Fusion(weight=0.0))), np.argsort(sem))
    assert not zscore(np.zeros(10), 5).any()  # no keyword match: no contribution


def test_hybrid_puts_the_named_function_first(index: Index) -> None:
    ranker: Ranker = index.ranker()
    ranker.fusion = Fusion(weight=1.0)
    q = "HTTPConnection.request"
    qvec = index.encoder.encode_queries([q], progress=False)[0]

    def names(mode: str, query: str, k: int, allowed: np.ndarray | None = None) -> list[str]:
        return [h.func_name for h in index.hits(*ranker.search(mode, query, k, allowed, qvec))]

    assert names("keyword", q, 3)[0] == q and names("hybrid", q, 3)[0] == q
    kw_hits = index.hits(*ranker.search("keyword", "smtp", 10))
    assert kw_hits and all(h.score > 0 for h in kw_hits)  # matches only
    assert len(kw_hits) < index.count
    allowed = index.filter_ids(path="pkg/*")
    assert allowed is not None
    assert set(names("hybrid", "parse_qsl", 5, allowed)) <= {
        r["func_name"] for r in index.records_at(allowed)}
    assert [h.func_name for h in index.search(q, k=1, mode="hybrid")] == [q]
    with pytest.raises(ValueError, match="mode 'fuzzy'"):
        ranker.scores("fuzzy", "x")
    with pytest.raises(ValueError, match="needs the query's vector"):
        ranker.scores("hybrid", "x")


def test_mode_ranks_follow_the_tie_rule_over_all_records(index: Index) -> None:
    qs = corpus_queries(index)
    qvecs = index.encoder.encode_queries(qs.texts, progress=False)
    ranker = ranker_for(index, qs)
    assert ranker.weights.doc == 0  # the queries are docstrings: they are left out
    semantic = mode_ranks(ranker, "semantic", qs.texts, qvecs, qs.relevant)
    expected = [1 + int(np.sum(index.vectors @ q >= (index.vectors @ q)[r[0]] - 1e-6)) - 1
                for q, r in zip(qvecs, qs.relevant, strict=True)]
    assert semantic.tolist() == expected
    m = mode_metrics(index, qs, qvecs, ("semantic", "keyword", "hybrid"))
    assert set(m) == {"semantic", "keyword", "hybrid"} and 0 < m["hybrid"]["mrr"] <= 1


def test_cli_modes_and_eval_reports_all_three(index: Index, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    idx = str(index.root)
    for mode in ("semantic", "keyword", "hybrid"):
        capsys.readouterr()
        assert main(["search", idx, "parse_qsl", "-k", "2", "--mode", mode, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["mode"] == mode and out["hits"][0]["func_name"] == "parse_qsl", mode
    capsys.readouterr()
    assert main(["eval", idx, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"exact", "keyword", "hybrid"} <= set(result)
    assert main(["search", idx, "x", "--mode", "keyword", "--searcher", "exact"]) == 2
    monkeypatch.chdir(index.root.parent)  # a relative index path works too
    capsys.readouterr()
    assert main(["search", index.root.name, "parse_qsl", "--mode", "keyword", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["func_name"] == "parse_qsl"


def test_http_mode(index: Index) -> None:
    from fastapi.testclient import TestClient

    from seekcode.server import create_app

    client = TestClient(create_app(index.root, FakeEncoder(), check_every=0.0), base_url=LOOPBACK)
    r = client.get("/search", params={"q": "HTTPConnection.request", "k": 2, "mode": "hybrid"})
    assert r.status_code == 200 and r.json()["searcher"] == "hybrid"
    assert r.json()["hits"][0]["func_name"] == "HTTPConnection.request"
    bad = client.get("/search", params={"q": "x", "mode": "fuzzy"})
    assert bad.status_code == 422 and "mode: 'fuzzy' is not one of" in bad.json()["detail"]
    both = client.get("/search", params={"q": "x", "mode": "keyword", "searcher": "exact"})
    assert both.status_code == 422 and "takes no searcher" in both.json()["detail"]
