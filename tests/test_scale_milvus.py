"""`seekcode export` and milvus:// search/serve against a real embedded Milvus server.

One server for the whole session (it takes ~10-15 s to start, and only one can run per
machine: its etcd peer port is fixed). The index is real standard-library code encoded
with the lexical encoder, with CoSHC routed over categories, so both of Milvus's
searches (float IP, Hamming within a category) are exercised.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from seekcode.encoders.lexical import LexicalEncoder
from seekcode.index.search import Hit
from seekcode.index.store import Index, IndexError_

pytest.importorskip("milvus", reason="the [scale] extra (embedded Milvus) is not installed")
pytest.importorskip("pymilvus", reason="the [scale] extra (pymilvus) is not installed")

from seekcode.scale import milvus as mv  # noqa: E402

pytestmark = pytest.mark.slow

MODULES = "stdlib:json,email,http,logging,urllib,csv,gzip,shutil"
CHILD = "import sys; from seekcode.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    server = mv.embedded_server(tmp_path_factory.mktemp("milvus"), port=mv.free_port())
    yield f"127.0.0.1:{server.listen_port}"
    server.stop()


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A CoSHC index of ~650 real functions; every fourth one labelled JavaScript so that
    --lang has something to filter."""
    from seekcode.cli import main
    from seekcode.corpus.jsonl import read_records
    from seekcode.hashing.config import HashConfig
    from seekcode.hashing.coshc import build_hook

    tmp = tmp_path_factory.mktemp("index")
    assert main(["corpus", MODULES, "-o", str(tmp / "c.jsonl"), "--no-progress"]) == 0
    records = list(read_records(tmp / "c.jsonl"))
    for r in records[::4]:
        r.language = "javascript"
    enc = LexicalEncoder()
    config = HashConfig.recommended(bits=64, k=4, routing="distribution", recall=120,
                                    recall_per_million=0, max_recall=0, epochs=4,
                                    classifier_epochs=10, batch_size=64)
    index, _ = Index.build(records, tmp / "idx", enc, progress=False,
                           hooks=[build_hook(enc, config)])
    queries = [(r.query_text, r.url) for r in records if r.query_text][:150]
    return index, enc, queries


@pytest.fixture(scope="session")
def exported(milvus_server, built):
    from seekcode.cli import main

    index = built[0]
    url = f"milvus://{milvus_server}/stdlib"
    assert main(["export", str(index.root), url, "--batch-size", "200"]) == 0
    return url


def _run(argv, capsys):
    from seekcode.cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def same_ranking(a, b):
    """Equal scores rank by rank; urls equal except where scores tie (any order is right)."""
    assert len(a) == len(b)
    assert np.allclose([h.score for h in a], [h.score for h in b], atol=1e-5)
    groups: dict[float, tuple[set, set]] = {}
    for x, y in zip(a, b, strict=True):
        g = groups.setdefault(round(x.score, 4), (set(), set()))
        g[0].add(x.url)
        g[1].add(y.url)
    last = round(a[-1].score, 4) if a else None
    for s, (ua, ub) in groups.items():
        if s != last:  # the tied group at the cut may be cut differently
            assert ua == ub


def test_exact_search_through_milvus_is_the_local_top_10(built, exported, capsys):
    index, enc, queries = built
    remote = mv.MilvusIndex.open(exported)
    assert remote.count == index.count and remote.searcher_names() == ["exact", "coshc"]
    for q, _ in queries[:40]:
        same_ranking(index.search(q, k=10, searcher="exact"),
                     remote.search(q, k=10, searcher="exact"))
    # The CLI prints what it prints for a local index: the same JSON, the same hits.
    q = "parse an email address header"
    code, out, _ = _run(["search", exported, q, "--exact", "--json"], capsys)
    assert code == 0
    got = json.loads(out)
    code, out, _ = _run(["search", str(index.root), q, "--exact", "--json"], capsys)
    want = json.loads(out)
    assert set(got) == set(want) and got["method"] == want["method"] == "exact"
    same_ranking([Hit(**h) for h in want["hits"]], [Hit(**h) for h in got["hits"]])
    by_url = {h["url"]: h for h in want["hits"]}
    for h in got["hits"]:  # every field: code, lines, repo, ... (scores to float32)
        if h["url"] in by_url:
            assert {**h, "score": 0, "rank": 0} == {**by_url[h["url"]], "score": 0, "rank": 0}
    code, out, _ = _run(["search", exported, q, "--format", "vimgrep"], capsys)
    assert code == 0 and out.count("\n") == 10 and ":1:" in out


def test_coshc_through_milvus_keeps_local_r_at_1(built, exported):
    index, enc, queries = built
    remote = mv.MilvusIndex.open(exported)
    assert remote.default_searcher == "coshc"
    qv = enc.encode_queries([q for q, _ in queries], progress=False)
    ids = index.ids_of_urls([u for _, u in queries])
    local = index.searcher("coshc")
    from seekcode.index.search import search_top_k

    _, top = search_top_k(local, qv, 1)
    local_r1 = float(np.mean(top[:, 0] == np.array(ids)))
    url_of = {u: i for (_, u), i in zip(queries, ids, strict=True)}
    hits = [remote.search_vector(v, 1, searcher="coshc")[0] for v in qv]
    milvus_r1 = float(np.mean([bool(h) and url_of.get(h[0].url) == i
                               for h, i in zip(hits, ids, strict=True)]))
    _, exact_top = search_top_k(index.searcher("exact"), qv, 1)
    print(f"R@1 exact {np.mean(exact_top[:, 0] == np.array(ids)):.3f}, local CoSHC "
          f"{local_r1:.3f}, Milvus CoSHC {milvus_r1:.3f}")
    assert local_r1 > 0.1  # the queries are answerable: a retention of nothing is no test
    assert milvus_r1 >= 0.99 * local_r1
    # the re-rank inside Milvus and the numpy re-rank of fetched vectors agree
    for v in qv[:10]:
        same_ranking(remote.search_vector(v, 5, searcher="coshc")[0],
                     remote.search_vector(v, 5, searcher="coshc", rerank="fetch")[0])


def _bench_scale(monkeypatch):
    """benchmarks/bench_scale.py as a module (its import pins BLAS threads via env vars:
    undone after the test)."""
    import importlib.util

    root = Path(__file__).resolve().parents[1] / "benchmarks"
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, os.environ.get(var, ""))
    monkeypatch.syspath_prepend(str(root))
    spec = importlib.util.spec_from_file_location("bench_scale", root / "bench_scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_scale_ranks_milvus_exact_as_local_exact(built, milvus_server, monkeypatch):
    """Issue 14: on this index bench_scale reported Milvus exact R@1 0.17 vs local exact
    0.16. FLAT/IP over the same float32 vectors gives the same scores; only the order of
    tied scores differs (numpy's argpartition vs Milvus's heap), and the benchmark took
    each backend's first result. Ranked by eval's one tie rule they must agree exactly."""
    from seekcode.eval.metrics import recall_at
    from seekcode.eval.runner import rank

    bench = _bench_scale(monkeypatch)
    index = built[0]
    out = bench.search_benchmark(index, n_queries=1000, n_timed=5, milvus_url=milvus_server)
    m = out["methods"]
    assert out["milvus_rows"] == {"bench": index.count, "bench__coshc": index.count}
    assert m["Milvus exact"]["r1"] == m["local exact"]["r1"] > 0.1
    assert m["Milvus coshc"]["r1"] == m["local coshc"]["r1"]
    # the per-query ranks agree too, wherever Milvus's 10 best hold the relevant record
    remote = mv.MilvusIndex.open(f"milvus://{milvus_server}/bench")
    rows = [i for i, r in enumerate(index.iter_records()) if r.query_text]
    from seekcode.corpus.record import Record

    qv = index.encoder.encode_queries(
        [Record.from_dict(r).query_text for r in index.records_at(rows)], progress=False)
    relevant = [np.array([i]) for i in rows]
    local = rank(index.searcher("exact"), qv, relevant)
    milvus = rank(remote.searcher("exact"), qv, relevant, k=10)
    assert recall_at(local, 1) == recall_at(milvus, 1)
    assert np.array_equal(local == 1, milvus == 1)
    seen = np.isfinite(milvus)  # ties beyond its 10 best are not counted there
    assert np.all(milvus[seen] <= local[seen])


def test_filters_agree_with_local_filters(built, exported, capsys):
    index, enc, queries = built
    remote = mv.MilvusIndex.open(exported)
    for q, _ in queries[:20]:
        for kw in ({"lang": "javascript"}, {"path": "email/*"}, {"lang": "python", "path": "http/*"}):
            want = index.search(q, k=10, searcher="exact", **kw)
            got, note = remote.search_noted(q, k=10, searcher="exact", **kw)
            same_ranking(want, got)
            assert not note
            c_want = index.search(q, k=10, searcher="coshc", **kw)
            c_got = remote.search(q, k=10, searcher="coshc", **kw)
            assert all(h.language == kw.get("lang", h.language) for h in c_got)
            if "path" not in kw:  # pushed into Milvus: the same recall as the local one
                overlap = len({h.url for h in c_want} & {h.url for h in c_got})
                assert overlap >= 0.8 * len(c_want), (q, kw)
            else:  # applied after a recall of 50 N: at least what the local recall finds
                assert all(h.path.startswith(kw["path"][:-1]) for h in c_got)
                assert len(c_got) == len(c_want) and c_got[0].score >= c_want[0].score - 1e-6
    # a path only a few functions have, outside the window Milvus ranks: said, not hidden
    code, out, _ = _run(["search", exported, "send an email message through smtp", "-k", "2",
                         "--path", "csv.py", "--exact", "--json"], capsys)
    got = json.loads(out)
    assert code == 0 and all(h["path"] == "csv.py" for h in got["hits"])
    assert len(got["hits"]) == 2 or "Milvus" in got["note"]


def test_reexport_is_idempotent(built, exported, capsys):
    index = built[0]
    remote = mv.MilvusIndex.open(exported)
    counts = remote.row_counts()
    before = [h.to_dict() for h in remote.search("send an email message", k=10)]
    code, out, err = _run(["export", str(index.root), exported, "--json"], capsys)
    assert code == 0 and json.loads(out)["unchanged"] == 1 and json.loads(out)["written"] == 0
    assert "nothing to write" in err
    again = mv.MilvusIndex.open(exported)
    assert again.row_counts() == counts == {"stdlib": index.count, "stdlib__coshc": index.count}
    assert [h.to_dict() for h in again.search("send an email message", k=10)] == before


def test_a_killed_export_resumes_without_duplicates(built, milvus_server, tmp_path):
    index = built[0]
    url = f"milvus://{milvus_server}/killed"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, "export", str(index.root), url,
                             "--batch-size", "25", "--pause", "0.2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    state = None
    while time.monotonic() < deadline:
        try:
            state = mv.read_state(url)
        except IndexError_:
            state = None
        if state and state["written"]["records"] >= 100:
            break
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = mv.read_state(url)
    assert state is not None and not state["complete"]
    assert 100 <= state["written"]["records"] < index.count
    with pytest.raises(IndexError_, match="stopped after"):
        mv.MilvusIndex.open(url)

    stats = mv.export(index, url, batch_size=100, progress=False)
    assert stats["written"] == 2 * index.count - state["written"]["records"]
    remote = mv.MilvusIndex.open(url)
    assert remote.row_counts() == {"killed": index.count, "killed__coshc": index.count}
    for kind in ("records", "codes"):
        assert sorted(remote.ids(kind)) == list(range(index.count))
    same_ranking(index.search("parse a url query string", k=10, searcher="exact"),
                 remote.search("parse a url query string", k=10, searcher="exact"))


def test_another_generation_replaces_the_export(built, milvus_server, tmp_path):
    from seekcode.corpus.record import Record

    index, enc, _ = built
    url = f"milvus://{milvus_server}/replaced"
    mv.export(index, url, progress=False)
    small, _ = Index.build([Record(code="def add(a, b):\n    return a + b\n", docstring="Add two.",
                                   func_name="add", path="m.py", language="python")],
                           tmp_path / "small", enc, progress=False)
    assert mv.export(small, url, progress=False)["written"] == 1
    remote = mv.MilvusIndex.open(url)
    assert remote.count == 1 and remote.row_counts() == {"replaced": 1}
    assert remote.searcher_names() == ["exact"]
    assert [h.func_name for h in remote.search("add two numbers", k=10)] == ["add"]


def test_down_or_wrong_address_is_one_clear_line(milvus_server, built, capsys):
    t0 = time.monotonic()
    code, out, err = _run(["search", "milvus://127.0.0.1:1/stdlib", "read a file"], capsys)
    assert code == 2 and time.monotonic() - t0 < 15
    assert err.count("\n") == 1 and "127.0.0.1:1" in err and "start Milvus" in err
    assert "Traceback" not in err
    code, _, err = _run(["search", f"milvus://{milvus_server}/nothing_here", "x"], capsys)
    assert code == 2 and "nothing_here" in err and "seekcode export" in err
    code, _, err = _run(["export", str(built[0].root), "milvus://127.0.0.1:1/x"], capsys)
    assert code == 2 and "127.0.0.1:1" in err
    code, _, err = _run(["search", "milvus://nowhere/x", "read a file"], capsys)
    assert code == 2 and "milvus://HOST:PORT/COLLECTION" in err


def test_another_encoder_is_refused(exported):
    from seekcode.server.app import create_app

    with pytest.raises(IndexError_, match="built with encoder 'lexical"):
        mv.MilvusIndex.open(exported, LexicalEncoder(dim=64))
    with pytest.raises(IndexError_, match="built with encoder"):
        create_app(exported, LexicalEncoder(dim=64))


def test_serve_answers_from_milvus(exported, built):
    from fastapi.testclient import TestClient

    from seekcode.server.app import create_app

    index = built[0]
    client = TestClient(create_app(exported), base_url="http://127.0.0.1")
    r = client.get("/search", params={"q": "parse an email address header", "k": 5,
                                      "exact": "true"})
    assert r.status_code == 200, r.text
    same_ranking(index.search("parse an email address header", k=5, searcher="exact"),
                 [Hit(**h) for h in r.json()["hits"]])
    assert r.json()["searcher"] == "exact"
    r = client.get("/search", params={"q": "parse an email address header", "lang": "cobol"})
    assert r.status_code == 422 and "cobol" in r.json()["detail"]
    stats = client.get("/stats").json()
    assert stats["index"] == exported and stats["records"] == index.count
    page = client.get("/", params={"q": "gzip compress"})
    assert page.status_code == 200 and "gzip" in page.text
    assert client.get("/search", params={"q": "x"}, headers={"host": "evil.example"}
                      ).status_code == 400


def test_milvus_search_never_imports_torch(exported, tmp_path):
    code = ("import sys; from seekcode.cli import main; rc = main(sys.argv[1:]); "
            "loaded = [m for m in ('torch', 'transformers') if m in sys.modules]; "
            "print('LOADED', loaded); sys.exit(rc or (3 if loaded else 0))")
    proc = subprocess.run([sys.executable, "-c", code, "search", exported, "read a gzip file",
                           "-k", "2"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "LOADED []" in proc.stdout
