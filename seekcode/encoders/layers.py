"""Torch building blocks of the trainable encoders: sequence bodies, pooling, layer mixing."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seekcode.encoders.neural_config import SequenceConfig

__all__ = ["SequenceConfig", "SequenceEncoder", "HybridPooling", "AttentionPooling",
           "LayerCombination", "masked_mean", "masked_max", "POOLINGS"]

POOLINGS = ("mean", "max", "attention")


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return x.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(1).values


class AttentionPooling(nn.Module):
    """Attention-weighted average (UNIF): a learned score per token, softmax over the tokens."""

    def __init__(self, dim: int):
        super().__init__()
        self.score = nn.Linear(dim, 1, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        s = self.score(x).squeeze(-1).masked_fill(~mask, float("-inf"))
        return (torch.softmax(s, dim=1).unsqueeze(-1) * x).sum(1)


class HybridPooling(nn.Module):
    """A learned convex mix of mean, max and attention-weighted pooling (any subset)."""

    def __init__(self, dim: int, modes: tuple[str, ...] = POOLINGS):
        super().__init__()
        unknown = set(modes) - set(POOLINGS)
        if not modes or unknown:
            raise ValueError(f"pooling must be a non-empty subset of {POOLINGS}, got {modes}")
        self.modes = tuple(modes)
        self.attention = AttentionPooling(dim) if "attention" in modes else None
        # Equal weights at start; softmax keeps the mix convex.
        self.mix = nn.Parameter(torch.zeros(len(modes))) if len(modes) > 1 else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pooled = []
        for mode in self.modes:
            if mode == "mean":
                pooled.append(masked_mean(x, mask))
            elif mode == "max":
                pooled.append(masked_max(x, mask))
            else:
                assert self.attention is not None
                pooled.append(self.attention(x, mask))
        if self.mix is None:
            return pooled[0]
        w = torch.softmax(self.mix, dim=0)
        return sum(wi * p for wi, p in zip(w, pooled, strict=True))  # type: ignore[return-value]


class LayerCombination(nn.Module):
    """ELMo-style scalar mix: gamma * sum_i softmax(s)_i * layer_i."""

    def __init__(self, n_layers: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(n_layers))
        self.gamma = nn.Parameter(torch.ones(()))

    def forward(self, layers: list[torch.Tensor]) -> torch.Tensor:
        w = torch.softmax(self.weights, dim=0)
        return self.gamma * sum(wi * h for wi, h in zip(w, layers, strict=True))  # type: ignore[operator]


class SequenceEncoder(nn.Module):
    """Embedding, a body (nothing, convolutions, a biLSTM or self-attention), pooling.

    A gated body whose gates are all zero computes exactly its embeddings' bag model.
    While `bag_phase` is on, the forward pass computes only that bag (tens of times
    cheaper on CPU) and the body gets no gradient, so its gates stay at zero.
    """

    def __init__(self, vocab_size: int, cfg: SequenceConfig):
        super().__init__()
        self.cfg = cfg
        self.bag_phase = False
        d = cfg.dim
        self.embed = nn.Embedding(vocab_size, d, padding_idx=0)
        # N(0, 1) rows would take Adam hundreds of steps to move; CPU budgets have few.
        nn.init.normal_(self.embed.weight, std=0.1)
        with torch.no_grad():
            self.embed.weight[0].zero_()
        self.drop = nn.Dropout(cfg.dropout)
        self.convs = nn.ModuleList()
        self.rnn: nn.LSTM | None = None
        self.blocks = nn.ModuleList()
        self.pos: nn.Embedding | None = None
        if cfg.arch == "cnn":
            self.convs.extend(
                nn.Conv1d(d, d, cfg.kernel, padding=cfg.kernel // 2) for _ in range(cfg.layers)
            )
        elif cfg.arch == "rnn":
            self.rnn = nn.LSTM(d, d // 2, num_layers=cfg.layers, bidirectional=True,
                               batch_first=True, dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        elif cfg.arch == "selfatt":
            self.pos = nn.Embedding(cfg.max_len, d)
            # Same scale as the tokens: N(0, 1) positions would drown them.
            nn.init.normal_(self.pos.weight, std=0.1)
            # Post-norm: every layer's output is layer-normalised, so a weighted sum of
            # layers mixes vectors of one scale.
            self.blocks.extend(
                nn.TransformerEncoderLayer(d, cfg.heads, 2 * d, cfg.dropout, batch_first=True,
                                           activation="gelu")
                for _ in range(cfg.layers)
            )
        elif cfg.arch != "nbow":
            raise ValueError(f"unknown sequence architecture {cfg.arch!r}")
        self.gates: nn.Parameter | None = None
        if cfg.gated:
            if cfg.arch != "selfatt":
                raise ValueError("gated layers are for the self-attention body only")
            self.gates = nn.Parameter(torch.zeros(cfg.layers))
        n_outputs = 1 + (len(self.convs) or len(self.blocks) or (1 if self.rnn else 0))
        self.combine = LayerCombination(n_outputs) if cfg.combine_layers and n_outputs > 1 else None
        self.pool = HybridPooling(d, tuple(cfg.pooling))

    def layer_outputs(self, ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """The embeddings and each layer's output, (batch, len, dim) each."""
        x = self.embed(ids)
        if self.gates is not None:
            return self._gated_outputs(self.drop(x), mask)
        if self.pos is not None:
            x = x + self.pos(torch.arange(ids.shape[1], device=ids.device))
        x = self.drop(x)
        outs = [x]
        keep = mask.unsqueeze(-1).to(x.dtype)
        for conv in self.convs:
            # Residual convolutions; padding is zeroed so it never leaks into a window.
            x = x + self.drop(torch.relu(conv((x * keep).transpose(1, 2)).transpose(1, 2)))
            outs.append(x)
        if self.rnn is not None:
            lengths = mask.sum(1).clamp(min=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                       enforce_sorted=False)
            y, _ = self.rnn(packed)
            y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True,
                                                    total_length=ids.shape[1])
            outs.append(y)
        for block in self.blocks:
            x = _run_block(block, x, mask)
            outs.append(x)
        return outs

    def _gated_outputs(self, x: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """Residual stream h_l = h_{l-1} + gate_l * block_l(h_{l-1} + positions)."""
        assert self.gates is not None and self.pos is not None
        pos = self.pos(torch.arange(x.shape[1], device=x.device))
        outs = [x]
        for gate, block in zip(self.gates, self.blocks, strict=True):
            x = x + gate * _run_block(block, x + pos, mask)
            outs.append(x)
        return outs

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = ids != 0
        if self.cfg.arch == "nbow":
            if torch.onnx.is_in_onnx_export():  # embedding_bag has no ONNX op; same function
                return self.pool(self.embed(ids), mask)
            return self.drop(self._bag(ids, mask))
        if self.bag_phase and self.gates is not None:
            # All gates are zero: every layer equals the embeddings, and a combination
            # of them is gamma times the embeddings.
            scale = self.combine.gamma if self.combine is not None else None
            return self._bag(ids, mask, scale)
        outs = self.layer_outputs(ids, mask)
        h = self.combine(outs) if self.combine is not None else outs[-1]
        return self.pool(h, mask)

    def _bag(self, ids: torch.Tensor, mask: torch.Tensor,
             scale: torch.Tensor | None = None) -> torch.Tensor:
        """Pooling of a bag of words without materialising (batch, len, dim).

        The same function as pooling the embeddings (times `scale`), several times
        cheaper on CPU: a token's attention score is linear in its embedding, so it is
        a lookup too.
        """
        weight = self.embed.weight if scale is None else self.embed.weight * scale
        pooled = []
        for mode in self.pool.modes:
            if mode == "attention":
                assert self.pool.attention is not None
                token_scores = (weight @ self.pool.attention.score.weight.squeeze(0))[ids]
                w = torch.softmax(token_scores.masked_fill(~mask, float("-inf")), dim=1)
                pooled.append(F.embedding_bag(ids, weight, mode="sum", per_sample_weights=w))
            else:
                pooled.append(F.embedding_bag(ids, weight, mode=mode, padding_idx=0))
        if self.pool.mix is None:
            return pooled[0]
        mix = torch.softmax(self.pool.mix, dim=0)
        return sum(wi * p for wi, p in zip(mix, pooled, strict=True))  # type: ignore[return-value]


def _run_block(block: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if torch.onnx.is_in_onnx_export():
        return _explicit_block(block, x, mask)  # type: ignore[arg-type]
    return block(x, src_key_padding_mask=~mask)  # type: ignore[no-any-return]


def _explicit_block(block: nn.TransformerEncoderLayer, x: torch.Tensor,
                    mask: torch.Tensor) -> torch.Tensor:
    """The post-norm encoder layer (eval mode) written out in plain ops.

    torch's own layer traces its batch and length into the ONNX graph as constants (its
    fused attention path reshapes by Python ints); this computes the same function with
    every shape taken from the input, so the exported graph takes any batch and length.
    """
    attn = block.self_attn
    heads = attn.num_heads
    q, k, v = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    q, k, v = (t.unflatten(-1, (heads, -1)).transpose(1, 2) for t in (q, k, v))
    scores = (q @ k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    ctx = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).flatten(2)
    x = block.norm1(x + attn.out_proj(ctx))
    return block.norm2(x + block.linear2(F.gelu(block.linear1(x))))  # type: ignore[no-any-return]


def l2norm(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x, dim=-1)
