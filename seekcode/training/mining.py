"""Hard negatives mined with the previous checkpoint: nearest non-matching codes per query."""

from __future__ import annotations

import numpy as np


def mine_negatives(query_vecs: np.ndarray, code_vecs: np.ndarray, groups: np.ndarray,
                   top_k: int, rng: np.random.Generator) -> np.ndarray:
    """For each query i, a code j among its `top_k` nearest with groups[j] != groups[i].

    Query i's match is code i; `groups` gives duplicates one id so that a copy of
    the match is never taken as a negative. With top_k=1 this is the hardest
    negative; larger k picks at random among the k hardest, which is less likely
    to pick an unlabelled match. Returns -1 where no candidate qualifies.
    """
    import faiss
    import torch

    # faiss's OpenMP pool spins on a busy machine; use the threads torch was given.
    faiss.omp_set_num_threads(torch.get_num_threads())
    n = len(query_vecs)
    index = faiss.IndexFlatIP(code_vecs.shape[1])
    index.add(np.ascontiguousarray(code_vecs, dtype=np.float32))
    # Room for the match and its duplicates among the nearest.
    depth = min(len(code_vecs), top_k + 8)
    _, nearest = index.search(np.ascontiguousarray(query_vecs, dtype=np.float32), depth)
    out = np.full(n, -1, dtype=np.int64)
    picks = rng.integers(0, top_k, size=n)
    for i in range(n):
        cands = [int(j) for j in nearest[i] if j >= 0 and groups[j] != groups[i]][:top_k]
        if cands:
            out[i] = cands[min(int(picks[i]), len(cands) - 1)]
    return out
