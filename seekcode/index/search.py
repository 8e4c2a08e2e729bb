"""The searcher protocol, query checks, hits, and the exact inner-product searcher.

Other searchers are plug-ins named in `seekcode.index.searchers`."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from seekcode.errors import InputError

# The longest query any front end accepts; longer text is not a description of a function.
MAX_QUERY_CHARS = 1000
MAX_GLOB_CHARS = 256
# Queries per `candidates` call when there are many: exact search scores every record,
# so 64 queries over 1M records is a 256 MB score matrix.
QUERY_BLOCK = 64


class QueryError(InputError):
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


def check_glob(pattern: str) -> None:
    """QueryError("path", ...) unless `pattern` is a usable path glob (`src/**/*.py`, `*test*`).

    The CLI and the server both call it, so a glob one refuses the other refuses too.
    """
    if len(pattern) > MAX_GLOB_CHARS:
        raise QueryError("path", f"glob of {len(pattern):,} characters; at most {MAX_GLOB_CHARS}")
    if any(ord(c) < 32 or ord(c) == 127 for c in pattern):
        raise QueryError("path", "control characters in the glob")
    if pattern.startswith("/"):
        raise QueryError("path", "globs match paths relative to the indexed folder; "
                         "drop the leading '/'")
    depth = 0
    for c in pattern:
        depth += (c == "[") - (c == "]")
        if depth < 0 or depth > 1:
            raise QueryError("path", f"unbalanced [ ] in glob {pattern!r}")
    if depth:
        raise QueryError("path", f"unclosed [ in glob {pattern!r}")
    try:
        re.compile(fnmatch.translate(pattern))
    except re.error as e:
        raise QueryError("path", f"bad glob {pattern!r} ({e})") from None


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
    """Finds candidate records for query vectors and scores them; nothing more.

    `candidates` returns (scores, ids) for a batch of queries: every record the
    searcher scored for each query, in no particular order, scores -inf and ids -1
    as padding. `ids` is (n_queries, m), or (m,) when every query has the same
    candidates (exact search scores all records). `k` is how many best results the
    caller needs (a searcher that cannot enumerate its candidates returns at least
    its k best); `allowed` restricts the candidates to those row ids (a `--lang` or
    `--path` filter); `oracle`, each query's relevant row id, is only for ablations
    that route by the answer (CoSHC's "ideal classification"); others ignore it.

    Ordering the candidates (`search_top_k`) and ranking them (`seekcode.eval`) is the
    same code for every searcher, so every searcher sorts, ranks and is timed alike.
    """

    name: str

    def candidates(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
                   oracle: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...


def search_top_k(searcher: Searcher, queries: np.ndarray, k: int,
                 allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids), each (n_queries, k), best first; ids -1 where fewer than k qualify."""
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    if not len(queries):
        return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
    parts = [sort_candidates(*searcher.candidates(queries[s : s + QUERY_BLOCK], k, allowed), k)
             for s in range(0, len(queries), QUERY_BLOCK)]
    return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])


def sort_candidates(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best of each row of candidates, best first, padded with -inf / -1."""
    ids = np.broadcast_to(ids, scores.shape)
    out_s = np.full((len(scores), k), -np.inf, dtype=np.float32)
    out_i = np.full((len(scores), k), -1, dtype=np.int64)
    for j, (row_s, row_i) in enumerate(zip(scores, ids, strict=True)):
        best, at = top_k(row_s, k)
        keep = np.isfinite(best) & (row_i[at] >= 0)
        n = int(keep.sum())
        out_s[j, :n] = best[keep]
        out_i[j, :n] = row_i[at][keep]
    return out_s, out_i


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of a 1-d score array, best first (argpartition, then sort the k)."""
    k = min(k, scores.shape[0])
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    order = part[np.argsort(-scores[part], kind="stable")]
    return scores[order], order


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
    """Inner product of the queries with every float vector (or every allowed one)."""

    name = "exact"

    def __init__(self, vectors: np.ndarray):
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._all = np.arange(len(self.vectors), dtype=np.int64)

    def candidates(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
                   oracle: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if allowed is None:
            return queries @ self.vectors.T, self._all
        allowed = np.asarray(allowed, dtype=np.int64)
        return queries @ self.vectors[allowed].T, allowed
