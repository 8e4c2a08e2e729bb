"""The one interface every model implements: queries and code in, unit vectors out."""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seekcode.corpus.record import Record
from seekcode.errors import InputError

CONFIG_FILE = "encoder.json"

# Encoder types by name -> "module:Class". Imported lazily so that `seekcode search`
# with MiniLM never pays for importing the trainable models, and vice versa.
ENCODER_TYPES: dict[str, str] = {
    "minilm": "seekcode.encoders.minilm:MiniLMEncoder",
    "lexical": "seekcode.encoders.lexical:LexicalEncoder",
    "nbow": "seekcode.encoders.onnx_neural:OnnxNeuralEncoder",
    "cnn": "seekcode.encoders.onnx_neural:OnnxNeuralEncoder",
    "rnn": "seekcode.encoders.onnx_neural:OnnxNeuralEncoder",
    "selfatt": "seekcode.encoders.onnx_neural:OnnxNeuralEncoder",
    "deepsem": "seekcode.encoders.onnx_neural:OnnxNeuralEncoder",
}


def register_encoder(name: str, target: str) -> None:
    """Register an encoder type: `target` is "package.module:ClassName"."""
    ENCODER_TYPES[name] = target


class Encoder(ABC):
    """Embeds natural-language queries and code records into one vector space.

    Both methods return L2-normalised float32 arrays of shape (n, dim), so the
    inner product is the cosine similarity.
    """

    #: the encoder type, a key of ENCODER_TYPES
    kind: str = ""
    #: concurrent encode calls are safe and run in parallel (ONNX Runtime sessions,
    #: `tokenizers`); otherwise the index serialises them and batches what waits
    thread_safe: bool = False

    @property
    @abstractmethod
    def dim(self) -> int:
        """Dimension of the vectors."""

    @property
    @abstractmethod
    def id(self) -> str:
        """Identity stored in an index manifest: same id, same vectors for the same input."""

    @abstractmethod
    def encode_queries(self, texts: Sequence[str], progress: bool = True) -> np.ndarray:
        """Embed natural-language queries."""

    @abstractmethod
    def encode_code(self, records: Sequence[Record], progress: bool = True) -> np.ndarray:
        """Embed code records."""

    def encode_code_batches(self, records: Sequence[Record], batch_size: int = 256,
                            ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Embed records batch by batch: yields (positions in `records`, vectors) as each
        batch is done, so a caller can store them before the next (`Index.build`)."""
        for start in range(0, len(records), batch_size):
            part = records[start : start + batch_size]
            yield np.arange(start, start + len(part)), self.encode_code(part, progress=False)

    def save(self, directory: str | Path) -> None:
        """Write the model to a directory with an `encoder.json` naming its type."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    @classmethod
    def load(cls, directory: Path) -> Encoder:
        raise NotImplementedError(f"{cls.__name__} cannot be loaded from a directory")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Encoder:
        """Rebuild an encoder that needs no saved files from its `spec()["config"]`."""
        return cls(**config)

    def spec(self) -> dict[str, Any]:
        """What an index stores to reopen this encoder: type, id, and where it lives."""
        return {"type": self.kind, "id": self.id, "dim": self.dim}


def _resolve(kind: str) -> type[Encoder]:
    try:
        target = ENCODER_TYPES[kind]
    except KeyError:
        known = ", ".join(sorted(ENCODER_TYPES))
        raise InputError(f"unknown encoder type {kind!r} (known: {known})") from None
    module, _, cls_name = target.partition(":")
    cls = getattr(importlib.import_module(module), cls_name)
    return cls  # type: ignore[no-any-return]


def encoder_from_spec(spec: dict[str, Any]) -> Encoder:
    """Reopen the encoder an index manifest names: from its saved directory, or its config."""
    if spec.get("path"):
        return load_encoder(spec["path"])
    return _resolve(spec["type"]).from_config(spec.get("config", {}))


# Named MiniLM variants (`--encoder minilm-int8`); "minilm:RUNTIME" names any runtime.
MINILM_ALIASES = {"minilm-int8": "ort-int8"}


def load_encoder(spec: str | Path | None = None) -> Encoder:
    """Open an encoder: `None`/"minilm" for the bundled default, "minilm-int8" or
    "minilm:[RUNTIME][:maxN]" for a variant (see encoders/minilm.py), or a trained model
    directory."""
    if spec is None or str(spec) == "minilm":
        return _resolve("minilm")()
    name = str(spec)
    if name in MINILM_ALIASES:
        return _resolve("minilm").from_config({"runtime": MINILM_ALIASES[name]})
    if name.startswith("minilm:"):
        return _resolve("minilm").from_name(name)  # type: ignore[attr-defined,no-any-return]
    path = Path(spec)
    cfg_file = path / CONFIG_FILE
    if path.is_dir() and cfg_file.exists():
        cfg = json.loads(cfg_file.read_text())
        return _resolve(cfg["type"]).load(path)
    if str(spec) in ENCODER_TYPES:
        return _resolve(str(spec))()
    raise InputError(
        f"{spec}: not an encoder (expected 'minilm', 'minilm-int8', 'minilm:[RUNTIME][:maxN]' or a model directory with {CONFIG_FILE}; "
        "train one with `seekcode train encoder`)"
    )


def batched_by_length(
    items: Sequence[Any],
    lengths: Sequence[int],
    batch_size: int,
    embed: Callable[[list[Any]], np.ndarray],
    dim: int,
    progress: bool,
    desc: str,
) -> np.ndarray:
    """Embed items in batches of similar length (less padding), in the caller's order."""
    out = np.zeros((len(items), dim), dtype=np.float32)
    order = np.argsort(np.asarray(lengths), kind="stable")[::-1]
    bar = None
    if progress and len(items) > 1:  # a search's one query never pays for importing tqdm
        from tqdm import tqdm

        bar = tqdm(total=len(items), desc=desc, unit="item", leave=False)
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            out[idx] = embed([items[i] for i in idx])
            if bar is not None:
                bar.update(len(idx))
    finally:
        if bar is not None:
            bar.close()
    return normalize(out)


def normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)
