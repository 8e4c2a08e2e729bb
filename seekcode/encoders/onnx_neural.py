"""Trained bi-encoders at inference: their ONNX graphs and tokenizers, no torch.

`seekcode train encoder` saves a model directory with torch weights (for training on)
and, beside them, the graphs this class runs:

    MODEL/onnx.json              # graph files, the weights' id and sha256 they were made from
    MODEL/onnx/query.onnx        # query ids -> vector
    MODEL/onnx/code-<i>.onnx     # one per language: modality ids -> vector

`load_encoder(MODEL)` returns this class; the training loop keeps the torch class
(encoders/neural.py), which shares the feature code below.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seekcode.corpus.record import Record
from seekcode.encoders.base import CONFIG_FILE, Encoder, batched_by_length
from seekcode.encoders.neural_config import NeuralConfig
from seekcode.encoders.text import modality_words, query_words
from seekcode.encoders.tokenizer import SubwordTokenizer

WEIGHTS = "weights.pt"
QUERY_TOKENIZER = "query_tokenizer.json"
CODE_TOKENIZER = "code_tokenizer.json"
ONNX_INDEX = "onnx.json"
RUNTIME = "ort-fp32"

Features = dict[str, np.ndarray]


def trim(ids: np.ndarray) -> np.ndarray:
    """Drop all-padding columns at the end: batches of short inputs cost less."""
    used = np.flatnonzero((ids != 0).any(0))
    return ids[:, : int(used[-1]) + 1 if used.size else 1]


class NeuralFeatures:
    """Token-id tables of queries and code records, as both runtimes read them, and the
    Encoder methods over them; a runtime supplies embed_features."""

    cfg: NeuralConfig
    query_tok: SubwordTokenizer
    code_tok: SubwordTokenizer

    def embed_features(self, feats: Features, side: str, progress: bool = False) -> np.ndarray:
        raise NotImplementedError

    def encode_queries(self, texts: Sequence[str], progress: bool = True) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.cfg.dim), np.float32)
        return self.embed_features(self.query_features(texts), "query", progress)

    def encode_code(self, records: Sequence[Record], progress: bool = True) -> np.ndarray:
        if not records:
            return np.zeros((0, self.cfg.dim), np.float32)
        return self.embed_features(self.code_features(records), "code", progress)

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


class OnnxNeuralEncoder(NeuralFeatures, Encoder):
    """A trained nbow/cnn/rnn/selfatt/deepsem model on ONNX Runtime."""

    batch_size = 256
    thread_safe = True

    def __init__(self, cfg: NeuralConfig, query_tok: SubwordTokenizer,
                 code_tok: SubwordTokenizer, directory: Path, graphs: dict[str, Any]):
        self.cfg = cfg
        self.kind = cfg.kind
        self.query_tok = query_tok
        self.code_tok = code_tok
        self.path = directory
        self._graphs = graphs
        self._sessions: dict[str, Any] = {}

    @property
    def dim(self) -> int:
        return self.cfg.dim

    @property
    def id(self) -> str:
        # The torch model's id (its weights' digest) and the runtime.
        return f"{self._graphs['id']}:{RUNTIME}"

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "path": str(self.path.resolve())}

    def _session(self, name: str) -> Any:
        if name not in self._sessions:
            from seekcode.encoders.runtime import session

            self._sessions[name] = session(self.path / name)
        return self._sessions[name]

    def embed_features(self, feats: Features, side: str, progress: bool = False) -> np.ndarray:
        first = feats["query"] if side == "query" else feats[self.cfg.modalities[0]]
        lengths = (first != 0).sum(1)

        def embed(rows: list[int]) -> np.ndarray:
            r = np.asarray(rows)
            if side == "query":
                sess = self._session(self._graphs["query"])
                return sess.run(None, {"query": trim(feats["query"][r])})[0]  # type: ignore[no-any-return]
            out = np.zeros((len(r), self.dim), np.float32)
            for li, lang in enumerate(self.cfg.languages):
                sel = np.flatnonzero(feats["lang"][r] == li)
                if sel.size:
                    sess = self._session(self._graphs["code"][lang])
                    inputs = {m: trim(feats[m][r[sel]]) for m in self.cfg.modalities}
                    out[sel] = sess.run(None, inputs)[0]
            return out

        return batched_by_length(list(range(len(first))), lengths.tolist(), self.batch_size,
                                 embed, self.dim, progress, f"encoding {side}")

    @classmethod
    def load(cls, directory: Path) -> OnnxNeuralEncoder:
        directory = Path(directory)
        doc = json.loads((directory / CONFIG_FILE).read_text())
        cfg = NeuralConfig.from_dict(doc["config"])
        graphs = load_graphs(directory)
        return cls(cfg, SubwordTokenizer.load(directory / QUERY_TOKENIZER),
                   SubwordTokenizer.load(directory / CODE_TOKENIZER), directory, graphs)


def load_graphs(directory: Path) -> dict[str, Any]:
    """The model's onnx.json; exported (once, in a child process) if missing or made from
    other weights than the ones in the directory."""
    from seekcode.encoders.runtime import ensure_exported, file_sha256

    index = directory / ONNX_INDEX
    if index.exists():
        graphs: dict[str, Any] = json.loads(index.read_text())
        if graphs.get("weights_sha256") == file_sha256([directory / WEIGHTS]):
            return graphs
        index.unlink(missing_ok=True)  # stale: the weights changed since the export
    ensure_exported(index, {"kind": "neural", "model_dir": str(directory)},
                    f"the model in {directory}")
    return json.loads(index.read_text())  # type: ignore[no-any-return]
