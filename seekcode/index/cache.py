"""Vectors encoded by a build that has not finished yet, so a re-run resumes."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np


class VectorCache:
    """Append-only parts of (content hashes, vectors), one folder per encoder id."""

    def __init__(self, root: Path, encoder_id: str):
        key = hashlib.sha1(encoder_id.encode()).hexdigest()[:16]
        self.dir = root / ".cache" / key

    def load(self) -> dict[str, np.ndarray]:
        known: dict[str, np.ndarray] = {}
        if not self.dir.exists():
            return known
        for tmp in self.dir.glob(".tmp-*"):
            tmp.unlink(missing_ok=True)  # written by a build killed mid-save
        for part in sorted(self.dir.glob("part-*.npz")):
            try:
                with np.load(part) as z:
                    for h, v in zip(z["hashes"], z["vectors"], strict=True):
                        known[str(h)] = v
            except (OSError, ValueError, KeyError):
                part.unlink(missing_ok=True)  # a part cut short by a kill: encode again
        return known

    def append(self, hashes: list[str], vectors: np.ndarray) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        # Next number after the highest, not the count: load() may have dropped a part.
        numbers = [int(p.stem[5:]) for p in self.dir.glob("part-*.npz") if p.stem[5:].isdigit()]
        n = max(numbers, default=-1) + 1
        final = self.dir / f"part-{n:06d}.npz"
        tmp = self.dir / f".tmp-{os.getpid()}.npz"
        np.savez(tmp, hashes=np.array(hashes), vectors=vectors)
        os.replace(tmp, final)

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
