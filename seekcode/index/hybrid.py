"""Ranking modes: semantic (vectors), keyword (BM25) and hybrid (the two fused).

Hybrid is a weighted sum of z-scores, `z(cosine) + weight * z(bm25)`, each signal
standardised by the mean and spread of its own top `pool` scores for the query (the
scores that compete for the first ranks, not the long tail of non-matches). A
query's fused score is defined for every record, so evaluation ranks it over the
whole index with the one tie rule, as it ranks exact search. The weight was chosen on
training queries (benchmarks/bench_hybrid.py; report in benchmarks/results/hybrid.md).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seekcode.errors import InputError
from seekcode.index.keyword import KeywordIndex, Weights
from seekcode.index.search import Artifacts, top_k

MODES = ("semantic", "keyword", "hybrid")
DEFAULT_MODE = "semantic"


@dataclass(frozen=True)
class Fusion:
    """How hybrid mixes the two scores. The weight is the one bench_hybrid.py chose on
    stdlib training queries (best identifier MRR losing at most 0.5% docstring MRR)."""

    weight: float = 2.0
    pool: int = 100


def zscore(scores: np.ndarray, pool: int) -> np.ndarray:
    """Scores standardised by the mean and std of their top `pool`; 0 when those are flat."""
    top = np.partition(scores, -min(pool, len(scores)))[-min(pool, len(scores)):] \
        if len(scores) else scores
    spread = float(top.std()) if len(top) else 0.0
    if spread <= 1e-9:
        return np.zeros_like(scores)
    return (scores - float(top.mean())) / spread


def fuse(semantic: np.ndarray, keyword: np.ndarray, fusion: Fusion) -> np.ndarray:
    return zscore(semantic, fusion.pool) + fusion.weight * zscore(keyword, fusion.pool)


class Ranker:
    """Scores of every record of one generation for a text query, in any mode.

    Built by `Index.ranker()`; `meta` is the generation's metadata store (the keyword
    index is derived from it) and `cache_dir` where the keyword index is kept.
    """

    def __init__(self, artifacts: Artifacts, meta: Path, cache_dir: Path | None,
                 fusion: Fusion | None = None, weights: Weights | None = None):
        self.artifacts = artifacts
        self.meta = meta
        self.cache_dir = cache_dir
        self.fusion = fusion or Fusion()
        self.weights = weights or Weights()
        self._keyword: KeywordIndex | None = None
        self._building = threading.Lock()  # a server's threads build it once

    @property
    def count(self) -> int:
        return self.artifacts.count

    @property
    def keyword(self) -> KeywordIndex:
        with self._building:
            if self._keyword is None:
                self._keyword = KeywordIndex.of(self.meta, self.artifacts.manifest,
                                                self.cache_dir, self.weights)
        return self._keyword

    def scores(self, mode: str, query: str, qvec: np.ndarray | None = None) -> np.ndarray:
        """(count,) scores of `query` in `mode`; `qvec`, its query vector, is needed by
        the semantic and hybrid modes."""
        check_mode(mode)
        if mode == "keyword":
            return self.keyword.scores(query)
        if qvec is None:
            raise ValueError(f"mode {mode} needs the query's vector")
        semantic = self.artifacts.vectors @ np.asarray(qvec, dtype=np.float32).reshape(-1)
        if mode == "semantic":
            return semantic
        return fuse(semantic, self.keyword.scores(query), self.fusion)

    def search(self, mode: str, query: str, k: int, allowed: np.ndarray | None = None,
               qvec: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, row ids) of the k best records, best first."""
        scores = self.scores(mode, query, qvec)
        ids = np.arange(len(scores)) if allowed is None else allowed
        if mode == "keyword":  # a record sharing no term with the query is no keyword hit
            ids = ids[scores[ids] > 0]
        best, local = top_k(scores[ids], k)
        return best, ids[local]


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InputError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    return mode
