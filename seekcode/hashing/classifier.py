"""The query category classifier: description vector -> distribution over code categories.

The paper reuses the search model with a k-way output layer and cross entropy; on top
of a frozen encoder that is an MLP over the description vector. Label: the category
of the description's paired code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def train_classifier(x: np.ndarray, y: np.ndarray, k: int, hidden: int, epochs: int, lr: float,
                     batch_size: int, seed: int) -> tuple[CategoryClassifier, dict[str, float]]:
    """Train on description vectors x and category labels y; 10% held out for accuracy."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_val = len(x) // 10 if len(x) >= 100 else 0
    val, tr = order[:n_val], order[n_val:]
    dim = x.shape[1]
    net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, k))
    opt = torch.optim.AdamW(net.parameters(), lr=lr)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    loss_fn = nn.CrossEntropyLoss()
    last = float("nan")
    for _ in range(epochs):
        perm = tr[rng.permutation(len(tr))]
        for s in range(0, len(perm), batch_size):
            idx = torch.from_numpy(perm[s : s + batch_size])
            loss = loss_fn(net(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            last = loss.item()
    weights = {name: t.detach().numpy().astype(np.float32) for name, t in net.state_dict().items()}
    clf = CategoryClassifier(weights)
    stats = {"loss": last, "train_accuracy": clf.accuracy(x[tr], y[tr])}
    if n_val:
        stats["val_accuracy"] = clf.accuracy(x[val], y[val])
    return clf, stats


class CategoryClassifier:
    """numpy inference of the trained MLP."""

    def __init__(self, weights: dict[str, np.ndarray]):
        self.weights = weights
        self.w1 = np.ascontiguousarray(weights["0.weight"].T)
        self.b1 = weights["0.bias"]
        self.w2 = np.ascontiguousarray(weights["2.weight"].T)
        self.b2 = weights["2.bias"]

    @property
    def k(self) -> int:
        return int(self.b2.shape[0])

    def probs(self, x: np.ndarray) -> np.ndarray:
        """Softmax category probabilities, (n, k)."""
        h = np.maximum(np.asarray(x, dtype=np.float32) @ self.w1 + self.b1, 0)
        z = h @ self.w2 + self.b2
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        if len(x) == 0:
            return float("nan")
        return float(np.mean(self.probs(x).argmax(axis=1) == y))

    def save(self, path: Path) -> None:
        weights: dict[str, Any] = dict(self.weights)  # savez's stub types **kwds as bool
        np.savez(path, **weights)

    @classmethod
    def load(cls, path: Path) -> CategoryClassifier:
        with np.load(path) as z:
            return cls({k: z[k] for k in z.files})
