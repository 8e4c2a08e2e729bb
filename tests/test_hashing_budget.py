"""The recall budget R_i = max(floor(p_i (N - k)), 1) (eq. 7, with the paper's intent)."""

import numpy as np
import pytest

from seekcode.hashing.budget import one_category_budget, recall_budget
from seekcode.hashing.config import HashConfig


def test_budget_by_hand():
    p = np.array([[0.5, 0.3, 0.2, 0.0]])
    # N - k = 96: floor(48) = 48, floor(28.8) = 28, floor(19.2) = 19, max(0, 1) = 1
    np.testing.assert_array_equal(recall_budget(p, 100), [[48, 28, 19, 1]])


def test_budget_exact_products_are_not_floored_down():
    p = np.array([[0.3, 0.7]])  # 0.3 * 90 is 26.999999999999996 in floating point
    np.testing.assert_array_equal(recall_budget(p, 92), [[27, 63]])


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_budget_at_least_one_and_at_most_n(n):
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(10), size=200)
    r = recall_budget(p, n)
    assert r.min() >= 1
    assert (r.sum(axis=1) <= n).all()


def test_budget_with_larger_minimum():
    p = np.array([[1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(recall_budget(p, 100, minimum=5), [[85, 5, 5]])


def test_one_category_budget():
    np.testing.assert_array_equal(one_category_budget(np.array([2, 0]), 4, 100),
                                  [[1, 1, 97, 1], [97, 1, 1, 1]])


def test_adaptive_recall():
    cfg = HashConfig(recall=100, recall_per_million=1000)
    assert cfg.recall_for(10_000) == 110
    assert cfg.recall_for(1_000_000) == 1100
    capped = HashConfig(recall=100, recall_per_million=10_000, max_recall=2000)
    assert capped.recall_for(50_000) == 600
    assert capped.recall_for(1_000_000) == 2000
    assert HashConfig().recall_for(1_000_000) == 100
