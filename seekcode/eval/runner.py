"""The evaluation runner: every search method of an index over one query set."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from seekcode.eval.metrics import (
    batch_ranks,
    mrr_at_1000_batch,
    ndcg,
    reciprocal_ranks,
    summarize_ranks,
)
from seekcode.eval.queries import QuerySet, corpus_queries
from seekcode.index.search import TIE_EPS, Searcher

if TYPE_CHECKING:
    from seekcode.index.store import Index

NDCG_DEPTH = 100  # CodeSearchNet scored the top 100 results per query and language
TIMING_KEYS = ("ms_similarity", "ms_sort")


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
             progress: bool = True) -> dict[str, Any]:
    """Metrics per section (see `searchers_of`), plus each searcher's retention: its
    metrics relative to exact search's."""
    qs = queries if queries is not None else corpus_queries(index)
    if len(qs) == 0:
        raise ValueError("no queries to evaluate (the index has no records with docstrings)")
    qvecs = index.encoder.encode_queries(qs.texts, progress=progress)
    result: dict[str, Any] = {"n_queries": len(qs), "n_records": index.count,
                              "queries": qs.source, "encoder": index.manifest["encoder"]["id"]}
    sections = searchers_of(index, searchers)
    for name, searcher in sections.items():
        metrics = summarize_ranks(searcher.rank(qvecs, qs.relevant))
        if qs.paired:
            metrics["mrr@1000batch"] = batch_mrr(index, searcher, qvecs, qs.relevant)
        if qs.grades:
            metrics.update(graded_ndcg(index, searcher, qvecs, qs))
        metrics.update(time_searcher(searcher, qvecs, time_queries))
        result[name] = metrics
    chosen = [n for n in (searchers or index.searcher_names()) if n != "exact"]
    if chosen:
        result["retention"] = {n: retention(result[n], result["exact"]) for n in chosen}
    return result


def retention(method: dict[str, float], exact: dict[str, float]) -> dict[str, float]:
    """method / exact for each quality metric (timings excluded)."""
    return {k: (method[k] / exact[k] if exact[k] else float("nan"))
            for k in exact if k in method and k not in TIMING_KEYS}


def batch_mrr(index: Index, searcher: Searcher, qvecs: np.ndarray,
              relevant: list[np.ndarray], seed: int = 0, batch: int = 1000) -> float:
    """CodeSearchNet's mrr@1000batch for any searcher (exact takes the fast path)."""
    first = np.array([r[0] for r in relevant], dtype=np.int64)
    if searcher.name == "exact":
        return mrr_at_1000_batch(qvecs, index.vectors[first], seed=seed, batch=batch)
    order = np.random.default_rng(seed).permutation(len(qvecs))
    rr = []
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        allowed = np.unique(first[idx])
        _, ids = searcher.search(qvecs[idx], len(allowed), allowed)
        ranks = np.full(len(idx), np.inf)
        for j, row in enumerate(ids):
            hit = np.flatnonzero(row == first[idx[j]])
            if hit.size:
                returned = row[row >= 0]
                s = index.vectors[returned] @ qvecs[idx[j]]
                ranks[j] = float(np.count_nonzero(s >= s[hit[0]] - TIE_EPS))
        rr.append(reciprocal_ranks(ranks))
    return float(np.concatenate(rr).mean())


def graded_ndcg(index: Index, searcher: Searcher, qvecs: np.ndarray,
                qs: QuerySet) -> dict[str, float]:
    """Mean NDCG over queries with graded relevance, both CodeSearchNet variants."""
    within, all_ = [], []
    for j, grades in enumerate(qs.grades):
        lang = qs.languages[j] if qs.languages else ""
        allowed = index.filter_ids(lang=lang) if lang else None
        if allowed is not None and allowed.size == 0:
            continue
        _, ids = searcher.search(qvecs[j : j + 1], NDCG_DEPTH, allowed)
        urls = [m["url"] for m in index.records_at([int(i) for i in ids[0] if i >= 0])]
        a, w = ndcg(urls, grades, within=False), ndcg(urls, grades, within=True)
        if a is not None and w is not None:
            all_.append(a)
            within.append(w)
    if not all_:
        return {}
    return {"ndcg": float(np.mean(all_)), "ndcg_within": float(np.mean(within)),
            "n_graded_queries": float(len(all_))}


def time_searcher(searcher: Searcher, qvecs: np.ndarray, n: int, k: int = 10) -> dict[str, float]:
    """Median per-query similarity and sort time in ms, on one thread (the paper's Table 1)."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        times = [searcher.time_query(q, k) for q in qvecs[: max(n, 1)]]
    finally:
        faiss.omp_set_num_threads(before)
    sim, sort = np.median(np.array(times), axis=0)
    return {"ms_similarity": float(sim), "ms_sort": float(sort)}


__all__ = ["batch_ranks", "evaluate", "retention", "searchers_of"]
