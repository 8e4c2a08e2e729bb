"""Trainable bi-encoders: the CodeSearchNet baselines and the deep semantic model.

`nbow`, `cnn`, `rnn`, `selfatt` (CodeSearchNet's baselines) read the code tokens;
`deepsem` (Wu & Yan 2022) reads several modalities of the code (tokens, function-name
sub-words, called API names), each with a self-attention encoder whose layers are
mixed (layer combination) and pooled by a learned mix of mean, max and attention
(hybrid pooling). The modality vectors are fused, and each language's code encoder
is followed by an alignment projection into the space shared with the query encoder.

deepsem's self-attention blocks sit behind zero-initialised gates (ReZero): an
untrained body computes exactly the embeddings' bag model, so training can fit that
bag first at a fraction of the cost per step (`TrainConfig.bag_warmup`) and then open
the gates.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from seekcode.corpus.record import Record
from seekcode.encoders.base import CONFIG_FILE, Encoder, batched_by_length
from seekcode.encoders.layers import SequenceConfig, SequenceEncoder
from seekcode.encoders.text import MODALITIES, modality_words, query_words
from seekcode.encoders.tokenizer import SubwordTokenizer

WEIGHTS = "weights.pt"
QUERY_TOKENIZER = "query_tokenizer.json"
CODE_TOKENIZER = "code_tokenizer.json"

Features = dict[str, np.ndarray]


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


class BiEncoderModule(nn.Module):
    """A query encoder and, per language, code encoders (one per modality) + fusion + alignment."""

    def __init__(self, cfg: NeuralConfig, query_vocab: int, code_vocab: int):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.query = SequenceEncoder(query_vocab, cfg.sequence("query"))
        self.code = nn.ModuleDict()
        self.fuse = nn.ModuleDict()
        self.align = nn.ModuleDict()
        for lang in cfg.languages:
            self.code[lang] = nn.ModuleDict(
                {m: SequenceEncoder(code_vocab, cfg.sequence(m)) for m in cfg.modalities}
            )
            if len(cfg.modalities) > 1:
                self.fuse[lang] = nn.Linear(len(cfg.modalities) * d, d)
            if cfg.align:
                proj = nn.Linear(d, d)
                # Start as the identity: alignment learns a correction, not a new space.
                nn.init.eye_(proj.weight)
                nn.init.zeros_(proj.bias)
                self.align[lang] = proj

    def set_bag_phase(self, on: bool) -> bool:
        """Compute only the embeddings' bag models of the gated encoders (see
        SequenceEncoder); False when there is no gated encoder to switch."""
        gated = [m for m in self.modules() if isinstance(m, SequenceEncoder) and m.gates is not None]
        if on and any(bool((m.gates != 0).any()) for m in gated):  # type: ignore[union-attr]
            raise ValueError("the bag phase needs untrained gates (all zero)")
        for m in gated:
            m.bag_phase = on
        return bool(gated)

    def embed_queries(self, ids: torch.Tensor) -> torch.Tensor:
        return self.query(ids)

    def embed_code(self, feats: dict[str, torch.Tensor], lang: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(lang.shape[0], self.cfg.dim, dtype=torch.float32)
        for li, name in enumerate(self.cfg.languages):
            rows = (lang == li).nonzero(as_tuple=True)[0]
            if rows.numel() == 0:
                continue
            enc = cast(nn.ModuleDict, self.code[name])
            parts = [enc[m](_trim(feats[m][rows])) for m in self.cfg.modalities]
            v = self.fuse[name](torch.cat(parts, dim=-1)) if name in self.fuse else parts[0]
            if name in self.align:
                v = self.align[name](v)
            out = out.index_put((rows,), v)
        return out


def _trim(ids: torch.Tensor) -> torch.Tensor:
    """Drop all-padding columns at the end: batches of short inputs cost less."""
    used = int((ids != 0).any(0).nonzero().max().item()) + 1 if ids.numel() else 1
    return ids[:, :used]


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class NeuralEncoder(Encoder):
    """A trained bi-encoder with its tokenizers; the Encoder interface over BiEncoderModule."""

    kind = "neural"
    batch_size = 256

    def __init__(self, cfg: NeuralConfig, query_tok: SubwordTokenizer, code_tok: SubwordTokenizer,
                 module: BiEncoderModule | None = None, path: Path | None = None):
        self.cfg = cfg
        self.query_tok = query_tok
        self.code_tok = code_tok
        self.module = module or BiEncoderModule(cfg, query_tok.vocab_size, code_tok.vocab_size)
        self.path = path
        self._id: str | None = None

    # ---- building ------------------------------------------------------------------
    @classmethod
    def build(cls, records: Sequence[Record], cfg: NeuralConfig) -> NeuralEncoder:
        """Train the tokenizers on `records` and create an untrained model of type cfg.kind."""
        langs = Counter((r.language or "python").lower() for r in records)
        cfg.languages = [lang for lang, _ in langs.most_common()] or ["python"]
        query_tok = SubwordTokenizer.train((query_words(r.query_text) for r in records),
                                           cfg.query_vocab)
        code_tok = SubwordTokenizer.train(
            (w for r in records for w in (modality_words(r, "tokens"), modality_words(r, "name"))),
            cfg.code_vocab,
        )
        return encoder_class(cfg.kind)(cfg, query_tok, code_tok)

    # ---- the Encoder interface -------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.cfg.dim

    @property
    def id(self) -> str:
        if self._id is None:
            self._id = f"{self.kind}:{weights_digest(self.module.state_dict())[:16]}"
        return self._id

    def weights_changed(self) -> None:
        """Forget the cached id (called by the trainer after each update it publishes)."""
        self._id = None

    def spec(self) -> dict[str, Any]:
        spec = super().spec()
        if self.path is not None:
            spec["path"] = str(self.path.resolve())
        return spec

    def query_features(self, texts: Sequence[str]) -> Features:
        return {"query": self.query_tok.encode([query_words(t) for t in texts],
                                               self.cfg.max_len["query"])}

    def code_features(self, records: Sequence[Record]) -> Features:
        feats = {m: self.code_tok.encode([modality_words(r, m) for r in records],
                                         self.cfg.max_len[m]) for m in self.cfg.modalities}
        index = {lang: i for i, lang in enumerate(self.cfg.languages)}
        feats["lang"] = np.array([index.get((r.language or "").lower(), 0) for r in records],
                                 dtype=np.int64)
        return feats

    def embed_query_features(self, feats: Features, rows: np.ndarray) -> torch.Tensor:
        """Differentiable query vectors (not normalised) of the given rows."""
        return self.module.embed_queries(_trim(torch.from_numpy(feats["query"][rows])))

    def embed_code_features(self, feats: Features, rows: np.ndarray) -> torch.Tensor:
        """Differentiable code vectors (not normalised) of the given rows."""
        t = {m: torch.from_numpy(feats[m][rows]) for m in self.cfg.modalities}
        return self.module.embed_code(t, torch.from_numpy(feats["lang"][rows]))

    def torch_module(self) -> nn.Module:
        return self.module

    def embed_features(self, feats: Features, side: str, progress: bool = False) -> np.ndarray:
        """Normalised vectors of every row of a feature table, in eval mode, no gradients."""
        first = feats["query"] if side == "query" else feats[self.cfg.modalities[0]]
        lengths = (first != 0).sum(1)
        fn = self.embed_query_features if side == "query" else self.embed_code_features
        was_training = self.module.training
        self.module.eval()

        def embed(rows: list[int]) -> np.ndarray:
            with torch.inference_mode():
                return fn(feats, np.asarray(rows)).float().numpy()

        try:
            return batched_by_length(list(range(len(first))), lengths.tolist(), self.batch_size,
                                     embed, self.dim, progress, f"encoding {side}")
        finally:
            self.module.train(was_training)

    def encode_queries(self, texts: Sequence[str], progress: bool = True) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self.embed_features(self.query_features(texts), "query", progress)

    def encode_code(self, records: Sequence[Record], progress: bool = True) -> np.ndarray:
        if not records:
            return np.zeros((0, self.dim), np.float32)
        return self.embed_features(self.code_features(records), "code", progress)

    # ---- persistence ---------------------------------------------------------------
    def save(self, directory: str | Path, extra: dict[str, Any] | None = None) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.module.state_dict(), directory / (WEIGHTS + ".tmp"))
        (directory / (WEIGHTS + ".tmp")).replace(directory / WEIGHTS)
        self.query_tok.save(directory / QUERY_TOKENIZER)
        self.code_tok.save(directory / CODE_TOKENIZER)
        doc = {"type": self.kind, "config": asdict(self.cfg), **(extra or {})}
        (directory / CONFIG_FILE).write_text(json.dumps(doc, indent=2))
        self.path = directory

    @classmethod
    def load(cls, directory: Path) -> NeuralEncoder:
        directory = Path(directory)
        doc = json.loads((directory / CONFIG_FILE).read_text())
        cfg = NeuralConfig.from_dict(doc["config"])
        enc = encoder_class(cfg.kind)(
            cfg,
            SubwordTokenizer.load(directory / QUERY_TOKENIZER),
            SubwordTokenizer.load(directory / CODE_TOKENIZER),
            path=directory,
        )
        state = torch.load(directory / WEIGHTS, map_location="cpu", weights_only=True)
        enc.module.load_state_dict(state)
        enc.module.eval()
        return enc


class NBoWEncoder(NeuralEncoder):
    """Neural bag of words with attention-weighted pooling (UNIF)."""

    kind = "nbow"


class CNNEncoder(NeuralEncoder):
    """1D convolutions over the token embeddings."""

    kind = "cnn"


class RNNEncoder(NeuralEncoder):
    """A 2-layer bidirectional LSTM."""

    kind = "rnn"


class SelfAttentionEncoder(NeuralEncoder):
    """A small Transformer encoder."""

    kind = "selfatt"


class DeepSemanticEncoder(NeuralEncoder):
    """Wu & Yan's deep semantic model: multi-modal, hybrid pooling, layer combination, alignment."""

    kind = "deepsem"


_CLASSES: dict[str, type[NeuralEncoder]] = {
    c.kind: c
    for c in (NBoWEncoder, CNNEncoder, RNNEncoder, SelfAttentionEncoder, DeepSemanticEncoder)
}


def encoder_class(kind: str) -> type[NeuralEncoder]:
    try:
        return _CLASSES[kind]
    except KeyError:
        raise ValueError(f"unknown trainable encoder {kind!r} (known: {', '.join(_CLASSES)})") from None
