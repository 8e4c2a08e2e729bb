"""Train every encoder under one CPU-time budget and compare them on held-out packages.

    python benchmarks/bench_encoders.py CORPUS.jsonl [--minutes 3] [--jobs 2]

CORPUS must be split by package (`partition` train / valid / test, as `seekcode corpus`
writes it): models train on `train`, early-stop on `valid`, and are scored on `test`,
whose packages none of them saw. Each run trains with a budget of `--minutes` of its
own CPU time (one thread), so runs compare fairly on a busy machine, and writes
`OUT/runs/NAME.json`; a rerun skips finished runs (delete the file to redo one).
The table (JSON + markdown) goes to `OUT/encoders.{json,md}`.

Rows: the five trainable models, zero-shot and fine-tuned MiniLM, and the deep
semantic model with one ingredient removed at a time (its bag warm-up, hybrid
pooling, layer combination, hard negatives, mined negatives, batch size, each code
modality).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

# name -> (what it is, TrainConfig overrides); "minilm-zeroshot" is evaluated untrained.
RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    "nbow": ("NBoW, attention pooling (UNIF)", {"model": "nbow"}),
    "cnn": ("1D CNN", {"model": "cnn"}),
    "rnn": ("2-layer biLSTM", {"model": "rnn"}),
    "selfatt": ("self-attention (2 layers)", {"model": "selfatt"}),
    "deepsem": ("deep semantic model (all ingredients)", {"model": "deepsem"}),
    "minilm-zeroshot": ("MiniLM, zero-shot", {"model": "minilm"}),
    "minilm": ("MiniLM, fine-tuned", {"model": "minilm"}),
    "deepsem-no-warmstart": ("deepsem w/o the bag warm-up (full model from the first step)",
                             {"model": "deepsem", "bag_warmup": 0.0}),
    "deepsem-no-hybrid": ("deepsem w/o hybrid pooling (attention only)",
                          {"model": "deepsem", "arch": {"pooling": ["attention"]}}),
    "deepsem-no-layercomb": ("deepsem w/o layer combination (last layer)",
                             {"model": "deepsem", "arch": {"combine_layers": False}}),
    "deepsem-no-hardneg": ("deepsem w/o hard negatives (no hardest term, no mining)",
                           {"model": "deepsem", "mined_negatives": False, "hard_weight": 0.0}),
    "deepsem-no-mined": ("deepsem w/o mined negatives (in-batch hardest only)",
                         {"model": "deepsem", "mined_negatives": False}),
    "deepsem-batch128": ("deepsem, batch 128 instead of 512",
                         {"model": "deepsem", "batch_size": 128}),
    "deepsem-no-tokens": ("deepsem w/o code-token modality",
                          {"model": "deepsem", "arch": {"modalities": ["name", "calls"]}}),
    "deepsem-no-name": ("deepsem w/o function-name modality",
                        {"model": "deepsem", "arch": {"modalities": ["tokens", "calls"]}}),
    "deepsem-no-calls": ("deepsem w/o called-API modality",
                         {"model": "deepsem", "arch": {"modalities": ["tokens", "name"]}}),
}
MAIN = ["nbow", "cnn", "rnn", "selfatt", "deepsem", "minilm-zeroshot", "minilm"]
# Launch order: the comparisons the issue asks for first.
ORDER = ["deepsem", "nbow", "selfatt", "minilm", "minilm-zeroshot", "cnn", "rnn"]


def load_split(corpus: Path, test_max: int, seed: int = 0) -> dict[str, list[Any]]:
    from seekcode.corpus.jsonl import read_records
    from seekcode.training.data import training_pairs

    recs = training_pairs(read_records(corpus))
    parts = {p: [r for r in recs if r.partition == p] for p in ("train", "valid", "test")}
    if not parts["test"]:
        raise SystemExit(f"{corpus}: no 'test' partition; build it split by package")
    test = parts["test"]
    if len(test) > test_max:
        keep = np.sort(np.random.default_rng(seed).permutation(len(test))[:test_max])
        parts["test"] = [test[i] for i in keep]
    return parts


def metrics(query_vecs: np.ndarray, code_vecs: np.ndarray) -> dict[str, float]:
    """mrr@1000batch, and MRR, R@1/5/10 over the whole test pool (ties against)."""
    from seekcode.eval.metrics import mrr_at_1000_batch, pool_ranks, summarize_ranks

    return {"mrr@1000batch": mrr_at_1000_batch(query_vecs, code_vecs, seed=0),
            **summarize_ranks(pool_ranks(query_vecs, code_vecs))}


def run_one(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train (unless zero-shot) and evaluate one row; runs in its own process."""
    import torch

    from seekcode.encoders.base import load_encoder
    from seekcode.training.config import TrainConfig
    from seekcode.training.trainer import Trainer

    torch.set_num_threads(1)
    parts = load_split(args.corpus, args.test_max)
    desc, overrides = RUNS[name]
    out = args.out / "models" / name
    row: dict[str, Any] = {"name": name, "description": desc, "train_pairs": len(parts["train"]),
                           "test_pairs": len(parts["test"])}
    t_cpu, t_wall = time.process_time(), time.monotonic()
    if name == "minilm-zeroshot":
        encoder = load_encoder("minilm")
    elif args.eval_only:
        # Re-score a model trained earlier (e.g. after the test set changed).
        log = json.loads((out / "train_log.json").read_text())
        row.update(epochs=log["epochs"], steps=log["steps"], stopped=log["stopped"],
                   valid_mrr=round(log["best_mrr"], 4), evaluated_only=True)
        encoder = load_encoder(out)
    else:
        minutes = args.minilm_minutes if overrides["model"] == "minilm" else args.minutes
        cfg = TrainConfig.for_model(**{**overrides, "max_minutes": minutes, "clock": "cpu",
                                       "threads": 1, "seed": args.seed})
        result = Trainer(cfg, out, progress=False).fit(parts["train"], parts["valid"])
        bag = [h["steps"] for h in result.history if h.get("phase") == "bag"]
        row.update(epochs=result.epochs, steps=result.steps, stopped=result.stopped,
                   valid_mrr=round(result.best_mrr, 4), budget_cpu_min=minutes,
                   bag_steps=max(bag) if bag else "", best_epoch=result.best_epoch + 1)
        encoder = load_encoder(out)
    row["train_cpu_min"] = round((time.process_time() - t_cpu) / 60, 2)
    row["train_wall_min"] = round((time.monotonic() - t_wall) / 60, 2)
    q = encoder.encode_queries([r.query_text for r in parts["test"]], progress=False)
    c = encoder.encode_code(parts["test"], progress=False)
    row.update({k: round(v, 4) for k, v in metrics(q, c).items()})
    row["encoder_id"] = encoder.id
    return row


def markdown(rows: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    cols = ["mrr@1000batch", "mrr", "r@1", "r@5", "r@10", "valid_mrr", "steps", "bag_steps",
            "best_epoch", "stopped", "budget_cpu_min"]
    any_row = next(iter(rows.values()), {})
    lines = [
        "# Encoders on held-out packages",
        "",
        f"Corpus `{args.corpus}`: {any_row.get('train_pairs', '?')} training pairs; "
        f"test = {any_row.get('test_pairs', '?')} pairs from packages no model trained on "
        "(full-pool metrics rank each docstring summary against all test functions, ties "
        "counted against the model).",
        "Budget: `budget_cpu_min` CPU-minutes of training steps per run (one thread, seed "
        f"{args.seed}); a run also stops early when validation MRR has not improved for 3 "
        "epochs (`stopped`). `valid_mrr`: MRR over the validation pool (other packages), "
        "the model kept is the best one by it. `steps`: optimizer updates.",
        "",
        f"Command: `python benchmarks/bench_encoders.py {args.corpus} --minutes {args.minutes} "
        f"--minilm-minutes {args.minilm_minutes} --test-max {args.test_max} --jobs {args.jobs}`",
        "",
    ]

    def table(names: list[str]) -> None:
        lines.append("| model | " + " | ".join(cols) + " |")
        lines.append("|---" * (len(cols) + 1) + "|")
        for n in names:
            if n not in rows:
                continue
            r = rows[n]
            cells = [str(r.get(c, "")) for c in cols]
            lines.append(f"| {n}: {r['description']} | " + " | ".join(cells) + " |")
        lines.append("")

    lines.append("## Models")
    lines.append("")
    table(MAIN)
    lines.append("## Ablations of the deep semantic model (one ingredient removed)")
    lines.append("")
    table(["deepsem"] + [n for n in RUNS if n.startswith("deepsem-")])
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", type=Path)
    p.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    p.add_argument("--minutes", type=float, default=3.0, help="CPU minutes per small model")
    p.add_argument("--minilm-minutes", type=float, default=8.0)
    p.add_argument("--test-max", type=int, default=3000, help="test pairs (seeded sample)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2, help="runs in parallel")
    p.add_argument("--runs", nargs="*", default=ORDER + [n for n in RUNS if n not in ORDER],
                   help=f"subset of {list(RUNS)}")
    p.add_argument("--results-md", type=Path, help="also write the markdown here")
    p.add_argument("--eval-only", action="store_true",
                   help="score the models already trained in OUT/models (no training)")
    p.add_argument("--run", help=argparse.SUPPRESS)  # internal: one row, in a child process
    args = p.parse_args()
    runs_dir = args.out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    if args.run:
        row = run_one(args.run, args)
        (runs_dir / f"{args.run}.json").write_text(json.dumps(row, indent=2))
        return 0

    def launch(name: str) -> None:
        if (runs_dir / f"{name}.json").exists():
            return
        cmd = [sys.executable, __file__, str(args.corpus), "--out", str(args.out),
               "--minutes", str(args.minutes), "--minilm-minutes", str(args.minilm_minutes),
               "--test-max", str(args.test_max), "--seed", str(args.seed), "--run", name]
        cmd += ["--eval-only"] if args.eval_only else []
        with open(args.out / f"{name}.log", "w") as log:
            code = subprocess.call(cmd, stdout=log, stderr=log, env={**os.environ,
                                                                     "OMP_NUM_THREADS": "1"})
        print(f"{name}: {'done' if code == 0 else f'failed ({code}), see {args.out}/{name}.log'}",
              file=sys.stderr, flush=True)

    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(launch, args.runs))
    rows = {f.stem: json.loads(f.read_text()) for f in sorted(runs_dir.glob("*.json"))}
    (args.out / "encoders.json").write_text(json.dumps(rows, indent=2))
    md = markdown(rows, args)
    (args.out / "encoders.md").write_text(md)
    if args.results_md:
        args.results_md.parent.mkdir(parents=True, exist_ok=True)
        args.results_md.write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
