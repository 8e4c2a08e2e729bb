"""Code categories: k-means of the code vectors (FAISS)."""

from __future__ import annotations

import numpy as np

from seekcode.errors import InputError


def kmeans(vectors: np.ndarray, k: int, seed: int = 0, niter: int = 25,
           max_points_per_centroid: int = 2048) -> np.ndarray:
    """(k, dim) float32 centroids of the code vectors; fewer records than k is an error.

    FAISS trains on a sample of at most `max_points_per_centroid` * k vectors."""
    import faiss

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(x) < k:
        raise InputError(f"{len(x)} records cannot form {k} categories; lower k (--categories)")
    km = faiss.Kmeans(x.shape[1], k, niter=niter, seed=seed, verbose=False,
                      max_points_per_centroid=max_points_per_centroid)
    km.train(x)
    return np.asarray(km.centroids, dtype=np.float32)


def assign(vectors: np.ndarray, centroids: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Nearest centroid (L2, as k-means) of each vector, int32."""
    c = np.asarray(centroids, dtype=np.float32)
    c_sq = (c * c).sum(axis=1)
    out = np.empty(len(vectors), dtype=np.int32)
    for s in range(0, len(vectors), chunk):
        x = np.asarray(vectors[s : s + chunk], dtype=np.float32)
        out[s : s + chunk] = np.argmin(c_sq[None, :] - 2 * x @ c.T, axis=1)
    return out


def nearest(vectors: np.ndarray, centroids: np.ndarray, s: int,
            chunk: int = 32768) -> tuple[np.ndarray, np.ndarray]:
    """Each vector's s nearest centroids (L2), nearest first: (int32 ids, squared distances)."""
    c = np.asarray(centroids, dtype=np.float32)
    s = max(1, min(s, len(c)))
    c_sq = (c * c).sum(axis=1)
    ids = np.empty((len(vectors), s), dtype=np.int32)
    dist = np.empty((len(vectors), s), dtype=np.float32)
    for start in range(0, len(vectors), chunk):
        x = np.asarray(vectors[start : start + chunk], dtype=np.float32)
        d = c_sq[None, :] - 2 * x @ c.T
        part = np.argpartition(d, s - 1, axis=1)[:, :s] if s < len(c) else \
            np.broadcast_to(np.arange(len(c)), d.shape)
        dp = np.take_along_axis(d, part, axis=1)
        order = np.argsort(dp, axis=1, kind="stable")
        ids[start : start + chunk] = np.take_along_axis(part, order, axis=1)
        x_sq = (x * x).sum(axis=1, keepdims=True)
        dist[start : start + chunk] = np.maximum(np.take_along_axis(dp, order, axis=1) + x_sq, 0)
    return ids, dist
