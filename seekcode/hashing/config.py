"""Hyper-parameters of CoSHC, saved beside the artifacts they produced."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from seekcode.errors import InputError

# Ways to split the recall budget N over the code categories (searcher.py):
#   "distribution": the paper's eq. 7, R_i = max(floor(p_i * (N - k)), 1)
#   "none":         one Hamming top-N over the whole index (the paper's "w/o classification")
#   "one":          N - k + 1 in the most probable category, 1 in each other one
#   "probe":        one Hamming top-N over the `probe` fine lists (k-means of the code
#                   vectors) whose centroids are most similar to the query vector, as an
#                   IVF index probes; no classifier involved
ROUTINGS = ("distribution", "none", "one", "probe")
RERANKS = ("float32", "int8")
SCANS = ("hamming", "asymmetric")


def one_of(what: str, value: str, choices: tuple[str, ...]) -> str:
    """`value` when it is one of `choices`; else an InputError naming both."""
    if value not in choices:
        raise InputError(f"{what} {value!r}: expected one of {', '.join(choices)}")
    return value


# Index size from which the recommended recipe routes by probing fine lists, and what
# changes then. Measured (benchmarks/results/coshc-1m-real.md, real functions, nbow, side by
# side, one thread): at 100K the exhaustive 256-bit scan (1.56 ms) beats probing 64 lists
# (2.05 ms); at 1M probing (2.67 ms, 98.75% / 98.19% of exact R@1 / R@10) beats the scan
# (6.26 ms), so the switch lies between them. The scan is the asymmetric one: at 100K it
# kept more of R@10 from a quarter of the candidates, a little faster
# (benchmarks/results/coshc-100k-real.md); at 1M (the same run, 10,000 queries, accuracy
# only) p64 N 2,000 kept 99.68% / 98.21% of R@1 / R@10 against the Hamming scan's
# 100.3% / 96.42%. The codes are 128 bits: at 1M (benchmarks/results/coshc-1m-b128.md,
# 10,000 queries, side by side) p64 N 2,000 kept 100.24% / 98.17% in 1.15 ms warm against
# 256 bits' 100.48% / 98.52% in 1.27 ms, and 180 bytes per record (a quarter of HNSW's 784
# is 196) against 212. With a third model and all 24,186 held-out queries
# (coshc-1m-final.md) it kept 100.18% / 98.89% in 0.80 ms against HNSW's 0.90 ms at
# efSearch 384 (99.29% of R@1); with a second model and 10,000 queries (coshc-1m-128.md)
# 98.41% / 98.93%, and probing up to 128 lists (coshc-1m-probes.md) kept at most 98.94% of
# R@1 at 1.5 ms, so the probe count stays 64. FAISS exact was 24-32x slower, not the 50x
# issue 13 asks for.
PROBE_FROM = 200_000
PROBE_RECIPE: dict[str, Any] = {"bits": 128, "routing": "probe", "rerank": "int8", "probe": 64,
                                "spill": 2, "spill_share": 1.0, "scan": "asymmetric"}


@dataclass
class HashConfig:
    """CoSHC settings. Field defaults are the paper's (Gu et al. 2022, section 4.2).

    `recommended()` is seekcode's improved recipe; `paper()` the published one.
    """

    # -- code categories (k-means of the code vectors) --
    k: int = 10
    # -- hashing module --
    bits: int = 128
    hidden: int = 0  # 0: the embedding size, as in the paper
    layers: int = 3
    beta: float = 0.6  # eq. 1: weight of the code similarities S_C against S_D
    eta: float = 0.4  # eq. 2: weight of the high-order term S~ S~^T / m
    mu: float = 1.5  # eq. 4: target min(mu * S_F, 1)
    lambda1: float = 0.1  # eq. 4: code-code term
    lambda2: float = 0.1  # eq. 4: description-description term
    epochs: int = 10  # the paper: 10 for its transformer encoders (MiniLM is one), 50 for UNIF/RNN
    lr: float = 1.34e-4  # the paper's AdamW rate for UNIF/RNN
    weight_decay: float = 0.01  # AdamW's default
    batch_size: int = 256  # not given in the paper
    alpha_start: float = 1.0  # eq. 6: alpha = the epoch number, rising linearly
    alpha_step: float = 1.0
    # -- seekcode's improvements (off in the paper's recipe) --
    # Listwise distillation: the softmax over a batch of Hamming similarities of a
    # description code to every code is pulled towards the softmax of the float cosines
    # (the ranking the re-rank stage will apply), so that the exact top candidates rank
    # high in Hamming distance. 0 disables it.
    distill: float = 0.0
    distill_teacher_temp: float = 0.05
    distill_student_temp: float = 0.1
    # Weight of the paper's eq. 4 loss (1 in the paper's recipe).
    paper_loss: float = 1.0
    # Subtract the mean vector before building S (eq. 1-3). Sentence embeddings are
    # anisotropic (random MiniLM code pairs have cosine ~0.24), so the paper's targets
    # min(mu S, 1) ask random pairs to share most bits and the codes collapse to
    # near-constant bits; centring makes unrelated pairs' targets ~0.
    center_targets: bool = False
    # A linear skip path initialised to PCA + rotation, so training starts from sign
    # binarisation of rotated vectors instead of from random codes.
    init_rotation: bool = False
    # ITQ iterations refining that rotation (Gong & Lazebnik 2011); 0: random rotation.
    itq_iterations: int = 0
    # Batches of neighbouring pairs (sorted by a fine k-means of the code vectors) instead
    # of random ones: the in-batch ranking to learn is then among close candidates,
    # which is where recall is won or lost.
    neighbour_batches: bool = False
    # -- query category classifier --
    classifier_hidden: int = 0  # 0: the embedding size
    classifier_epochs: int = 20
    classifier_lr: float = 1e-3
    # -- recall and re-rank --
    recall: int = 100  # N, the total number of candidates
    # Adaptive N: the Hamming rank of a given neighbour grows with the number of records,
    # so N grows too (this many extra candidates per 1M records), up to max_recall
    # (re-ranking cost grows with N). 0: a fixed N.
    recall_per_million: int = 0
    max_recall: int = 0  # 0: no cap
    routing: str = "distribution"  # one of ROUTINGS
    min_per_category: int = 1  # the paper: at least one candidate per category
    # -- "probe" routing: fine lists of the code vectors, the nearest `probe` searched --
    lists: int = 0  # 0: lists_per_sqrt * sqrt(records)
    lists_per_sqrt: float = 2.0
    probe: int = 32  # lists searched per query
    spill: int = 2  # lists each record is filed in (its nearest ones)
    # Share of the records that get their 2nd..spill-th filings: those nearest a boundary
    # (smallest gap between their nearest and next centroid distance). Records deep inside
    # their list are found from it alone; 1.0 spills every record.
    spill_share: float = 1.0
    # Re-rank from int8 copies of the vectors (one scale per vector), then the best
    # `rescore` (at least k) again from the float32 vectors, so the scores returned are
    # exact cosines and only the pruning N -> rescore is approximate.
    rerank: str = "float32"  # one of RERANKS
    # How "probe" routing ranks the codes of the probed lists: by Hamming distance to the
    # query's code (the paper), or asymmetrically, by H(q) . (2b - 1) with the query's
    # real-valued projection H(q) left unbinarised (Gordo et al. 2014: the query loses no
    # information to the sign). The asymmetric scores come from FAISS's 4-bit PQ fast
    # scan, reading each code as bits/4 sub-codes of 4 bits (one table of 16 sign
    # patterns per sub-code), so it reads the same bits/8 bytes per filing.
    scan: str = "hamming"  # one of SCANS
    rescore: int = 32
    # -- training data --
    max_pairs: int = 0  # 0: all training pairs
    seed: int = 0

    def __post_init__(self) -> None:
        one_of("routing", self.routing, ROUTINGS)
        if self.bits <= 0 or self.bits % 8:
            raise InputError(f"bits={self.bits}: must be a positive multiple of 8")
        if self.k < 1:
            raise InputError(f"k={self.k}: need at least one category")
        one_of("rerank", self.rerank, RERANKS)
        one_of("scan", self.scan, SCANS)
        if self.probe < 1 or self.lists < 0 or self.spill < 1 or not 0 <= self.spill_share <= 1:
            raise InputError(f"probe={self.probe}, lists={self.lists}, spill={self.spill}, "
                             f"spill_share={self.spill_share}: probe >= 1, lists >= 0, "
                             "spill >= 1, 0 <= spill_share <= 1")

    @classmethod
    def paper(cls, **overrides: Any) -> HashConfig:
        """The published recipe: 128 bits, N=100, eq. 4 loss only, eq. 7 routing."""
        return replace(cls(), **overrides)

    @classmethod
    def recommended(cls, records: int = 0, **overrides: Any) -> HashConfig:
        """seekcode's recipe (see benchmarks/results/coshc.md for what each change buys).

        From PROBE_FROM `records` on, recall probes the fine lists nearest the query and
        re-ranks from int8 copies (see PROBE_FROM for what is measured and what is not).
        """
        base = cls(bits=256, paper_loss=0.0, distill=1.0, init_rotation=True, itq_iterations=50,
                   neighbour_batches=True, lr=1e-4, epochs=10, routing="none", recall=100,
                   recall_per_million=10_000, max_recall=2000)
        if records >= PROBE_FROM:
            base = replace(base, **PROBE_RECIPE)
        return replace(base, **overrides)

    def recall_for(self, count: int) -> int:
        """The candidate budget N for an index of `count` records."""
        n = int(self.recall + round(self.recall_per_million * count / 1_000_000))
        return min(n, self.max_recall) if self.max_recall else n

    def lists_for(self, count: int) -> int:
        """Fine lists for "probe" routing of an index of `count` records."""
        n = self.lists or int(round(self.lists_per_sqrt * count ** 0.5))
        return max(1, min(n, count))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HashConfig:
        """Read a saved config; unknown keys (from other versions) are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
