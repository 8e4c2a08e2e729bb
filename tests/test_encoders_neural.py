"""The trainable encoders: shapes, normalisation, save/load, and their building blocks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from seekcode.corpus.record import Record
from seekcode.encoders.base import ENCODER_TYPES, load_encoder
from seekcode.encoders.layers import (
    AttentionPooling,
    HybridPooling,
    LayerCombination,
    SequenceConfig,
    SequenceEncoder,
    masked_max,
    masked_mean,
)
from seekcode.encoders.neural import NeuralConfig, NeuralEncoder
from seekcode.encoders.onnx_neural import OnnxNeuralEncoder
from seekcode.encoders.text import call_words, code_words, name_words, query_words
from seekcode.encoders.tokenizer import UNK_ID, SubwordTokenizer


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread: on a busy 2-core machine, OpenMP threads mostly wait for each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

KINDS = ["nbow", "cnn", "rnn", "selfatt", "deepsem"]

# `records`: the shared fixture of tests/conftest.py (eight real-looking functions).

@pytest.mark.parametrize("kind", KINDS)
def test_encoder_shapes_norms_and_reload(kind: str, records: list[Record], tmp_path) -> None:
    torch.manual_seed(0)
    enc = NeuralEncoder.build(records, NeuralConfig.for_kind(kind, dim=32, heads=2))
    assert enc.kind == kind
    q = enc.encode_queries(["read a json file", "", "sort users"], progress=False)
    c = enc.encode_code(records, progress=False)
    for v, n in ((q, 3), (c, len(records))):
        assert v.shape == (n, 32) and v.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    enc.save(tmp_path / "m")
    # A saved model is served by its ONNX export (the torch class is for training).
    again = load_encoder(tmp_path / "m")
    assert isinstance(again, OnnxNeuralEncoder) and ENCODER_TYPES[kind].endswith("OnnxNeuralEncoder")
    assert again.kind == kind and again.id == f"{enc.id}:ort-fp32"
    assert again.spec()["path"] == str((tmp_path / "m").resolve())
    np.testing.assert_allclose(again.encode_code(records, progress=False), c, atol=1e-5)
    # Batching by length must not change a vector.
    np.testing.assert_allclose(enc.encode_code(records[:1], progress=False), c[:1], atol=1e-5)


def test_id_tracks_the_weights(records: list[Record]) -> None:
    enc = NeuralEncoder.build(records, NeuralConfig.for_kind("nbow", dim=16))
    before = enc.id
    with torch.no_grad():
        enc.module.query.embed.weight.add_(1.0)  # type: ignore[operator]
    enc.weights_changed()
    assert enc.id != before and enc.id.startswith("nbow:")


def test_deepsem_has_the_paper_parts(records: list[Record]) -> None:
    enc = NeuralEncoder.build(records, NeuralConfig.for_kind("deepsem", dim=16, heads=2))
    m = enc.module
    python: Any = m.code["python"]
    assert set(python.keys()) == {"tokens", "name", "calls"}
    assert "python" in m.align and "python" in m.fuse
    tok = python["tokens"]
    assert tok.combine is not None and tok.pool.modes == ("mean", "max", "attention")
    # The alignment projection starts as the identity.
    align: Any = m.align["python"]
    assert torch.equal(align.weight, torch.eye(16))


def test_modalities_of_a_record() -> None:
    r = Record(code="def readGzipJson(path):\n    with gzip.open(path) as f:\n"
                    "        return json.load(f, 'utf8 text')", func_name="io.readGzipJson")
    assert name_words(r) == ["read", "gzip", "json"]
    assert call_words(r) == ["open", "load"]
    assert code_words(r)[:5] == ["def", "read", "gzip", "json", "path"]
    assert query_words("Parse an HTTPResponse_v2") == ["parse", "an", "http", "response", "v", "2"]


def test_tokenizer_pads_and_never_returns_an_empty_row() -> None:
    tok = SubwordTokenizer.train([["read", "json", "file"], ["write", "json"]] * 5, vocab_size=60)
    ids = tok.encode([["read", "json"], [], ["zzzunseen"]], max_len=4)
    assert ids.shape == (3, 4)
    assert (ids[0, :2] > 1).all() and (ids[0, 2:] == 0).all()
    assert ids[1, 0] == UNK_ID and (ids[1, 1:] == 0).all()
    assert (ids[2] != 0).any()


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(2, 4, 3)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    return x, mask


def test_single_poolings_match_their_definitions() -> None:
    x, mask = _batch()
    torch.testing.assert_close(HybridPooling(3, ("mean",))(x, mask), masked_mean(x, mask))
    torch.testing.assert_close(HybridPooling(3, ("max",))(x, mask), masked_max(x, mask))
    torch.testing.assert_close(masked_mean(x, mask)[0], x[0, :2].mean(0))
    torch.testing.assert_close(masked_max(x, mask)[0], x[0, :2].max(0).values)
    att = AttentionPooling(3)
    with torch.no_grad():
        att.score.weight.zero_()  # equal scores: attention pooling is the mean
    torch.testing.assert_close(att(x, mask), masked_mean(x, mask))


def test_hybrid_pooling_is_a_learned_convex_mix() -> None:
    x, mask = _batch()
    pool = HybridPooling(3)
    with torch.no_grad():
        pool.attention.score.weight.zero_()  # type: ignore[union-attr]
        pool.mix.copy_(torch.tensor([0.0, float(np.log(3.0)), 0.0]))  # type: ignore[union-attr]
    # softmax([0, ln 3, 0]) = [0.2, 0.6, 0.2]; attention with zero scores is the mean.
    expected = 0.4 * masked_mean(x, mask) + 0.6 * masked_max(x, mask)
    torch.testing.assert_close(pool(x, mask), expected)
    x2 = x.clone()
    x2[0, 2:] = 100.0  # padding never leaks into any pooling
    torch.testing.assert_close(pool(x2, mask), expected)


def test_layer_combination_is_a_scaled_softmax_mix() -> None:
    layers = [torch.full((1, 2, 2), float(v)) for v in (1.0, 2.0, 4.0)]
    comb = LayerCombination(3)
    torch.testing.assert_close(comb(layers), torch.full((1, 2, 2), 7.0 / 3))
    with torch.no_grad():
        comb.weights.copy_(torch.tensor([0.0, 0.0, 50.0]))
        comb.gamma.fill_(0.5)
    torch.testing.assert_close(comb(layers), torch.full((1, 2, 2), 2.0))
    comb(layers).sum().backward()
    assert comb.weights.grad is not None and comb.gamma.grad is not None


@pytest.mark.parametrize("pooling", [("attention",), ("mean", "max", "attention")])
def test_nbow_fast_path_equals_pooling_the_embeddings(pooling: tuple[str, ...]) -> None:
    torch.manual_seed(0)
    enc = SequenceEncoder(50, SequenceConfig(arch="nbow", dim=8, pooling=pooling, dropout=0.0))
    ids = torch.randint(2, 50, (4, 6))
    ids[0, 3:] = 0
    mask = ids != 0
    torch.testing.assert_close(enc(ids), enc.pool(enc.embed(ids), mask))


@pytest.mark.parametrize("arch", ["cnn", "rnn", "selfatt"])
def test_sequence_outputs_ignore_padding(arch: str) -> None:
    torch.manual_seed(0)
    enc = SequenceEncoder(50, SequenceConfig(arch=arch, dim=8, heads=2, max_len=8,
                                             combine_layers=True, pooling=("mean", "max")))
    enc.eval()
    ids = torch.tensor([[5, 6, 7, 0, 0, 0]])
    longer = torch.tensor([[5, 6, 7, 0, 0, 0, 0, 0]])
    torch.testing.assert_close(enc(ids), enc(longer))


@pytest.mark.parametrize("combine", [True, False])
def test_gated_body_starts_as_its_bag_model(combine: bool) -> None:
    """Zero gates: the full forward pass equals the bag phase's cheap one, trained
    pooling and layer mix included (a negative gamma flips max pooling: still equal)."""
    torch.manual_seed(0)
    enc = SequenceEncoder(50, SequenceConfig(arch="selfatt", dim=16, heads=2, max_len=12,
                                             dropout=0.0, pooling=("mean", "max", "attention"),
                                             combine_layers=combine, gated=True))
    with torch.no_grad():
        enc.pool.attention.score.weight.normal_()  # type: ignore[union-attr]
        enc.pool.mix.normal_()  # type: ignore[union-attr]
        if combine:
            enc.combine.gamma.fill_(-0.7)  # type: ignore[union-attr]
            enc.combine.weights.normal_()  # type: ignore[union-attr]
    ids = torch.randint(1, 50, (5, 12))
    ids[1, 6:] = 0
    ids[3, 2:] = 0
    enc.eval()
    full = enc(ids)
    enc.bag_phase = True
    torch.testing.assert_close(enc(ids), full)
    # Open gates change the function: the blocks are really in the full pass.
    with torch.no_grad():
        enc.gates.fill_(1.0)  # type: ignore[union-attr]
    enc.bag_phase = False
    assert not torch.allclose(enc(ids), full)


def test_bag_phase_needs_closed_gates(records: list[Record]) -> None:
    enc = NeuralEncoder.build(records, NeuralConfig.for_kind("deepsem", dim=16, heads=2))
    assert enc.module.set_bag_phase(True) and enc.module.set_bag_phase(False)
    with torch.no_grad():
        enc.module.query.gates.fill_(0.5)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="untrained gates"):
        enc.module.set_bag_phase(True)
    plain = NeuralEncoder.build(records, NeuralConfig.for_kind("selfatt", dim=16, heads=2))
    assert not plain.module.set_bag_phase(True)
