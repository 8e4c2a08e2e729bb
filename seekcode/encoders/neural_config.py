"""Architecture configs of the trainable encoders (no torch: inference reads them too)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from seekcode.encoders.text import MODALITIES


@dataclass
class SequenceConfig:
    """One sequence encoder: token ids in, one vector out.

    `arch`: nbow | cnn | rnn | selfatt. `pooling`: a subset of mean, max, attention;
    more than one is the paper's hybrid pooling (a learned mix). `combine_layers`:
    pool a learned weighted sum of every layer's output (embeddings included)
    instead of the last layer's. `gated` (self-attention only): each block adds to a
    residual stream through a learned gate that starts at zero (ReZero), so an
    untrained body leaves the embeddings' bag model intact; see `bag_phase`.
    """

    arch: str = "nbow"
    dim: int = 128
    layers: int = 2
    heads: int = 4
    max_len: int = 96
    dropout: float = 0.1
    pooling: tuple[str, ...] = ("attention",)
    combine_layers: bool = False
    kernel: int = 5
    gated: bool = False



@dataclass
class NeuralConfig:
    """Architecture of a trainable encoder; saved in the model's encoder.json."""

    kind: str = "nbow"
    dim: int = 128
    layers: int = 2
    heads: int = 4
    # CPU budgets underfit long before they overfit (early stopping guards the
    # rest), and dropout doubles the cost of a step.
    dropout: float = 0.0
    pooling: tuple[str, ...] = ("attention",)
    combine_layers: bool = False
    # Self-attention blocks behind zero-initialised gates (see SequenceConfig.gated).
    gated: bool = False
    modalities: tuple[str, ...] = ("tokens",)
    align: bool = False
    query_vocab: int = 8000
    code_vocab: int = 12000
    max_len: dict[str, int] = field(
        default_factory=lambda: {"query": 32, "tokens": 128, "name": 8, "calls": 24}
    )
    # Filled in when the tokenizers are trained: the code languages, most frequent first.
    languages: list[str] = field(default_factory=lambda: ["python"])

    @classmethod
    def for_kind(cls, kind: str, **overrides: Any) -> NeuralConfig:
        """Paper defaults per model type; `overrides` replace any field."""
        base: dict[str, Any] = {"kind": kind}
        if kind == "deepsem":
            base.update(pooling=("mean", "max", "attention"), combine_layers=True,
                        modalities=MODALITIES, align=True, gated=True)
        elif kind == "rnn":
            base.update(pooling=("mean",))
        elif kind in ("cnn", "selfatt"):
            base.update(pooling=("attention",))
        elif kind != "nbow":
            raise ValueError(f"unknown trainable encoder {kind!r}")
        if kind != "nbow":
            # Self-attention costs grow with the square of the length: 64 tokens (after
            # dropping punctuation) keep a step near one CPU-second; NBoW reads 128.
            base["max_len"] = {"query": 32, "tokens": 64, "name": 8, "calls": 24}
        base.update(overrides)
        return cls(**base)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NeuralConfig:
        names = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        for key in ("pooling", "modalities"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)

    def sequence(self, part: str) -> SequenceConfig:
        """The sequence encoder of the query ("query") or of one code modality."""
        arch = "selfatt" if self.kind == "deepsem" else self.kind
        # Names and call lists are short bags: one attention layer is enough there.
        layers = 1 if part in ("name", "calls") and arch == "selfatt" else self.layers
        return SequenceConfig(arch=arch, dim=self.dim, layers=layers, heads=self.heads,
                              max_len=self.max_len[part], dropout=self.dropout,
                              pooling=tuple(self.pooling), combine_layers=self.combine_layers,
                              gated=self.gated and arch == "selfatt")
