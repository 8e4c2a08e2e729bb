"""The hashing module: two heads (code, description) of 3 FC layers with tanh.

Training uses torch (`HashModule`); search runs the saved weights in numpy
(`HashHeads`) so that answering a query never imports torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from seekcode.hashing.codes import pack_signs

HEADS = ("code", "desc")


def rotation_init(vectors: np.ndarray, bits: int, seed: int, itq_iterations: int = 0) -> np.ndarray:
    """(bits, dim) projection: top principal directions, then a rotation.

    The rotation spreads the variance evenly over the bits: random, or refined by ITQ
    (alternately take B = sign(V R) and the R minimising ||B - V R||, an orthogonal
    Procrustes problem). With bits >= dim it rotates the whole space (plus random
    directions for the extra bits).
    """
    rng = np.random.default_rng(seed)
    x = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(x[: min(len(x), 20000)], full_matrices=False)
    dim = vectors.shape[1]
    # Fewer training vectors than bits gives fewer principal directions: random ones fill in.
    take = min(bits, dim, vt.shape[0])
    q, _ = np.linalg.qr(rng.standard_normal((take, take)))
    if itq_iterations:
        v = x[: min(len(x), 50000)] @ vt[:take].T
        r = q.T  # V R with R (take, take); proj rows = R^T
        for _ in range(itq_iterations):
            b = np.where(v @ r > 0, 1.0, -1.0)
            u, _, wt = np.linalg.svd(b.T @ v)
            r = (u @ wt).T
        q = r.T
    proj = q @ vt[:take]
    if bits > take:
        extra = rng.standard_normal((bits - take, dim))
        extra /= np.linalg.norm(extra, axis=1, keepdims=True)
        proj = np.vstack([proj, extra])
    return proj.astype(np.float32)


def build_module(dim: int, bits: int, hidden: int, layers: int, skip: np.ndarray | None):  # noqa: ANN201
    """The torch module (imported lazily: only training needs torch)."""
    import torch
    from torch import nn

    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            sizes = [dim] + [hidden] * (layers - 1) + [bits]
            mods: list[nn.Module] = []
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
                mods.append(nn.Linear(a, b))
                if i < len(sizes) - 2:
                    mods.append(nn.Tanh())
            self.mlp = nn.Sequential(*mods)
            self.skip: nn.Linear | None = None
            if skip is not None:
                # A linear path started at the rotation: training begins from sign
                # binarisation of rotated vectors and learns corrections on top.
                self.skip = nn.Linear(dim, bits, bias=False)
                with torch.no_grad():
                    self.skip.weight.copy_(torch.from_numpy(skip))
                    last = self.mlp[-1]
                    assert isinstance(last, nn.Linear)
                    last.weight.mul_(0.01)
                    last.bias.zero_()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.mlp(x)
            if self.skip is not None:
                # The rotation's outputs are ~1/sqrt(dim); scale them up to the MLP's range.
                h = h + self.skip(x) * float(np.sqrt(dim))
            return h

    class HashModule(nn.Module):
        """H (before tanh(alpha H)) for code and description vectors."""

        def __init__(self) -> None:
            super().__init__()
            self.code = Head()
            self.desc = Head()

    return HashModule()


def export_heads(module: object) -> dict[str, np.ndarray]:
    """Torch weights -> a flat dict of numpy arrays for HashHeads."""
    out: dict[str, np.ndarray] = {}
    for name, tensor in module.state_dict().items():  # type: ignore[attr-defined]
        out[name] = tensor.detach().cpu().numpy().astype(np.float32)
    return out


class HashHeads:
    """numpy inference of a trained HashModule: vectors -> packed binary codes."""

    def __init__(self, weights: dict[str, np.ndarray], dim: int):
        self.weights = weights
        self.dim = dim
        self._layers = {h: self._collect(h) for h in HEADS}

    def _collect(self, head: str) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray | None]:
        linears = sorted(
            {int(k.split(".")[2]) for k in self.weights if k.startswith(f"{head}.mlp.")}
        )
        layers = [(np.ascontiguousarray(self.weights[f"{head}.mlp.{i}.weight"].T),
                   self.weights[f"{head}.mlp.{i}.bias"]) for i in linears]
        skip = self.weights.get(f"{head}.skip.weight")
        skip_t = None if skip is None else np.ascontiguousarray(skip.T) * np.float32(np.sqrt(self.dim))
        return layers, skip_t

    @property
    def bits(self) -> int:
        return int(self._layers["code"][0][-1][1].shape[0])

    def project(self, x: np.ndarray, head: str) -> np.ndarray:
        """H for float vectors (n, dim)."""
        layers, skip = self._layers[head]
        x = np.asarray(x, dtype=np.float32)
        h = x
        for i, (w, b) in enumerate(layers):
            h = h @ w + b
            if i < len(layers) - 1:
                h = np.tanh(h)
        if skip is not None:
            h = h + x @ skip
        return h

    def codes(self, x: np.ndarray, head: str, chunk: int = 65536) -> np.ndarray:
        """Packed sign(H), bits/8 bytes per row."""
        out = [pack_signs(self.project(x[s : s + chunk], head)) for s in range(0, len(x), chunk)]
        return np.vstack(out) if out else np.zeros((0, self.bits // 8), np.uint8)

    def save(self, path: Path) -> None:
        weights: dict[str, Any] = dict(self.weights)  # savez's stub types **kwds as bool
        np.savez(path, **weights)

    @classmethod
    def load(cls, path: Path, dim: int) -> HashHeads:
        with np.load(path) as z:
            return cls({k: z[k] for k in z.files}, dim)
