"""Training configuration: one dataclass, saved beside the model it produced."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from seekcode.errors import InputError

MODELS = ("nbow", "cnn", "rnn", "selfatt", "deepsem", "minilm")


@dataclass
class TrainConfig:
    """How an encoder is trained. Defaults follow the papers where they say, CPU budgets otherwise.

    The loss is a softmax over the batch's cosines (scaled by `scale`) plus
    `hard_weight` times a margin loss on each query's hardest in-batch negative.
    With `mined_negatives`, each query also brings one code mined from the
    previous epoch's model (a random pick among its top `mine_top_k` non-matches).
    `chunk_size` > 0 computes the batch's gradient in chunks (gradient caching), so
    a transformer can use a batch of many negatives in little memory.
    """

    model: str = "nbow"
    seed: int = 0
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 20
    grad_clip: float = 1.0
    max_epochs: int = 50
    max_minutes: float = 10.0
    # "wall" or "cpu": a CPU-time budget (this process's) compares models fairly on
    # a machine shared with other work.
    clock: str = "wall"
    patience: int = 3
    scale: float = 20.0
    hard_weight: float = 1.0
    margin: float = 0.2
    mined_negatives: bool = True
    mine_top_k: int = 10
    chunk_size: int = 0
    # Pairs per epoch (0: all): shorter epochs validate, checkpoint and mine more often.
    epoch_pairs: int = 0
    valid_max: int = 2000
    # Validate before the first update: a fine-tuned model is kept only if it beats
    # where it started.
    validate_start: bool = False
    # Gated models (deepsem): first train only the embeddings' bag model (the
    # self-attention blocks wait behind zero gates; a step costs tens of times less)
    # for at most this share of the budget, or until validation stops improving for
    # `patience` epochs; then the full model, from there. 0: the full model throughout.
    bag_warmup: float = 0.0
    # Torch threads; 0 = torch's default. One by default: on a busy 2-core machine
    # multi-threaded kernels mostly wait for each other (5x slower steps measured).
    threads: int = 1
    # Architecture overrides passed to NeuralConfig.for_kind (e.g. {"pooling": ["mean"]}).
    arch: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_model(cls, model: str, **overrides: Any) -> TrainConfig:
        """Defaults for a model type; `overrides` (None values ignored) replace fields."""
        if model not in MODELS:
            raise InputError(f"unknown model {model!r} (choose from {', '.join(MODELS)})")
        base: dict[str, Any] = {"model": model}
        if model == "nbow":
            # Embedding tables only: a large step size converges within minutes.
            base.update(lr=1e-2)
        if model in ("selfatt", "deepsem", "rnn", "cnn"):
            # The sequence models are slow per pair on CPU: shorter epochs so that
            # validation and mining happen inside a few minutes' budget.
            base.update(lr=5e-3, warmup_steps=10, epoch_pairs=16384)
        if model == "deepsem":
            base.update(bag_warmup=0.5)
        if model == "minilm":
            # Fine-tuning: small steps; 64 pairs (+ 64 mined negatives) per batch,
            # computed in chunks of 16 with gradient caching.
            base.update(lr=2e-5, batch_size=64, chunk_size=16, warmup_steps=5,
                        epoch_pairs=1024, valid_max=300, validate_start=True)
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Fields that may change when a run is resumed: they bound the run, not the model.
RESUMABLE_CHANGES = ("max_epochs", "max_minutes", "patience", "threads", "clock")
