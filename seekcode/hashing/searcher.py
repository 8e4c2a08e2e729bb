"""CoSHC search: Hamming recall inside code categories, then cosine re-rank."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seekcode.errors import InputError
from seekcode.hashing.budget import one_category_budget, recall_budget
from seekcode.hashing.classifier import CategoryClassifier
from seekcode.hashing.codes import pack_signs
from seekcode.hashing.config import ROUTINGS, SCANS, HashConfig, one_of
from seekcode.hashing.model import HashHeads

# "ideal" routes by the category of the query's relevant record (the paper's upper
# bound): only an evaluation knows it (`oracle`); a search falls back to the
# predicted category.
SEARCH_ROUTINGS = (*ROUTINGS, "ideal")
_RERANK_CHUNK = 32  # queries per gather: 32 x N x dim floats stay well under 100 MB
_COUNT_SCAN_BYTES = 64 << 20  # the probe scan's per-call buffer of candidate ids


def _check_routing(routing: str) -> str:
    return one_of("routing", routing, SEARCH_ROUTINGS)


class CoSHCSearcher:
    """Recall N candidates by Hamming distance of learned codes, re-rank by cosine.

    A `--lang`/`--path` filter (`allowed`) is applied inside the shared FAISS indexes
    (an ID selector per category), so filtered searches build nothing.
    """

    def __init__(self, vectors: np.ndarray, codes: np.ndarray, categories: np.ndarray,
                 heads: HashHeads, classifier: CategoryClassifier, config: HashConfig,
                 routing: str | None = None, recall: int | None = None, name: str = "coshc",
                 lists: Lists | None = None, int8: Int8Vectors | None = None):
        self.name = name
        self.vectors = vectors
        self.codes = codes
        self.categories = categories
        self.heads = heads
        self.classifier = classifier
        self.config = config
        self.lists = lists
        self._int8 = int8  # the copies there are; `int8` the ones in use
        self.int8 = int8 if config.rerank == "int8" else None
        self.routing = _check_routing(routing or config.routing)
        if self.routing == "probe" and lists is None:
            raise InputError("probe routing needs the fine lists; retrain with `seekcode train hash`")
        self.recall = recall if recall is not None else config.recall_for(len(codes))
        self.probe = config.probe
        self.scan = config.scan
        self.k = classifier.k
        self.bits = codes.shape[1] * 8
        # FAISS indexes, built on first use and shared by variant() copies
        self._shared: dict[str, Any] = {}

    def variant(self, routing: str, name: str, recall: int | None = None,
                probe: int | None = None, int8: bool | None = None,
                scan: str | None = None) -> CoSHCSearcher:
        """The same trained artifacts and FAISS indexes with another routing, budget,
        number of probed lists, scan of the probed lists or re-rank (int8: the int8
        copies, when there are any)."""
        other = copy.copy(self)
        other.routing, other.name = _check_routing(routing), name
        if other.routing == "probe" and other.lists is None:
            raise InputError("probe routing needs the fine lists")
        if recall is not None:
            other.recall = recall
        if probe is not None:
            other.probe = probe
        if scan is not None:
            other.scan = one_of("scan", scan, SCANS)
        if int8 is not None:
            if int8 and self._int8 is None:
                raise InputError("int8 re-rank needs the int8 copies of the vectors")
            other.int8 = self._int8 if int8 else None
        return other

    def bytes_per_record(self) -> float:
        """Memory a search keeps hot per record: for probe routing, each filing's code and
        8-byte id in the inverted lists (the categories are not read); else the codes and
        the category. Then the int8 copy and its scale (the float32 vectors are then only
        read for the few rows re-scored), or the float32 vectors."""
        per = self.codes.shape[1] + 4
        if self.lists is not None and self.routing == "probe":
            per = self.lists.filings / len(self.codes) * (self.codes.shape[1] + 8)
        if self.int8 is not None:
            return float(per + self.int8.values.shape[1] + 4)
        return float(per + self.vectors.shape[1] * 4)

    def ablations(self) -> dict[str, CoSHCSearcher]:
        """The paper's ablations (Table 2), sharing these artifacts and the budget N:

        - no_classification: one Hamming top-N over the whole index
        - one_classification: N - k + 1 from the predicted category, 1 from each other
        - ideal_classification: the same from the relevant record's own category
        """
        return {f"{self.name}_{kind}_classification":
                self.variant(routing, f"{self.name}_{kind}_classification")
                for kind, routing in (("no", "none"), ("one", "one"), ("ideal", "ideal"))}

    # ---- recall --------------------------------------------------------------------
    def _category_indexes(self) -> list[tuple[np.ndarray, Any]]:
        """(member row ids, IndexBinaryFlat of their codes) per category, built once."""
        if "categories" not in self._shared:
            import faiss

            out = []
            for c in range(self.k):
                members = np.flatnonzero(self.categories == c).astype(np.int64)
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
            index.add(np.ascontiguousarray(self.codes))
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

    def recalled(self, queries: np.ndarray, oracle: np.ndarray | None = None,
                 allowed: np.ndarray | None = None) -> np.ndarray:
        """(n_queries, M) row ids recalled for each query, -1 padded; no duplicates."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        projected = self.heads.project(queries, "desc")
        mask = None
        if allowed is not None:
            mask = np.zeros(len(self.codes), dtype=bool)
            mask[np.asarray(allowed, dtype=np.int64)] = True
        if self.routing == "probe" and mask is None:
            assert self.lists is not None
            probed = self.lists.nearest(queries, self.probe)
            if self.scan == "asymmetric":  # the query's code is not needed
                return self._probe_asymmetric(projected, probed)
            return self._probe(pack_signs(projected), probed)
        qcodes = pack_signs(projected)
        if self.routing in ("none", "probe"):  # a filtered probe scans every allowed code
            index = self._global_index()
            return _hamming_top(index, qcodes, np.full(len(queries), self.recall), mask,
                                np.arange(len(self.codes), dtype=np.int64))
        budget = self.budgets(queries, self._ideal(oracle))
        cols = [_hamming_top(index, qcodes, budget[:, c], None if mask is None else mask[members],
                             members)
                for c, (members, index) in enumerate(self._category_indexes())]
        cols = [c for c in cols if c.shape[1]]
        if not cols:
            return np.full((len(queries), 0), -1, np.int64)
        return np.hstack(cols)

    def _filed(self) -> Iterator[tuple[int, np.ndarray]]:
        """(list, its record ids) for every non-empty fine list, ids in row order."""
        assert self.lists is not None
        of = self.lists.of
        list_of = of.T.reshape(-1)  # every (list, record) filing, spill by spill
        record = np.tile(np.arange(len(self.codes), dtype=np.int64), of.shape[1])
        record, list_of = record[list_of >= 0], list_of[list_of >= 0]
        order = np.argsort(list_of, kind="stable")
        bounds = np.searchsorted(list_of[order], np.arange(len(self.lists.centroids) + 1))
        for j in range(len(self.lists.centroids)):
            if bounds[j + 1] > bounds[j]:
                yield j, np.ascontiguousarray(record[order[bounds[j] : bounds[j + 1]]])

    def _ivf(self) -> Any:
        """IndexBinaryIVF of the codes, one inverted list per fine list. Its quantizer is
        never used: records were assigned, and queries are routed, by the float centroids."""
        if "ivf" not in self._shared:
            import faiss

            assert self.lists is not None
            ivf = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(self.bits), self.bits,
                                       len(self.lists.centroids))
            ivf.is_trained = True
            for j, rows in self._filed():
                codes = np.ascontiguousarray(self.codes[rows])
                ivf.invlists.add_entries(j, len(rows), faiss.swig_ptr(rows), faiss.swig_ptr(codes))
            ivf.ntotal = self.lists.filings
            ivf.use_heap = False  # see _probe
            self._shared["ivf"] = ivf
        return self._shared["ivf"]

    def _fast_scan(self) -> Any:
        """The same filings as a FAISS IndexIVFPQFastScan for the asymmetric scan: each code
        read as bits/4 PQ sub-codes of 4 bits, whose 16 centroids are the 16 sign patterns
        (+-1) of its 4 bits, so a sub-code's table entry is H(q)'s 4 coordinates times its
        pattern and the sum over the sub-codes is H(q) . (2b - 1). No coarse quantizer is
        used (by_residual off; queries are routed by the float centroids, as for _ivf)."""
        if "fast_scan" not in self._shared:
            import faiss

            assert self.lists is not None
            sub = self.bits // 4
            fs = faiss.IndexIVFPQFastScan(faiss.IndexFlatIP(self.bits), self.bits,
                                          len(self.lists.centroids), sub, 4,
                                          faiss.METRIC_INNER_PRODUCT)
            fs.by_residual = False
            # pattern c: bit 3 - d of c is coordinate d (np.packbits puts a byte's first
            # bit highest; FAISS reads the low nibble as the first sub-code, hence the swap)
            pattern = ((np.arange(16)[:, None] >> (3 - np.arange(4))) & 1) * 2.0 - 1
            faiss.copy_array_to_vector(np.tile(pattern, (sub, 1)).astype(np.float32).ravel(),
                                       fs.pq.centroids)
            fs.is_trained = True
            swapped = (self.codes >> 4) | (self.codes << 4)
            assert fs.invlists is not None
            invlists = faiss.downcast_InvertedLists(fs.invlists)
            packer = fs.get_CodePacker()
            for j, rows in self._filed():
                add_packed(packer, invlists, j, rows, swapped[rows])
            fs.ntotal = self.lists.filings
            self._shared["fast_scan"] = fs
        return self._shared["fast_scan"]

    def _probe_asymmetric(self, projected: np.ndarray, probed: np.ndarray) -> np.ndarray:
        """Each query's `recall` best codes by H(q) . (2b - 1) (H(q): `projected`) in its
        probed lists, -1 padded, a record filed twice kept once. FAISS quantises the
        tables to 8 bits, so the order among near ties is approximate; the re-rank
        decides it."""
        ids = fast_scan_top(self._fast_scan(), projected, probed,
                            max(1, min(self.recall, len(self.codes))))
        assert self.lists is not None
        if self.lists.of.shape[1] > 1:
            ids = _once_each(ids)
        return ids

    def _probe(self, qcodes: np.ndarray, probed: np.ndarray) -> np.ndarray:
        """Each query's `recall` nearest codes (Hamming) in its probed lists, -1 padded; a
        record filed in two probed lists is kept once."""
        import faiss

        assert self.lists is not None
        ivf = self._ivf()
        n, p = probed.shape
        kk = max(1, min(self.recall, len(self.codes)))
        ids = np.empty((n, kk), dtype=np.int64)
        params = faiss.IVFSearchParameters()  # nprobe per call: variants share the index
        params.nprobe = p
        # FAISS's counting scan (a histogram of the bits+1 possible distances) instead of a
        # heap of N: at N=2,000, 64 of 2,012 lists of 1M codes, 0.37 ms against 0.86 ms per
        # query, one thread. FAISS 1.15 reads its default max_codes=0 ("no limit") as "scan
        # nothing" in that path (faiss#5555), so the limit is set past any list.
        params.max_codes = 1 << 62
        q = np.ascontiguousarray(qcodes)
        probed = np.ascontiguousarray(probed, dtype=np.int64)
        zeros = np.zeros((n, p), dtype=np.int32)
        # the count scan allocates (bits + 1) x N ids per query up front: a few at a time
        step = max(1, _COUNT_SCAN_BYTES // ((self.bits + 1) * kk * 8))
        with _batch_threads(n):
            for s in range(0, n, step):
                m = min(step, n - s)
                dist = np.empty((m, kk), dtype=np.int32)
                ivf.search_preassigned_c(m, faiss.swig_ptr(q[s:]), kk, faiss.swig_ptr(probed[s:]),
                                         faiss.swig_ptr(zeros), faiss.swig_ptr(dist),
                                         faiss.swig_ptr(ids[s:]), False, params)
        if self.lists.of.shape[1] > 1:
            ids = _once_each(ids)  # a record filed in two probed lists comes twice
        return ids

    def scanned(self, queries: np.ndarray) -> np.ndarray:
        """Codes each query's recall reads (diagnostics): the filings of its probed lists
        under probe routing, every code otherwise."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if self.routing != "probe" or self.lists is None:
            return np.full(len(queries), len(self.codes), dtype=np.int64)
        return self.lists.sizes[self.lists.nearest(queries, self.probe)].sum(axis=1)

    def recall_of(self, queries: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Whether each query's target row id is among its candidates (diagnostics)."""
        out = np.zeros(len(queries), dtype=bool)
        for s in range(0, len(queries), 1024):
            cand = self.recalled(queries[s : s + 1024], targets[s : s + 1024])
            out[s : s + 1024] = (cand == targets[s : s + 1024, None]).any(axis=1)
        return out

    def _ideal(self, oracle: np.ndarray | None) -> np.ndarray | None:
        if self.routing != "ideal" or oracle is None:
            return None
        oracle = np.asarray(oracle, dtype=np.int64)
        return np.where(oracle >= 0, self.categories[np.maximum(oracle, 0)], -1)

    # ---- the Searcher protocol ------------------------------------------------------
    def candidates(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
                   oracle: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The recalled records and their cosine with the query (the re-rank scores).

        Similarity in the paper's Table 1 is all of this: hashing the query, the
        classifier, the FAISS Hamming scans (which keep their top R_i as they scan)
        and the cosine of the candidates; sorting them is the caller's. With int8
        copies, the candidates are first pruned to the best `rescore` (at least k) by
        their int8 scores; those are scored from the float32 vectors.
        """
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        ids = self.recalled(queries, oracle, allowed)
        return rerank(self.vectors, self.int8, queries, ids, max(k, self.config.rescore))


def rerank(vectors: np.ndarray, int8: Int8Vectors | None, queries: np.ndarray, ids: np.ndarray,
           keep: int) -> tuple[np.ndarray, np.ndarray]:
    """The candidates' cosine with each query (-inf at -1 padding) and the candidates, with
    int8 copies first pruned to the best `keep` by their int8 scores."""
    if int8 is not None and ids.shape[1] > keep:
        approx = int8.scores(queries, ids)
        ids = np.take_along_axis(ids, np.argpartition(-approx, keep - 1, axis=1)[:, :keep], axis=1)
    out = np.full(ids.shape, -np.inf, dtype=np.float32)
    for s in range(0, len(ids), _RERANK_CHUNK):
        c = ids[s : s + _RERANK_CHUNK]
        sc = np.einsum("bmd,bd->bm", vectors[np.maximum(c, 0)], queries[s : s + _RERANK_CHUNK])
        out[s : s + _RERANK_CHUNK] = np.where(c >= 0, sc, -np.inf)
    return out, ids


def fast_scan_top(fs: Any, queries: np.ndarray, probed: np.ndarray, k: int) -> np.ndarray:
    """Each query's k best entries (row ids, -1 padded) in its `probed` lists of the FAISS
    fast-scan IVF index `fs`, read without its coarse quantizer."""
    import faiss

    n, p = probed.shape
    h = np.ascontiguousarray(queries, dtype=np.float32)
    probed = np.ascontiguousarray(probed, dtype=np.int64)
    params = faiss.IVFSearchParameters()
    params.nprobe = p
    dist = np.empty((n, k), dtype=np.float32)
    ids = np.empty((n, k), dtype=np.int64)
    with _batch_threads(n):
        fs.search_preassigned_c(n, faiss.swig_ptr(h), k, faiss.swig_ptr(probed),
                                faiss.swig_ptr(np.zeros((n, p), np.float32)),
                                faiss.swig_ptr(dist), faiss.swig_ptr(ids), False, params)
    return ids


def add_packed(packer: Any, invlists: Any, j: int, rows: np.ndarray, codes: np.ndarray) -> None:
    """File `codes` (one flat code per row id in `rows`) in list j of a FAISS fast-scan IVF
    index's `invlists`, packed by its `packer` (get_CodePacker: 32 codes per block,
    interleaved for SIMD)."""
    import faiss

    per = packer.nvec
    padded = np.zeros((-(-len(rows) // per) * per, codes.shape[1]), np.uint8)
    padded[: len(rows)] = codes
    blocks = np.empty(len(padded) // per * packer.block_size, np.uint8)
    for b in range(len(padded) // per):
        packer.pack_all(faiss.swig_ptr(padded[b * per :]), faiss.swig_ptr(blocks[b * packer.block_size :]))
    invlists.add_entries(j, len(rows), faiss.swig_ptr(np.ascontiguousarray(rows)), faiss.swig_ptr(blocks))


def _hamming_top(index: Any, qcodes: np.ndarray, budget: np.ndarray, mask: np.ndarray | None,
                 members: np.ndarray) -> np.ndarray:
    """Row ids of each query's budget[i] nearest codes in `index` (whose local id j is row
    members[j]), among the local ids set in `mask` when given; -1 padded."""
    available = index.ntotal if mask is None else int(mask.sum())
    kk = int(min(budget.max(initial=0), available))
    if kk == 0:
        return np.full((len(qcodes), 0), -1, np.int64)
    params = None
    if mask is not None and available < index.ntotal:
        import faiss

        bits = np.packbits(mask, bitorder="little")  # both kept alive until the search ends
        selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
        params = faiss.SearchParameters()
        params.sel = selector
    with _batch_threads(len(qcodes)):
        _, local = index.search(qcodes, kk, params=params)
    ids = np.where(local >= 0, members[np.maximum(local, 0)], -1)
    ids[np.arange(kk)[None, :] >= budget[:, None]] = -1
    return ids


# FAISS spreads a batch's queries over OpenMP threads. A search of a few queries gains
# nothing from that, and waiting for a second thread on a busy core cost 24 ms per
# search of 6,082 codes here, against 0.4 ms on the calling thread alone.
PARALLEL_FROM = 16


def _once_each(ids: np.ndarray) -> np.ndarray:
    """Each row's ids sorted, repeats replaced by -1 (the order of candidates is the
    re-rank's to decide; sorted ids also gather their vectors in memory order)."""
    s = np.sort(ids, axis=1)
    s[:, 1:][s[:, 1:] == s[:, :-1]] = -1
    return s


@contextlib.contextmanager
def _faiss_threads(n: int | None) -> Iterator[None]:
    """FAISS's OpenMP team of the calling thread set to n inside (None: unchanged); the
    setting is per thread in OpenMP, so concurrent searches of other threads keep theirs."""
    if n is None:
        yield
        return
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _batch_threads(n: int) -> contextlib.AbstractContextManager[None]:
    """One FAISS thread for a batch of fewer than PARALLEL_FROM queries; else unchanged."""
    return _faiss_threads(1 if n < PARALLEL_FROM else None)


# A query's score for a list: its inner product with the centroid plus this share of the
# list's reach (the 90th percentile distance of its members to the centroid), an optimistic
# bound on the best member; on 33,589 real MiniLM vectors, 0.5 probed the exact top-1's list
# more often than 0, 0.25 or 1 at every probe count.
REACH_WEIGHT = 0.5


@dataclass
class Lists:
    """The fine lists of "probe" routing: k-means centroids of the code vectors and, for
    every record, the `spill` nearest lists it is filed in (nearest first). Filing a record
    in two lists keeps the ones near a boundary findable from either side; with `share` < 1
    only that share of the records, the nearest a boundary, get their extra filings."""

    centroids: np.ndarray  # (L, dim) float32
    of: np.ndarray  # (n, spill) int32, -1 where a record is not spilled
    reach: np.ndarray  # (L,) float32
    _scored: Any = field(default=None, repr=False, compare=False)  # the FAISS index of nearest

    @classmethod
    def build(cls, vectors: np.ndarray, centroids: np.ndarray, spill: int = 1,
              share: float = 1.0) -> Lists:
        from seekcode.hashing import clusters

        of, dist = clusters.nearest(vectors, centroids, spill)
        if of.shape[1] > 1 and share < 1:
            gap = dist[:, 1] - dist[:, 0]  # how far past the boundary the record sits
            deep = np.argsort(gap, kind="stable")[int(round(share * len(of))):]
            of[deep, 1:] = -1
        reach = np.zeros(len(centroids), dtype=np.float32)
        primary = of[:, 0]
        order = np.argsort(primary, kind="stable")
        bounds = np.searchsorted(primary[order], np.arange(len(centroids) + 1))
        radius = np.sqrt(dist[:, 0])
        for j in range(len(centroids)):
            members = radius[order[bounds[j] : bounds[j + 1]]]
            if len(members):
                reach[j] = np.percentile(members, 90)
        return cls(np.asarray(centroids, dtype=np.float32), of, reach)

    @property
    def filings(self) -> int:
        """Entries in the inverted lists: one per record, plus its spilled ones."""
        return int((self.of >= 0).sum())

    @property
    def sizes(self) -> np.ndarray:
        """(L,) filings per list."""
        of = np.asarray(self.of).reshape(-1)
        return np.bincount(of[of >= 0], minlength=len(self.centroids))

    def nearest(self, queries: np.ndarray, p: int) -> np.ndarray:
        """(n_queries, p) ids of each query's p best lists, best first: a FAISS IndexFlatIP
        over the centroids, each with its reach bias as one more coordinate that the
        query meets with a 1 (0.13 against numpy's 0.16 ms per query at 2,012 lists)."""
        import faiss

        c = self.centroids
        p = max(1, min(p, len(c)))
        if self._scored is None:
            flat = faiss.IndexFlatIP(c.shape[1] + 1)
            flat.add(np.hstack([c, REACH_WEIGHT * self.reach[:, None]]).astype(np.float32))
            self._scored = flat
        q = np.hstack([np.asarray(queries, dtype=np.float32),
                       np.ones((len(queries), 1), dtype=np.float32)])
        with _batch_threads(len(q)):
            _, ids = self._scored.search(q, p)
        return ids.astype(np.int64)


@dataclass
class Int8Vectors:
    """int8 copies of unit vectors, one scale per vector (max |x| -> 127): a quarter of
    float32's bytes, for pruning the candidates before the float32 re-score."""

    values: np.ndarray  # (n, dim) int8
    scales: np.ndarray  # (n,) float32

    @classmethod
    def quantize(cls, vectors: np.ndarray, chunk: int = 65536) -> Int8Vectors:
        values = np.empty(vectors.shape, dtype=np.int8)
        scales = np.empty(len(vectors), dtype=np.float32)
        for s in range(0, len(vectors), chunk):
            v = np.asarray(vectors[s : s + chunk], dtype=np.float32)
            m = np.maximum(np.abs(v).max(axis=1), 1e-12) / 127
            values[s : s + chunk] = np.clip(np.rint(v / m[:, None]), -127, 127)
            scales[s : s + chunk] = m
        return cls(values, scales)

    def scores(self, queries: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """Approximate inner products of each query with its candidates, -inf at padding."""
        out = np.full(cand.shape, -np.inf, dtype=np.float32)
        for i, q in enumerate(queries):
            at = np.flatnonzero(cand[i] >= 0)
            rows = cand[i, at]
            # int8 rows times a float32 vector: numpy casts as it multiplies, without the
            # float32 copy of the rows (half the time at 2,000 rows of 1M)
            out[i, at] = (np.take(self.values, rows, axis=0) @ q) * self.scales[rows]
        return out
