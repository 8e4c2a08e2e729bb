"""CoSHC as a searcher plug-in: the fitted model, its files in an index generation, the hooks.

`fit` learns a `CoSHC` (categories, hash heads, classifier) from vectors; `save` and
`load` persist it; `open_searcher` is the registry's factory. The layout of a
generation's `coshc/` folder is defined here and nowhere else::

    coshc/
      codes.npy        uint8 (n, bits/8): sign(H) of every record's code vector
      categories.npy   int32 (n,): k-means category of every record
      centroids.npy    float32 (k, dim)
      hasher.npz       the two hash heads' weights (numpy inference)
      classifier.npz   the query category classifier's weights
      config.json      the HashConfig that produced them
      lists.npy        float32 (L, dim): fine k-means centroids ("probe" routing only)
      list_ids.npy     int32 (n, spill): the fine lists every record is filed in ("probe"), -1: not spilled
      list_reach.npy   float32 (L,): each list's reach (90th percentile member distance)
      int8.npy         int8 (n, dim) copies of the vectors (int8 re-rank only)
      int8_scales.npy  float32 (n,): their scales
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seekcode.errors import InputError
from seekcode.hashing import clusters
from seekcode.hashing.classifier import CategoryClassifier, train_classifier
from seekcode.hashing.config import HashConfig
from seekcode.hashing.model import HashHeads
from seekcode.hashing.searcher import CoSHCSearcher, Int8Vectors, Lists
from seekcode.hashing.train import train_hash_module, training_ids

if TYPE_CHECKING:
    from seekcode.corpus.record import Record
    from seekcode.encoders.base import Encoder
    from seekcode.index.search import Artifacts
    from seekcode.index.store import BuildHook

NAME = "coshc"  # the registry name, the generation's folder and its manifest extras key
CODES = "codes.npy"
CATEGORIES = "categories.npy"
CENTROIDS = "centroids.npy"
HASHER = "hasher.npz"
CLASSIFIER = "classifier.npz"
CONFIG = "config.json"
LISTS = "lists.npy"
LIST_IDS = "list_ids.npy"
LIST_REACH = "list_reach.npy"
INT8 = "int8.npy"
INT8_SCALES = "int8_scales.npy"


def _log(msg: str) -> None:
    print(f"coshc: {msg}", file=sys.stderr, flush=True)


@dataclass
class CoSHC:
    """A fitted CoSHC model: what hashes and routes any code vector or query."""

    config: HashConfig
    centroids: np.ndarray  # (k, dim) float32
    heads: HashHeads
    classifier: CategoryClassifier
    stats: dict[str, Any] = field(default_factory=dict)
    lists: np.ndarray | None = None  # (L, dim) float32 fine centroids ("probe" routing)

    @property
    def k(self) -> int:
        return int(len(self.centroids))

    def encode(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(packed codes, categories) of code vectors."""
        return self.heads.codes(vectors, "code"), clusters.assign(vectors, self.centroids)

    def fine_lists(self, vectors: np.ndarray) -> Lists | None:
        """Every record's fine list, when the model has lists."""
        if self.lists is None:
            return None
        return Lists.build(vectors, self.lists, self.config.spill, self.config.spill_share)

    def searcher(self, vectors: np.ndarray, codes: np.ndarray | None = None,
                 categories: np.ndarray | None = None, name: str = NAME,
                 lists: Lists | None = None, int8: Int8Vectors | None = None) -> CoSHCSearcher:
        """A searcher over `vectors`, hashing (listing, quantizing) them unless given."""
        if codes is None or categories is None:
            codes, categories = self.encode(vectors)
        if lists is None:
            lists = self.fine_lists(vectors)
        if int8 is None and self.config.rerank == "int8":
            int8 = Int8Vectors.quantize(vectors)
        return CoSHCSearcher(vectors, codes, categories, self.heads, self.classifier,
                             self.config, name=name, lists=lists, int8=int8)

    def save(self, folder: Path, vectors: np.ndarray) -> dict[str, Any]:
        """Write the model and the codes of `vectors` to `folder`; returns the manifest's
        description of them (`extras["coshc"]`)."""
        codes, categories = self.encode(vectors)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / CODES, codes)
        np.save(folder / CATEGORIES, categories)
        np.save(folder / CENTROIDS, self.centroids)
        for stale in (LISTS, LIST_IDS, LIST_REACH, INT8, INT8_SCALES):  # saved over another
            (folder / stale).unlink(missing_ok=True)
        lists = self.fine_lists(vectors)
        if lists is not None:
            np.save(folder / LISTS, lists.centroids)
            np.save(folder / LIST_IDS, lists.of)
            np.save(folder / LIST_REACH, lists.reach)
        if self.config.rerank == "int8":
            int8 = Int8Vectors.quantize(vectors)
            np.save(folder / INT8, int8.values)
            np.save(folder / INT8_SCALES, int8.scales)
        self.heads.save(folder / HASHER)
        self.classifier.save(folder / CLASSIFIER)
        (folder / CONFIG).write_text(json.dumps(self.config.to_dict(), indent=2))
        bits = np.unpackbits(codes, axis=1)
        training = {
            **self.stats,
            "records": int(len(vectors)),
            "category_sizes": np.bincount(categories, minlength=self.k).tolist(),
            # 0 = every bit splits the records in half; 1 = constant bits (wasted)
            "bit_imbalance": round(float(np.abs(bits.mean(axis=0) * 2 - 1).mean()), 4)
            if len(bits) else 0.0,
        }
        if lists is not None:
            sizes = np.bincount(lists.of[:, 0], minlength=len(lists.centroids))
            training["lists"] = {"count": int(len(sizes)), "largest": int(sizes.max()),
                                 "median": float(np.median(sizes)), "empty": int((sizes == 0).sum())}
        return {"config": self.config.to_dict(), "bits": self.config.bits, "k": self.k,
                "training": training}

    @classmethod
    def load(cls, folder: Path, dim: int) -> CoSHC:
        config = HashConfig.from_dict(json.loads((folder / CONFIG).read_text()))
        lists = np.load(folder / LISTS) if (folder / LISTS).exists() else None
        return cls(config, np.load(folder / CENTROIDS), HashHeads.load(folder / HASHER, dim),
                   CategoryClassifier.load(folder / CLASSIFIER), lists=lists)


def sample_pairs(rows: np.ndarray, config: HashConfig) -> np.ndarray:
    """At most `config.max_pairs` of the training rows (seeded), in their order."""
    if config.max_pairs and len(rows) > config.max_pairs:
        pick = np.random.default_rng(config.seed).choice(len(rows), config.max_pairs, replace=False)
        return rows[np.sort(pick)]
    return rows


def fit(vectors: np.ndarray, pairs: np.ndarray, query_vectors: np.ndarray, config: HashConfig,
        progress: bool = True) -> CoSHC:
    """Cluster `vectors`, then train the hash heads and the classifier on the pairs
    (vectors[pairs[i]], query_vectors[i]): a code and the description written for it."""
    t0 = time.perf_counter()
    if len(pairs) < 2:
        raise InputError("CoSHC needs at least 2 records with a docstring to learn from")
    k = min(config.k, len(vectors))
    vd = np.asarray(query_vectors, dtype=np.float32)
    vc = np.asarray(vectors[pairs], dtype=np.float32)
    centroids = clusters.kmeans(vectors, k, seed=config.seed)
    lists = fine_centroids(vectors, config, progress) if config.routing == "probe" else None
    heads, hash_stats = train_hash_module(vc, vd, config, progress)
    clf, clf_stats = train_classifier(
        vd, clusters.assign(vc, centroids), k, config.classifier_hidden or vd.shape[1],
        config.classifier_epochs, config.classifier_lr, config.batch_size, config.seed)
    stats = {"pairs": int(len(pairs)), "hash": hash_stats, "classifier": clf_stats,
             "seconds": round(time.perf_counter() - t0, 1)}
    return CoSHC(config, centroids, heads, clf, stats, lists)


def fine_centroids(vectors: np.ndarray, config: HashConfig, progress: bool = True) -> np.ndarray:
    """The fine lists' centroids for "probe" routing over these vectors."""
    n_lists = config.lists_for(len(vectors))
    t0 = time.perf_counter()
    # 256 points per list and 10 iterations: the lists only have to be balanced
    # neighbourhoods, not a converged clustering
    lists = clusters.kmeans(vectors, n_lists, seed=config.seed, niter=10,
                            max_points_per_centroid=256)
    if progress:
        _log(f"{n_lists:,} fine lists in {time.perf_counter() - t0:.0f} s")
    return lists


def fit_records(records: Sequence[Record], vectors: np.ndarray, encoder: Encoder,
                config: HashConfig, progress: bool = True) -> CoSHC:
    """`fit` on an index's own (docstring summary, code vector) pairs."""
    pairs = sample_pairs(training_ids(records), config)
    if progress:
        _log(f"encoding {len(pairs)} docstring summaries")
    queries = encoder.encode_queries([records[i].query_text for i in pairs], progress=progress)
    return fit(vectors, pairs, queries, config, progress)


def build_hook(encoder: Encoder, config: HashConfig | None = None) -> BuildHook:
    """A build hook that fits CoSHC on the generation's records and stores it there.

    `config=None` uses seekcode's recommended recipe for the number of records indexed;
    `HashConfig.paper()` is the published one.
    """

    def hook(gen_dir: Path, records: Sequence[Record], vectors: np.ndarray,
             extras: dict[str, Any]) -> None:
        cfg = config or HashConfig.recommended(records=len(records))
        model = fit_records(records, vectors, encoder, cfg)
        extras[NAME] = {**model.save(Path(gen_dir) / NAME, vectors),
                        "fitted_in": Path(gen_dir).name}

    return hook


def carry_over(artifacts: Artifacts) -> BuildHook:
    """A hook giving the next generation this generation's fitted model, with codes for
    its own vectors: an update (`seekcode index` again, `--watch`) keeps CoSHC without
    retraining. New functions are hashed and routed as any query would be; retrain
    (`seekcode train hash`) when the code base has drifted far from what it learned on.
    A hook that fits CoSHC anew, run before this one, takes precedence.
    """
    model = CoSHC.load(artifacts.gen / NAME, int(artifacts.manifest["dim"]))
    previous = artifacts.extras(NAME)

    def hook(gen_dir: Path, records: Sequence[Record], vectors: np.ndarray,
             extras: dict[str, Any]) -> None:
        if NAME in extras:
            return
        model.stats = dict(previous.get("training", {}))
        extras[NAME] = {**model.save(Path(gen_dir) / NAME, vectors),
                        "fitted_in": previous.get("fitted_in", artifacts.gen.name)}

    hook.carries_over = True  # type: ignore[attr-defined]
    return hook


def open_searcher(artifacts: Artifacts) -> CoSHCSearcher:
    """The registry's factory: the CoSHC searcher stored in a generation."""
    from seekcode.index.store import IndexError_

    folder = artifacts.gen / NAME
    if not artifacts.extras(NAME) or not folder.is_dir():
        raise IndexError_(f"{artifacts.gen}: no CoSHC module; train one with `seekcode train hash`")
    # memory-mapped: the codes, categories and list ids only build the FAISS structures a
    # routing searches (which copy what they read), so their pages need not stay resident
    codes = np.load(folder / CODES, mmap_mode="r")
    categories = np.load(folder / CATEGORIES, mmap_mode="r")
    if len(codes) != artifacts.count or len(categories) != artifacts.count:
        raise IndexError_(f"{folder}: {len(codes)} codes for {artifacts.count} records; "
                          "retrain with `seekcode train hash`")
    model = CoSHC.load(folder, int(artifacts.manifest["dim"]))
    lists = int8 = None
    if model.lists is not None:
        of = np.load(folder / LIST_IDS, mmap_mode="r")
        if len(of) != artifacts.count or of.ndim != 2:
            raise IndexError_(f"{folder}: {len(of)} list ids for {artifacts.count} records; "
                              "retrain with `seekcode train hash`")
        lists = Lists(model.lists, of, np.load(folder / LIST_REACH))
    if model.config.rerank == "int8":
        values = np.load(folder / INT8, mmap_mode="r")
        if len(values) != artifacts.count:
            raise IndexError_(f"{folder}: {len(values)} int8 vectors for {artifacts.count} "
                              "records; retrain with `seekcode train hash`")
        int8 = Int8Vectors(values, np.load(folder / INT8_SCALES))
    return model.searcher(artifacts.vectors, codes, categories, lists=lists, int8=int8)
