"""Ranking metrics as DESIGN.md defines them. Ties always count against the model.

Every rank in seekcode is `ties_at_or_above`: the number of scores >= the relevant
one's (itself included) within TIE_EPS, for every searcher, pool and batch alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# Scores within this of the relevant one count as ties: identical vectors can differ in
# the last float32 bit depending on where BLAS puts them in a block.
TIE_EPS = 1e-6


def ties_at_or_above(scores: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Rank for each row of `scores` whose relevant score is `best` (one per row):
    1 + the number of other scores >= it, ties counted against the model."""
    return np.count_nonzero(scores >= np.asarray(best)[..., None] - TIE_EPS, axis=-1)


def candidate_ranks(scores: np.ndarray, ids: np.ndarray,
                    relevant: Sequence[np.ndarray]) -> np.ndarray:
    """Each query's rank of its best relevant record among a searcher's candidates
    (scores/ids as `Searcher.candidates` returns them); inf when no relevant record
    is a candidate. A record the searcher did not recall cannot outrank anything."""
    ids = np.broadcast_to(ids, scores.shape)
    ranks = np.full(len(scores), np.inf)
    for j, (row_s, row_i) in enumerate(zip(scores, ids, strict=True)):
        hit = np.isin(row_i, relevant[j]) & (row_i >= 0)
        if hit.any():
            ranks[j] = float(ties_at_or_above(row_s, row_s[hit].max()))
    return ranks


def reciprocal_ranks(ranks: np.ndarray) -> np.ndarray:
    """1/rank, and 0 where the relevant record was not retrieved (rank = inf)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return np.where(np.isfinite(ranks), 1.0 / np.maximum(ranks, 1.0), 0.0)


def mrr(ranks: np.ndarray) -> float:
    """Mean reciprocal rank."""
    return float(reciprocal_ranks(ranks).mean()) if len(ranks) else 0.0


def recall_at(ranks: np.ndarray, k: int) -> float:
    """SuccessRate@k: share of queries whose relevant record is in the top k."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return float((ranks <= k).mean()) if len(ranks) else 0.0


def batch_ranks(query_vecs: np.ndarray, code_vecs: np.ndarray) -> np.ndarray:
    """Rank of code i for query i among the codes of the batch (ties against)."""
    scores = query_vecs @ code_vecs.T
    return ties_at_or_above(scores, np.diag(scores)).astype(np.float64)


def pool_ranks(query_vecs: np.ndarray, code_vecs: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Rank of code i for query i among all the codes (ties against), in chunks of queries."""
    out = []
    for start in range(0, len(query_vecs), chunk):
        scores = query_vecs[start : start + chunk] @ code_vecs.T
        out.append(ties_at_or_above(scores, scores[np.arange(len(scores)),
                                                   np.arange(start, start + len(scores))]))
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def mrr_at_1000_batch(query_vecs: np.ndarray, code_vecs: np.ndarray, seed: int = 0,
                      batch: int = 1000) -> float:
    """CodeSearchNet's MRR: pairs shuffled with `seed`, cut into batches of `batch`,
    each query ranked against the codes of its own batch (the last, smaller batch too)."""
    n = len(query_vecs)
    if n == 0:
        return 0.0
    order = np.random.default_rng(seed).permutation(n)
    rr = []
    for start in range(0, n, batch):
        idx = order[start : start + batch]
        rr.append(reciprocal_ranks(batch_ranks(query_vecs[idx], code_vecs[idx])))
    return float(np.concatenate(rr).mean())


def ndcg(ranked_urls: Sequence[str], grades: Mapping[str, float], within: bool = False) -> float | None:
    """NDCG of one ranked result list against graded relevance (0-3), as CodeSearchNet scored it.

    Gain is 2**grade - 1 with a log2(rank + 1) discount. With `within`, only annotated
    results take up ranks ("NDCG within"); otherwise every result does ("NDCG all").
    The ideal ranking orders all annotated grades. None when no result could gain.
    """
    ideal = sorted(grades.values(), reverse=True)
    idcg = sum((2**g - 1) / np.log2(i + 1) for i, g in enumerate(ideal, 1))
    if idcg <= 0:
        return None
    dcg, rank = 0.0, 1
    for url in ranked_urls:
        if url in grades:
            dcg += (2 ** grades[url] - 1) / np.log2(rank + 1)
            rank += 1
        elif not within:
            rank += 1
    return float(dcg / idcg)


def summarize_ranks(ranks: np.ndarray) -> dict[str, float]:
    """The rank-based metrics of one search method."""
    return {
        "mrr": mrr(ranks),
        "r@1": recall_at(ranks, 1),
        "r@5": recall_at(ranks, 5),
        "r@10": recall_at(ranks, 10),
    }
