"""The contrastive loss on a hand-checked batch, and hard-negative selection."""

from __future__ import annotations

import math

import numpy as np
import torch

from seekcode.training.loss import contrastive_loss, hardest_negatives
from seekcode.training.mining import mine_negatives


def test_loss_on_a_hand_checked_batch() -> None:
    q = torch.tensor([[1.0, 0.0], [0.0, 3.0]])  # norms do not matter: cosines
    c = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    # cosines: [[1, r], [0, r]] with r = 1/sqrt(2); matches on the diagonal.
    r = 1 / math.sqrt(2)
    ce0 = math.log(1 + math.exp(2 * r - 2 * 1))  # scale 2: logits [2, 2r], target 0
    ce1 = math.log(1 + math.exp(2 * 0 - 2 * r))  # logits [0, 2r], target 1
    hinge0 = max(0.0, 0.5 - 1 + r)  # hardest negative of query 0: code 1 (cos r)
    hinge1 = max(0.0, 0.5 - r + 0)  # of query 1: code 0 (cos 0) -> 0
    expected = (ce0 + ce1) / 2 + 0.5 * (hinge0 + hinge1) / 2
    got = contrastive_loss(q, c, scale=2.0, hard_weight=0.5, margin=0.5)
    assert abs(got.item() - expected) < 1e-5
    assert abs(contrastive_loss(q, c, scale=2.0, hard_weight=0.0).item()
               - (ce0 + ce1) / 2) < 1e-5


def test_excluded_codes_are_neither_negatives_nor_hardest() -> None:
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.01]])  # code 2 duplicates code 0
    exclude = torch.tensor([[False, False, True], [False, False, False]])
    with_dup = contrastive_loss(q, c, exclude, scale=10.0, hard_weight=1.0, margin=0.2)
    without = contrastive_loss(q, c[:2], None, scale=10.0, hard_weight=1.0, margin=0.2)
    # Query 1 still sees code 2 as a negative, so compare query 0 alone.
    q0 = contrastive_loss(q[:1], c, exclude[:1], scale=10.0, hard_weight=1.0, margin=0.2)
    q0_plain = contrastive_loss(q[:1], c[:2], None, scale=10.0, hard_weight=1.0, margin=0.2)
    assert abs(q0.item() - q0_plain.item()) < 1e-6
    assert with_dup.item() > without.item()


def test_in_batch_mining_picks_the_hardest_negative() -> None:
    q = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    c = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0],
                      [0.9, 0.1, 0.0], [0.3, 0.5, 0.5]])
    assert hardest_negatives(q, c).tolist() == [3, 4, 4]
    exclude = torch.zeros(3, 5, dtype=torch.bool)
    exclude[0, 3] = True  # a duplicate of query 0's match is not its hardest negative
    assert hardest_negatives(q, c, exclude).tolist()[0] == 4


def test_index_mining_picks_the_hardest_non_matching_code() -> None:
    rng = np.random.default_rng(0)
    codes = np.eye(4, dtype=np.float32)
    queries = np.array([[0.9, 0.3, 0.1, 0.0],   # match 0, hardest other: 1
                        [0.0, 0.8, 0.1, 0.5],   # match 1, hardest other: 3
                        [0.7, 0.0, 0.6, 0.0],   # match 2, hardest other: 0
                        [0.0, 0.2, 0.9, 0.6]],  # match 3 (not even its top hit): 2
                       dtype=np.float32)
    groups = np.arange(4)
    assert mine_negatives(queries, codes, groups, top_k=1, rng=rng).tolist() == [1, 3, 0, 2]
    # Records 0 and 1 are duplicates: 1 is no negative for query 0.
    dup = np.array([0, 0, 2, 3])
    assert mine_negatives(queries, codes, dup, top_k=1, rng=rng)[0] == 2
    picks = mine_negatives(queries, codes, groups, top_k=2, rng=np.random.default_rng(1))
    assert all(p != i for i, p in enumerate(picks))
