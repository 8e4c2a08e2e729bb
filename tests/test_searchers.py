"""The searcher registry: plug-ins by name, the manifest's list, and the import graph."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from serving_helpers import LOOPBACK, FakeEncoder, make_project

import seekcode
from seekcode.cli import main
from seekcode.index import searchers
from seekcode.index.search import Artifacts, ExactSearcher
from seekcode.index.store import Index, IndexError_
from seekcode.index.watch import update
from seekcode.server import create_app

PACKAGE = Path(seekcode.__file__).parent


# ---- a toy searcher: this module is its whole implementation ---------------------------
class ToySearcher(ExactSearcher):
    """Exact scores over the even rows only: a searcher whose candidates are a subset."""

    name = "toy"

    def candidates(self, queries, k, allowed=None, oracle=None):  # type: ignore[no-untyped-def]
        even = np.arange(0, len(self.vectors), 2)
        return super().candidates(queries, k, even if allowed is None
                                  else np.intersect1d(even, allowed))


def open_searcher(artifacts: Artifacts) -> ToySearcher:
    return ToySearcher(artifacts.vectors)


def toy_hook(gen, records, vectors, extras) -> None:  # type: ignore[no-untyped-def]
    extras["toy"] = {"rows": "even"}  # its artifacts: none beyond the vectors


@pytest.fixture
def toy():
    searchers.register("toy", searchers.Entry(__name__, "a toy hook"))  # the one registry line
    yield
    searchers.unregister("toy")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")


def test_a_registered_searcher_is_listed_chosen_and_served(toy, tmp_path: Path, project: Path,
                                                          capsys) -> None:
    out = tmp_path / "idx"
    index, _ = update(project, out, FakeEncoder(), hooks=[toy_hook])
    assert index.manifest["searchers"] == {"available": ["exact", "toy"], "default": "exact"}
    assert index.searcher_names() == ["exact", "toy"]
    hits = index.search("read gzip json", k=50, searcher="toy")
    assert hits and all(index.ids_of_urls([h.url])[0] % 2 == 0 for h in hits)
    assert len(hits) < len(index.search("read gzip json", k=50, searcher="exact"))
    # the server selects it by name and lists it
    client = TestClient(create_app(out, FakeEncoder(), check_every=0.0), base_url=LOOPBACK)
    body = client.get("/search", params={"q": "read gzip json", "searcher": "toy"}).json()
    assert body["searcher"] == "toy" and not body["exact"]
    assert client.get("/stats").json()["searchers"] == ["exact", "toy"]
    page = client.get("/", params={"q": "read gzip json", "searcher": "toy"}).text
    assert "(toy search," in page and '<option value="toy" selected>' in page


def test_unknown_or_missing_searcher_is_an_input_error(toy, tmp_path: Path,
                                                       project: Path) -> None:
    index, _ = update(project, tmp_path / "idx", FakeEncoder())
    assert index.manifest["searchers"] == {"available": ["exact"], "default": "exact"}
    with pytest.raises(IndexError_, match="no such searcher.*registered: exact, coshc, toy"):
        index.searcher("nope")
    with pytest.raises(IndexError_, match=r"no 'coshc' searcher in this index \(it has: exact\); "
                       "build it with `seekcode index"):
        index.search("read", searcher="coshc")
    client = TestClient(create_app(tmp_path / "idx", FakeEncoder(), check_every=0.0), base_url=LOOPBACK)
    r = client.get("/search", params={"q": "read", "searcher": "toy"})
    assert r.status_code == 422 and "not in this index (it has: exact)" in r.json()["detail"]
    r = client.get("/search", params={"q": "read", "searcher": "toy", "exact": "true"})
    assert r.status_code == 422 and r.json()["detail"].startswith("exact: contradicts")
    assert client.get("/search", params={"q": "read", "exact": "true"}).json()["searcher"] == "exact"


def test_older_manifests_derive_their_searchers() -> None:
    assert searchers.available({"extras": {"coshc": {"bits": 64}}}) == (["exact", "coshc"], "coshc")
    assert searchers.available({"extras": {"source": "/x"}}) == (["exact"], "exact")


def test_cli_selects_searchers_by_name(toy, tmp_path: Path, records, encoder, capsys) -> None:
    import json

    out = tmp_path / "idx"
    Index.build(records, out, encoder, progress=False, hooks=[toy_hook])
    assert main(["search", str(out), "md5 digest", "--searcher", "toy", "-k", "8", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["method"] == "toy" and len(doc["hits"]) == 4  # the even rows
    assert main(["search", str(out), "md5 digest", "--exact", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "exact"
    assert main(["eval", str(out), "--searcher", "toy", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "toy" in result and "exact" in result and set(result["retention"]) == {"toy"}
    assert main(["search", str(out), "md5", "--searcher", "nope"]) == 2
    assert "no such searcher" in capsys.readouterr().err


def test_planted_duplicates_rank_alike_under_every_searcher() -> None:
    """One tie rule for all: a record with planted duplicates (equal up to float noise)
    gets the same rank from every searcher whose candidates hold all the duplicates."""
    from seekcode.eval.runner import rank
    from seekcode.hashing.config import HashConfig
    from seekcode.hashing.coshc import fit

    rng = np.random.default_rng(0)
    v = rng.standard_normal((300, 32)).astype(np.float32)
    dups = np.array([10, 40, 90, 150])  # even rows: the toy searcher sees them all
    v[dups] = v[10] + rng.standard_normal((len(dups), 32)).astype(np.float32) * 2e-7
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q = v[10:11] + rng.standard_normal((1, 32)).astype(np.float32) * 0.05
    q /= np.linalg.norm(q)
    scores = (q @ v.T)[0]
    # the duplicates are the top 4, with scores that differ only in the last bits
    assert set(np.argsort(-scores)[:4]) == set(dups) and np.ptp(scores[dups]) < 1e-6
    config = HashConfig.recommended(epochs=1, bits=32, k=2, recall=60, recall_per_million=0,
                                    max_recall=0, batch_size=64, classifier_epochs=1)
    noisy = v + rng.standard_normal(v.shape).astype(np.float32) * 0.1
    model = fit(v, np.arange(300), noisy / np.linalg.norm(noisy, axis=1, keepdims=True), config,
                progress=False)
    coshc = model.searcher(v)
    searchers = {"exact": ExactSearcher(v), "toy": ToySearcher(v), "coshc": coshc}
    for routing in ("none", "distribution"):
        searchers[f"coshc_{routing}"] = coshc.variant(routing, routing, recall=120)
    ranks = {}
    for name, s in searchers.items():
        _, ids = s.candidates(q, 10)
        if set(dups) <= set(np.broadcast_to(ids, (1, np.shape(ids)[-1]))[0]):
            for rel in dups:  # whichever duplicate is the relevant one
                ranks[(name, int(rel))] = rank(s, q, [np.array([rel])])[0]
    assert {"exact", "toy"} <= {n for n, _ in ranks}
    assert len({n for n, _ in ranks}) >= 3, "no CoSHC variant recalled every duplicate"
    assert set(ranks.values()) == {4.0}, ranks


# ---- the import graph ----------------------------------------------------------------------
def _imports() -> dict[str, set[str]]:
    """Module -> seekcode modules it imports (anywhere in the file, TYPE_CHECKING included)."""
    mods = {}
    for p in PACKAGE.rglob("*.py"):
        parts = list(p.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        here = m if p.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Import):
                edges[m] |= {a.name for a in node.names if a.name in mods}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    if sub in mods:
                        edges[m].add(sub)
                    elif base in mods:
                        edges[m].add(base)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_index_layer_imports_no_backend_and_no_modules_import_each_other() -> None:
    edges = _imports()
    assert "seekcode.index.searchers" in edges and "seekcode.hashing.coshc" in edges
    index_layer = {m: e for m, e in edges.items() if m.startswith("seekcode.index")}
    assert not {m: sorted(t for t in e if t.startswith("seekcode.hashing"))
                for m, e in index_layer.items() if any(t.startswith("seekcode.hashing") for t in e)}
    assert _cycles(edges) == []
    assert "seekcode.server.app" not in edges["seekcode.server.page"]
