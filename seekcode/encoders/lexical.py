"""A lexical encoder: feature-hashed bag of identifier subwords. No model, no training.

A fast baseline (and the encoder the test-suite uses): queries and code share one
vocabulary of lower-cased subwords, so it finds functions whose names and tokens say
what the query says, and nothing more.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seekcode.corpus.record import Record
from seekcode.corpus.tokens import split_identifier
from seekcode.encoders.base import Encoder, normalize

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def subwords(text: str) -> list[str]:
    out: list[str] = []
    for w in _WORD.findall(text):
        out.extend(p for p in split_identifier(w) if len(p) > 1)
    return out


class LexicalEncoder(Encoder):
    """Each subword adds +-1 to a hashed coordinate (signed feature hashing)."""

    kind = "lexical"
    thread_safe = True  # pure numpy on local arrays

    def __init__(self, dim: int = 256):
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def id(self) -> str:
        return f"lexical:{self._dim}"

    def spec(self) -> dict:  # type: ignore[type-arg]
        return {**super().spec(), "config": {"dim": self._dim}}

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in subwords(t):
                h = zlib.crc32(w.encode())
                out[i, h % self._dim] += 1.0 if (h >> 16) & 1 else -1.0
        out[np.abs(out).sum(1) == 0, 0] = 1.0  # empty text: a fixed, valid unit vector
        return normalize(out)

    def encode_queries(self, texts: Sequence[str], progress: bool = True) -> np.ndarray:
        return self._embed(texts)

    def encode_code(self, records: Sequence[Record], progress: bool = True) -> np.ndarray:
        return self._embed([f"{r.func_name} {r.code}" for r in records])

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "encoder.json").write_text(json.dumps({"type": self.kind, "dim": self._dim}))

    @classmethod
    def load(cls, directory: Path) -> LexicalEncoder:
        return cls(int(json.loads((directory / "encoder.json").read_text())["dim"]))
