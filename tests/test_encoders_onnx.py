"""ONNX Runtime inference: agreement with PyTorch, the export cache, and no torch on the hot path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from seekcode.corpus.record import Record
from seekcode.encoders.base import load_encoder
from seekcode.encoders.neural import NeuralConfig, NeuralEncoder
from seekcode.encoders.onnx_neural import OnnxNeuralEncoder

# fp32 graphs must compute the torch function: the bound.
FP32_TOLERANCE = 1e-4
QUERIES = ["read a json file", "", "sort the users by their age, oldest first", "md5"]

# (kind, overrides): every trainable type and the variants whose graphs differ
# (gated self-attention with open gates, bag/pooling variants, layer mixing).
VARIANTS = [
    ("nbow", {}),
    ("nbow", {"pooling": ("mean", "max", "attention")}),
    ("cnn", {}),
    ("rnn", {}),
    ("selfatt", {}),
    ("selfatt", {"pooling": ("max",), "combine_layers": True}),
    ("deepsem", {}),
    ("deepsem", {"gated": False}),
    ("deepsem", {"modalities": ("tokens",), "align": False, "pooling": ("mean",)}),
]


def _multilang(records: list[Record]) -> list[Record]:
    """The records plus Go and JavaScript twins: one code graph per language."""
    out = list(records)
    for lang in ("go", "javascript"):
        for r in records[:4]:
            out.append(Record(code=r.code.replace("def ", "func "), docstring=r.docstring,
                              func_name=r.func_name, repo=f"{lang}-{r.repo}", path=r.path,
                              language=lang))
    return out


def _open_gates(enc: NeuralEncoder) -> None:
    """Trained gates are non-zero: test the graph of a trained body, not the bag it starts as."""
    with torch.no_grad():
        for m in enc.module.modules():
            gates = getattr(m, "gates", None)
            if gates is not None:
                gates.uniform_(0.3, 0.9)


@pytest.mark.parametrize(("kind", "overrides"), VARIANTS,
                         ids=[f"{k}-{i}" for i, (k, _) in enumerate(VARIANTS)])
def test_onnx_agrees_with_torch(kind: str, overrides: dict, records: list[Record], tmp_path,
                                capsys) -> None:
    torch.manual_seed(0)
    recs = _multilang(records)
    enc = NeuralEncoder.build(recs, NeuralConfig.for_kind(kind, dim=32, heads=2, **overrides))
    assert len(enc.cfg.languages) == 3
    _open_gates(enc)
    enc.save(tmp_path / "m")
    graphs = json.loads((tmp_path / "m" / "onnx.json").read_text())
    assert set(graphs["code"]) == {"python", "go", "javascript"}
    onnx = load_encoder(tmp_path / "m")
    assert isinstance(onnx, OnnxNeuralEncoder)
    diff_q = np.abs(onnx.encode_queries(QUERIES, progress=False)
                    - enc.encode_queries(QUERIES, progress=False)).max()
    diff_c = np.abs(onnx.encode_code(recs, progress=False)
                    - enc.encode_code(recs, progress=False)).max()
    with capsys.disabled():
        print(f"\n  ONNX vs torch, {kind} {overrides}: max abs diff query {diff_q:.2e}, "
              f"code {diff_c:.2e}")
    assert diff_q < FP32_TOLERANCE and diff_c < FP32_TOLERANCE
    # Batch composition (length buckets, language routing) must not change a vector.
    np.testing.assert_allclose(onnx.encode_code(recs[-1:], progress=False),
                               onnx.encode_code(recs, progress=False)[-1:], atol=1e-5)


def test_stale_export_is_redone_from_the_new_weights(records: list[Record], tmp_path) -> None:
    """Weights replaced after the export: the graphs are re-exported, never silently old."""
    enc = NeuralEncoder.build(records, NeuralConfig.for_kind("nbow", dim=16))
    enc.save(tmp_path / "m")
    first = load_encoder(tmp_path / "m").encode_queries(["read json"], progress=False)
    with torch.no_grad():
        enc.module.query.embed.weight.mul_(-1.0)  # type: ignore[operator]
    enc.weights_changed()
    torch.save(enc.module.state_dict(), tmp_path / "m" / "weights.pt")  # behind save()'s back
    again = load_encoder(tmp_path / "m")
    assert again.id == f"{enc.id}:ort-fp32"
    np.testing.assert_allclose(again.encode_queries(["read json"], progress=False),
                               enc.encode_queries(["read json"], progress=False), atol=1e-5)
    assert not np.allclose(first, again.encode_queries(["read json"], progress=False))


@pytest.mark.slow
def test_minilm_onnx_agrees_with_torch(records: list[Record], capsys) -> None:
    from seekcode.encoders.minilm import MiniLMConfig, MiniLMEncoder

    ort = MiniLMEncoder(MiniLMConfig(runtime="ort-fp32"))
    assert ort.id.endswith(":ort-fp32")
    ref = MiniLMEncoder(MiniLMConfig(runtime="torch"))
    diff_q = np.abs(ort.encode_queries(QUERIES, progress=False)
                    - ref.encode_queries(QUERIES, progress=False)).max()
    diff_c = np.abs(ort.encode_code(records, progress=False)
                    - ref.encode_code(records, progress=False)).max()
    with capsys.disabled():
        print(f"\n  ONNX vs torch, MiniLM: max abs diff query {diff_q:.2e}, code {diff_c:.2e}")
    assert diff_q < FP32_TOLERANCE and diff_c < FP32_TOLERANCE


def test_every_runtime_has_its_own_id() -> None:
    from seekcode.encoders.minilm import RUNTIMES, MiniLMConfig, MiniLMEncoder

    ids = {MiniLMEncoder(MiniLMConfig(runtime=r)).id for r in RUNTIMES}
    assert len(ids) == len(RUNTIMES)
    assert load_encoder("minilm-int8").id.endswith(":ort-int8")
    with pytest.raises(ValueError, match="runtime 'ort-fp16'"):
        load_encoder("minilm:ort-fp16")


def test_shorter_minilm_inputs_are_a_named_variant(records: list[Record], tmp_path, capsys):
    """`--encoder minilm:max64` reads 64 tokens: its own id, so an index built with it is
    never searched with the 128-token default, and its vectors differ on long code."""
    from seekcode.cli import main
    from seekcode.corpus.jsonl import write_records

    short, fp32_short = load_encoder("minilm:max64"), load_encoder("minilm:ort-fp32:max96")
    assert short.config.max_tokens == 64 and short.id.endswith(":max64:ort-int8pc")
    assert fp32_short.id.endswith(":max96:ort-fp32") and load_encoder("minilm").id != short.id
    long_code = [Record(code="def f(x):\n" + "    x = x + 1\n" * 60 + "    return x\n",
                        docstring="count up", func_name="f")]
    cos = (short.encode_code(long_code, progress=False)
           @ load_encoder("minilm").encode_code(long_code, progress=False).T)
    assert cos.item() < 0.9999
    for bad in ("minilm:max4", "minilm:maxi", "minilm:max9999"):
        with pytest.raises(ValueError, match="max8 .. max512"):
            load_encoder(bad)
    corpus = tmp_path / "c.jsonl"
    write_records(corpus, records)
    assert main(["index", str(corpus), "-o", str(tmp_path / "i"), "--encoder", "minilm:max64"]) == 0
    capsys.readouterr()
    assert main(["search", str(tmp_path / "i"), "read json", "--json"]) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "i"), "--exact", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["encoder"] == short.id


def _child(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_concurrent_first_use_exports_once_and_never_corrupts(tmp_path) -> None:
    """Two processes open MiniLM on an empty cache at once: one exports, both get the
    same vectors, and the cache holds one whole graph and no temporary files."""
    env = {**os.environ, "SEEKCODE_CACHE": str(tmp_path / "cache")}
    code = ("import sys, json; from seekcode.encoders.minilm import MiniLMEncoder; "
            "v = MiniLMEncoder().encode_queries(['read a gzip file'], progress=False); "
            "print(json.dumps([round(float(x), 5) for x in v[0][:8]])); "
            "print('torch' in sys.modules)")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    assert outs[0][0] == outs[1][0]
    assert all(out.splitlines()[-1] == "False" for out, _ in outs)  # the export ran in a child
    messages = [err for _, err in outs if "exporting MiniLM" in err]
    assert len(messages) == 1, "exactly one process exports; the other waits for it"
    from seekcode.encoders.minilm import DEFAULT_RUNTIME

    variant = DEFAULT_RUNTIME.removeprefix("ort-")
    files = sorted(p.name for p in (tmp_path / "cache" / "onnx").rglob("*") if p.is_file())
    import onnxruntime

    twin = f"{variant}.ort-{onnxruntime.__version__}.opt.onnx"  # runtime.optimised's
    assert files == sorted({"fp32.onnx", f"{variant}.onnx", f"{variant}.onnx.lock", twin}), files
    import onnx

    for name in ("fp32.onnx", f"{variant}.onnx"):
        onnx.checker.check_model(str(next((tmp_path / "cache").rglob(name))))


_NO_TORCH = """
import sys
from seekcode.cli import main
rc = main({argv!r})
loaded = [m for m in ("torch", "transformers") if m in sys.modules]
print("LOADED", loaded)
sys.exit(rc or (3 if loaded else 0))
"""

_SERVE_NO_TORCH = """
import sys
from fastapi.testclient import TestClient
from seekcode.server.app import create_app
client = TestClient(create_app({index!r}), base_url="http://127.0.0.1")
r = client.get("/search", params={{"q": "read a gzip json file", "k": 2}})
assert r.status_code == 200 and r.json()["hits"], r.text
loaded = [m for m in ("torch", "transformers") if m in sys.modules]
print("LOADED", loaded)
sys.exit(3 if loaded else 0)
"""


@pytest.mark.slow
def test_inference_commands_never_import_torch(tmp_path, corpus_file, records) -> None:
    """index, search, eval, predict and serve with MiniLM and with a trained model run
    without torch or transformers in the process."""
    model = tmp_path / "nbow"
    NeuralEncoder.build(records, NeuralConfig.for_kind("nbow", dim=16)).save(model)
    queries = tmp_path / "queries.csv"
    queries.write_text("query\nread a gzip json file\nsend an email\n")
    env = dict(os.environ)
    for name, encoder in (("minilm", "minilm"), ("nbow", str(model))):
        index = str(tmp_path / f"idx-{name}")
        for argv in (["index", str(corpus_file), "-o", index, "--encoder", encoder],
                     ["search", index, "read a gzip json file", "-k", "2"],
                     ["eval", index],
                     ["predict", index, "--queries", str(queries), "-o",
                      str(tmp_path / f"pred-{name}.csv")]):
            proc = _child(_NO_TORCH.format(argv=argv), env, tmp_path)
            assert proc.returncode == 0, (argv, proc.stdout[-2000:], proc.stderr[-2000:])
            assert "LOADED []" in proc.stdout
        proc = _child(_SERVE_NO_TORCH.format(index=index), env, tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]


def test_index_from_before_onnx_is_refused_with_the_reindex_command(tmp_path, records,
                                                                     capsys) -> None:
    from seekcode.cli import main
    from seekcode.encoders.lexical import LexicalEncoder
    from seekcode.index.store import Index

    Index.build(records, tmp_path / "idx", LexicalEncoder(dim=384), progress=False)
    # What an index built by the torch-era seekcode recorded for its MiniLM encoder.
    for manifest in (tmp_path / "idx").rglob("manifest.json"):
        doc = json.loads(manifest.read_text())
        doc["encoder"] = {"type": "minilm", "id": "minilm:all-MiniLM-L6-v2:max128", "dim": 384,
                          "config": {"max_tokens": 128, "batch_size": 32, "model_path": "",
                                     "quantize": False}}
        manifest.write_text(json.dumps(doc))
    assert main(["search", str(tmp_path / "idx"), "read a gzip json file"]) == 2
    err = capsys.readouterr().err
    assert "before encoders ran on ONNX Runtime" in err and "seekcode index SOURCE -o INDEX" in err


def test_trained_model_from_before_onnx_is_refused_by_its_index(tmp_path, records,
                                                                capsys) -> None:
    """An index of a trained model records the torch id; the ONNX encoder's id names its
    runtime, so the index asks to be rebuilt and says how."""
    from seekcode.cli import main
    from seekcode.index.store import Index

    enc = NeuralEncoder.build(records, NeuralConfig.for_kind("nbow", dim=16))
    enc.save(tmp_path / "m")
    Index.build(records, tmp_path / "idx", load_encoder(tmp_path / "m"), progress=False)
    for manifest in (tmp_path / "idx").rglob("manifest.json"):
        doc = json.loads(manifest.read_text())
        doc["encoder"]["id"] = enc.id  # the torch-era id, without the runtime
        manifest.write_text(json.dumps(doc))
    assert main(["search", str(tmp_path / "idx"), "read a gzip json file"]) == 2
    err = capsys.readouterr().err
    assert "rebuild the index: seekcode index SOURCE -o INDEX --encoder" in err


@pytest.mark.slow
def test_concurrent_searches_encode_in_parallel_and_agree(tmp_path, records) -> None:
    """ONNX encoders are thread-safe: the index lets concurrent queries call the session
    at once (no batching lock), and each gets the vector a lone call gives."""
    from concurrent.futures import ThreadPoolExecutor

    from seekcode.encoders.minilm import MiniLMEncoder
    from seekcode.index.store import _QUERIES

    enc = MiniLMEncoder()
    assert enc.thread_safe and not MiniLMEncoder.from_config({"runtime": "torch"}).thread_safe
    texts = [r.query_text for r in records] * 4
    # one call per query, as a search makes (int8 scales activations per call's batch)
    alone = np.vstack([enc.encode_queries([t], progress=False) for t in texts])
    with ThreadPoolExecutor(16) as pool:
        together = list(pool.map(lambda t: _QUERIES.encode(enc, t), texts))
    np.testing.assert_allclose(np.vstack(together), alone, atol=1e-5)


def test_sessions_open_a_saved_optimised_twin_that_follows_its_graph(records, tmp_path,
                                                                     monkeypatch) -> None:
    """Opening a graph saves its optimised twin once (later opens skip the optimiser), the
    twin computes what the graph does, a re-exported graph gets a new twin, and a folder
    nothing can be written to still opens."""
    import onnxruntime as ort

    from seekcode.encoders import runtime

    enc = NeuralEncoder.build(records, NeuralConfig.for_kind("selfatt", dim=16))
    enc.save(tmp_path / "m")
    graph = next(p for p in (tmp_path / "m").rglob("*.onnx") if ".opt." not in p.name)
    twin = runtime.optimised(graph)
    assert twin != graph and twin.exists() and ort.__version__ in twin.name
    written = twin.stat().st_mtime_ns
    assert runtime.optimised(graph) == twin and twin.stat().st_mtime_ns == written

    plain = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    feed = {i.name: np.ones([d if isinstance(d, int) else 2 for d in i.shape],
                            dtype=np.int64 if "int" in i.type else np.float32)
            for i in plain.get_inputs()}
    for a, b in zip(plain.run(None, feed), runtime.session(graph).run(None, feed), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)

    os.utime(graph, ns=(written + 10**9, written + 10**9))  # a newer export of the graph
    assert runtime.optimised(graph) == twin and twin.stat().st_mtime_ns > written

    twin.unlink()

    def read_only(path, write):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(runtime, "write_beside", read_only)
    assert runtime.optimised(graph) == graph
    runtime.session(graph).run(None, feed)
