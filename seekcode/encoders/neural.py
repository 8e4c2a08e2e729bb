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
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from seekcode.corpus.record import Record
from seekcode.encoders.base import CONFIG_FILE, Encoder, batched_by_length
from seekcode.encoders.layers import SequenceEncoder
from seekcode.encoders.neural_config import NeuralConfig
from seekcode.encoders.onnx_neural import (
    CODE_TOKENIZER,
    ONNX_INDEX,
    QUERY_TOKENIZER,
    WEIGHTS,
    Features,
    NeuralFeatures,
)
from seekcode.encoders.text import modality_words, query_words
from seekcode.encoders.tokenizer import SubwordTokenizer
from seekcode.errors import InputError

__all__ = ["NeuralConfig", "NeuralEncoder", "BiEncoderModule", "encoder_class"]


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


class _QueryGraph(nn.Module):
    """What the query ONNX graph computes: ids -> (unnormalised) vector."""

    def __init__(self, module: BiEncoderModule):
        super().__init__()
        self.query = module.query

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.query(ids)


class _CodeGraph(nn.Module):
    """One language's code encoders, fusion and alignment: modality ids -> vector."""

    def __init__(self, module: BiEncoderModule, lang: str):
        super().__init__()
        self.modalities = module.cfg.modalities
        self.enc = cast(nn.ModuleDict, module.code[lang])
        self.fuse = module.fuse[lang] if lang in module.fuse else None  # noqa: SIM401
        self.align = module.align[lang] if lang in module.align else None  # noqa: SIM401

    def forward(self, *ids: torch.Tensor) -> torch.Tensor:
        parts = [self.enc[m](x) for m, x in zip(self.modalities, ids, strict=True)]
        v = self.fuse(torch.cat(parts, dim=-1)) if self.fuse is not None else parts[0]
        return self.align(v) if self.align is not None else v


def _export(graph: nn.Module, inputs: dict[str, torch.Tensor], out: Path) -> None:
    """torch.onnx.export with dynamic batch and length axes, written beside and renamed."""
    import warnings

    from seekcode.encoders.runtime import OPSET, write_beside

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            # the tracer's notes on shape arithmetic (arange over the length) are expected
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph, tuple(inputs.values()), str(tmp), dynamo=False, opset_version=OPSET,
                input_names=list(inputs), output_names=["vector"],
                dynamic_axes={**{k: {0: "batch", 1: f"len_{k}"} for k in inputs},
                              "vector": {0: "batch"}},
            )

    write_beside(out, write)


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


class NeuralEncoder(NeuralFeatures, Encoder):
    """A bi-encoder being trained, with its tokenizers; the Encoder interface over
    BiEncoderModule. Inference of a saved model runs its ONNX export (onnx_neural.py)."""

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

    # ---- persistence ---------------------------------------------------------------
    def save(self, directory: str | Path, extra: dict[str, Any] | None = None) -> None:
        """Weights, tokenizers, config, and the ONNX graphs inference runs."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.module.state_dict(), directory / (WEIGHTS + ".tmp"))
        (directory / (WEIGHTS + ".tmp")).replace(directory / WEIGHTS)
        self.query_tok.save(directory / QUERY_TOKENIZER)
        self.code_tok.save(directory / CODE_TOKENIZER)
        doc = {"type": self.kind, "config": asdict(self.cfg), **(extra or {})}
        (directory / CONFIG_FILE).write_text(json.dumps(doc, indent=2))
        self.export_onnx(directory)
        self.path = directory

    def export_onnx(self, directory: Path) -> None:
        """Write the query graph and one code graph per language, then onnx.json naming
        them (last: a reader sees the old export or the whole new one)."""
        from seekcode.encoders.runtime import file_sha256, write_atomic

        module = self.module
        was_training = module.training
        bag = [m for m in module.modules() if isinstance(m, SequenceEncoder) and m.bag_phase]
        module.eval()
        for m in bag:  # the bag shortcut is for training; the full model computes the same
            m.bag_phase = False
        graphs: dict[str, Any] = {"id": self.id, "query": "onnx/query.onnx", "code": {}}
        try:
            n = min(4, self.cfg.max_len["query"])
            ids = torch.arange(2, 2 + 2 * n).reshape(2, n) % max(3, self.query_tok.vocab_size)
            ids[0, -1] = 0  # a padded row, so the mask is a real input of the graph
            _export(_QueryGraph(module), {"query": ids}, directory / graphs["query"])
            for i, lang in enumerate(self.cfg.languages):
                inputs = {}
                for part in self.cfg.modalities:
                    k = min(4, self.cfg.max_len[part])
                    x = torch.arange(2, 2 + 2 * k).reshape(2, k) % max(3, self.code_tok.vocab_size)
                    x[0, -1] = 0
                    inputs[part] = x
                name = f"onnx/code-{i}.onnx"
                _export(_CodeGraph(module, lang), inputs, directory / name)
                graphs["code"][lang] = name
        finally:
            for m in bag:
                m.bag_phase = True
            module.train(was_training)
        graphs["weights_sha256"] = file_sha256([directory / WEIGHTS])
        write_atomic(directory / ONNX_INDEX, json.dumps(graphs, indent=2).encode())

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
        raise InputError(f"unknown trainable encoder {kind!r} (known: {', '.join(_CLASSES)})") from None
