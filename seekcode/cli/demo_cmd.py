"""`seekcode demo`: the main job end to end on the standard library (what `make demo` runs)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

EXAMPLE_QUERIES = (
    "read a gzip compressed file",
    "parse a date string into a datetime",
    "send an email message over SMTP",
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="corpus -> index -> eval -> example searches on the stdlib")
    p.add_argument("--workdir", type=Path, default=Path("runs/demo"),
                   help="where the corpus and index go (re-runs reuse them)")
    p.add_argument("--max-records", type=int, default=0,
                   help="index a seeded subset of N functions (default 0: all, about 6,000)")
    p.add_argument("--no-hash", action="store_true", help="skip training CoSHC")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from seekcode.cli.search_cmd import print_hits
    from seekcode.corpus.build import build_corpus
    from seekcode.corpus.jsonl import read_records
    from seekcode.encoders.base import load_encoder
    from seekcode.eval.report import markdown_table, print_table
    from seekcode.eval.runner import evaluate
    from seekcode.index.store import Index

    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    limit = args.max_records or None
    corpus = work / f"stdlib-{limit or 'all'}.jsonl"
    step("1/4 corpus: functions with docstrings from this Python's standard library")
    if corpus.exists():
        print(f"  reusing {corpus}", file=sys.stderr)
    else:
        n, skips = build_corpus(["stdlib"], corpus, max_records=limit)
        print(f"  wrote {n:,} records to {corpus}; {skips.summary()}", file=sys.stderr)
    records = list(read_records(corpus))
    parts = {p: sum(r.partition == p for r in records) for p in ("train", "valid", "test")}
    print(f"  {len(records):,} functions" + (f" (a seeded subset of at most {limit:,})" if limit else "")
          + f"; split by module: train {parts['train']:,} / valid {parts['valid']:,} / "
          f"test {parts['test']:,}", file=sys.stderr)

    use_hash = not args.no_hash and importlib.util.find_spec("seekcode.hashing.coshc") is not None
    step("2/4 index: MiniLM (bundled, offline)" + (" + CoSHC hashing" if use_hash else ""))
    encoder = load_encoder("minilm")
    hooks = []
    if use_hash:
        from seekcode.hashing.coshc import build_hook

        hooks.append(build_hook(encoder))
    t0 = time.perf_counter()
    index, stats = Index.build(records, work / "index", encoder, hooks=hooks)
    print(f"  {stats['records']:,} functions (encoded {stats['encoded']:,}, reused "
          f"{stats['reused']:,}) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    step("3/4 eval: held-out test partition, each docstring summary as the query, "
         "ranked against the whole index")
    result = evaluate(index)
    print_table(result)
    (work / "eval.json").write_text(json.dumps(result, indent=2))
    (work / "eval.md").write_text(markdown_table(result) + "\n")

    step("4/4 example searches")
    for q in EXAMPLE_QUERIES:
        t0 = time.perf_counter()
        hits = index.search(q, k=3)
        print_hits(q, hits, index.default_searcher, (time.perf_counter() - t0) * 1000, preview_lines=6)
    print(f"\ndone in {time.perf_counter() - t_start:.0f} s; results in {work}/eval.md. "
          f"Try: seekcode search {work / 'index'} \"your query\"", file=sys.stderr)
    return 0


def step(text: str) -> None:
    print(f"\n== {text}", file=sys.stderr)
