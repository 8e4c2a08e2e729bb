"""Contrastive training of bi-encoders on (docstring, code) pairs.

    from seekcode.training import TrainConfig, train
    result = train(TrainConfig.for_model("deepsem", max_minutes=10), records, "models/deepsem")
    encoder = seekcode.load_encoder("models/deepsem")

The command line is `seekcode train encoder` (training/cli.py).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["TrainConfig", "TrainResult", "Trainer", "train"]
_WHERE = {"TrainConfig": "config", "TrainResult": "trainer", "Trainer": "trainer",
          "train": "trainer"}


def __getattr__(name: str) -> Any:
    # Lazy: `seekcode --help` loads training/cli.py and must not pay for importing torch.
    if name in _WHERE:
        return getattr(importlib.import_module(f"seekcode.training.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'seekcode.training' has no attribute {name!r}")
