"""The contrastive loss: in-batch softmax plus a margin on the hardest negative."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def similarity(queries: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Cosine similarities, (n_queries, n_codes)."""
    return F.normalize(queries, dim=-1) @ F.normalize(codes, dim=-1).T


def contrastive_loss(
    queries: torch.Tensor,
    codes: torch.Tensor,
    exclude: torch.Tensor | None = None,
    scale: float = 20.0,
    hard_weight: float = 1.0,
    margin: float = 0.2,
) -> torch.Tensor:
    """Loss of a batch where code i is query i's match and every other code a negative.

    `codes` may hold more rows than `queries` (extra negatives, e.g. mined ones).
    `exclude[i, j]` marks codes that are not negatives for query i although not its
    match either (duplicates of its code): they are left out of both terms.
    Cross-entropy of the scaled cosines, plus `hard_weight` * mean over queries of
    max(0, margin - cos(q, c+) + max over negatives cos(q, c-)).
    """
    n = queries.shape[0]
    sims = similarity(queries, codes)
    target = torch.arange(n)
    if exclude is not None:
        sims = sims.masked_fill(exclude, float("-inf"))
    loss = F.cross_entropy(scale * sims, target)
    if hard_weight > 0:
        pos = sims[target, target]
        neg = sims.clone()
        neg[target, target] = float("-inf")
        hardest = neg.max(dim=1).values
        has_neg = torch.isfinite(hardest)
        if bool(has_neg.any()):
            hinge = torch.relu(margin - pos[has_neg] + hardest[has_neg])
            loss = loss + hard_weight * hinge.mean()
    return loss


def hardest_negatives(queries: torch.Tensor, codes: torch.Tensor,
                      exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Index of each query's most similar non-matching code in the batch."""
    sims = similarity(queries, codes)
    n = queries.shape[0]
    if exclude is not None:
        sims = sims.masked_fill(exclude, float("-inf"))
    sims[torch.arange(n), torch.arange(n)] = float("-inf")
    return sims.argmax(dim=1)
