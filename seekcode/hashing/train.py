"""Training the hash heads on (code vector, description vector) pairs (`coshc.fit` calls it)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from seekcode.corpus.record import Record
from seekcode.hashing import clusters
from seekcode.hashing.config import HashConfig
from seekcode.hashing.model import HashHeads, build_module, export_heads, rotation_init


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
