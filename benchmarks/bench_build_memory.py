"""Peak memory of `seekcode index CORPUS` as the corpus grows (10k, 100k, 1M records).

Each size is a synthetic corpus (distinct functions of ~10 lines, a docstring each;
`benchmarks/out/build-memory/corpus-N.jsonl.gz`), indexed by a fresh `seekcode index`
process with the lexical encoder (no model, so the curve shows the build, not a
network). Peak RSS is the process's own `ru_maxrss` (os.wait4). Vectors are reported
separately: they are what a search needs in memory anyway (n x dim x 4 bytes).

    python benchmarks/bench_build_memory.py --label after
    # another checkout of seekcode, e.g. the commit before the streaming build:
    git archive 4413fa3 | tar -x -C /tmp/before
    python benchmarks/bench_build_memory.py --label before --tree /tmp/before

Every label run is kept in `benchmarks/out/build-memory/LABEL.json`; the report
(`results/build-memory.md` and `.json`) shows all labels side by side.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import OUT, RESULTS, machine, write_report

ROOT = Path(__file__).resolve().parent.parent
WORK = OUT / "build-memory"
DIM = 256  # the lexical encoder's default

WORDS = ["read", "write", "parse", "send", "open", "close", "load", "save", "find", "sort", "merge", "split", "join", "hash", "encode", "decode", "fetch", "store", "update", "delete", "create", "build", "render", "check"]
NOUNS = ["file", "user", "record", "config", "header", "image", "table", "packet", "message", "token", "cache", "buffer", "request", "response", "stream", "queue", "index", "path", "date"]


def make_corpus(n: int) -> Path:
    """A gzip jsonl of n distinct records (written once per size, then reused)."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"corpus-{n}.jsonl.gz"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=1) as f:
        for i in range(n):
            verb, noun = WORDS[i % len(WORDS)], NOUNS[(i // len(WORDS)) % len(NOUNS)]
            name = f"{verb}_{noun}_{i}"
            lines = [f"def {name}(path, count={i}):",
                     f"    items = [{verb}_one(x) for x in range(count)]"]
            lines += [f"    {noun}_{j} = items[{j}] if len(items) > {j} else None" for j in range(6)]
            lines += [f"    return {noun}_0, {i % 97}"]
            code = "\n".join(lines)
            doc = f"{verb.capitalize()} the {noun} at path {i % 1000} times."
            f.write(json.dumps({
                "repo": f"repo{i // 5000}", "path": f"pkg/mod{i // 100}.py", "func_name": name,
                "original_string": code, "language": "python", "code": code,
                "code_tokens": code.replace("(", " ").replace(")", " ").split(),
                "docstring": doc, "docstring_tokens": doc.rstrip(".").split(),
                "partition": "train", "url": f"synthetic://repo/pkg/mod{i // 100}.py#L{i}",
            }))
            f.write("\n")
    tmp.rename(path)
    return path


def measure(corpus: Path, tree: Path) -> dict:
    """Index `corpus` in a fresh process; its peak RSS and wall time."""
    out = WORK / "index"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", "import sys; from seekcode.cli import main; sys.exit(main())",
           "index", str(corpus), "-o", str(out), "--encoder", "lexical", "--json"]
    t0 = time.perf_counter()
    # cwd outside any checkout: `-c` puts the cwd first on sys.path.
    proc = subprocess.Popen(cmd, env=env, cwd=WORK, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"seekcode index {corpus} failed with exit {proc.returncode}")
    stats = json.loads(stdout)
    shutil.rmtree(out, ignore_errors=True)
    return {"records": stats["records"], "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "vectors_mib": round(stats["records"] * DIM * 4 / 2**20, 1),
            "seconds": round(seconds, 1)}


def report() -> str:
    runs = {p.stem: json.loads(p.read_text()) for p in sorted(WORK.glob("*.json"))}
    sizes = sorted({row["records"] for run in runs.values() for row in run["rows"]})
    lines = ["# Peak memory of `seekcode index` by corpus size",
             "",
             "Synthetic corpus (10-line functions with docstrings), lexical encoder (dim 256), "
             "one fresh `seekcode index CORPUS.jsonl.gz` process per size; peak RSS = its "
             "`ru_maxrss`. *vectors* = n x 256 x 4 bytes, what exact search holds in memory.",
             "Machine shared with other jobs (2 cores, load 5-7) and labels run one after the "
             "other, so times are indicative only; the memory is the point.",
             "",
             "| build | " + " | ".join(f"{n:,} records" for n in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    for label, run in runs.items():
        by_n = {row["records"]: row for row in run["rows"]}
        cells = [f"{by_n[n]['peak_rss_mib']:,.0f} MiB ({by_n[n]['seconds']:.0f} s)" if n in by_n
                 else "-" for n in sizes]
        lines.append(f"| {label} ({run['tree']}) | " + " | ".join(cells) + " |")
    lines.append("| *vectors* | " + " | ".join(f"{n * DIM * 4 / 2**20:,.0f} MiB" for n in sizes) + " |")
    lines.append("")
    for label, run in runs.items():
        lines.append(f"- {label}: {run['note']}" if run.get("note") else f"- {label}")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--label", default="after")
    ap.add_argument("--tree", type=Path, default=ROOT, help="seekcode checkout to measure")
    ap.add_argument("--note", default="", help="what this label is (e.g. the commit)")
    ap.add_argument("--report-only", action="store_true", help="rewrite the report from saved runs")
    args = ap.parse_args()
    rows = []
    if args.report_only:
        args.sizes = []
    for n in args.sizes:
        row = measure(make_corpus(n), args.tree.resolve())
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    tree = "this checkout" if args.tree.resolve() == ROOT else str(args.tree)
    if not args.report_only:
        (WORK / f"{args.label}.json").write_text(json.dumps(
            {"label": args.label, "tree": tree, "note": args.note, "rows": rows,
             "machine": machine()}, indent=2))
    runs = {p.stem: json.loads(p.read_text()) for p in sorted(WORK.glob("*.json"))}
    path = write_report("build-memory", {"runs": runs}, report())
    (RESULTS / "build-memory.json").write_text(json.dumps({"runs": runs}, indent=2))
    print(path.read_text())


if __name__ == "__main__":
    main()
