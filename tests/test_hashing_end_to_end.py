"""Index -> train CoSHC -> search, with a tiny deterministic encoder (and one real MiniLM run)."""

from __future__ import annotations

import argparse
import re
import zlib
from collections.abc import Sequence

import numpy as np
import pytest

from seekcode.corpus.record import Record
from seekcode.encoders.base import Encoder, normalize
from seekcode.eval.runner import rank, time_searcher
from seekcode.hashing.config import HashConfig
from seekcode.hashing.coshc import build_hook as coshc_build_hook
from seekcode.index.search import search_top_k
from seekcode.index.store import Index

DIM = 32
TOPICS = ["parse json file", "open socket connection", "sort list items", "compress gzip data",
          "hash password string", "resize image pixels", "send email message", "read csv rows"]


class WordEncoder(Encoder):
    """Sum of fixed random word vectors: texts sharing words get close vectors."""

    kind = "test-words"

    @property
    def dim(self) -> int:
        return DIM

    @property
    def id(self) -> str:
        return "test-words:v1"

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z]+", t.lower()):
                out[i] += np.random.default_rng(zlib.crc32(w.encode())).standard_normal(DIM)
        return normalize(out + 1e-3)

    def encode_queries(self, texts: Sequence[str], progress: bool = True) -> np.ndarray:
        return self._embed(texts)

    def encode_code(self, records: Sequence[Record], progress: bool = True) -> np.ndarray:
        return self._embed([r.func_name.replace("_", " ") + " " + r.code for r in records])


def make_records(n: int = 240) -> list[Record]:
    rng = np.random.default_rng(0)
    recs = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        extra = " ".join(rng.choice(["fast", "safe", "async", "cached", "lazy", "batch",
                                     "remote", "local", "temp", "retry"], 2))
        name = f"{topic.replace(' ', '_')}_{i}"
        recs.append(Record(code=f"def {name}():\n    return {extra.replace(' ', '_')}()",
                           docstring=f"{topic.capitalize()} {extra}.", func_name=name,
                           path=f"pkg{i % 3}/mod.py", start_line=i + 1, end_line=i + 2,
                           partition="train" if i % 5 else "test"))
    return recs


def small_config(**kw) -> HashConfig:
    return HashConfig.recommended(**{"epochs": 3, "bits": 64, "k": 4, "recall": 30,
                                     "recall_per_million": 0, "max_recall": 0, "batch_size": 64,
                                     "classifier_epochs": 5, **kw})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    enc = WordEncoder()
    out = tmp_path_factory.mktemp("idx") / "index"
    index, _ = Index.build(make_records(), out, enc, progress=False,
                           hooks=[coshc_build_hook(enc, small_config())])
    return index, enc


def test_build_stores_coshc(built):
    index, _ = built
    info = index.manifest["extras"]["coshc"]
    assert info["bits"] == 64 and info["k"] == 4
    assert info["config"]["distill"] > 0 and info["config"]["neighbour_batches"]
    assert info["training"]["pairs"] == 192  # the train partition only
    assert sum(info["training"]["category_sizes"]) == 240
    assert any(name.startswith("coshc/") for name in index.manifest["files"])
    assert index.manifest["searchers"] == {"available": ["exact", "coshc"], "default": "coshc"}
    assert index.searcher().name == "coshc"
    assert index.searcher("exact").name == "exact"


def test_search_finds_the_described_function(built):
    index, _ = built
    hits = index.search("compress gzip data", k=5)
    assert len(hits) == 5
    assert all("compress_gzip_data" in h.func_name for h in hits)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert hits[0].score >= hits[-1].score


def test_coshc_matches_exact_when_everything_is_recalled(built):
    index, enc = built
    q = enc.encode_queries(["read csv rows", "hash password string safe"])
    full = index.searcher().variant("none", "all", recall=index.count)
    s1, i1 = search_top_k(full, q, 10)
    s2, i2 = search_top_k(index.searcher("exact"), q, 10)
    np.testing.assert_allclose(s1, s2, rtol=1e-5)
    ranks = rank(full, q, [i2[0][:1], i2[1][3:4]])
    assert ranks[0] == 1 and ranks[1] >= 4  # ties count against the model


def test_allowed_filter(built):
    index, _ = built
    hits = index.search("sort list items", k=10, path="pkg1/*")
    assert hits and all(h.path.startswith("pkg1/") for h in hits)
    q = index.encoder.encode_queries(["sort list items"])
    allowed = np.array([3, 5, 7])
    _, ids = search_top_k(index.searcher(), q, 10, allowed)
    assert set(ids[0][ids[0] >= 0]) <= {3, 5, 7}


def test_filtered_search_reuses_the_faiss_indexes(built, monkeypatch):
    """A --lang/--path filter is applied inside the searcher's FAISS indexes: nothing is
    built per request, and the recalled codes are the nearest allowed ones."""
    import faiss

    from seekcode.hashing.codes import hamming

    index, enc = built
    searcher = index.searcher()
    q = enc.encode_queries(["sort list items", "send email message"])
    routed = searcher.variant("distribution", "routed")  # shares the FAISS indexes
    searcher.candidates(q, 10)  # the indexes are built on first use
    routed.candidates(q, 10)
    shared = dict(searcher._shared)
    assert set(shared) == {"global", "categories"}
    made = []
    real = faiss.IndexBinaryFlat
    monkeypatch.setattr(faiss, "IndexBinaryFlat", lambda *a: made.append(a) or real(*a))
    for _ in range(3):
        assert index.search("sort list items", k=5, path="pkg1/*")
        assert index.search("send email", k=5, lang="python")
        ids = routed.candidates(q, 10, np.arange(0, index.count, 2))[1]
        assert ((ids == -1) | (ids % 2 == 0)).all() and (ids >= 0).sum() > 10
    assert made == [] and searcher._shared == shared
    # Filtered recall = the allowed records with the nearest codes, per category budget.
    allowed = np.flatnonzero(np.arange(index.count) % 3 == 1)
    flat = searcher.variant("none", "flat", recall=7)
    got = flat.recalled(q, allowed=allowed)
    assert set(got.ravel()) <= set(allowed)
    qcodes = searcher.heads.codes(q, "desc")
    for j in range(len(q)):
        want = np.sort(hamming(qcodes[j], searcher.codes[allowed])[0])[:7]
        np.testing.assert_array_equal(np.sort(hamming(qcodes[j], searcher.codes[got[j]])[0]), want)
    per_cat = searcher.recalled(q, allowed=allowed)
    assert set(per_cat[per_cat >= 0]) <= set(allowed)


def test_sections_and_rank(built):
    index, enc = built
    sections = {"coshc": index.searcher("coshc"), **index.searcher("coshc").ablations()}
    assert set(sections) == {"coshc", "coshc_no_classification", "coshc_one_classification",
                             "coshc_ideal_classification"}
    test_ids = index.ids_for("test")
    recs = index.records_at(test_ids)
    q = enc.encode_queries([Record.from_dict(r).query_text for r in recs])
    relevant = [np.array([i]) for i in test_ids]
    exact = rank(index.searcher("exact"), q, relevant)
    for name, searcher in sections.items():
        ranks = rank(searcher, q, relevant)
        assert ranks.shape == (len(q),)
        finite = np.isfinite(ranks)
        # re-ranking a subset by the same cosine can only move the relevant record up
        assert (ranks[finite] <= exact[finite]).all(), name
        timing = time_searcher(searcher, q, 5)
        assert timing["ms_similarity"] > 0 and timing["ms_sort"] >= 0
        assert timing["ms_total"] >= timing["ms_similarity"]
        _, ids = search_top_k(searcher, q[:3], 10)  # ideal falls back to the predicted category
        assert ids.shape == (3, 10)
    ideal = sections["coshc_ideal_classification"]
    cats = ideal.categories[test_ids]
    cand = ideal.recalled(q, oracle=test_ids)
    # N - k + 1 candidates from the relevant record's own category
    in_own = (ideal.categories[np.maximum(cand, 0)] == cats[:, None]) & (cand >= 0)
    assert (in_own.sum(axis=1) == np.minimum(ideal.recall - ideal.k + 1,
                                             np.bincount(ideal.categories)[cats])).all()


def test_paper_recipe_and_cli_retrain(built, tmp_path, monkeypatch):
    import shutil

    from seekcode.hashing import cli

    index, _ = built
    root = tmp_path / "copy"
    shutil.copytree(index.root, root, symlinks=True)
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args([str(root), "--recipe", "paper", "--epochs", "2", "--bits", "32",
                              "--categories", "3", "--batch-size", "64"])
    from seekcode.index import store

    orig = store.Index.open.__func__  # type: ignore[attr-defined]
    # the fake encoder cannot be reopened from the manifest: hand it over
    monkeypatch.setattr(store.Index, "open", classmethod(
        lambda cls, p, encoder=None, verify=None: orig(cls, p, WordEncoder(), verify)))
    assert cli.run(args) == 0
    again = Index.open(root, WordEncoder())
    info = again.manifest["extras"]["coshc"]
    assert info["bits"] == 32 and info["k"] == 3
    assert info["config"]["distill"] == 0 and info["config"]["routing"] == "distribution"
    assert search_top_k(again.searcher(), WordEncoder().encode_queries(["send email"]), 3)[1].shape == (1, 3)
    assert cli.run(parser.parse_args([str(tmp_path / "missing")])) == 2


def test_the_recommended_recipe_probes_from_its_size_on(built, tmp_path, monkeypatch):
    """`--hash` without a config picks the recipe by the number of records indexed: below
    PROBE_FROM one Hamming scan of every code, from it on the probed fine lists + int8."""
    from seekcode.hashing import cli
    from seekcode.hashing import config as config_module
    from seekcode.index import store

    assert HashConfig.recommended(records=config_module.PROBE_FROM - 1).routing == "none"
    at = HashConfig.recommended(records=config_module.PROBE_FROM)
    assert (at.routing, at.rerank, at.scan, at.bits) == ("probe", "int8", "asymmetric", 128)
    assert HashConfig.recommended(records=config_module.PROBE_FROM - 1).bits == 256
    assert HashConfig.recommended(records=10**9, probe=7).probe == 7  # overrides still win
    enc = WordEncoder()
    monkeypatch.setattr(config_module, "PROBE_FROM", 200)  # this index's 240 records are "large"
    index, _ = Index.build(make_records(), tmp_path / "big", enc, progress=False,
                           hooks=[coshc_build_hook(enc)])
    cfg = index.manifest["extras"]["coshc"]["config"]
    assert (cfg["routing"], cfg["rerank"]) == ("probe", "int8")
    s = index.searcher()
    assert s.lists is not None and s.int8 is not None
    hits = index.search("compress gzip data", k=3)
    assert all("compress_gzip_data" in h.func_name for h in hits)
    # `seekcode train hash` on the same index picks by its size too, and keeps given options
    orig = store.Index.open.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(store.Index, "open", classmethod(
        lambda cls, p, encoder=None, verify=None: orig(cls, p, WordEncoder(), verify)))
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.run(parser.parse_args([str(index.root), "--epochs", "1", "--bits", "32",
                                      "--probe", "5", "--scan", "asymmetric"])) == 0
    again = Index.open(index.root, enc)
    cfg = again.manifest["extras"]["coshc"]["config"]
    assert (cfg["routing"], cfg["probe"], cfg["bits"], cfg["scan"]) == ("probe", 5, 32, "asymmetric")
    assert again.searcher().scan == "asymmetric"
    hits = again.search("compress gzip data", k=3)
    assert all("compress_gzip_data" in h.func_name for h in hits)
    assert cli.run(parser.parse_args([str(index.root), "--scan", "exact"])) == 2
    monkeypatch.setattr(config_module, "PROBE_FROM", 10_000)
    assert cli.run(parser.parse_args([str(index.root), "--epochs", "1", "--bits", "32"])) == 0
    cfg = Index.open(index.root, enc).manifest["extras"]["coshc"]["config"]
    assert cfg["routing"] == "none" and cfg["rerank"] == "float32"


@pytest.mark.slow
def test_minilm_end_to_end(tmp_path):
    from seekcode import load_encoder

    enc = load_encoder()
    recs = make_records(200)
    index, _ = Index.build(recs, tmp_path / "idx", enc, progress=False,
                           hooks=[coshc_build_hook(enc, small_config(bits=128, recall=50))])
    hits = index.search("send an email message", k=3)
    assert "send_email_message" in hits[0].func_name


def test_watch_keeps_coshc_across_updates(tmp_path):
    """`seekcode index DIR --hash --watch`: every generation the watch loop publishes
    still has CoSHC (carried over, not retrained), so search never falls back to exact."""
    import threading
    import time

    from serving_helpers import FakeEncoder, make_project

    from seekcode.index.watch import update, watch

    files = {f"pkg/{t.split()[0]}.py": f"def {t.replace(' ', '_')}(x):\n    \"\"\"{t.capitalize()}.\"\"\"\n"
             "    return x\n" for t in TOPICS}
    root = make_project(tmp_path / "proj", files)
    out = tmp_path / "idx"
    enc = FakeEncoder()
    first, _ = update(root, out, enc, hooks=[coshc_build_hook(enc, small_config(k=2))])
    fitted = first.gen.name
    assert first.default_searcher == "coshc"
    updates: list[object] = []
    stop = threading.Event()
    t = threading.Thread(target=watch, args=(root, out, enc),
                         kwargs={"debounce_s": 0.2, "stop": stop, "on_update": updates.append},
                         daemon=True)
    t.start()
    deadline = time.monotonic() + 60
    n = 0
    while len(updates) < 2 and time.monotonic() < deadline:
        n += 1  # written again until seen: the watcher may not be watching yet
        (root / "pkg/extra.py").write_text(
            f"def resize_image(img, w, h):\n    '''Resize an image.'''\n    return img.resize((w, h), {n})\n")
        time.sleep(1.0)
    stop.set()
    t.join(timeout=10)
    assert len(updates) >= 2
    index = Index.open(out)
    assert index.gen.name != fitted
    assert index.searcher_names() == ["exact", "coshc"] and index.default_searcher == "coshc"
    info = index.manifest["extras"]["coshc"]
    assert info["fitted_in"] == fitted and info["training"]["records"] == index.count
    hit = index.search("resize an image", k=1)[0]
    assert hit.func_name == "resize_image" and index.searcher().name == "coshc"
    # An update that changes nothing publishes nothing, CoSHC or not.
    again, result = update(root, out, enc)
    assert result.unchanged and again.gen == index.gen
