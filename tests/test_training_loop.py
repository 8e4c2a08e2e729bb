"""The training loop: resume after interruption, and train -> index -> eval end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from seekcode.corpus.jsonl import write_records
from seekcode.corpus.record import Record
from seekcode.encoders.base import load_encoder
from seekcode.encoders.neural import NeuralEncoder
from seekcode.training.config import TrainConfig
from seekcode.training.data import duplicate_groups
from seekcode.training.trainer import CHECKPOINT, Trainer

VERBS = ["read", "write", "parse", "sort", "compress", "send", "delete", "copy", "hash",
         "render", "validate", "download"]
THINGS = ["json", "csv", "image", "email", "archive", "user", "token", "config", "table",
          "socket", "cache", "matrix"]


def synthetic_corpus() -> list[Record]:
    """144 functions whose names, calls and docstrings share words; test = unseen combinations."""
    recs = []
    for i, verb in enumerate(VERBS):
        for j, thing in enumerate(THINGS):
            k = (i * 5 + j * 7) % 10
            part = "test" if k < 2 else "valid" if k < 3 else "train"
            code = (f"def {verb}_{thing}(source, options=None):\n"
                    f"    data = load_{thing}(source)\n"
                    f"    return {verb}_backend.{verb}(data, options)")
            recs.append(Record(code=code, docstring=f"{verb.capitalize()} the given {thing}.",
                               func_name=f"{verb}_{thing}", repo=f"pkg{k}", path=f"m{i}.py",
                               start_line=j * 10 + 1, end_line=j * 10 + 3, partition=part))
    return recs


def small_config(**kw: object) -> TrainConfig:
    base = {"batch_size": 16, "max_epochs": 3, "patience": 10, "threads": 1,
            "arch": {"dim": 16}, "mine_top_k": 3}
    return TrainConfig.for_model("nbow", **{**base, **kw})


def split(recs: list[Record]) -> tuple[list[Record], list[Record]]:
    return ([r for r in recs if r.partition == "train"],
            [r for r in recs if r.partition == "valid"])


class Interrupt(Exception):
    pass


def test_resume_after_interruption_continues_from_the_checkpoint(tmp_path: Path) -> None:
    train, valid = split(synthetic_corpus())
    straight = Trainer(small_config(), tmp_path / "a", progress=False).fit(train, valid)
    steps_per_epoch = len(train) // 16

    def crash(step: int) -> None:
        if step == steps_per_epoch + 2:  # in the middle of the second epoch
            raise Interrupt

    with pytest.raises(Interrupt):
        Trainer(small_config(), tmp_path / "b", progress=False, step_hook=crash).fit(train, valid)
    saved = torch.load(tmp_path / "b" / CHECKPOINT, weights_only=False)
    assert saved["epoch"] == 1 and saved["step"] == steps_per_epoch

    resumed = Trainer(small_config(), tmp_path / "b", progress=False).fit(train, valid)
    assert resumed.steps == straight.steps == 3 * steps_per_epoch
    assert [h["valid_mrr"] for h in resumed.history] == pytest.approx(
        [h["valid_mrr"] for h in straight.history], abs=1e-6)
    a = torch.load(tmp_path / "a" / CHECKPOINT, weights_only=False)["module"]
    b = torch.load(tmp_path / "b" / CHECKPOINT, weights_only=False)["module"]
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    # A different setting is refused rather than silently mixed into the checkpoint.
    with pytest.raises(ValueError, match="different settings"):
        Trainer(small_config(lr=0.5), tmp_path / "b", progress=False).fit(train, valid)


def test_same_seed_same_model(tmp_path: Path) -> None:
    train, valid = split(synthetic_corpus())
    cfg = small_config(max_epochs=1)
    Trainer(cfg, tmp_path / "a", progress=False).fit(train, valid)
    Trainer(cfg, tmp_path / "b", progress=False).fit(train, valid)
    assert load_encoder(tmp_path / "a").id == load_encoder(tmp_path / "b").id


def test_duplicate_groups_join_same_code_or_same_query() -> None:
    recs = [Record(code="def f():\n    return 1", docstring="One."),
            Record(code="def f():\n  return   1", docstring="Another."),
            Record(code="def g():\n    return 2", docstring="another."),
            Record(code="def h():\n    return 3", docstring="Three.")]
    g = duplicate_groups(recs)
    assert g[0] == g[1] == g[2] and g[3] != g[0]


def test_train_index_eval_beats_random(tmp_path: Path) -> None:
    """The newcomer's path: `seekcode train encoder`, `Index.build`, reopen, evaluate."""
    from seekcode.cli import main
    from seekcode.eval.runner import evaluate
    from seekcode.index.store import Index

    recs = synthetic_corpus()
    corpus = tmp_path / "corpus.jsonl"
    write_records(corpus, recs)
    model = tmp_path / "model"
    code = main(["train", "encoder", "--model", "nbow", "--corpus", str(corpus), "-o", str(model),
                 "--epochs", "15", "--batch-size", "32", "--threads", "1", "--quiet"])
    assert code == 0
    log = json.loads((model / "train_log.json").read_text())
    assert log["best_mrr"] > 0 and log["epochs"] >= 1
    test = [r for r in recs if r.partition == "test"]
    Index.build(test, tmp_path / "index", load_encoder(model), progress=False)
    index = Index.open(tmp_path / "index")  # reopens the encoder from the manifest's path
    result = evaluate(index, searchers=["exact"], time_queries=5, progress=False)
    n = len(test)
    random_mrr = float(np.mean([1 / r for r in range(1, n + 1)]))  # expected MRR of a random order
    assert result["exact"]["mrr"] > 2 * random_mrr
    hits = index.search("compress the given csv", k=3)
    assert hits and hits[0].func_name in {r.func_name for r in test}


def test_deepsem_trains_its_bag_first_then_opens_the_gates(tmp_path: Path) -> None:
    """The bag phase ends (here: its share of the budget is used up after one epoch), the
    full model continues from it, and the checkpoint remembers the phase."""
    train, valid = split(synthetic_corpus())
    cfg = TrainConfig.for_model("deepsem", batch_size=16, max_epochs=4, patience=1, threads=1,
                                arch={"dim": 16, "heads": 2, "layers": 1}, mine_top_k=3,
                                epoch_pairs=0, bag_warmup=1e-9, max_minutes=30)
    at_switch: list[bool] = []

    def log(msg: str) -> None:
        assert trainer.model is not None or msg.startswith("building")
        if msg.startswith("epoch 1:"):
            # After the best bag model is saved, move the live weights away from it.
            with torch.no_grad():
                for p in trainer.model.torch_module().parameters():  # type: ignore[union-attr]
                    p.add_(0.1)
        if "training the full model" in msg:
            # The full phase starts from the best bag model, as saved.
            assert trainer.model is not None
            now = trainer.model.torch_module().state_dict()
            best = NeuralEncoder.load(tmp_path / "m").torch_module().state_dict()
            at_switch.append(all(torch.equal(now[k], best[k]) for k in best))

    trainer = Trainer(cfg, tmp_path / "m", progress=False, log=log)
    res = trainer.fit(train, valid)
    phases = [h["phase"] for h in res.history]
    assert phases == ["bag", "full", "full", "full"], phases
    assert at_switch == [True]
    gates = [v for k, v in torch.load(tmp_path / "m" / CHECKPOINT, weights_only=False)["module"]
             .items() if k.endswith("gates")]
    assert gates and any(bool((g != 0).any()) for g in gates)  # the full phase trained them
    saved = torch.load(tmp_path / "m" / CHECKPOINT, weights_only=False)
    assert saved["phase"] == "full"
    # Resuming a finished run does not go back to the bag phase (it would refuse: the
    # gates are open).
    again = Trainer(cfg, tmp_path / "m", progress=False).fit(train, valid)
    assert again.steps == res.steps


def test_a_planted_checkpoint_cannot_run_code(tmp_path, corpus_file) -> None:
    """checkpoint/state.pt is unpickled with weights_only: an object whose unpickling runs
    a command is refused with a clear message, and the command never runs."""
    import os

    from seekcode.corpus.jsonl import read_records

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    out = tmp_path / "m"
    (out / "checkpoint").mkdir(parents=True)
    torch.save({"config": {}, "module": Exploit()}, out / CHECKPOINT)
    cfg = TrainConfig.for_model("nbow", max_epochs=1)
    with pytest.raises(ValueError, match="refusing to load a checkpoint"):
        Trainer(cfg, out, progress=False).fit(list(read_records(corpus_file)))
    assert not marker.exists()
