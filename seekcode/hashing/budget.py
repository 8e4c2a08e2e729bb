"""How many candidates to recall from each code category (the paper's eq. 7)."""

from __future__ import annotations

import numpy as np


def recall_budget(probs: np.ndarray, n: int, minimum: int = 1) -> np.ndarray:
    """R_i = max(floor(p_i * (N - k)), minimum) for each row of category probabilities.

    The paper prints `min(..., 1)`; its text ("at least one source code from each
    category") means `max`. With `minimum` m the reserve is k*m, so the total stays
    <= N whenever the probabilities sum to 1: sum floor(p_i (N - k m)) + k m <= N.
    """
    probs = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    k = probs.shape[1]
    spare = max(n - k * minimum, 0)
    # A tiny epsilon so that p_i * spare landing exactly on an integer is not floored
    # one below by rounding (0.3 * 90 = 26.999999999999996).
    return np.maximum(np.floor(probs * spare + 1e-9), minimum).astype(np.int64)


def one_category_budget(best: np.ndarray, k: int, n: int) -> np.ndarray:
    """The paper's "one classification": N - k + 1 in category `best`, 1 elsewhere."""
    best = np.atleast_1d(np.asarray(best, dtype=np.int64))
    out = np.ones((len(best), k), dtype=np.int64)
    out[np.arange(len(best)), best] = max(n - k + 1, 1)
    return out
