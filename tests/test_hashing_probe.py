"""CoSHC's "probe" routing (fine lists, IVF-style) and int8 re-rank, on clustered vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seekcode.errors import InputError
from seekcode.eval.runner import rank
from seekcode.hashing.config import HashConfig
from seekcode.hashing.coshc import CoSHC, fit
from seekcode.hashing.searcher import REACH_WEIGHT, Int8Vectors, Lists
from seekcode.index.search import ExactSearcher

DIM = 48


def clustered(n: int = 6000, centres: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit code vectors around `centres` directions, and a query near each of 200 records."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, DIM)).astype(np.float32)
    v = c[rng.integers(0, centres, n)] + 0.35 * rng.standard_normal((n, DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q = v[:200] + 0.15 * rng.standard_normal((200, DIM)).astype(np.float32)
    return v, (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def model() -> tuple[CoSHC, np.ndarray, np.ndarray]:
    v, q = clustered()
    cfg = HashConfig.recommended(bits=64, k=4, epochs=2, recall=300, recall_per_million=0,
                                 max_recall=0, routing="probe", lists=40, probe=8,
                                 rerank="int8", rescore=20)
    pairs = np.arange(1000, 3000)
    return fit(v, pairs, v[pairs], cfg, progress=False), v, q


def test_probe_touches_a_fraction_and_keeps_the_exact_top1(model):
    m, v, q = model
    s = m.searcher(v)
    assert s.lists is not None and len(s.lists.centroids) == 40
    probed = s.lists.nearest(q, s.probe)
    touched = np.isin(s.lists.of, probed[0]).sum()  # filings scanned (2 per record)
    assert touched < len(v)  # 8 of 40 lists, not the whole index
    assert s.scanned(q[:1])[0] == touched  # what the bench reports as codes read
    assert (s.variant("probe", "all", probe=40).scanned(q) == 2 * len(v)).all()
    assert (s.variant("none", "none").scanned(q) == len(v)).all()
    assert s.lists.of.shape == (len(v), 2) and (s.lists.of[:, 0] != s.lists.of[:, 1]).all()
    cand = s.recalled(q)
    assert cand.shape == (len(q), 300)
    # every candidate lies in one of its query's probed lists
    for i in range(0, len(q), 37):
        got = cand[i][cand[i] >= 0]
        assert np.isin(s.lists.of[got], probed[i]).any(axis=1).all()
        assert len(np.unique(got)) == len(got)  # a record filed twice is recalled once
    exact = ExactSearcher(v)
    top1 = np.argmax(q @ v.T, axis=1)
    kept = (s.candidates(q, 10)[1] == top1[:, None]).any(axis=1).mean()
    assert kept >= 0.95
    # R@1 of each query's own record: probe + int8 within 2 points of exact search
    rel = [np.array([i]) for i in range(len(q))]
    r_exact = (rank(exact, q, rel, k=10) == 1).mean()
    r_probe = (rank(s, q, rel, k=10) == 1).mean()
    assert r_probe >= r_exact - 0.02


def test_probing_every_list_is_the_whole_index(model):
    m, v, q = model
    s = m.searcher(v)
    top1 = np.argmax(q @ v.T, axis=1)
    # (not monotonic in the probes: the N candidates of more lists compete for N places)
    assert s.variant("probe", "p4", probe=4).recall_of(q, top1).mean() >= 0.95
    # all 40 lists probed = one Hamming top-N over the whole index
    qc = s.heads.codes(q, "desc")

    def distances_unsorted(ids: np.ndarray) -> np.ndarray:
        return np.unpackbits(s.codes[ids] ^ qc[:, None, :], axis=2).sum(axis=2)

    def distances(ids: np.ndarray) -> np.ndarray:  # sorted Hamming distances (ties may swap ids)
        return np.sort(distances_unsorted(ids), axis=1)

    every = distances(s.variant("none", "none").recalled(q))
    # N counts filings: a record filed twice takes two of the N places, so probing every
    # list recalls the N/2 nearest records (give or take a tie at the edge)
    got = s.variant("probe", "all", probe=40).recalled(q)
    valid = (got >= 0).sum(axis=1)
    assert (valid >= 150).all() and (valid < 200).all()
    d = np.where(got >= 0, distances_unsorted(np.maximum(got, 0)), 10**6)
    assert np.array_equal(np.sort(d, axis=1)[:, :140], every[:, :140])


def test_the_probe_scan_agrees_in_chunks_and_one_query_at_a_time(model, monkeypatch):
    from seekcode.hashing import searcher as searcher_module

    m, v, q = model
    s = m.searcher(v)
    whole = s.recalled(q[:40])  # 40 queries: one FAISS call on both threads
    assert (whole >= 0).sum(axis=1).min() > 100
    monkeypatch.setattr(searcher_module, "_COUNT_SCAN_BYTES", 1)  # one query per call
    assert np.array_equal(s.recalled(q[:40]), whole)
    monkeypatch.undo()
    assert np.array_equal(np.vstack([s.recalled(q[i : i + 1]) for i in range(40)]), whole)


def test_the_asymmetric_scan_ranks_the_probed_codes_by_the_unbinarised_query(model):
    m, v, q = model
    s = m.searcher(v)
    asym = s.variant("probe", "asym", scan="asymmetric", recall=60)
    h = s.heads.project(q[:30], "desc")
    probed = s.lists.nearest(q[:30], s.probe)
    got = asym.recalled(q[:30])
    signs = np.unpackbits(s.codes, axis=1).astype(np.float32) * 2 - 1  # bit 1 -> +1
    for i in range(30):
        members = np.flatnonzero(np.isin(s.lists.of, probed[i]).any(axis=1))
        score = signs[members] @ h[i]
        mine = got[i][got[i] >= 0]
        assert len(np.unique(mine)) == len(mine) and np.isin(mine, members).all()
        # FAISS's 8-bit tables: its best 60 filings are the true best up to near ties,
        # and a record filed twice takes two places, so 25 distinct records at least
        assert len(mine) >= 25
        best = members[np.argsort(-score, kind="stable")[:10]]
        assert np.isin(best, mine).mean() >= 0.9
        worst = np.sort(score)[: len(score) // 2]  # the lower half never comes up
        assert signs[mine].dot(h[i]).min() > worst.max()
    # and it recalls the exact top-1 at least as well as the Hamming scan of the same N
    top1 = np.argmax(q @ v.T, axis=1)
    ham = s.variant("probe", "ham", recall=60)
    assert asym.recall_of(q, top1).mean() >= ham.recall_of(q, top1).mean()
    with pytest.raises(InputError, match="scan 'exact'"):
        s.variant("probe", "bad", scan="exact")


def test_int8_rerank_returns_exact_cosines_of_the_rescored(model):
    m, v, q = model
    s = m.searcher(v)
    assert s.int8 is not None
    scores, ids = s.candidates(q[:5], 10)
    assert ids.shape[1] == 20  # pruned to `rescore` by int8, then scored in float32
    ok = ids >= 0
    np.testing.assert_allclose(scores[ok], np.einsum("qd,qmd->qm", q[:5], v[np.maximum(ids, 0)])[ok],
                               rtol=1e-5, atol=1e-6)
    flt = s.variant("probe", "f32", int8=False)
    assert flt.candidates(q[:5], 10)[1].shape[1] == 300  # float32 scores every candidate


def test_int8_copies_are_close():
    v, _ = clustered(500)
    c = Int8Vectors.quantize(v)
    assert c.values.dtype == np.int8 and np.abs(c.values).max() == 127
    approx = c.scores(v[:3], np.arange(500)[None].repeat(3, 0))
    assert np.abs(approx - v[:3] @ v.T).max() < 0.02
    assert c.scores(v[:1], np.array([[0, -1]]))[0, 1] == -np.inf


def test_save_load_round_trip_and_filters(model, tmp_path):
    m, v, q = model
    extras = m.save(tmp_path / "coshc", v)
    assert extras["training"]["lists"]["count"] == 40
    loaded = CoSHC.load(tmp_path / "coshc", DIM)
    assert loaded.lists is not None and np.array_equal(loaded.lists, m.lists)
    a = m.searcher(v)
    b = loaded.searcher(v, np.load(tmp_path / "coshc" / "codes.npy"),
                        np.load(tmp_path / "coshc" / "categories.npy"),
                        lists=Lists(loaded.lists, np.load(tmp_path / "coshc" / "list_ids.npy"),
                                    np.load(tmp_path / "coshc" / "list_reach.npy")),
                        int8=Int8Vectors(np.load(tmp_path / "coshc" / "int8.npy", mmap_mode="r"),
                                         np.load(tmp_path / "coshc" / "int8_scales.npy")))
    assert np.array_equal(a.candidates(q, 10)[1], b.candidates(q, 10)[1])
    # a filter searches every allowed code (no list is skipped)
    allowed = np.arange(0, len(v), 3)
    ids = b.candidates(q[:4], 10, allowed=allowed)[1]
    assert np.isin(ids[ids >= 0], allowed).all()
    # a model saved again without lists leaves no stale list files
    cfg = json.loads((tmp_path / "coshc" / "config.json").read_text())
    plain = CoSHC(HashConfig.from_dict({**cfg, "routing": "none", "rerank": "float32"}),
                  loaded.centroids, loaded.heads, loaded.classifier)
    plain.save(tmp_path / "coshc", v)
    assert not (tmp_path / "coshc" / "list_ids.npy").exists()
    assert not (tmp_path / "coshc" / "int8.npy").exists()


def test_config_checks_and_old_configs_load():
    with pytest.raises(InputError, match="rerank"):
        HashConfig(rerank="fp8")
    old = {k: v for k, v in HashConfig.recommended().to_dict().items()
           if k not in ("lists", "lists_per_sqrt", "probe", "spill", "rerank", "rescore")}
    cfg = HashConfig.from_dict(old)  # saved before probe routing existed
    assert cfg.routing == "none" and cfg.rerank == "float32"
    assert HashConfig().lists_for(1_000_000) == 2000 and HashConfig(lists=7).lists_for(5) == 5


def test_index_built_with_probe_and_int8_searches_from_its_files(tmp_path):
    from test_hashing_end_to_end import WordEncoder, make_records

    from seekcode.hashing.coshc import build_hook
    from seekcode.index.store import Index

    enc = WordEncoder()
    cfg = HashConfig.recommended(epochs=2, bits=64, k=4, recall=60, recall_per_million=0,
                                 max_recall=0, routing="probe", probe=4, rerank="int8")
    index, _ = Index.build(make_records(), tmp_path / "idx", enc, hooks=[build_hook(enc, cfg)],
                           progress=False)  # the built index holds its (test-only) encoder
    s = index.searcher("coshc")
    assert s.routing == "probe" and s.int8 is not None and s.lists is not None
    assert isinstance(s.int8.values, np.memmap)  # int8 copies memory-mapped, not read
    # the flat codes, categories and list ids only build the inverted lists: mapped too,
    # and not counted as hot (each filing's code and id, then the int8 copy and its scale)
    assert all(isinstance(a, np.memmap) for a in (s.codes, s.categories, s.lists.of))
    hot = s.lists.filings / len(s.codes) * (64 // 8 + 8) + s.int8.values.shape[1] + 4
    assert s.bytes_per_record() == pytest.approx(hot)
    hits = index.search("compress gzip data", k=5, searcher="coshc")
    assert hits and "compress_gzip_data" in hits[0].func_name
    exact = index.search("compress gzip data", k=5, searcher="exact")
    assert hits[0].url == exact[0].url


def test_partial_spill_files_only_the_records_nearest_a_boundary(model):
    m, v, q = model
    full = Lists.build(v, m.lists, spill=2)
    half = Lists.build(v, m.lists, spill=2, share=0.5)
    assert full.filings == 2 * len(v) and half.filings == len(v) + len(v) // 2
    assert (half.of[:, 0] == full.of[:, 0]).all()  # every record keeps its nearest list
    spilled = half.of[:, 1] >= 0
    # the spilled ones sit nearer the boundary than every record that was not spilled
    d = ((v[:, None, :] - m.lists[full.of]) ** 2).sum(axis=2)
    gap = d[:, 1] - d[:, 0]
    assert gap[spilled].max() <= gap[~spilled].min() + 1e-5
    s_full, s_half = m.searcher(v, lists=full), m.searcher(v, lists=half)
    assert s_half.bytes_per_record() == pytest.approx(s_full.bytes_per_record() - 0.5 * (8 + 8))
    top1 = np.argmax(q @ v.T, axis=1)
    cand = s_half.recalled(q)
    for i in range(0, len(q), 41):  # candidates come from the lists they are filed in
        got = cand[i][cand[i] >= 0]
        assert len(np.unique(got)) == len(got)
        assert np.isin(np.where(half.of[got] >= 0, half.of[got], -2),
                       s_half.lists.nearest(q[i : i + 1], s_half.probe)[0]).any(axis=1).all()
    assert s_half.recall_of(q, top1).mean() >= s_full.recall_of(q, top1).mean() - 0.05


def test_the_nearest_lists_are_the_best_by_centroid_score_plus_reach(model):
    m, v, q = model
    lists = m.searcher(v).lists
    score = q @ lists.centroids.T + REACH_WEIGHT * lists.reach
    want = np.argsort(-score, axis=1, kind="stable")[:, :8]
    got = lists.nearest(q, 8)
    assert got.dtype == np.int64 and got.shape == (len(q), 8)
    assert (got == want).mean() > 0.999  # float ties may order differently
    assert (lists.nearest(q[:1], 8) == got[:1]).all()  # one query (one thread) = a batch
    assert lists.nearest(q[:3], 1000).shape == (3, 40)  # p past the lists: all of them
