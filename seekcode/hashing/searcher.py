"""CoSHC search: Hamming recall inside code categories, then cosine re-rank."""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np

from seekcode.hashing.budget import one_category_budget, recall_budget
from seekcode.hashing.classifier import CategoryClassifier
from seekcode.hashing.config import ROUTINGS, HashConfig
from seekcode.hashing.model import HashHeads
from seekcode.index.search import pad

# "ideal" routes by the category of the query's relevant record (the paper's upper
# bound); only `rank` knows it, `search` falls back to the predicted category.
SEARCH_ROUTINGS = (*ROUTINGS, "ideal")
_RERANK_CHUNK = 32  # queries per gather: 32 x N x dim floats stay well under 100 MB


def _check_routing(routing: str) -> str:
    if routing not in SEARCH_ROUTINGS:
        raise ValueError(f"routing {routing!r}: expected one of {', '.join(SEARCH_ROUTINGS)}")
    return routing


class CoSHCSearcher:
    """Recall N candidates by Hamming distance of learned codes, re-rank by cosine.

    `rows` restricts the searcher to those row ids (a `--lang`/`--path` filter);
    returned ids are always row ids of the full index.
    """

    def __init__(self, vectors: np.ndarray, codes: np.ndarray, categories: np.ndarray,
                 heads: HashHeads, classifier: CategoryClassifier, config: HashConfig,
                 routing: str | None = None, recall: int | None = None, name: str = "coshc",
                 rows: np.ndarray | None = None):
        self.name = name
        self.vectors = vectors
        self.codes = codes
        self.categories = categories
        self.heads = heads
        self.classifier = classifier
        self.config = config
        self.routing = _check_routing(routing or config.routing)
        self.rows = np.arange(len(codes), dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
        self.recall = recall if recall is not None else config.recall_for(len(self.rows))
        self.k = classifier.k
        self.bits = codes.shape[1] * 8
        # FAISS indexes, built on first use and shared by variant() copies
        self._shared: dict[str, Any] = {}

    def variant(self, routing: str, name: str, recall: int | None = None) -> CoSHCSearcher:
        """The same trained artifacts and FAISS indexes with another routing or budget."""
        other = copy.copy(self)
        other.routing, other.name = _check_routing(routing), name
        if recall is not None:
            other.recall = recall
        return other

    def ablations(self) -> dict[str, CoSHCSearcher]:
        """The paper's ablations (Table 2), sharing these artifacts and the budget N:

        - no_classification: one Hamming top-N over the whole index
        - one_classification: N - k + 1 from the predicted category, 1 from each other
        - ideal_classification: the same from the relevant record's own category
        """
        return {f"{self.name}_{kind}_classification": self.variant(routing, f"{self.name}_{kind}_classification")
                for kind, routing in (("no", "none"), ("one", "one"), ("ideal", "ideal"))}

    # ---- recall --------------------------------------------------------------------
    def _category_indexes(self) -> list[tuple[np.ndarray, Any]]:
        """(member row ids, IndexBinaryFlat of their codes) per category, built once."""
        if "categories" not in self._shared:
            import faiss

            cats = self.categories[self.rows]
            out = []
            for c in range(self.k):
                members = self.rows[cats == c]
                index = faiss.IndexBinaryFlat(self.bits)
                if len(members):
                    index.add(np.ascontiguousarray(self.codes[members]))
                out.append((members, index))
            self._shared["categories"] = out
        return self._shared["categories"]  # type: ignore[no-any-return]

    def _global_index(self) -> Any:
        if "global" not in self._shared:
            import faiss

            index = faiss.IndexBinaryFlat(self.bits)
            index.add(np.ascontiguousarray(self.codes[self.rows]))
            self._shared["global"] = index
        return self._shared["global"]

    def budgets(self, queries: np.ndarray, ideal: np.ndarray | None = None) -> np.ndarray:
        """(n_queries, k) candidates to take from each category."""
        probs = self.classifier.probs(queries)
        if self.routing == "distribution":
            return recall_budget(probs, self.recall, self.config.min_per_category)
        best = probs.argmax(axis=1)
        if self.routing == "ideal" and ideal is not None:
            best = np.where(ideal >= 0, ideal, best)
        return one_category_budget(best, self.k, self.recall)

    def candidates(self, queries: np.ndarray, ideal: np.ndarray | None = None) -> np.ndarray:
        """(n_queries, M) row ids recalled for each query, -1 padded; no duplicates."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        qcodes = self.heads.codes(queries, "desc")
        if self.routing == "none":
            index = self._global_index()
            kk = min(self.recall, index.ntotal)
            if kk == 0:
                return np.full((len(queries), 0), -1, np.int64)
            _, local = index.search(qcodes, kk)
            return np.where(local >= 0, self.rows[np.maximum(local, 0)], -1)
        budget = self.budgets(queries, ideal)
        cols = []
        for c, (members, index) in enumerate(self._category_indexes()):
            kk = int(min(budget[:, c].max(initial=0), index.ntotal))
            if kk == 0:
                continue
            _, local = index.search(qcodes, kk)
            ids = np.where(local >= 0, members[np.maximum(local, 0)], -1)
            ids[np.arange(kk)[None, :] >= budget[:, c : c + 1]] = -1
            cols.append(ids)
        if not cols:
            return np.full((len(queries), 0), -1, np.int64)
        return np.hstack(cols)

    def recall_of(self, queries: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Whether each query's target row id is among its candidates (diagnostics)."""
        out = np.zeros(len(queries), dtype=bool)
        for s in range(0, len(queries), 1024):
            cand = self.candidates(queries[s : s + 1024], self._ideal(targets[s : s + 1024]))
            out[s : s + 1024] = (cand == targets[s : s + 1024, None]).any(axis=1)
        return out

    def _ideal(self, targets: np.ndarray) -> np.ndarray | None:
        if self.routing != "ideal":
            return None
        return np.where(targets >= 0, self.categories[np.maximum(targets, 0)], -1)

    # ---- re-rank -------------------------------------------------------------------
    def _scores(self, queries: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """Cosine of each query with its candidates, -inf at padding."""
        out = np.full(cand.shape, -np.inf, dtype=np.float32)
        for s in range(0, len(cand), _RERANK_CHUNK):
            c = cand[s : s + _RERANK_CHUNK]
            v = self.vectors[np.maximum(c, 0)]
            sc = np.einsum("bmd,bd->bm", v, queries[s : s + _RERANK_CHUNK])
            out[s : s + _RERANK_CHUNK] = np.where(c >= 0, sc, -np.inf)
        return out

    # ---- the Searcher protocol ------------------------------------------------------
    def search(self, queries: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if allowed is not None:
            sub = CoSHCSearcher(self.vectors, self.codes, self.categories, self.heads,
                                self.classifier, self.config, self.routing, self.recall,
                                self.name, rows=np.intersect1d(self.rows, allowed))
            return sub.search(queries, k)
        out_s, out_i = [], []
        for s in range(0, len(queries), 1024):
            q = queries[s : s + 1024]
            cand = self.candidates(q)
            scores = self._scores(q, cand)
            for row_s, row_c in zip(scores, cand, strict=True):
                order = np.argsort(-row_s, kind="stable")[:k]
                keep = order[np.isfinite(row_s[order])]
                ps, pi = pad(row_s[keep], row_c[keep], k)
                out_s.append(ps)
                out_i.append(pi)
        if not out_s:
            return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
        return np.stack(out_s), np.stack(out_i)

    def rank(self, queries: np.ndarray, relevant: list[np.ndarray]) -> np.ndarray:
        """Rank of the best relevant record among the candidates (ties against), inf if
        no relevant record was recalled."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        ranks = np.full(len(queries), np.inf)
        first = np.array([int(r[0]) if len(r) else -1 for r in relevant], dtype=np.int64)
        for s in range(0, len(queries), 1024):
            q = queries[s : s + 1024]
            cand = self.candidates(q, self._ideal(first[s : s + 1024]))
            scores = self._scores(q, cand)
            for j, (row_s, row_c) in enumerate(zip(scores, cand, strict=True)):
                hit = np.isin(row_c, relevant[s + j])
                if hit.any():
                    best = row_s[hit].max()
                    ranks[s + j] = float(np.count_nonzero(row_s >= best))
        return ranks

    def time_query(self, query: np.ndarray, k: int) -> tuple[float, float]:
        """(similarity, sorting) ms for one query. Similarity: hashing the query, the
        classifier, the FAISS Hamming scan (which keeps its top-R_i as it scans) and the
        cosine of the candidates; sorting: ordering the candidates by cosine."""
        q = np.atleast_2d(np.asarray(query, dtype=np.float32))
        t0 = time.perf_counter()
        cand = self.candidates(q)[0]
        cand = cand[cand >= 0]
        scores = self.vectors[cand] @ q[0]
        t1 = time.perf_counter()
        kk = min(k, len(scores))
        if kk:
            part = np.argpartition(-scores, kk - 1)[:kk]
            cand[part[np.argsort(-scores[part], kind="stable")]]
        t2 = time.perf_counter()
        return (t1 - t0) * 1000, (t2 - t1) * 1000
