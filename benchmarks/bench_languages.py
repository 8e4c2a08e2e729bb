"""Per-language evaluation (MiniLM zero-shot and a trained model, exact and CoSHC),
and cross-language training (one model over every language against one per language).

    python benchmarks/bench_languages.py /work/data/multilang [--out benchmarks/out]
        [--test 1000] [--pool-train 1000] [--train-max 8000] [--minutes 1.0] [--jobs 3]

CORPORA is a folder of `{lang}.jsonl.gz` corpora split by project (`partition`
train / valid / test, as `benchmarks/build_multilang_corpus.sh` writes them).

For each language, the evaluation index holds a seeded sample of `--test` test records
plus a seeded sample of `--pool-train` train records: the test docstring summaries are
the queries (each against the whole index, CodeSearchNet's way), and CoSHC learns from
the train records' pairs only. Encoders train on the train partition (a seeded sample
of at most `--train-max` pairs) and early-stop on the valid partition; no model and no
hashing module ever sees a test record. Only records of the corpus's own language are used.

Rows:
- `minilm-int8`: the bundled MiniLM, zero-shot, dynamically quantised to int8 (3x
  faster on CPU than fp32 at about the same quality; benchmarks/results/encoding.md);
- `MODEL (per language)`: `--model` trained on that language alone for `--minutes`
  CPU-minutes (one thread);
- `MODEL (cross-language)`: one model trained on the union of every language's
  training pairs for `--minutes` x (number of languages) CPU-minutes, i.e. the same
  total budget as all the per-language models together. Its code side is one code
  encoder per language, each followed by a learned alignment projection into the
  space of the one shared query encoder (Wu & Yan 2022, section 3.4).
each exact and with CoSHC (seekcode's recommended recipe, `HashConfig.recommended()`).

Each job runs in its own process and writes `OUT/languages/runs/NAME.json`; a rerun
skips finished jobs (delete the file to redo one). The report goes to
`OUT/languages.{json,md}` and `benchmarks/results/languages.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

LANGUAGES = ("go", "java", "javascript", "php", "ruby", "python")
# Trainable models and their TrainConfig overrides. Both have one code encoder per
# language followed by an alignment projection, and one query encoder.
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "nbow": ("NBoW (UNIF) + per-language alignment", {"model": "nbow", "arch": {"align": True}}),
    # The full-size deep semantic model makes a handful of steps in a CPU-minute on this
    # machine; a narrower, one-layer version with small batches learns within the budget.
    "deepsem": ("deep semantic model, small (dim 64, 1 layer, batch 128)",
                {"model": "deepsem", "batch_size": 128, "epoch_pairs": 2048, "lr": 2e-3,
                 "mined_negatives": False, "arch": {"dim": 64, "layers": 1}}),
}
METRICS = ("mrr@1000batch", "mrr", "r@1", "r@5", "r@10")


# ---- data ----------------------------------------------------------------------------
def sample(items: list[Any], n: int, seed: int) -> list[Any]:
    """A seeded sample of at most n items, in their original order."""
    if len(items) <= n:
        return list(items)
    keep = np.sort(np.random.default_rng(seed).permutation(len(items))[:n])
    return [items[i] for i in keep]


def prepare(lang: str, args: argparse.Namespace) -> dict[str, Any]:
    """Write DATA/{lang}.pool.jsonl (test + train sample) and DATA/{lang}.train.jsonl."""
    from seekcode.corpus.jsonl import read_records, write_records
    from seekcode.training.data import training_pairs

    data = args.out / "languages" / "data"
    pool_path, train_path = data / f"{lang}.pool.jsonl", data / f"{lang}.train.jsonl"
    info_path = data / f"{lang}.json"
    if info_path.exists():
        return dict(json.loads(info_path.read_text()))
    data.mkdir(parents=True, exist_ok=True)
    recs = [r for r in training_pairs(read_records(args.corpora / f"{lang}.jsonl.gz"))
            if (r.language or "").lower() == lang]
    parts = {p: [r for r in recs if r.partition == p] for p in ("train", "valid", "test")}
    test = sample(parts["test"], args.test, args.seed)
    pool_train = sample(parts["train"], args.pool_train, args.seed + 1)
    enc_train = sample(parts["train"], args.train_max, args.seed + 2)
    valid = sample(parts["valid"], args.valid_max, args.seed + 3)
    write_records(pool_path, test + pool_train)
    write_records(train_path, enc_train + valid)
    info = {"language": lang, "pairs": {p: len(v) for p, v in parts.items()},
            "pool_test": len(test), "pool_train": len(pool_train),
            "encoder_train": len(enc_train), "encoder_valid": len(valid)}
    info_path.write_text(json.dumps(info, indent=2))
    return info


# ---- one evaluation --------------------------------------------------------------------
def evaluate_on(encoder: Any, lang: str, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    """Build lang's pool index with `encoder` (+ CoSHC trained on its train rows) and score it."""
    from seekcode.corpus.jsonl import read_records
    from seekcode.eval.runner import evaluate
    from seekcode.hashing.config import HashConfig
    from seekcode.hashing.coshc import build_hook
    from seekcode.index.store import Index

    pool = list(read_records(args.out / "languages" / "data" / f"{lang}.pool.jsonl"))
    out = args.out / "languages" / "indexes" / f"{lang}-{tag}"
    shutil.rmtree(out, ignore_errors=True)
    t = time.process_time()
    index, _ = Index.build(pool, out, encoder, progress=False, hooks=[build_hook(encoder)])
    build_cpu = time.process_time() - t
    res = evaluate(index, progress=False)
    row: dict[str, Any] = {
        "n_queries": res["n_queries"], "n_records": res["n_records"],
        "index_cpu_s": round(build_cpu, 1),
        "coshc_recall_n": HashConfig.from_dict(
            index.manifest["extras"]["coshc"]["config"]).recall_for(index.count),
    }
    for section in ("exact", "coshc", "coshc_no_classification", "retention"):
        if section in res:
            row[section] = {k: round(float(v), 4) for k, v in res[section].items()}
    index.close()
    shutil.rmtree(out, ignore_errors=True)  # vectors are cheap to rebuild; keep disk small
    return row


def train_model(model: str, name: str, langs: list[str], minutes: float,
                args: argparse.Namespace) -> Any:
    """Train a PRESETS model on the given languages' train files; returns (encoder, training info)."""
    from seekcode.corpus.jsonl import read_records
    from seekcode.encoders.base import load_encoder
    from seekcode.training.config import TrainConfig
    from seekcode.training.data import split_partitions
    from seekcode.training.trainer import Trainer

    data = args.out / "languages" / "data"
    recs = [r for lang in langs for r in read_records(data / f"{lang}.train.jsonl")]
    train, valid = split_partitions(recs)
    cfg = TrainConfig.for_model(**{**PRESETS[model][1], "max_minutes": minutes, "clock": "cpu",
                                   "threads": 1, "seed": args.seed})
    if cfg.epoch_pairs > 0:
        # Validation and checkpoints as often per pair trained as a one-language run:
        # the union's validation set is len(langs) times larger.
        cfg.epoch_pairs *= len(langs)
    out = args.out / "languages" / "models" / name
    t_cpu, t_wall = time.process_time(), time.monotonic()
    res = Trainer(cfg, out, progress=False).fit(train, valid, restart=True)
    info = {"languages": langs, "train_pairs": len(train), "valid_pairs": len(valid),
            "budget_cpu_min": minutes, "epochs": res.epochs, "steps": res.steps,
            "stopped": res.stopped, "valid_mrr": round(res.best_mrr, 4),
            "train_cpu_min": round((time.process_time() - t_cpu) / 60, 2),
            "train_wall_min": round((time.monotonic() - t_wall) / 60, 2)}
    return load_encoder(out), info


def run_job(job: str, args: argparse.Namespace) -> dict[str, Any]:
    """One job in this process: `minilm:LANG`, `single:MODEL:LANG` or `cross:MODEL`."""
    import torch

    torch.set_num_threads(1)
    kind, _, rest = job.partition(":")
    model, _, lang = rest.partition(":")
    if kind == "minilm":
        model, lang = "minilm-int8", rest
    t_wall = time.monotonic()
    if kind == "minilm":
        from seekcode.encoders.base import load_encoder

        out: dict[str, Any] = {"job": job, "rows": {lang: evaluate_on(
            load_encoder("minilm-int8"), lang, args, "minilm")}}
    elif kind == "single":
        encoder, info = train_model(model, f"{model}-{lang}", [lang], args.minutes, args)
        out = {"job": job, "training": info,
               "rows": {lang: evaluate_on(encoder, lang, args, model)}}
    elif kind == "cross":
        encoder, info = train_model(model, f"{model}-cross", list(args.languages),
                                    args.minutes * len(args.languages), args)
        out = {"job": job, "training": info, "rows": {}}
        for lg in args.languages:
            out["rows"][lg] = evaluate_on(encoder, lg, args, f"{model}-cross")
    elif kind == "saved":
        # A cross-language run stopped before its budget was spent (e.g. a deadline):
        # evaluate the best model it saved, and say how far it got.
        from seekcode.encoders.base import load_encoder

        model_dir = args.out / "languages" / "models" / f"{model}-cross"
        state = torch.load(model_dir / "checkpoint" / "state.pt", map_location="cpu",
                            weights_only=False)
        info = {"languages": list(args.languages), "budget_cpu_min":
                args.minutes * len(args.languages), "epochs": state["epoch"],
                "steps": state["step"], "valid_mrr": round(state["best_mrr"], 4),
                "stopped": "interrupted (deadline), best saved model evaluated"}
        out = {"job": job, "training": info,
               "rows": {lang: evaluate_on(load_encoder(model_dir), lang, args, f"{model}-saved")}}
    else:
        raise SystemExit(f"unknown job {job!r}")
    out["wall_min"] = round((time.monotonic() - t_wall) / 60, 2)
    return out


# ---- the report ------------------------------------------------------------------------
def fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown(runs: dict[str, dict[str, Any]], info: dict[str, Any],
             args: argparse.Namespace) -> str:
    def row(job: str, lang: str) -> dict[str, Any] | None:
        run = runs.get(job)
        if run is None and job.startswith("cross:"):
            run = runs.get(f"saved:{job.partition(':')[2]}:{lang}")
        return run["rows"].get(lang) if run else None

    presets = "; ".join(f"`{m}`: {PRESETS[m][0]}, TrainConfig overrides `{json.dumps(PRESETS[m][1])}`"
                        for m in args.models)
    lines = [
        "# Per-language evaluation and cross-language training",
        "",
        f"Corpora: `{args.corpora}/{{lang}}.jsonl.gz` (real code from Debian, npm and PyPI, "
        "split by project; docs/corpora.md), records of the corpus's own language only. Per "
        f"language, the index pool is a seeded sample of {args.test} test-partition pairs plus "
        f"{args.pool_train} train-partition pairs; queries are the test docstring summaries, each "
        "ranked against the whole pool (ties counted against the model); `mrr@1000batch` is "
        "CodeSearchNet's MRR over batches of 1,000 test pairs. CoSHC (`HashConfig.recommended()`: "
        "256 bits, recall N = 100 + 10,000 per 1M records) learns only from the pool's train "
        "pairs; encoders train on the train partition and early-stop on the valid partition, "
        "so no test record is ever trained on.",
        "",
        f"Trained models ({presets}): {args.minutes} CPU-minute(s) per language on at most "
        f"{args.train_max} train pairs (early stopping may end a run sooner); each cross-language "
        f"model gets {args.minutes} x {len(args.languages)} CPU-minutes on the union of the same "
        "pairs, i.e. the budget of all its per-language models together. One torch thread per "
        "job. MiniLM is the bundled all-MiniLM-L6-v2, int8-quantised (`--encoder minilm-int8`, "
        "~3x faster than fp32 on this CPU), zero-shot; it was trained on CodeSearchNet pairs "
        "among others, so treat its numbers as possibly seen data.",
        "",
        "Command: `python benchmarks/bench_languages.py "
        + " ".join(a for a in sys.argv[1:] if a != "--report-only") + "`  ",
        f"Machine: {info.get('machine')}",
        "",
        "## Sizes",
        "",
        "| language | train / valid / test pairs in corpus | pool (test + train) | "
        "encoder train / valid |",
        "|---|---|---|---|",
    ]
    for lg in args.languages:
        d = info["data"].get(lg)
        if d:
            p = d["pairs"]
            lines.append(f"| {lg} | {p['train']:,} / {p['valid']:,} / {p['test']:,} | "
                         f"{d['pool_test']:,} + {d['pool_train']:,} | "
                         f"{d['encoder_train']:,} / {d['encoder_valid']:,} |")
    sources = [("minilm-int8, zero-shot", "minilm:{lang}")]
    for m in args.models:
        sources += [(f"{m}, per language", f"single:{m}:{{lang}}"),
                    (f"{m}, cross-language", f"cross:{m}")]
    lines += ["", "## Per language: exact and CoSHC", "",
              "`ret` = CoSHC / exact for MRR and R@1 (1.000 = nothing lost).", "",
              "| language | model | search | " + " | ".join(METRICS) + " | ret MRR | ret R@1 |",
              "|---|---|---|" + "---:|" * (len(METRICS) + 2)]
    for lg in args.languages:
        for label, job in sources:
            r = row(job.format(lang=lg), lg)
            if not r:
                lines.append(f"| {lg} | {label} | (not run) |" + " |" * (len(METRICS) + 2))
                continue
            for section in ("exact", "coshc"):
                m = r.get(section, {})
                ret = r.get("retention", {}).get(section, {})
                cells = [fmt(m.get(k, "")) for k in METRICS]
                cells += [fmt(ret.get("mrr", "")), fmt(ret.get("r@1", ""))]
                lines.append(f"| {lg} | {label} | {section} | " + " | ".join(cells) + " |")
    lines += ["", "## Cross-language training (item 5): one model vs one model per language", "",
              "Exact search, same pools and queries as above; cells are per-language / cross.", ""]
    for m in args.models:
        lines += [f"### {m}", "",
                  "| language | " + " | ".join(METRICS) + " |", "|---|" + "---:|" * len(METRICS)]
        pairs: dict[str, list[tuple[float, float]]] = {k: [] for k in METRICS}
        for lg in args.languages:
            s, c = row(f"single:{m}:{lg}", lg), row(f"cross:{m}", lg)
            if not s or not c:
                continue
            se, ce = s["exact"], c["exact"]
            for k in METRICS:
                pairs[k].append((se[k], ce[k]))
            lines.append(f"| {lg} | " + " | ".join(f"{se[k]:.3f} / {ce[k]:.3f}" for k in METRICS)
                         + " |")
        if pairs[METRICS[0]]:
            lines.append(f"| **mean of {len(pairs[METRICS[0]])}** | " + " | ".join(
                f"{np.mean([a for a, _ in v]):.3f} / {np.mean([b for _, b in v]):.3f}"
                for v in pairs.values()) + " |")
        lines.append("")
    lines += ["Training runs:", "",
              "| run | languages | train pairs | budget CPU-min | used CPU-min | wall min | "
              "epochs | steps | stopped | valid MRR |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for m in args.models:
        for name in [f"single:{m}:{lg}" for lg in args.languages] + [f"cross:{m}"]:
            saved = [runs[f"saved:{m}:{lg}"] for lg in args.languages if f"saved:{m}:{lg}" in runs]
            t = runs.get(name, saved[0] if saved else {}).get("training")
            if t:
                lines.append(
                    f"| {name} | {', '.join(t['languages'])} | {t.get('train_pairs', '?')} | "
                    f"{t['budget_cpu_min']} | {t.get('train_cpu_min', '?')} | "
                    f"{t.get('train_wall_min', '?')} | "
                    f"{t['epochs']} | {t['steps']} | {t['stopped'] or '-'} | {t['valid_mrr']} |")
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpora", type=Path, help="folder of {lang}.jsonl.gz corpora")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    p.add_argument("--languages", nargs="+", default=list(LANGUAGES))
    p.add_argument("--test", type=int, default=1000, help="test pairs per pool (= queries)")
    p.add_argument("--pool-train", type=int, default=1000,
                   help="train pairs per pool (CoSHC learns from them)")
    p.add_argument("--train-max", type=int, default=8000, help="encoder train pairs per language")
    p.add_argument("--valid-max", type=int, default=1000, help="valid pairs per language")
    p.add_argument("--models", nargs="+", default=list(PRESETS), choices=list(PRESETS),
                   help="trainable models (PRESETS)")
    p.add_argument("--minutes", type=float, default=1.0, help="CPU-minutes per language")
    p.add_argument("--jobs", type=int, default=3, help="jobs in parallel")
    p.add_argument("--only", nargs="*",
                   help="run only these jobs (minilm:LANG, single:MODEL:LANG, cross:MODEL)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report-only", action="store_true",
                   help="write the report from the finished jobs; start none")
    p.add_argument("--run", help=argparse.SUPPRESS)  # internal: one job, in a child process
    args = p.parse_args()
    runs_dir = args.out / "languages" / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    if args.run:
        import fcntl

        done = runs_dir / f"{args.run.replace(':', '-')}.json"
        with open(done.with_suffix(".lock"), "w") as lock:
            try:
                # Two runners of one out folder (e.g. a second one for the cheap jobs)
                # never do a job twice.
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"{args.run}: running in another process", file=sys.stderr)
                return 0
            if not done.exists():
                done.write_text(json.dumps(run_job(args.run, args), indent=2))
        return 0

    from common import machine

    info = {"machine": machine(), "data": {lg: prepare(lg, args) for lg in args.languages}}
    # The longest jobs first; MiniLM rows are cheap.
    jobs = [f"cross:{m}" for m in args.models]
    jobs += [f"single:{m}:{lg}" for m in args.models for lg in args.languages]
    jobs += [f"minilm:{lg}" for lg in args.languages]
    if args.only:
        jobs = list(args.only)
    passthrough = [a for a in sys.argv[1:] if a != "--report-only"]

    def launch(job: str) -> None:
        done = runs_dir / f"{job.replace(':', '-')}.json"
        if done.exists():
            return
        log = args.out / "languages" / f"{job.replace(':', '-')}.log"
        with open(log, "w") as fh:
            code = subprocess.call([sys.executable, __file__, *passthrough, "--run", job],
                                   stdout=fh, stderr=fh, env={**os.environ, "OMP_NUM_THREADS": "1"})
        print(f"{job}: {'done' if code == 0 else f'failed ({code}), see {log}'}",
              file=sys.stderr, flush=True)

    if not args.report_only:
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(launch, jobs))
    runs = {}
    for f in sorted(runs_dir.glob("*.json")):
        r = json.loads(f.read_text())
        runs[r["job"]] = r
    md = markdown(runs, info, args)
    from common import write_report

    write_report("languages", {"info": info, "args": {k: str(v) for k, v in vars(args).items()},
                               "runs": runs}, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
