"""CoSHC against exact search and the peers a user would pick instead, one thread.

    python benchmarks/bench_coshc.py --index INDEX [--pools 10000,100000,1000000]
    python benchmarks/bench_coshc.py --arrays PREFIX   # PREFIX_code.npy, PREFIX_query.npy, PREFIX.jsonl

Trains CoSHC on the train partition's (docstring summary, code) pairs, twice: the
paper's recipe and seekcode's. Evaluates on the test partition's docstring summaries
(each query's relevant record is its own function) against pools of 10K, 100K and 1M
records; pools beyond the real corpus are filled with noise-perturbed copies of real
vectors (the report says how many and how noisy). Compares, on the same vectors:
exact float search, CoSHC (paper, seekcode, the paper's ablations), sign-binarised
embeddings + cosine rescoring at the same candidate budget (sentence-transformers' and
Qdrant's binary quantization, 384 bits, and sign of a rotation at the learned codes'
bit counts), FAISS IndexHNSWFlat with efSearch tuned to CoSHC's R@1 and, with --ivfpq,
FAISS IndexIVFPQFastScan over the probe recipe's lists with the same re-rank. Writes
benchmarks/out/coshc.{json,md} and benchmarks/results/coshc.{json,md,png}.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, RESULTS, machine, single_thread, write_report  # noqa: E402

single_thread()  # before numpy/faiss/torch are imported

import numpy as np  # noqa: E402

from seekcode.eval.metrics import summarize_ranks  # noqa: E402

RECALL_SWEEP = (100, 200, 500, 1000, 2000, 5000)
ACCURACY_THREADS = 2  # untimed accuracy passes may use both cores
EF_SWEEP = (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- data -------------------------------------------------------------------------------
@dataclass
class Data:
    vectors: np.ndarray  # (n, dim) code vectors of the real corpus
    train: np.ndarray  # row ids of training pairs
    train_queries: np.ndarray  # their docstring-summary vectors
    test: np.ndarray  # row ids of held-out pairs (the evaluation queries' relevant records)
    test_queries: np.ndarray
    source: str
    query_ms: float | None = None  # median time to encode one query, one thread


def load_arrays(prefix: str, max_test: int, seed: int) -> Data:
    from seekcode.corpus.jsonl import read_records

    code = np.load(f"{prefix}_code.npy")
    query = np.load(f"{prefix}_query.npy")
    parts = np.array([r.partition for r in read_records(f"{prefix}.jsonl")])
    train = np.flatnonzero(parts == "train")
    test = np.flatnonzero(parts != "train")
    test = np.sort(np.random.default_rng(seed).permutation(test)[:max_test])
    return Data(code, train, query[train], test, query[test], f"arrays {prefix}")


def pick(ids: np.ndarray, records: list[Any], limit: int) -> np.ndarray:
    """At most `limit` ids, chosen by a hash of the url: the same on every run and machine."""
    import hashlib

    if not limit or len(ids) <= limit:
        return ids
    keys = [hashlib.sha1(records[i].url.encode()).hexdigest() for i in ids]
    return np.sort(ids[np.argsort(keys)[:limit]])


def encode_cached(encoder: Any, texts: list[str], cache: Path) -> np.ndarray:
    """Query vectors keyed by text in an npz (texts, vectors), encoding only what is missing."""
    known: dict[str, np.ndarray] = {}
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        known = dict(zip(z["texts"].tolist(), z["vectors"], strict=True))
    missing = sorted({t for t in texts if t not in known})
    if missing:
        log(f"encoding {len(missing)} docstring summaries (cache {cache})")
        known.update(zip(missing, encoder.encode_queries(missing), strict=True))
        cache.parent.mkdir(parents=True, exist_ok=True)
        keys = list(known)
        np.savez(cache, texts=np.array(keys), vectors=np.stack([known[k] for k in keys]))
    return np.stack([known[t] for t in texts]).astype(np.float32)


def load_index(path: str, max_test: int, max_train: int) -> Data:
    """Vectors of a seekcode index; query vectors encoded once and cached in benchmarks/out."""
    from seekcode.hashing.train import training_ids
    from seekcode.index.store import Index

    index = Index.open(path)
    records = list(index.iter_records())
    if not any(r.partition == "train" for r in records):
        raise SystemExit(f"{path}: no train partition; the benchmark needs a held-out split")
    train = pick(training_ids(records), records, max_train)
    test = np.array([i for i, r in enumerate(records) if r.partition == "test" and r.query_text],
                    dtype=np.int64)
    test = pick(test, records, max_test)
    cache = OUT / "cache" / f"queries-{index.manifest['encoder']['id'].replace(':', '_')}.npz"
    vecs = encode_cached(index.encoder, [records[i].query_text for i in np.concatenate([train, test])],
                         cache)
    return Data(np.asarray(index.vectors), train, vecs[: len(train)], test, vecs[len(train):],
                f"index {path} ({index.manifest['encoder']['id']})",
                query_encoding_ms(index.encoder, [records[i].query_text for i in test[:100]]))


def query_encoding_ms(encoder: Any, texts: list[str]) -> float:
    """Median ms to encode one query (as a search does), after one warm-up call."""
    encoder.encode_queries(texts[:1], progress=False)
    times = []
    for t in texts:
        t0 = time.perf_counter()
        encoder.encode_queries([t], progress=False)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def noise_sigma(vectors: np.ndarray, rng: np.random.Generator) -> float:
    """Noise norm giving copies as close to their source as real nearest neighbours are.

    The median nearest-neighbour cosine c of a sample; a copy v + s g/|g| renormalised
    has cosine 1/sqrt(1 + s^2) to v, so s = sqrt(1/c^2 - 1).
    """
    sample = vectors[rng.choice(len(vectors), min(2000, len(vectors)), replace=False)]
    sims = sample @ vectors.T
    sims[sims > 0.9999] = -1  # the record itself (and exact duplicates)
    c = float(np.median(sims.max(axis=1)))
    return float(np.sqrt(1 / c**2 - 1))


def make_pool(data: Data, size: int, sigma: float, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(pool vectors, relevant row of each test query in the pool, number of synthetic rows)."""
    rng = np.random.default_rng(seed)
    n = len(data.vectors)
    if size <= n:
        others = np.setdiff1d(np.arange(n), data.test)
        keep = np.sort(np.concatenate([data.test, rng.choice(others, size - len(data.test), replace=False)]))
        return data.vectors[keep], np.searchsorted(keep, data.test), 0
    extra = size - n
    pool = np.empty((size, data.vectors.shape[1]), dtype=np.float32)
    pool[:n] = data.vectors
    for s in range(0, extra, 100_000):
        m = min(100_000, extra - s)
        src = data.vectors[rng.integers(0, n, m)]
        g = rng.standard_normal(src.shape).astype(np.float32)
        g *= sigma / np.linalg.norm(g, axis=1, keepdims=True)
        v = src + g
        pool[n + s : n + s + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return pool, data.test.copy(), extra


# ---- methods ----------------------------------------------------------------------------
@dataclass
class Trained:
    name: str
    model: Any  # seekcode.hashing.coshc.CoSHC

    @property
    def config(self) -> Any:
        return self.model.config


def train_variant(name: str, config: Any, data: Data) -> Trained:
    """CoSHC fitted exactly as `seekcode index --hash` fits it (coshc.fit)."""
    from seekcode.hashing.coshc import fit, sample_pairs

    log(f"training {name}: {config}")
    pick = sample_pairs(np.arange(len(data.train)), config)
    model = fit(data.vectors, data.train[pick], data.train_queries[pick], config, progress=True)
    log(f"trained {name} in {model.stats['seconds']} s, classifier {model.stats['classifier']}")
    return Trained(name, model)


def coshc_searcher(t: Trained, pool: np.ndarray) -> Any:
    """The searcher an index of `pool` would open: with probe routing, the fine lists are
    those its build would fit on these vectors (their number grows with the pool)."""
    import dataclasses

    from seekcode.hashing.coshc import fine_centroids

    model = t.model
    if model.lists is not None:
        t0 = time.perf_counter()
        model = dataclasses.replace(model, lists=fine_centroids(pool, model.config))
        searcher = model.searcher(pool, name=t.name)
        searcher.build_seconds = time.perf_counter() - t0  # lists, filing, int8 copies
        return searcher
    return model.searcher(pool, name=t.name)


def sign_searcher(pool: np.ndarray, proj: np.ndarray | None, recall: int, name: str) -> Any:
    """Binary quantization + rescoring: sign(P v) codes, Hamming top-N, cosine re-rank.

    Expressed as a one-layer, one-category CoSHC so recall and re-rank are the same code.
    """
    from seekcode.hashing.classifier import CategoryClassifier
    from seekcode.hashing.config import HashConfig
    from seekcode.hashing.model import HashHeads

    dim = pool.shape[1]
    p = np.eye(dim, dtype=np.float32) if proj is None else proj.astype(np.float32)
    w = {f"{h}.mlp.0.{k}": v for h in ("code", "desc")
         for k, v in (("weight", p), ("bias", np.zeros(len(p), np.float32)))}
    heads = HashHeads(w, dim)
    one = CategoryClassifier({"0.weight": np.zeros((1, dim), np.float32), "0.bias": np.zeros(1, np.float32),
                              "2.weight": np.zeros((1, 1), np.float32), "2.bias": np.zeros(1, np.float32)})
    from seekcode.hashing.searcher import CoSHCSearcher

    return CoSHCSearcher(pool, heads.codes(pool, "code"), np.zeros(len(pool), np.int32), heads, one,
                         HashConfig(k=1, bits=len(p), routing="none"), routing="none",
                         recall=recall, name=name)


class HNSWSearcher:
    """FAISS IndexHNSWFlat (inner product): its candidates are the k it returns."""

    def __init__(self, pool: np.ndarray, m: int, ef_construction: int, threads: int):
        import faiss

        self.name = "hnsw"
        self.index = faiss.IndexHNSWFlat(pool.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = ef_construction
        faiss.omp_set_num_threads(threads)  # building only; searches are timed on one thread
        t0 = time.perf_counter()
        self.index.add(np.ascontiguousarray(pool))
        self.build_seconds = time.perf_counter() - t0
        faiss.omp_set_num_threads(ACCURACY_THREADS)
        self.ef = 64

    def set_ef(self, ef: int) -> None:
        self.ef = ef

    def variant(self, ef: int) -> HNSWSearcher:
        """The same graph searched with another efSearch (passed per search, so variants
        timed in turn do not change each other's)."""
        other = copy.copy(self)
        other.ef, other.name = ef, f"hnsw_ef{ef}"
        return other

    def candidates(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
                   oracle: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef, k)
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k,
                                        params=params)
        return np.where(ids >= 0, scores, -np.inf), ids

    def bytes_per_record(self) -> float:
        import faiss

        return len(faiss.serialize_index(self.index)) / self.index.ntotal


class IVFPQSearcher:
    """FAISS IndexIVFPQFastScan (4-bit PQ of the residuals, dim/2 sub-quantizers) over the
    probe recipe's fine lists, then the recipe's own re-rank (int8 prune to `rescore`,
    float32 re-score): the IVF-PQ + refine index a FAISS user would pick at 1M. Every
    record is filed once, in its nearest list, as FAISS files them."""

    kind = "ivfpq"

    def __init__(self, pool: np.ndarray, probe_searcher: Any, threads: int):
        import faiss

        d = pool.shape[1]
        self.m = d // 2
        self.pool, self.int8 = pool, probe_searcher.int8
        self.rescore, self.lists = probe_searcher.config.rescore, probe_searcher.lists
        self.probe, self.recall, self.name = 64, 200, self.kind
        faiss.omp_set_num_threads(threads)  # building only
        t0 = time.perf_counter()
        sample = np.random.default_rng(0).choice(len(pool), min(len(pool), 200_000), replace=False)
        self.index = self._build(np.ascontiguousarray(pool[np.sort(sample)]), probe_searcher)
        self.build_seconds = time.perf_counter() - t0
        faiss.omp_set_num_threads(ACCURACY_THREADS)

    def _build(self, sample: np.ndarray, probe_searcher: Any) -> Any:
        import faiss

        d = self.pool.shape[1]
        quantizer = faiss.IndexFlatIP(d)
        quantizer.add(np.ascontiguousarray(self.lists.centroids, dtype=np.float32))
        index = faiss.IndexIVFPQFastScan(quantizer, d, len(self.lists.centroids), self.m, 4,
                                         faiss.METRIC_INNER_PRODUCT)
        index.train(sample)
        index.add(np.ascontiguousarray(self.pool))
        return index

    def variant(self, probe: int, recall: int) -> IVFPQSearcher:
        other = copy.copy(self)
        other.probe, other.recall, other.name = probe, recall, f"{self.kind}_p{probe}_N{recall}"
        return other

    def candidates(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
                   oracle: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        from seekcode.hashing.searcher import rerank

        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        return rerank(self.pool, self.int8, queries, self._recalled(queries), max(k, self.rescore))

    def _recalled(self, queries: np.ndarray) -> np.ndarray:
        import faiss

        params = faiss.SearchParametersIVF()
        params.nprobe = self.probe
        return self.index.search(queries, self.recall, params=params)[1]

    def bytes_per_record(self) -> float:
        """A PQ code and an 8-byte id per filing, and the int8 copy with its scale."""
        filings = self.index.ntotal / len(self.pool)
        return filings * (self.m / 2 + 8) + self.int8.values.shape[1] + 4


class SpillPQSearcher(IVFPQSearcher):
    """The probe recipe's lists, filings (each record in its 2 nearest lists) and routing,
    with learned 4-bit PQ codes of the vectors (dim/2 sub-quantizers, not residuals, so a
    record's code is the same in both its lists) in the fast scan instead of the hash
    codes; the same re-rank. What CoSHC's hash codes would have to rank like."""

    kind = "spillpq"

    def _build(self, sample: np.ndarray, probe_searcher: Any) -> Any:
        import faiss

        from seekcode.hashing.searcher import add_packed

        d = self.pool.shape[1]
        index = faiss.IndexIVFPQFastScan(faiss.IndexFlatIP(d), d, len(self.lists.centroids),
                                         self.m, 4, faiss.METRIC_INNER_PRODUCT)
        index.by_residual = False
        index.pq.train(sample)
        index.is_trained = True
        codes = np.vstack([index.pq.compute_codes(np.ascontiguousarray(self.pool[s : s + 100_000]))
                           for s in range(0, len(self.pool), 100_000)])
        invlists = faiss.downcast_InvertedLists(index.invlists)
        packer = index.get_CodePacker()
        for j, rows in probe_searcher._filed():
            add_packed(packer, invlists, j, rows, codes[rows])
        index.ntotal = self.lists.filings
        return index

    def _recalled(self, queries: np.ndarray) -> np.ndarray:
        from seekcode.hashing.searcher import _once_each, fast_scan_top

        ids = fast_scan_top(self.index, queries, self.lists.nearest(queries, self.probe), self.recall)
        return _once_each(ids)  # a record filed in two probed lists comes twice


class FlatIPSearcher:
    """FAISS IndexFlatIP top-k: the exact search a user would pick (BLAS for batches,
    FAISS's own scan with a k-heap for single queries)."""

    def __init__(self, pool: np.ndarray):
        import faiss

        self.name = "exact"
        self.index = faiss.IndexFlatIP(pool.shape[1])
        self.index.add(np.ascontiguousarray(pool, dtype=np.float32))

    def candidates(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
                   oracle: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return np.where(ids >= 0, scores, -np.inf), ids


def blas_info() -> list[dict[str, Any]]:
    """Which BLAS/OpenMP libraries numpy and FAISS loaded (threadpoolctl), and their threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed"}]
    keep = ("internal_api", "prefix", "version", "num_threads", "threading_layer", "architecture",
            "filepath")
    return [{k: lib.get(k) for k in keep if k in lib} for lib in threadpool_info()]


# ---- measuring --------------------------------------------------------------------------
def timing(searcher: Any, queries: np.ndarray, n: int) -> dict[str, float]:
    """`seekcode eval`'s timer: median ms of similarity, sorting and their sum over n
    single queries, one thread."""
    from seekcode.eval.runner import time_searcher

    return time_searcher(searcher, queries, n, k=10, warmup=5)


# what a method must keep of exact R@1 / R@10 to be re-timed side by side (issue 13's bar)
FINALIST_KEPT = (0.99, 0.98)


def side_by_side(searchers: dict[str, Any], queries: np.ndarray, n: int, rounds: int) -> dict[str, Any]:
    """Median ms per query of each searcher, one thread, timed two ways in one run:

    - warm ("ms_total"): each method answers its n queries in a row, as a search server
      answers one query after another; the order of the methods rotates from round to
      round, so a slow spell of the machine falls on every method alike;
    - cold ("ms_total_cold"): query by query in turn, the order of the methods rotating from
      one query to the next, so every query starts after other methods (a 512 MB exact
      scan among them) have evicted its data from the caches.
    """
    from seekcode.eval.runner import one_thread, time_query

    names = list(searchers)
    warm: dict[str, list[float]] = {name: [] for name in names}
    cold: dict[str, list[float]] = {name: [] for name in names}
    with one_thread():
        for r in range(rounds):
            for j in range(len(names)):
                name = names[(r + j) % len(names)]
                for q in queries[:5]:  # warm-up: lazily built indexes, this method's data
                    time_query(searchers[name], q)
                warm[name] += [sum(time_query(searchers[name], q)) * 1000 for q in queries[:n]]
            for i, q in enumerate(queries[:n]):
                for j in range(len(names)):
                    name = names[(i + r + j) % len(names)]
                    cold[name].append(sum(time_query(searchers[name], q)) * 1000)
    return {"queries": min(n, len(queries)), "rounds": rounds, "kept": FINALIST_KEPT,
            "ms_total": {name: float(np.median(t)) for name, t in warm.items()},
            "ms_total_cold": {name: float(np.median(t)) for name, t in cold.items()}}


def finalists(res: dict[str, Any], also: list[str]) -> list[str]:
    """exact, HNSW, the trained recipes, the methods named in `also` and every method
    keeping FINALIST_KEPT of exact R@1 / R@10."""
    keep = ["exact", "hnsw", "coshc_probe", "coshc_seekcode", "sign256_itq", *also]
    r1, r10 = FINALIST_KEPT
    good = [name for name, m in res["methods"].items()
            if m.get("retention", {}).get("r@1", 0) >= r1 and m.get("retention", {}).get("r@10", 0) >= r10
            and "ideal" not in name]
    return [name for name in dict.fromkeys(keep + good) if name in res["methods"]]


def ranks_of(searcher: Any, queries: np.ndarray, relevant: list[np.ndarray]) -> np.ndarray:
    """`seekcode eval`'s ranks: one tie rule for every method (HNSW: among its top 10)."""
    from seekcode.eval.runner import rank

    return rank(searcher, queries, relevant, k=10)


def exact_pass(exact: FlatIPSearcher, queries: np.ndarray, relevant: list[np.ndarray],
               block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Exact search's ranks (as ranks_of) and top-1 rows from one pass over the queries in
    large blocks, which FAISS answers with BLAS (at 1M records and 10,000 queries, blocks
    of 64 and a second pass for the top-1 took 9.5 min)."""
    from seekcode.eval.metrics import candidate_ranks
    from seekcode.index.search import sort_candidates

    ranks, top1 = [], []
    for s in range(0, len(queries), block):
        scores, ids = exact.candidates(queries[s : s + block], 10)
        ranks.append(candidate_ranks(scores, ids, relevant[s : s + block]))
        top1.append(sort_candidates(scores, ids, 1)[1][:, 0])
    return np.concatenate(ranks), np.concatenate(top1)


def recall_curve(searcher: Any, queries: np.ndarray, targets: np.ndarray,
                 sweep: tuple[int, ...]) -> dict[str, float]:
    """Share of queries whose target row is among the first N Hamming candidates."""
    big = searcher.variant("none", searcher.name, recall=max(sweep))
    out = {}
    found = np.full(len(queries), np.inf)
    for s in range(0, len(queries), 512):
        cand = big.recalled(queries[s : s + 512])
        hit = cand == targets[s : s + 512, None]
        pos = np.where(hit.any(axis=1), hit.argmax(axis=1), np.inf)
        found[s : s + 512] = pos
    for n in sweep:
        out[str(n)] = float(np.mean(found < n))
    return out


@dataclass
class PoolRun:
    """One pool's evaluation: queries, relevant rows, exact's metrics, the results table."""

    queries: np.ndarray
    relevant: list[np.ndarray]
    top1: np.ndarray  # exact search's top-1 row per query
    exact: dict[str, float]
    res: dict[str, Any]
    timed: int
    searchers: dict[str, Any] = field(default_factory=dict)  # for the side-by-side timing

    def add(self, name: str, searcher: Any, hot_bytes: float) -> dict[str, Any]:
        """Accuracy, retention, timing and hashing-stage recall of one method."""
        m = summarize_ranks(ranks_of(searcher, self.queries, self.relevant))
        row = {**m, **timing(searcher, self.queries, self.timed),
               "retention": {k: (m[k] / self.exact[k] if self.exact[k] else float("nan")) for k in m},
               "recall": getattr(searcher, "recall", None), "bytes_per_record": hot_bytes}
        if hasattr(searcher, "recall_of") and searcher.routing != "ideal":
            row["exact_top1_recalled"] = float(searcher.recall_of(self.queries, self.top1).mean())
            # the share of the index's codes (filings, when records are filed twice) that a
            # query's recall reads, median over the queries
            lists = searcher.lists if searcher.routing == "probe" else None
            total = lists.filings if lists is not None else len(searcher.codes)
            row["scanned_share"] = float(np.median(searcher.scanned(self.queries))) / total
        self.res["methods"][name] = row
        self.searchers[name] = searcher
        log(f"  {name}: r@1 {m['r@1']:.4f} ({row['retention']['r@1']:.4f}) r@10 {m['r@10']:.4f} "
            f"({row['retention']['r@10']:.4f}) {row['ms_total']:.3f} ms")
        return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--index", help="a seekcode index with train/test partitions")
    src.add_argument("--arrays", help="PREFIX of PREFIX_code.npy, PREFIX_query.npy, PREFIX.jsonl")
    ap.add_argument("--pools", default="all,1000000,10000,100000",
                    help="pool sizes in order of importance; 'all' is the real corpus")
    ap.add_argument("--test", type=int, default=3000, help="evaluation queries")
    ap.add_argument("--max-train", type=int, default=0, help="at most this many training pairs")
    ap.add_argument("--timed", type=int, default=300, help="queries timed per method")
    ap.add_argument("--epochs-paper", type=int, default=0, help="override the paper's epochs")
    ap.add_argument("--epochs", type=int, default=0, help="override seekcode's epochs")
    ap.add_argument("--hnsw-pools", default="", help="pool sizes with an HNSW peer (default: every pool)")
    ap.add_argument("--hnsw-m", type=int, default=32)
    ap.add_argument("--hnsw-efc", type=int, default=64)
    ap.add_argument("--hnsw-efs", default="", metavar="EFS",
                    help="HNSW at these efSearch too (e.g. 384,512), timed side by side")
    ap.add_argument("--build-threads", type=int, default=2, help="threads for HNSW construction")
    ap.add_argument("--variants", default="paper,seekcode,probe",
                    help="CoSHC recipes to train: paper, seekcode (exhaustive Hamming), probe "
                    "(fine lists, int8 re-rank)")
    ap.add_argument("--probes", default="4,8,16,32,64,128", help="probe sweep (probe recipe)")
    ap.add_argument("--probe-recalls", default="500,1000,2000", help="N sweep (probe recipe)")
    ap.add_argument("--probe-bits", default="",
                    help="other code lengths to train the probe recipe at too, e.g. 128 "
                         "(each is the variant coshc_probe_bBITS)")
    ap.add_argument("--scans", default="hamming,asymmetric",
                    help="scans of the probed lists swept (probe recipe)")
    ap.add_argument("--spill-shares", default="",
                    help="other shares of spilled records to sweep (probe recipe), e.g. 0.5,0")
    ap.add_argument("--no-peers", action="store_true", help="skip the sign-binary peers")
    ap.add_argument("--ivfpq", default="", metavar="PROBES:RECALLS",
                    help="FAISS IVF-PQ fast-scan peers over the probe recipe's lists, e.g. "
                    "64,128:200,500 (nprobe x N; needs the probe recipe)")
    ap.add_argument("--spillpq", default="", metavar="PROBES:RECALLS",
                    help="the probe recipe's lists and routing with 4-bit PQ codes in the scan "
                    "(e.g. 64,96:200; needs the probe recipe)")
    ap.add_argument("--side-by-side", type=int, default=3, metavar="ROUNDS",
                    help="re-time exact, HNSW, the recipes and every method keeping >= "
                    f"{FINALIST_KEPT[0]:.0%}% / >= {FINALIST_KEPT[1]:.0%}% of exact R@1 / R@10 query "
                    "by query in turn, ROUNDS times (0: skip)")
    ap.add_argument("--side-by-side-also", default="", metavar="NAMES",
                    help="more methods (comma-separated names) to re-time side by side")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="coshc")
    ap.add_argument("--render-only", action="store_true",
                    help="rewrite the report from benchmarks/out/NAME.partial.json")
    args = ap.parse_args()
    if args.render_only:
        report = json.loads((OUT / f"{args.name}.partial.json").read_text())
        write_report(args.name, report, render(report, args))
        plot(report, RESULTS / f"{args.name}.png")
        return

    import faiss
    import torch

    from seekcode.hashing.config import PROBE_FROM, HashConfig
    from seekcode.hashing.model import rotation_init
    from seekcode.hashing.searcher import Lists
    from seekcode.index.search import ExactSearcher

    torch.set_num_threads(2)  # training is not timed
    faiss.omp_set_num_threads(ACCURACY_THREADS)
    data = (load_arrays(args.arrays, args.test, args.seed) if args.arrays
            else load_index(args.index, args.test, args.max_train))
    log(f"{data.source}: {len(data.vectors)} records, {len(data.train)} train pairs, {len(data.test)} test queries")

    paper = HashConfig.paper()
    ours = HashConfig.recommended()
    if args.epochs_paper:
        paper = HashConfig.paper(epochs=args.epochs_paper)
    if args.epochs:
        ours = HashConfig.recommended(epochs=args.epochs)
    # the recipe `seekcode index --hash` trains for an index past PROBE_FROM records
    probe = HashConfig.recommended(records=PROBE_FROM, epochs=ours.epochs)
    recipes = {"paper": ("coshc_paper", paper), "seekcode": ("coshc_seekcode", ours),
               "probe": ("coshc_probe", probe)}
    names = args.variants.split(",")
    for b in (int(x) for x in args.probe_bits.split(",") if x):
        recipes[f"probe_b{b}"] = (f"coshc_probe_b{b}", replace(probe, bits=b))
        names.append(f"probe_b{b}")
    variants = [train_variant(*recipes[v], data) for v in names]
    rng = np.random.default_rng(args.seed)
    sigma = noise_sigma(data.vectors, rng)
    log(f"noise sigma {sigma:.3f} (copy-source cosine {1 / np.sqrt(1 + sigma**2):.3f})")
    bit_counts = sorted({t.config.bits for t in variants})
    # ITQ beat a random rotation at every N in a 5K-record trial, so it is the peer kept.
    rotations = {f"sign{b}_itq": rotation_init(data.vectors, b, args.seed, 50) for b in bit_counts}

    report: dict[str, Any] = {"machine": machine(), "source": data.source, "records_real": len(data.vectors),
                              "query_encoding_ms": data.query_ms,
                              "train_pairs": len(data.train), "test_queries": len(data.test),
                              "noise_sigma": sigma, "training": {t.name: t.model.stats for t in variants},
                              "configs": {t.name: t.config.to_dict() for t in variants}, "pools": {},
                              "command": " ".join(sys.argv[1:]), "load_average_start": os.getloadavg(),
                              "timed": args.timed, "blas": blas_info()}
    sizes = [len(data.vectors) if s == "all" else int(s) for s in args.pools.split(",")]
    for size in sizes:
        pool, rel, synthetic = make_pool(data, size, sigma, args.seed + size)
        relevant_of = [np.array([r]) for r in rel]
        q = data.test_queries
        log(f"pool {size}: {synthetic} synthetic rows")
        res: dict[str, Any] = {"synthetic_rows": synthetic, "methods": {}}
        exact = FlatIPSearcher(pool)
        ex_ranks, top1 = exact_pass(exact, q, relevant_of)
        ex = summarize_ranks(ex_ranks)
        res["methods"]["exact"] = {**ex, **timing(exact, q, args.timed), "bytes_per_record": pool.shape[1] * 4}
        log(f"  exact (FAISS IndexFlatIP) {res['methods']['exact']}")

        ctx = PoolRun(q, relevant_of, top1, ex, res, args.timed)
        ctx.searchers["exact"] = exact
        add = ctx.add
        floats = pool.shape[1] * 4  # a float32 vector
        add("exact_numpy", ExactSearcher(pool), floats)  # seekcode's own scan

        curves: dict[str, Any] = {}
        for t in variants:
            s = coshc_searcher(t, pool)
            if t.config.routing == "probe":
                add(t.name, s, s.bytes_per_record())["build_seconds"] = s.build_seconds
                f32 = s.variant("probe", f"{t.name}_float32", int8=False)
                add(f32.name, f32, f32.bytes_per_record())
                shares = [float(x) for x in args.spill_shares.split(",") if x]
                for share in [t.config.spill_share, *shares]:
                    tag = "" if share == t.config.spill_share else f"_spill{share:g}"
                    if tag:  # the same centroids and int8 copies, other filings
                        lists = Lists.build(pool, s.lists.centroids, t.config.spill, share)
                        s = t.model.searcher(pool, name=t.name, lists=lists, int8=s.int8)
                    for scan in args.scans.split(","):
                        stag = "" if scan == t.config.scan else f"_{scan}"
                        for p in (int(x) for x in args.probes.split(",")):
                            for n in (int(x) for x in args.probe_recalls.split(",")):
                                if (p, n, tag, stag) != (s.probe, s.recall, "", ""):
                                    name = f"{t.name}{tag}{stag}_p{p}_N{n}"
                                    add(name, s.variant("probe", name, recall=n, probe=p, scan=scan),
                                        s.bytes_per_record())
                continue
            # code + category id (one byte at k <= 256) + the float32 vectors its re-rank of N
            # rows at random reads
            b = t.config.bits / 8 + 1 + floats
            add(t.name, s, b)
            add(f"{t.name}_no_classification", s.variant("none", f"{t.name}_no_classification"), b)
            add(f"{t.name}_one_classification", s.variant("one", f"{t.name}_one_classification"), b)
            add(f"{t.name}_ideal_classification", s.variant("ideal", f"{t.name}_ideal_classification"), b)
            curves[t.name] = {"relevant": recall_curve(s, q, rel, RECALL_SWEEP),
                              "exact_top1": recall_curve(s, q, top1, RECALL_SWEEP)}
            for n in ((1000,) if "paper" in t.name else (200, 500, 1000, 2000, 5000)):
                if n != s.recall:
                    add(f"{t.name}_N{n}", s.variant(s.routing, f"{t.name}_N{n}", recall=n), b)
        probe_searcher = ctx.searchers.get("coshc_probe")
        for peer, spec in ((IVFPQSearcher, args.ivfpq), (SpillPQSearcher, args.spillpq)):
            if spec and probe_searcher is not None:
                log(f"  building the {peer.kind} peer on the probe recipe's lists")
                pq = peer(pool, probe_searcher, args.build_threads)
                probes, recalls = spec.split(":")
                for p in (int(x) for x in probes.split(",")):
                    for n in (int(x) for x in recalls.split(",")):
                        v = pq.variant(p, n)
                        add(v.name, v, v.bytes_per_record())["build_seconds"] = pq.build_seconds
        budget = HashConfig.recommended().recall_for(size)
        for rname, proj in ({} if args.no_peers else rotations).items():
            s = sign_searcher(pool, proj, budget, rname)
            add(s.name, s, len(proj) / 8 + floats)
            curves[s.name] = {"relevant": recall_curve(s, q, rel, RECALL_SWEEP),
                              "exact_top1": recall_curve(s, q, top1, RECALL_SWEEP)}
        if not args.no_peers:
            s = sign_searcher(pool, None, budget, "sign384")
            add(s.name, s, pool.shape[1] / 8 + floats)
            curves[s.name] = {"relevant": recall_curve(s, q, rel, RECALL_SWEEP),
                              "exact_top1": recall_curve(s, q, top1, RECALL_SWEEP)}
            for n in (100, 200, 500, 1000):
                if n != budget:
                    add(f"sign384_N{n}", s.variant("none", f"sign384_N{n}", recall=n), pool.shape[1] / 8 + floats)
        res["recall_curves"] = curves

        also: list[str] = []  # HNSW at other efSearch, timed side by side too
        hnsw_sizes = {len(data.vectors) if s == "all" else int(s) for s in args.hnsw_pools.split(",") if s}
        if not hnsw_sizes or size in hnsw_sizes:
            log(f"  building HNSW (M={args.hnsw_m}, efConstruction={args.hnsw_efc})")
            h = HNSWSearcher(pool, args.hnsw_m, args.hnsw_efc, args.build_threads)
            # the last recipe's R@1, capped at exact search's: a recipe that happens to beat
            # exact R@1 would otherwise push HNSW to the end of its sweep
            target = min(res["methods"][variants[-1].name]["r@1"], ex["r@1"])
            sweep = {}
            chosen = EF_SWEEP[-1]
            for ef in EF_SWEEP:
                h.set_ef(ef)
                r1 = summarize_ranks(ranks_of(h, q, relevant_of))["r@1"]
                sweep[ef] = r1
                if r1 >= target:
                    chosen = ef
                    break
            h.set_ef(chosen)
            row = add("hnsw", h, h.bytes_per_record())  # the graph and the vectors it walks
            row.update({"ef_search": chosen, "ef_sweep_r@1": sweep, "build_seconds": h.build_seconds,
                        "m": args.hnsw_m, "ef_construction": args.hnsw_efc})
            for ef in (int(x) for x in args.hnsw_efs.split(",") if x):
                if ef != chosen:
                    v = h.variant(ef)
                    add(v.name, v, row["bytes_per_record"])["ef_search"] = ef
                    also.append(v.name)
            del h
        if args.side_by_side:
            names = finalists(res, [t.name for t in variants] + also
                              + [n for n in args.side_by_side_also.split(",") if n])
            log(f"  side by side, {args.side_by_side} rounds: {', '.join(names)}")
            res["side_by_side"] = side_by_side({n: ctx.searchers[n] for n in names}, q, args.timed,
                                               args.side_by_side)
            log(f"  {res['side_by_side']['ms_total']}")
        ctx.searchers.clear()
        report["pools"][str(size)] = res
        report["load_average_end"] = os.getloadavg()
        (OUT / f"{args.name}.partial.json").parent.mkdir(parents=True, exist_ok=True)
        (OUT / f"{args.name}.partial.json").write_text(json.dumps(report, indent=2, default=float))

    md = render(report, args)
    write_report(args.name, json.loads(json.dumps(report, default=float)), md)
    plot(report, RESULTS / f"{args.name}.png")
    log(f"wrote {OUT / (args.name + '.md')}")


# ---- reporting --------------------------------------------------------------------------
SHOW = ["exact", "exact_numpy", "coshc_probe", "coshc_probe_float32", "coshc_paper", "coshc_paper_no_classification", "coshc_paper_one_classification",
        "coshc_paper_ideal_classification", "coshc_paper_N1000", "coshc_seekcode",
        "coshc_seekcode_no_classification", "coshc_seekcode_one_classification",
        "coshc_seekcode_ideal_classification", "sign128_rotated", "sign128_itq", "sign256_rotated",
        "sign256_itq", "sign384",
        "sign384_N100", "hnsw"]


def render(report: dict[str, Any], args: argparse.Namespace) -> str:
    lines = ["# CoSHC benchmark", "",
             f"Data: {report['source']}: {report['records_real']} real records, "
             f"{report['train_pairs']} training pairs (train partition), {report['test_queries']} "
             "held-out queries (docstring summary -> its own function).",
             (f"Pools larger than the real corpus are filled with noise-perturbed copies of real "
              f"vectors (noise norm {report['noise_sigma']:.3f}: a copy has cosine "
              f"{1 / np.sqrt(1 + report['noise_sigma'] ** 2):.3f} to its source, the median "
              "nearest-neighbour cosine of the real vectors)."
              if any(r["synthetic_rows"] for r in report["pools"].values())
              else "Every pool is real records only (smaller pools: a seeded sample of the "
                   "corpus that keeps every held-out query's function)."),
             f"One thread for every timing (median of {report.get('timed', args.timed)} queries, query encoding excluded"
             + (f": encoding one query takes {report['query_encoding_ms']:.2f} ms (median, one thread), the same for every method"
                if report.get("query_encoding_ms") is not None else "") + "); "
             f"{report['machine']['cpus']} cores shared with other jobs (load average "
             f"{report['load_average_start'][0]:.1f} at the start, {report.get('load_average_end', [0])[0]:.1f} "
             f"at the end), {report['machine']['date']}.",
             "", "Command: `python benchmarks/bench_coshc.py " + report["command"] + "`", "",
             "Exact search is FAISS `IndexFlatIP` top-k (`exact`, the speedup baseline); "
             "`exact_numpy` is seekcode's own numpy scan. bytes/record: what a search keeps in "
             "memory per record (read for every query's candidates): float32 vectors for a "
             "float32 re-rank, HNSW's graph and vectors, the inverted lists (a code and "
             "an 8-byte id per filing) and the int8 copy for the probe recipe, whose float32 "
             "vectors stay memory-mapped on disk (only its `rescore` rows are read); `ivfpq_pP_NN`: "
             "FAISS IndexIVFPQFastScan (4-bit PQ of the residuals, dim/2 sub-quantizers) over the "
             "probe recipe's lists, each record filed once, nprobe P, its top N pruned and "
             "re-scored as the probe recipe's are (a PQ code and an 8-byte id, plus the int8 "
             "copy); `spillpq_pP_NN`: the probe recipe's lists, filings and routing with 4-bit PQ "
             "codes of the vectors (dim/2 sub-quantizers) in the fast scan instead of the hash "
             "codes, the same re-rank. BLAS and OpenMP as loaded "
             "(threadpoolctl): " + "; ".join(
                 f"{b.get('internal_api', '?')} {b.get('version', '')} ({b.get('prefix', '')}, "
                 f"{b.get('num_threads', '?')} threads)" for b in report.get("blas", [])) + ".", ""]
    for name, cfg in report["configs"].items():
        keys = ("bits", "k", "recall", "recall_per_million", "max_recall", "routing", "epochs", "lr",
                "distill", "init_rotation", "batch_size", "lists_per_sqrt", "probe", "rerank",
                "rescore", "spill", "spill_share", "scan")
        lines.append(f"- `{name}`: " + ", ".join(f"{k}={cfg.get(k)}" for k in keys if k in cfg)
                     + f"; trained in {report['training'][name]['seconds']} s, classifier val accuracy "
                     f"{report['training'][name]['classifier'].get('val_accuracy', float('nan')):.3f}")
    for size, res in report["pools"].items():
        lines += ["", f"## {int(size):,} records ({res['synthetic_rows']:,} synthetic)", "",
                  "| method | N | R@1 | R@10 | MRR | R@1 kept | R@10 kept | exact top-1 recalled "
                  "| codes read | ms sim | ms sort | ms total | speedup | bytes/record |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        ex_ms = res["methods"]["exact"]["ms_total"]
        names = [n for n in SHOW if n in res["methods"]] + sorted(
            n for n in res["methods"] if n not in SHOW)
        for n in names:
            m = res["methods"][n]
            ret = m.get("retention", {"r@1": 1.0, "r@10": 1.0})
            rec, read = m.get("exact_top1_recalled"), m.get("scanned_share")
            extra = f" (efSearch {m['ef_search']})" if n == "hnsw" else ""
            lines.append(
                f"| {n}{extra} | {m.get('recall') or ''} | {m['r@1']:.4f} | {m['r@10']:.4f} | {m['mrr']:.4f} | "
                f"{ret['r@1']:.2%} | {ret['r@10']:.2%} | {'' if rec is None else f'{rec:.2%}'} | "
                f"{'' if read is None else f'{read:.1%}'} | "
                f"{m['ms_similarity']:.3f} | {m['ms_sort']:.3f} | {m['ms_total']:.3f} | "
                f"{ex_ms / m['ms_total']:.1f}x | {m['bytes_per_record']:.0f} |")
        sbs = res.get("side_by_side")
        if sbs:
            lines += ["", *side_by_side_table(sbs, res["methods"])]
        curves = res.get("recall_curves", {})
        if curves:  # none when only the probe recipe was run
            lines += ["", "Recall of the hashing stage alone (share of queries whose relevant record / "
                      "exact top-1 is among the first N Hamming candidates, no categories):", "",
                      "| codes | " + " | ".join(f"N={n}" for n in RECALL_SWEEP) + " |",
                      "|---|" + "---|" * len(RECALL_SWEEP)]
        for name, c in curves.items():
            for what in ("relevant", "exact_top1"):
                lines.append(f"| {name} ({what}) | " + " | ".join(f"{c[what][str(n)]:.4f}" for n in RECALL_SWEEP) + " |")
    return "\n".join(lines) + "\n"


def side_by_side_table(sbs: dict[str, Any], methods: dict[str, Any]) -> list[str]:
    """The side-by-side timings, warm and cold, fastest warm first (a report written before
    the warm timing existed has only the query-by-query one, which was the cold one)."""
    cold = sbs.get("ms_total_cold", sbs["ms_total"])
    warm = sbs["ms_total"] if "ms_total_cold" in sbs else {}
    r1, r10 = sbs.get("kept", FINALIST_KEPT)
    lines = [f"Side by side: exact, HNSW, the trained recipes and every method keeping >= {r1:.0%} / "
             f">= {r10:.0%} of exact R@1 / R@10, re-timed in one run ({sbs['queries']} queries x "
             f"{sbs['rounds']} rounds, one thread; the ratios to quote). Warm: each method answers "
             "its queries in a row, as a search server does; cold: query by query in turn, each "
             "query after the other methods have evicted the caches.", "",
             "| method | N | ms warm | speedup warm | ms cold | speedup cold | R@1 kept | R@10 kept "
             "| bytes/record |", "|---|---|---|---|---|---|---|---|---|"]
    for n in sorted(cold, key=lambda n: warm.get(n, cold[n])):
        m = methods[n]
        ret = m.get("retention", {"r@1": 1.0, "r@10": 1.0})
        extra = f" (efSearch {m['ef_search']})" if n == "hnsw" else ""
        w = (f"{warm[n]:.3f} | {warm['exact'] / warm[n]:.1f}x" if n in warm else " | ")
        lines.append(f"| {n}{extra} | {m.get('recall') or ''} | {w} | {cold[n]:.3f} | "
                     f"{cold['exact'] / cold[n]:.1f}x | {ret['r@1']:.2%} | {ret['r@10']:.2%} | "
                     f"{m['bytes_per_record']:.0f} |")
    return lines


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(report["pools"])
    fig, axes = plt.subplots(1, len(sizes), figsize=(6 * len(sizes), 4.5), squeeze=False)
    for ax, size in zip(axes[0], sizes, strict=True):
        methods = report["pools"][size]["methods"]
        base = methods["exact"]["ms_total"]
        for name, m in methods.items():
            if name == "exact":
                ax.scatter(1.0, 1.0, marker="*", s=120, color="black")
                ax.annotate("exact (FAISS flat)", (1.0, 1.0))
                continue
            family = ("hnsw" if name.startswith("hnsw") else "sign" if name.startswith("sign")
                      else "ivfpq" if name.startswith(("ivfpq", "spillpq"))
                      else "paper" if "paper" in name else "probe" if "probe" in name
                      else "exact" if name.startswith("exact") else "seekcode")
            color = {"hnsw": "tab:green", "sign": "tab:orange", "paper": "tab:red",
                     "seekcode": "tab:blue", "probe": "tab:purple", "exact": "gray",
                     "ivfpq": "tab:brown"}[family]
            x = base / m["ms_total"]
            ax.scatter(x, m["retention"]["r@1"], color=color, s=18)
            if "_N" not in name and "classification" not in name:
                ax.annotate(name, (x, m["retention"]["r@1"]), fontsize=7)
        ax.set_xscale("log")
        ax.axhline(0.99, ls=":", color="gray")
        ax.axvline(50, ls=":", color="gray")
        ax.set_title(f"{int(size):,} records")
        ax.set_xlabel("speedup vs FAISS IndexFlatIP (median ms, one thread)")
        ax.set_ylabel("R@1 kept (vs exact)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
