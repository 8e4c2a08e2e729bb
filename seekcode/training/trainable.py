"""What the training loop needs from a model, for the neural encoders and for MiniLM."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from seekcode.corpus.record import Record
from seekcode.encoders.base import Encoder, batched_by_length

Features = dict[str, np.ndarray]


class Trainable(Protocol):
    """A bi-encoder seen by the trainer: feature tables in, differentiable vectors out."""

    def query_features(self, texts: Sequence[str]) -> Features: ...

    def code_features(self, records: Sequence[Record]) -> Features: ...

    def embed_query_features(self, feats: Features, rows: np.ndarray) -> torch.Tensor: ...

    def embed_code_features(self, feats: Features, rows: np.ndarray) -> torch.Tensor: ...

    def embed_features(self, feats: Features, side: str, progress: bool = False) -> np.ndarray: ...

    def torch_module(self) -> nn.Module: ...

    def weights_changed(self) -> None: ...

    def save(self, directory: str | Path, extra: dict[str, Any] | None = None) -> None: ...


class MiniLMTrainable:
    """MiniLM as a siamese bi-encoder: one transformer for queries and code."""

    def __init__(self, encoder: Any):
        from seekcode.encoders.minilm import MiniLMEncoder, code_text

        self.encoder: MiniLMEncoder = encoder
        self._code_text = code_text

    def query_features(self, texts: Sequence[str]) -> Features:
        return {"text": np.array([t if t.strip() else " " for t in texts], dtype=object)}

    def code_features(self, records: Sequence[Record]) -> Features:
        return {"text": np.array([self._code_text(r) or " " for r in records], dtype=object)}

    def _embed(self, feats: Features, rows: np.ndarray) -> torch.Tensor:
        return self.encoder.embed_texts([str(t) for t in feats["text"][rows]])

    embed_query_features = _embed
    embed_code_features = _embed

    def embed_features(self, feats: Features, side: str, progress: bool = False) -> np.ndarray:
        texts = feats["text"]
        model = self.encoder.model
        was_training = model.training
        model.eval()

        def embed(rows: list[int]) -> np.ndarray:
            with torch.inference_mode():
                return self._embed(feats, np.asarray(rows)).float().numpy()

        try:
            return batched_by_length(list(range(len(texts))), [len(str(t)) for t in texts],
                                     self.encoder.config.batch_size, embed, self.encoder.dim,
                                     progress, f"encoding {side}")
        finally:
            model.train(was_training)

    def torch_module(self) -> nn.Module:
        return self.encoder.model  # type: ignore[no-any-return]

    def weights_changed(self) -> None:
        pass

    def save(self, directory: str | Path, extra: dict[str, Any] | None = None) -> None:
        self.encoder.save(directory)

    def as_encoder(self) -> Encoder:
        return self.encoder
