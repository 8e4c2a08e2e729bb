"""Metrics against hand-computed values, ties included."""

import math

import numpy as np
import pytest

from seekcode.eval.metrics import (
    batch_ranks,
    candidate_ranks,
    mrr,
    mrr_at_1000_batch,
    ndcg,
    pool_ranks,
    recall_at,
)


def test_mrr_and_recall_by_hand():
    ranks = np.array([1, 2, 4, np.inf])
    assert mrr(ranks) == pytest.approx((1 + 0.5 + 0.25 + 0) / 4)
    assert recall_at(ranks, 1) == 0.25
    assert recall_at(ranks, 5) == 0.75
    assert recall_at(ranks, 10) == 0.75


def test_ties_count_against_the_model():
    scores = np.array([[0.5, 0.9, 0.5, 0.1]] * 3)
    ids = np.arange(4)
    # relevant record 0 ties with record 2 and is beaten by record 1: rank 3, not 2;
    # several relevant records: the best-ranked one counts; not a candidate: inf
    ranks = candidate_ranks(scores, ids, [np.array([0]), np.array([3, 1]), np.array([7])])
    assert ranks.tolist() == [3, 1, np.inf]
    # all equal: last place, also when the scores differ in the last float32 bits
    close = np.float32(0.5) + np.arange(5, dtype=np.float32) * np.float32(1e-8)
    assert candidate_ranks(close[None, :], ids=np.arange(5), relevant=[np.array([4])])[0] == 5
    # per-query candidate lists with padding (a recall-then-rerank searcher)
    cand = np.array([[9, 4, -1], [2, 9, 5]])
    cs = np.array([[0.3, 0.7, -np.inf], [0.9, 0.2, 0.2]])
    assert candidate_ranks(cs, cand, [np.array([9]), np.array([5])]).tolist() == [2, 3]


def test_batch_ranks_with_a_tie():
    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    c = np.array([[1.0, 0.0], [1.0, 0.0]])  # query 1's own code ties with code 0 at 0
    assert batch_ranks(q, c).tolist() == [2.0, 2.0]


def test_mrr_at_1000_batch_uses_own_batch_only():
    rng = np.random.default_rng(1)
    q = rng.normal(size=(2500, 8)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    # perfect pairs: each query is its own code -> MRR 1 regardless of batching
    assert mrr_at_1000_batch(q, q.copy()) == pytest.approx(1.0)
    # batch size 1: every query ranks first in a batch of one
    assert mrr_at_1000_batch(q, rng.normal(size=(2500, 8)), batch=1) == 1.0
    # the same codes for all: each query is tied with the whole batch of 1000 (last: 500)
    same = np.ones((2500, 8), np.float32)
    expected = (2 * 1000 * (1 / 1000) + 500 * (1 / 500)) / 2500
    assert mrr_at_1000_batch(q, same) == pytest.approx(expected)


def test_ndcg_both_variants_by_hand():
    grades = {"a": 3, "b": 1, "c": 0}
    ranked = ["x", "b", "a"]  # x is not annotated
    idcg = 7 / math.log2(2) + 1 / math.log2(3)
    # all: x takes rank 1, b rank 2, a rank 3
    assert ndcg(ranked, grades) == pytest.approx((1 / math.log2(3) + 7 / math.log2(4)) / idcg)
    # within: only annotated results take ranks: b rank 1, a rank 2
    assert ndcg(ranked, grades, within=True) == pytest.approx((1 / 1 + 7 / math.log2(3)) / idcg)
    assert ndcg(["a", "b"], grades) == pytest.approx(1.0)
    assert ndcg(["a"], {"a": 0}) is None


def test_pool_ranks_in_chunks_match_one_batch_ties_included():
    q = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    c = np.array([[1.0, 0.0], [1.0, 0.0], [0.6, 0.8]], dtype=np.float32)
    # query 0: code 1 ties its own code (rank 2); query 1: its own code scores 0, code 0
    # ties it and code 2 beats it (rank 3); query 2: codes 0 and 1 beat its 0.6 (rank 3)
    assert pool_ranks(q, c, chunk=2).tolist() == [2.0, 3.0, 3.0]
    assert pool_ranks(q, c, chunk=2).tolist() == batch_ranks(q, c).tolist()
    assert pool_ranks(q[:0], c).shape == (0,)
