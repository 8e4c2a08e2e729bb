"""The evaluation runner: every search method of an index over one query set.

Searchers only produce scored candidates; this module ranks them (one tie rule,
`eval.metrics.ties_at_or_above`) and times them (one timer, one thread) alike.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from seekcode.errors import InputError
from seekcode.eval.metrics import candidate_ranks, ndcg, reciprocal_ranks, summarize_ranks
from seekcode.eval.queries import QuerySet, corpus_queries
from seekcode.index.search import QUERY_BLOCK, Searcher, search_top_k, sort_candidates

if TYPE_CHECKING:
    from seekcode.index.store import Index

NDCG_DEPTH = 100  # CodeSearchNet scored the top 100 results per query and language
TIMING_KEYS = ("ms_similarity", "ms_sort", "ms_total")


def searchers_of(index: Index, names: Sequence[str] | None = None) -> dict[str, Searcher]:
    """Section name -> searcher: `exact`, then each of the index's searchers (or those
    named) followed by the ablations it offers (a method `ablations()`, e.g. CoSHC's)."""
    found: dict[str, Searcher] = {"exact": index.searcher("exact")}
    for name in names or index.searcher_names():
        searcher = found[name] = index.searcher(name)
        ablations = getattr(searcher, "ablations", None)
        if ablations is not None:
            found.update(ablations())
    return found


def evaluate(index: Index, queries: QuerySet | None = None,
             searchers: Sequence[str] | None = None, time_queries: int = 200,
             progress: bool = True, modes: Sequence[str] = ()) -> dict[str, Any]:
    """Metrics per section (see `searchers_of`), plus each searcher's retention: its
    metrics relative to exact search's, plus a section per ranking mode in `modes`
    ("keyword", "hybrid": seekcode.eval.modes)."""
    qs = queries if queries is not None else corpus_queries(index)
    if len(qs) == 0:
        raise InputError("no queries to evaluate (the index has no records with docstrings)")
    qvecs = index.encoder.encode_queries(qs.texts, progress=progress)
    result: dict[str, Any] = {"n_queries": len(qs), "n_records": index.count,
                              "queries": qs.source, "encoder": index.manifest["encoder"]["id"]}
    for name, searcher in searchers_of(index, searchers).items():
        metrics = summarize_ranks(rank(searcher, qvecs, qs.relevant))
        if qs.paired:
            metrics["mrr@1000batch"] = batch_mrr(searcher, qvecs, qs.relevant)
        if qs.grades:
            metrics.update(graded_ndcg(index, searcher, qvecs, qs))
        metrics.update(time_searcher(searcher, qvecs, time_queries))
        result[name] = metrics
    if modes:
        from seekcode.eval.modes import mode_metrics

        result.update(mode_metrics(index, qs, qvecs, modes))
    chosen = [n for n in (searchers or index.searcher_names()) if n != "exact"]
    if chosen:
        result["retention"] = {n: retention(result[n], result["exact"]) for n in chosen}
    return result


def rank(searcher: Searcher, qvecs: np.ndarray, relevant: Sequence[np.ndarray],
         k: int = 10, allowed: np.ndarray | None = None) -> np.ndarray:
    """Each query's rank of its best relevant record among the searcher's candidates
    (ties against, inf when not a candidate). `k` is the depth asked of searchers that
    cannot enumerate their candidates; the others rank everything they scored."""
    oracle = np.array([int(r[0]) if len(r) else -1 for r in relevant], dtype=np.int64)
    out = []
    for s in range(0, len(qvecs), QUERY_BLOCK):
        scores, ids = searcher.candidates(qvecs[s : s + QUERY_BLOCK], k, allowed,
                                          oracle[s : s + QUERY_BLOCK])
        out.append(candidate_ranks(scores, ids, relevant[s : s + QUERY_BLOCK]))
    return np.concatenate(out) if out else np.zeros(0)


def retention(method: dict[str, float], exact: dict[str, float]) -> dict[str, float]:
    """method / exact for each quality metric (timings excluded)."""
    return {k: (method[k] / exact[k] if exact[k] else float("nan"))
            for k in exact if k in method and k not in TIMING_KEYS}


def batch_mrr(searcher: Searcher, qvecs: np.ndarray, relevant: Sequence[np.ndarray],
              seed: int = 0, batch: int = 1000) -> float:
    """CodeSearchNet's mrr@1000batch for any searcher: pairs shuffled with `seed`, cut
    into batches, each query ranked among its batch's records (`mrr_at_1000_batch`
    for vectors alone)."""
    first = [r[:1] for r in relevant]
    order = np.random.default_rng(seed).permutation(len(qvecs))
    rr = []
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        allowed = np.unique(np.concatenate([first[i] for i in idx]))
        ranks = rank(searcher, qvecs[idx], [first[i] for i in idx], len(allowed), allowed)
        rr.append(reciprocal_ranks(ranks))
    return float(np.concatenate(rr).mean()) if rr else 0.0


def graded_ndcg(index: Index, searcher: Searcher, qvecs: np.ndarray,
                qs: QuerySet) -> dict[str, float]:
    """Mean NDCG over queries with graded relevance, both CodeSearchNet variants."""
    within, all_ = [], []
    for j, grades in enumerate(qs.grades):
        lang = qs.languages[j] if qs.languages else ""
        allowed = index.filter_ids(lang=lang) if lang else None
        if allowed is not None and allowed.size == 0:
            continue
        _, ids = search_top_k(searcher, qvecs[j : j + 1], NDCG_DEPTH, allowed)
        urls = [m["url"] for m in index.records_at([int(i) for i in ids[0] if i >= 0])]
        a, w = ndcg(urls, grades, within=False), ndcg(urls, grades, within=True)
        if a is not None and w is not None:
            all_.append(a)
            within.append(w)
    if not all_:
        return {}
    return {"ndcg": float(np.mean(all_)), "ndcg_within": float(np.mean(within)),
            "n_graded_queries": float(len(all_))}


def time_searcher(searcher: Searcher, qvecs: np.ndarray, n: int, k: int = 10,
                  warmup: int = 3) -> dict[str, float]:
    """Median per-query ms on one thread, split as the paper's Table 1: similarity (the
    searcher producing its scored candidates) and sort (ordering them, the same code
    for every searcher); query encoding excluded."""
    times = []
    with one_thread():
        for j, q in enumerate(qvecs[: max(n, 1) + warmup]):
            sim, sort = time_query(searcher, q, k)
            if j >= warmup or len(qvecs) <= warmup:  # lazily built indexes, cold caches
                times.append((sim, sort, sim + sort))
    sim, sort, total = np.median(np.array(times) * 1000, axis=0)
    return {"ms_similarity": float(sim), "ms_sort": float(sort), "ms_total": float(total)}


def time_query(searcher: Searcher, q: np.ndarray, k: int = 10) -> tuple[float, float]:
    """Seconds one query vector takes: the searcher's scored candidates, then sorting them."""
    t0 = time.perf_counter()
    scores, ids = searcher.candidates(q[None, :], k)
    t1 = time.perf_counter()
    sort_candidates(scores, ids, k)
    return t1 - t0, time.perf_counter() - t1


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """FAISS's OpenMP and numpy's BLAS on one thread, as the paper timed them."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:  # present wherever scikit-learn is; without it BLAS keeps its own setting
        from threadpoolctl import threadpool_limits
    except ImportError:
        blas: Any = contextlib.nullcontext()
    else:
        blas = threadpool_limits(1)
    try:
        with blas:
            yield
    finally:
        faiss.omp_set_num_threads(before)


__all__ = ["evaluate", "rank", "retention", "searchers_of", "time_query", "time_searcher"]
