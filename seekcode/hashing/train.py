"""Training CoSHC on an index's own (docstring summary, code vector) pairs."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seekcode.corpus.record import Record
from seekcode.encoders.base import Encoder
from seekcode.hashing import clusters
from seekcode.hashing.classifier import train_classifier
from seekcode.hashing.config import HashConfig
from seekcode.hashing.model import HashHeads, build_module, export_heads, rotation_init
from seekcode.index.store import BuildHook

ARTIFACT_DIR = "coshc"
CODES = "codes.npy"  # uint8 (n, bits/8): sign(H) of every record's code vector
CATEGORIES = "categories.npy"  # int32 (n,): k-means category of every record
CENTROIDS = "centroids.npy"
HASHER = "hasher.npz"
CLASSIFIER = "classifier.npz"
CONFIG = "config.json"


def _log(msg: str) -> None:
    print(f"coshc: {msg}", file=sys.stderr, flush=True)


def training_ids(records: Sequence[Record]) -> np.ndarray:
    """Rows to learn from: the train partition where there is one, else every record;
    records without a docstring summary have no query and are left out."""
    has_query = np.array([bool(r.query_text) for r in records], dtype=bool)
    train = np.array([r.partition == "train" for r in records], dtype=bool)
    chosen = train & has_query if (train & has_query).any() else has_query
    return np.flatnonzero(chosen)


def train_hash_module(vc: np.ndarray, vd: np.ndarray, config: HashConfig,
                      progress: bool = True) -> tuple[HashHeads, dict[str, Any]]:
    """Fit the two hash heads on paired code (vc) and description (vd) vectors."""
    import torch

    from seekcode.hashing.loss import distillation_loss, hashing_loss, joint_similarity

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    dim = vc.shape[1]
    skip = (rotation_init(np.vstack([vc, vd]), config.bits, config.seed, config.itq_iterations)
            if config.init_rotation else None)
    module = build_module(dim, config.bits, config.hidden or dim, config.layers, skip)
    opt = torch.optim.AdamW(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    tc = torch.from_numpy(np.ascontiguousarray(vc, dtype=np.float32))
    td = torch.from_numpy(np.ascontiguousarray(vd, dtype=np.float32))
    mean = torch.from_numpy(np.vstack([vc, vd]).mean(axis=0).astype(np.float32))
    shift = mean if config.center_targets else torch.zeros_like(mean)
    history: list[float] = []
    start = time.perf_counter()
    groups = _neighbour_groups(vc, config) if config.neighbour_batches else None
    for epoch in range(config.epochs):
        alpha = config.alpha_start + config.alpha_step * epoch
        perm = rng.permutation(len(vc))
        if groups is not None:
            # neighbours together, groups and members in a new random order each epoch
            perm = perm[np.argsort(rng.permutation(groups.max() + 1)[groups[perm]], kind="stable")]
        total, batches = 0.0, 0
        for s in range(0, len(perm), config.batch_size):
            idx = torch.from_numpy(perm[s : s + config.batch_size])
            if len(idx) < 2:
                continue
            xc, xd = tc[idx], td[idx]
            bc = torch.tanh(alpha * module.code(xc))
            bd = torch.tanh(alpha * module.desc(xd))
            loss = torch.zeros(())
            if config.paper_loss > 0:
                loss = config.paper_loss * hashing_loss(
                    bc, bd, joint_similarity(xc - shift, xd - shift, config.beta, config.eta),
                    config.mu, config.lambda1, config.lambda2)
            if config.distill > 0:
                loss = loss + config.distill * distillation_loss(
                    bc, bd, xc, xd, config.distill_teacher_temp, config.distill_student_temp)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            batches += 1
        history.append(total / max(batches, 1))
        if progress and (epoch == config.epochs - 1 or epoch % 10 == 0):
            _log(f"hash epoch {epoch + 1}/{config.epochs} loss {history[-1]:.4f}")
    heads = HashHeads(export_heads(module), dim)
    stats = {"loss_first": history[0] if history else None,
             "loss_last": history[-1] if history else None,
             "seconds": round(time.perf_counter() - start, 1)}
    return heads, stats


def _neighbour_groups(vc: np.ndarray, config: HashConfig) -> np.ndarray:
    """Fine k-means groups of about one batch each, for batches of neighbouring pairs."""
    n_groups = max(1, len(vc) // config.batch_size)
    if n_groups == 1:
        return np.zeros(len(vc), dtype=np.int64)
    centroids = clusters.kmeans(vc, n_groups, seed=config.seed, niter=10)
    return clusters.assign(vc, centroids).astype(np.int64)


def train_coshc(out: Path, records: Sequence[Record], vectors: np.ndarray, encoder: Encoder,
                config: HashConfig, progress: bool = True,
                query_vectors: np.ndarray | None = None) -> dict[str, Any]:
    """Cluster, train the hash heads and the classifier, write everything under `out`.

    `query_vectors` (one per training row, as `training_ids` picks them) skips encoding
    the docstring summaries again when the caller has them. Returns training stats.
    """
    t0 = time.perf_counter()
    ids = training_ids(records)
    if len(ids) < 2:
        raise ValueError("CoSHC needs at least 2 records with a docstring to learn from")
    if config.max_pairs and len(ids) > config.max_pairs:
        ids = np.sort(np.random.default_rng(config.seed).choice(ids, config.max_pairs, replace=False))
    k = min(config.k, len(vectors))
    if query_vectors is None:
        if progress:
            _log(f"encoding {len(ids)} docstring summaries")
        query_vectors = encoder.encode_queries([records[i].query_text for i in ids],
                                               progress=progress)
    vd = np.asarray(query_vectors, dtype=np.float32)
    vc = np.asarray(vectors[ids], dtype=np.float32)

    centroids = clusters.kmeans(vectors, k, seed=config.seed)
    categories = clusters.assign(vectors, centroids)
    heads, hash_stats = train_hash_module(vc, vd, config, progress)
    clf, clf_stats = train_classifier(
        vd, categories[ids], k, config.classifier_hidden or vd.shape[1], config.classifier_epochs,
        config.classifier_lr, config.batch_size, config.seed)
    codes = heads.codes(vectors, "code")

    out.mkdir(parents=True, exist_ok=True)
    np.save(out / CODES, codes)
    np.save(out / CATEGORIES, categories)
    np.save(out / CENTROIDS, centroids)
    heads.save(out / HASHER)
    clf.save(out / CLASSIFIER)
    (out / CONFIG).write_text(json.dumps(config.to_dict(), indent=2))
    bits = np.unpackbits(codes, axis=1)
    return {
        "pairs": int(len(ids)),
        "records": int(len(vectors)),
        "category_sizes": np.bincount(categories, minlength=k).tolist(),
        "hash": hash_stats,
        "classifier": clf_stats,
        # 0 = every bit splits the records in half; 1 = constant bits (wasted)
        "bit_imbalance": round(float(np.abs(bits.mean(axis=0) * 2 - 1).mean()), 4),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def coshc_build_hook(encoder: Encoder, config: HashConfig | None = None) -> BuildHook:
    """A build hook that trains CoSHC and stores it in the index generation.

    `config=None` uses seekcode's recommended recipe; `HashConfig.paper()` is the
    published one.
    """
    cfg = config or HashConfig.recommended()

    def hook(gen_dir: Path, records: Sequence[Record], vectors: np.ndarray,
             extras: dict[str, Any]) -> None:
        stats = train_coshc(Path(gen_dir) / ARTIFACT_DIR, records, vectors, encoder, cfg)
        extras["coshc"] = {"config": cfg.to_dict(), "bits": cfg.bits, "k": min(cfg.k, len(vectors)),
                           "training": stats}

    return hook
