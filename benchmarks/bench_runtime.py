"""MiniLM runtimes side by side: torch fp32/int8 vs ONNX Runtime fp32/optimised/int8 variants.

    python benchmarks/bench_runtime.py --pool NAME=CORPUS.jsonl[.gz] ... [--n 1000]
                                       [--index runs/demo/index] [--runs 5]

For each pool (the test partition of a corpus, a seeded sample of --n functions) and
each runtime: code/s and queries/s on 2 threads, MRR of each docstring summary finding
its function in the pool, and the mean cosine of the code vectors to torch fp32's. Then,
for the default runtime: padding waste and speed by batch size with and without length
bucketing, and 1 vs 2 threads. With --index: whole-process `seekcode search` wall time
and peak RSS (median of --runs, /usr/bin/time -v) for the default runtime and for torch
(an index of the same records built with `--encoder minilm:torch`, made here if missing).
Writes benchmarks/results/runtime.md (+ JSON in benchmarks/out/).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, load_average, machine, write_report  # noqa: E402

RUNTIMES = ["torch", "torch-int8", "ort-fp32", "ort-opt", "ort-int8", "ort-int8pc",
            "ort-int8-keepffn"]
THREADS = 2


def load_pool(path: Path, n: int, seed: int = 0) -> list[Any]:
    import numpy as np

    from seekcode.corpus.jsonl import read_records

    every = [r for r in read_records(path) if r.query_text.strip()]
    recs = [r for r in every if r.partition == "test"]
    if len(recs) < min(n, 300):
        # Too small a test partition (or none): MiniLM is zero-shot here, so every
        # record is as unseen as the test ones.
        recs = every
    rng = np.random.default_rng(seed)
    return [recs[i] for i in sorted(rng.permutation(len(recs))[:n])]


def encoder(runtime: str, threads: int = THREADS, batch_size: int = 32,
            max_tokens: int = 128) -> Any:
    from seekcode.encoders import runtime as rt
    from seekcode.encoders.minilm import MiniLMConfig, MiniLMEncoder

    rt.set_threads(threads)
    if runtime.startswith("torch"):
        import torch

        torch.set_num_threads(threads)
    return MiniLMEncoder(MiniLMConfig(runtime=runtime, batch_size=batch_size,
                                      max_tokens=max_tokens))


def measure(enc: Any, recs: list[Any]) -> dict[str, Any]:
    enc.encode_code(recs[:8], progress=False)  # warm-up: load, export, first-run allocations
    t0 = time.perf_counter()
    code = enc.encode_code(recs, progress=False)
    t_code = time.perf_counter() - t0
    queries = [r.query_text for r in recs]
    t0 = time.perf_counter()
    qv = enc.encode_queries(queries, progress=False)
    t_query = time.perf_counter() - t0
    return {"code": code, "queries": qv, "code_per_s": len(recs) / t_code,
            "queries_per_s": len(queries) / t_query}


def padding_table(recs: list[Any], runtime: str) -> list[dict[str, Any]]:
    """Padding waste (pad tokens / tokens computed) and code/s by batch size, with the
    batches sorted by length (what encode_code does) and in corpus order."""
    import numpy as np

    from seekcode.encoders.minilm import code_text

    tok = encoder(runtime).fast_tokenizer
    # real lengths: the tokenizer pads a batch to its longest
    lengths = np.array([sum(e.attention_mask)
                        for e in tok.encode_batch([code_text(r) for r in recs])])
    rows = []
    for bs in (1, 8, 32, 128):
        for bucketed in (True, False):
            order = np.argsort(lengths, kind="stable")[::-1] if bucketed else np.arange(len(recs))
            padded = sum(int(lengths[order[s : s + bs]].max()) * len(order[s : s + bs])
                         for s in range(0, len(order), bs))
            row: dict[str, Any] = {"batch_size": bs, "bucketed": bucketed,
                                   "padding_share": 1 - lengths.sum() / padded}
            if bucketed or bs == 32:
                enc = encoder(runtime, batch_size=bs)
                sample = recs if bucketed else [recs[i] for i in order]
                if not bucketed:
                    # corpus order: embed batch by batch without the sort
                    enc.encode_code(sample[:8], progress=False)
                    t0 = time.perf_counter()
                    texts = [code_text(r) for r in sample]
                    for s in range(0, len(texts), bs):
                        enc._embed(texts[s : s + bs])
                    row["code_per_s"] = len(sample) / (time.perf_counter() - t0)
                else:
                    row["code_per_s"] = measure(enc, sample)["code_per_s"]
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    return rows


class _Serialised:
    """The encoder, declared not thread-safe: the index batches its calls on one thread."""

    thread_safe = False

    def __init__(self, enc: Any):
        self.enc = enc

    def encode_queries(self, texts: list[str], progress: bool = False) -> Any:
        return self.enc.encode_queries(texts, progress=progress)


def concurrency_table(runtime: str, queries: list[str], clients: int = 16,
                      per_client: int = 20) -> list[dict[str, Any]]:
    """Query encoding under concurrent searches: the index's batcher (one encoder call at
    a time, arrivals batched) vs each thread calling session.run itself."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from seekcode.index.store import _QUERIES

    enc = encoder(runtime, threads=1)  # the server's setting (serve --threads 1)
    enc.encode_queries(queries[:4], progress=False)
    serial = _Serialised(enc)  # what the batcher does for an encoder that is not thread-safe
    ways = {"batcher (store._QueryBatcher)": lambda q: _QUERIES.encode(serial, q),
            "parallel session.run": lambda q: enc.encode_queries([q], progress=False)}
    rows = []
    for c in sorted({1, clients}):
        for name, fn in ways.items():
            lat: list[float] = []

            def client(i: int, fn: Any = fn, lat: list[float] = lat) -> None:
                for j in range(per_client):
                    t = time.perf_counter()
                    fn(queries[(i * per_client + j) % len(queries)])
                    lat.append(time.perf_counter() - t)

            t0 = time.perf_counter()
            with ThreadPoolExecutor(c) as pool:
                list(pool.map(client, range(c)))
            wall = time.perf_counter() - t0
            ms = np.array(lat) * 1000
            rows.append({"concurrency": c, "way": name, "queries_per_s": len(lat) / wall,
                         "p50_ms": float(np.percentile(ms, 50)),
                         "p99_ms": float(np.percentile(ms, 99))})
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def process_runs(index: Path, runs: int, query: str) -> dict[str, float]:
    """Median wall time and peak RSS of a whole `seekcode search` process."""
    seekcode = Path(sys.executable).parent / "seekcode"
    walls, rss = [], []
    for _ in range(runs):
        proc = subprocess.run(["/usr/bin/time", "-v", str(seekcode), "search", str(index), query],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"seekcode search {index}: {proc.stderr[-500:]}")
        for line in proc.stderr.splitlines():
            line = line.strip()
            if line.startswith("Elapsed (wall clock) time"):
                clock = line.rsplit(" ", 1)[-1]
                parts = [float(p) for p in clock.split(":")]
                walls.append(parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) > 2 else 0))
            elif line.startswith("Maximum resident set size"):
                rss.append(int(line.rsplit(" ", 1)[-1]) / 1024)
    return {"wall_s": statistics.median(walls), "rss_mb": statistics.median(rss),
            "runs": runs, "walls": walls}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pool", action="append", default=[], metavar="NAME=CORPUS",
                    help="a held-out pool (test partition of the corpus); repeatable")
    ap.add_argument("--n", type=int, default=1000, help="functions per pool")
    ap.add_argument("--runtimes", default=",".join(RUNTIMES))
    ap.add_argument("--index", type=Path, help="index for the whole-process search runs")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-encoding", action="store_true", help="only the process runs")
    ap.add_argument("--report", default="runtime", help="report name (results/NAME.md)")
    ap.add_argument("--frontier", default="128,96,64,48",
                    help="max_tokens values for the speed/quality frontier (default runtime)")
    args = ap.parse_args()

    from seekcode.encoders.minilm import DEFAULT_RUNTIME
    from seekcode.eval.metrics import mrr, pool_ranks

    runtimes = args.runtimes.split(",")
    results: dict[str, Any] = {"machine": machine(), "load_start": load_average(), "pools": {},
                               "default": DEFAULT_RUNTIME}
    for spec in [] if args.skip_encoding else args.pool:
        name, _, path = spec.partition("=")
        recs = load_pool(Path(path), args.n)
        langs = sorted({r.language for r in recs})
        print(f"pool {name}: {len(recs)} functions ({', '.join(langs)})", file=sys.stderr)
        ref: dict[str, Any] | None = None
        rows = []
        for runtime in runtimes:
            m = measure(encoder(runtime), recs)
            if ref is None:
                ref = m  # the first runtime (torch fp32) is the reference
            row = {"runtime": runtime, "code_per_s": m["code_per_s"],
                   "queries_per_s": m["queries_per_s"],
                   "mrr": mrr(pool_ranks(m["queries"], m["code"])),
                   "cos_code": float((m["code"] * ref["code"]).sum(1).mean()),
                   "cos_query": float((m["queries"] * ref["queries"]).sum(1).mean())}
            rows.append(row)
            print(f"  {row}", file=sys.stderr, flush=True)
        # The frontier: what shorter inputs buy in speed and cost in MRR (MiniLM is
        # compute-bound: its cost grows with the tokens it reads).
        frontier = []
        for max_tokens in [int(t) for t in args.frontier.split(",") if t]:
            m = measure(encoder(DEFAULT_RUNTIME, max_tokens=max_tokens), recs)
            frontier.append({"max_tokens": max_tokens, "code_per_s": m["code_per_s"],
                             "queries_per_s": m["queries_per_s"],
                             "mrr": mrr(pool_ranks(m["queries"], m["code"]))})
            print(f"  {frontier[-1]}", file=sys.stderr, flush=True)
        results["pools"][name] = {"path": path, "n": len(recs), "languages": langs, "rows": rows,
                                  "frontier": frontier}
        results["load_end"] = load_average()
        write_report(args.report, results, markdown(results, args))  # partial, after each pool
        if "padding" not in results:
            results["padding"] = padding_table(recs, DEFAULT_RUNTIME)
            results["concurrency"] = concurrency_table(DEFAULT_RUNTIME,
                                                       [r.query_text for r in recs])
            results["threads"] = []
            for threads in (1, 2):
                m = measure(encoder(DEFAULT_RUNTIME, threads=threads), recs[:300])
                results["threads"].append({"threads": threads, "code_per_s": m["code_per_s"],
                                           "queries_per_s": m["queries_per_s"]})
    if args.index:
        results["process"] = process_section(args.index, args.runs)
    results["load_end"] = load_average()
    path = write_report(args.report, results, markdown(results, args))
    print(path.read_text())


def process_section(index: Path, runs: int) -> dict[str, Any]:
    """`seekcode search` on the index (default runtime) and on a torch twin of it."""
    from seekcode.index.store import Index

    query = "read a gzip compressed file"
    out: dict[str, Any] = {"query": query, "index": str(index)}
    idx = Index.open(index)
    out["default_encoder"] = idx.manifest["encoder"]["id"]
    out["after"] = process_runs(index, runs, query)
    twin = OUT / "runtime-torch-index"
    if not (twin / "manifest.json").exists() and not any(twin.glob("*/manifest.json")):
        recs = list(idx.iter_records())
        corpus = OUT / "runtime-torch-corpus.jsonl"
        from seekcode.corpus.jsonl import write_records

        write_records(corpus, recs)
        subprocess.run([str(Path(sys.executable).parent / "seekcode"), "index", str(corpus),
                        "-o", str(twin), "--encoder", "minilm:torch"], check=True)
    out["before"] = process_runs(twin, runs, query)
    print(out, file=sys.stderr)
    return out


def markdown(res: dict[str, Any], args: argparse.Namespace) -> str:
    md = [f"# MiniLM runtimes side by side ({res['machine']['cpus']} cores, {THREADS} threads)",
          "", f"Default: `{res['default']}`. MRR: each docstring summary finds its function "
          "among the pool's; cosine: mean cosine of the code (query) vectors to torch fp32's.", ""]
    for name, pool in res["pools"].items():
        md += [f"## {name}: {pool['n']} held-out functions ({', '.join(pool['languages'])})", "",
               "| runtime | code/s | queries/s | MRR | MRR vs torch fp32 | cos code | cos query |",
               "|---|---|---|---|---|---|---|"]
        ref = pool["rows"][0]["mrr"]
        for r in pool["rows"]:
            md.append(f"| {r['runtime']} | {r['code_per_s']:.1f} | {r['queries_per_s']:.1f} | "
                      f"{r['mrr']:.4f} | {(r['mrr'] - ref) / ref:+.2%} | {r['cos_code']:.4f} | "
                      f"{r['cos_query']:.4f} |")
        md.append("")
        if pool.get("frontier"):
            md += [f"Speed against quality by input length ({res['default']}):", "",
                   "| max tokens | code/s | queries/s | MRR | MRR vs torch fp32 at 128 |",
                   "|---|---|---|---|---|"]
            md += [f"| {f['max_tokens']} | {f['code_per_s']:.1f} | {f['queries_per_s']:.1f} | "
                   f"{f['mrr']:.4f} | {(f['mrr'] - ref) / ref:+.2%} |" for f in pool["frontier"]]
            md.append("")
    if res.get("padding"):
        md += [f"## Batching ({res['default']}, first pool)", "",
               "| batch size | sorted by length | padding share | code/s |", "|---|---|---|---|"]
        for r in res["padding"]:
            cps = f"{r['code_per_s']:.1f}" if "code_per_s" in r else "-"
            md.append(f"| {r['batch_size']} | {'yes' if r['bucketed'] else 'no'} | "
                      f"{r['padding_share']:.1%} | {cps} |")
        md += ["", "| threads | code/s | queries/s |", "|---|---|---|"]
        md += [f"| {r['threads']} | {r['code_per_s']:.1f} | {r['queries_per_s']:.1f} |"
               for r in res["threads"]]
        md += ["", "Query encoding under concurrent searches (1 ORT thread, one query per call):",
               "", "| concurrency | way | queries/s | p50 ms | p99 ms |", "|---|---|---|---|---|"]
        md += [f"| {r['concurrency']} | {r['way']} | {r['queries_per_s']:.0f} | "
               f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} |" for r in res["concurrency"]]
        md.append("")
    if res.get("process"):
        p = res["process"]
        md += [f"## Whole-process `seekcode search` ({p['after']['runs']} runs, median)", "",
               "| runtime | wall s | peak RSS MB |", "|---|---|---|",
               f"| torch fp32 (before) | {p['before']['wall_s']:.2f} | {p['before']['rss_mb']:.0f} |",
               f"| {p['default_encoder']} (after) | {p['after']['wall_s']:.2f} | "
               f"{p['after']['rss_mb']:.0f} |", ""]
    md += [f"Command: `python benchmarks/bench_runtime.py {' '.join(sys.argv[1:])}`; "
           f"{res['machine']['date']}, load average {res['load_start']} at the start, "
           f"{res['load_end']} at the end (a shared machine: compare within this table)."]
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
