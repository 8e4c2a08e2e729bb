"""The searcher protocol, query checks, hits, and the exact inner-product searcher.

Other searchers are plug-ins named in `seekcode.index.searchers`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# The longest query any front end accepts; longer text is not a description of a function.
MAX_QUERY_CHARS = 1000


class QueryError(ValueError):
    """A query no index can answer. `field` ("q" or "k") names the bad input."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def check_query(query: str, k: int, max_k: int) -> str:
    """The query with its whitespace collapsed; QueryError if it is empty, longer than
    MAX_QUERY_CHARS, or `k` is not in 1..max_k. Each front end words its own error."""
    query = " ".join(query.split())
    if not query:
        raise QueryError("q", "empty query; describe what the function should do")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError("q", f"query of {len(query):,} characters; at most {MAX_QUERY_CHARS:,}")
    if not 1 <= k <= max_k:
        raise QueryError("k", f"{k} out of range; ask for 1 to {max_k} results")
    return query


@dataclass
class Hit:
    """One search result."""

    rank: int
    score: float
    url: str
    path: str
    start_line: int
    end_line: int
    func_name: str
    language: str
    repo: str
    code: str

    @property
    def location(self) -> str:
        return f"{self.path}:{self.start_line}" if self.start_line else self.path

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Searcher(Protocol):
    """Ranks the index's records for query vectors.

    `search` returns (scores, ids), each (n_queries, k), ids -1 where fewer than k
    records qualify. `rank` returns each query's rank of its best relevant record,
    ties counted against the model, `inf` where the relevant record is not retrieved.
    `time_query` times one query's similarity and sorting steps in milliseconds.
    """

    name: str

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def rank(self, queries: np.ndarray, relevant: list[np.ndarray]) -> np.ndarray: ...

    def time_query(self, query: np.ndarray, k: int) -> tuple[float, float]: ...


# Scores within this of the relevant one count as ties: identical vectors can differ in
# the last float32 bit depending on where BLAS puts them in a block.
TIE_EPS = 1e-6


def rank_with_ties(scores: np.ndarray, relevant: np.ndarray) -> float:
    """1 + number of other records scoring >= the best relevant one (ties count against)."""
    if relevant.size == 0:
        return float("inf")
    rel_scores = scores[relevant]
    best = int(relevant[int(np.argmax(rel_scores))])
    return float(np.count_nonzero(scores >= scores[best] - TIE_EPS))


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of a 1-d score array, best first (argpartition, then sort the k)."""
    k = min(k, scores.shape[0])
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    order = part[np.argsort(-scores[part], kind="stable")]
    return scores[order], order


def pad(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    out_s = np.full(k, -np.inf, dtype=np.float32)
    out_i = np.full(k, -1, dtype=np.int64)
    out_s[: len(scores)] = scores
    out_i[: len(ids)] = ids
    return out_s, out_i


@dataclass(frozen=True)
class Artifacts:
    """What a searcher is built from: one generation's folder, manifest and vectors."""

    gen: Path
    manifest: Mapping[str, Any]
    load_vectors: Callable[[], np.ndarray]

    @property
    def vectors(self) -> np.ndarray:
        """(count, dim) float32, L2-normalised; row i is the record with id i."""
        return self.load_vectors()

    @property
    def count(self) -> int:
        return int(self.manifest["count"])

    def extras(self, name: str) -> dict[str, Any]:
        """The manifest's description of searcher `name`'s artifacts ({} if none)."""
        return dict(self.manifest.get("extras", {}).get(name) or {})


def open_searcher(artifacts: Artifacts) -> ExactSearcher:
    """The registry's factory for `exact`: it needs nothing but the vectors."""
    return ExactSearcher(artifacts.vectors)


class ExactSearcher:
    """Brute-force inner product over every float vector (FAISS IndexFlatIP)."""

    name = "exact"

    def __init__(self, vectors: np.ndarray, block: int = 256):
        import faiss

        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.index = faiss.IndexFlatIP(self.vectors.shape[1])
        if len(self.vectors):
            self.index.add(self.vectors)
        self.block = block

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if allowed is None:
            kk = min(k, self.index.ntotal)
            s, i = self.index.search(queries, kk) if kk else (
                np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
            rows = [pad(s[j], i[j], k) for j in range(len(queries))]
        else:
            sub = self.vectors[allowed]
            rows = []
            for q in queries:
                s, local = top_k(sub @ q, k)
                rows.append(pad(s, allowed[local], k))
        return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])

    def rank(self, queries: np.ndarray, relevant: list[np.ndarray]) -> np.ndarray:
        ranks = np.empty(len(queries), dtype=np.float64)
        for start in range(0, len(queries), self.block):
            scores = queries[start : start + self.block] @ self.vectors.T
            for j, row in enumerate(scores):
                ranks[start + j] = rank_with_ties(row, relevant[start + j])
        return ranks

    def time_query(self, query: np.ndarray, k: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        scores = self.vectors @ query
        t1 = time.perf_counter()
        top_k(scores, k)
        t2 = time.perf_counter()
        return (t1 - t0) * 1000, (t2 - t1) * 1000
