"""Export models to ONNX (needs torch): the one place outside training that imports it.

    python -m seekcode.encoders.export '{"kind": "minilm", "model_path": ..., "variant": "int8", "out": ...}'
    python -m seekcode.encoders.export '{"kind": "neural", "model_dir": ..., "out": ...}'

encoders/runtime.py runs this in a child process when a graph is missing, so that the
process that searches never loads torch. Every file is written beside and renamed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from seekcode.encoders.runtime import OPSET, write_beside

# MiniLM variants: how each graph is made from the fp32 export. Measured side by side in
# benchmarks/bench_runtime.py; the default runtime (encoders/minilm.py) is chosen there.
VARIANTS = ("fp32", "opt", "int8", "int8pc", "int8-keepffn")


def export_minilm(model_path: Path, out: Path, variant: str) -> None:
    """Write the MiniLM graph of `variant` to `out` (its fp32 export beside it, if needed)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown MiniLM variant {variant!r} (known: {', '.join(VARIANTS)})")
    base = out.with_name("fp32.onnx")
    if not base.exists():
        write_beside(base, lambda tmp: _export_minilm_fp32(model_path, tmp))
    if variant == "fp32":
        return
    write_beside(out, lambda tmp: _derive(base, tmp, variant, model_path))


def _export_minilm_fp32(model_path: Path, tmp: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_path), local_files_only=True,
                                      attn_implementation="eager")
    model.eval()

    class Hidden(torch.nn.Module):
        """input ids + attention mask -> last hidden state (pooling happens in numpy)."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=torch.zeros_like(input_ids)).last_hidden_state

    ids = torch.ones(2, 16, dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(
            Hidden(), (ids, torch.ones_like(ids)), str(tmp), dynamo=False, opset_version=OPSET,
            input_names=["input_ids", "attention_mask"], output_names=["hidden"],
            dynamic_axes={"input_ids": {0: "batch", 1: "len"},
                          "attention_mask": {0: "batch", 1: "len"},
                          "hidden": {0: "batch", 1: "len"}},
        )


def _derive(base: Path, tmp: Path, variant: str, model_path: Path) -> None:
    """An optimised or quantized graph from the fp32 export."""
    if variant == "opt":
        from onnxruntime.transformers.optimizer import optimize_model

        cfg = json.loads((model_path / "config.json").read_text())
        opt = optimize_model(str(base), model_type="bert", num_heads=cfg["num_attention_heads"],
                             hidden_size=cfg["hidden_size"], opt_level=1)
        opt.save_model_to_file(str(tmp))
        return
    from onnxruntime.quantization import QuantType, quantize_dynamic

    exclude: list[str] = []
    if variant == "int8-keepffn":
        # The FFN output projections (3072 -> 384) carry the widest activations; keeping
        # them fp32 recovers most of int8's loss for a part of its speed.
        import onnx

        graph = onnx.load(str(base), load_external_data=False).graph
        exclude = [n.name for n in graph.node if n.op_type == "MatMul"
                   and "/output/dense/" in n.name and "attention" not in n.name]
    quantize_dynamic(str(base), str(tmp), weight_type=QuantType.QInt8,
                     per_channel=variant in ("int8pc", "int8-keepffn"),
                     nodes_to_exclude=exclude)


def main(argv: list[str]) -> int:
    job: dict[str, Any] = json.loads(argv[0])
    out = Path(job["out"])
    if job["kind"] == "minilm":
        export_minilm(Path(job["model_path"]), out, job["variant"])
    elif job["kind"] == "neural":
        from seekcode.encoders.neural import NeuralEncoder

        NeuralEncoder.load(Path(job["model_dir"])).export_onnx(Path(job["model_dir"]))
    else:
        raise ValueError(f"unknown export kind {job['kind']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
