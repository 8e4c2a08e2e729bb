"""Beyond one machine: local vs Milvus search on one 100k index, and Ray encoding throughput.

    python benchmarks/bench_scale.py --corpus C.jsonl [--records 100000] [--queries 1000]
                                     [--timed 200] [--ray-functions 2000] [--skip-ray]

Builds (once, cached in benchmarks/out/scale-index) an index of the corpus's functions
with the lexical encoder at MiniLM's dimension (384; encoding 100k functions with MiniLM
takes most of an hour on 2 shared cores) and CoSHC (seekcode's recipe), then on that
same index: local exact and CoSHC, and the same index exported to an embedded Milvus
(started here: no other embedded Milvus may run meanwhile), exact and CoSHC, with the
CoSHC re-rank inside Milvus and on fetched vectors. Per method: median and p90 time per
query over `--timed` queries after warm-up (query vector -> hits with metadata, one
thread; query encoding excluded) and R@1 over `--queries` docstring-summary queries
(each query's relevant record is its own function) and its retention vs local exact.
Then MiniLM encoding through `seekcode.scale.ray_encoder` on a local Ray with 1 and 2
actors of 1 CPU each, against the same encoder in this process.
Writes benchmarks/out/scale.{json,md} and benchmarks/results/scale.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, load_average, machine, single_thread, write_report  # noqa: E402

single_thread()  # before numpy/faiss are imported: timings are per thread

import numpy as np  # noqa: E402

DIM = 384  # MiniLM's, so Milvus moves and scans as many bytes per record as it would


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def build_index(corpus: Path, limit: int, out: Path) -> Any:
    from seekcode.corpus.jsonl import read_records
    from seekcode.encoders.lexical import LexicalEncoder
    from seekcode.hashing.coshc import build_hook
    from seekcode.index.store import Index, IndexError_

    try:
        index = Index.open(out)
        if "coshc" in index.searcher_names():
            return index
    except IndexError_:
        pass
    enc = LexicalEncoder(dim=DIM)
    records = (r for n, r in enumerate(read_records(corpus)) if n < limit)
    t0 = time.perf_counter()
    index, _ = Index.build(records, out, enc, hooks=[build_hook(enc)])
    log(f"built {index.count:,} records in {time.perf_counter() - t0:.0f} s")
    return index


def timed(fn: Any, items: list[Any], warm: int = 10) -> tuple[list[Any], dict[str, float]]:
    for x in items[:warm]:
        fn(x)
    out, times = [], []
    for x in items:
        t0 = time.perf_counter()
        out.append(fn(x))
        times.append((time.perf_counter() - t0) * 1000)
    return out, {"median_ms": statistics.median(times),
                 "p90_ms": float(np.percentile(times, 90)), "queries": len(items)}


def search_benchmark(index: Any, n_queries: int, n_timed: int) -> dict[str, Any]:
    from seekcode.index.search import search_top_k
    from seekcode.scale import milvus as mv

    rng = np.random.default_rng(0)
    rows = [i for i, r in enumerate(index.iter_records()) if r.query_text]
    pick = sorted(rng.choice(len(rows), min(n_queries, len(rows)), replace=False))
    ids = np.array([rows[i] for i in pick])
    recs = index.records_at(ids.tolist())
    from seekcode.corpus.record import Record

    texts = [Record.from_dict(r).query_text for r in recs]
    qv = index.encoder.encode_queries(texts, progress=False)
    urls = [r["url"] for r in recs]
    timed_q = list(range(min(n_timed, len(qv))))
    results: dict[str, Any] = {}

    def r_at_1(top_urls: list[str]) -> float:
        return float(np.mean([t == u for t, u in zip(top_urls, urls, strict=True)]))

    for name in ("exact", "coshc"):
        s = index.searcher(name)

        def local(i: int, s: Any = s) -> Any:
            scores, found = search_top_k(s, qv[i], 10)
            return index.hits(scores[0], found[0])

        _, t = timed(local, timed_q)
        _, top = search_top_k(s, qv, 1)
        results[f"local {name}"] = {**t, "r1": r_at_1(index_urls(index, top[:, 0]))}
        log(f"local {name}: {results[f'local {name}']}")

    with tempfile.TemporaryDirectory(prefix="seekcode-bench-milvus-") as tmp:
        server = mv.embedded_server(Path(tmp), port=mv.free_port())
        try:
            url = f"milvus://127.0.0.1:{server.listen_port}/bench"
            t0 = time.perf_counter()
            mv.export(index, url, batch_size=2000, progress=False)
            export_s = time.perf_counter() - t0
            log(f"exported {index.count:,} records in {export_s:.0f} s")
            remote = mv.MilvusIndex.open(url)
            rss = _rss_mb(server.server_proc.pid)
            for label, searcher, rerank in (("Milvus exact", "exact", "milvus"),
                                            ("Milvus coshc", "coshc", "milvus"),
                                            ("Milvus coshc, re-rank on fetched vectors", "coshc",
                                             "fetch")):
                def remote_search(i: int, searcher: str = searcher, rerank: str = rerank) -> Any:
                    return remote.search_vector(qv[i], 10, searcher=searcher, rerank=rerank)[0]

                _, t = timed(remote_search, timed_q)
                results[label] = t
                if rerank == "fetch":  # the same candidates and scores, re-ranked elsewhere
                    log(f"{label}: {t}")
                    continue
                tops = [remote.search_vector(v, 1, searcher=searcher)[0] for v in qv]
                results[label]["r1"] = float(np.mean([bool(h) and h[0].url == u
                                                      for h, u in zip(tops, urls, strict=True)]))
                log(f"{label}: {results[label]}")
            conc = _throughput(remote, qv[: len(timed_q)])
        finally:
            server.stop()
    exact_r1 = results["local exact"]["r1"]
    for r in results.values():
        if "r1" in r:
            r["retention"] = r["r1"] / exact_r1 if exact_r1 else float("nan")
    return {"methods": results, "records": index.count, "queries": len(qv),
            "export_s": export_s, "milvus_rss_mb": rss, "throughput": conc,
            "recall_n": index.searcher("coshc").recall}


def index_urls(index: Any, ids: np.ndarray) -> list[str]:
    return [index.records_at([int(i)])[0]["url"] if i >= 0 else "" for i in ids]


def _throughput(remote: Any, qv: np.ndarray) -> dict[str, float]:
    """Queries/s with 4 concurrent clients (one Milvus node on this 2-core machine)."""
    from concurrent.futures import ThreadPoolExecutor

    out = {}
    for searcher in ("exact", "coshc"):
        with ThreadPoolExecutor(4) as pool:
            t0 = time.perf_counter()
            list(pool.map(lambda v, s=searcher: remote.search_vector(v, 10, searcher=s), qv))
            out[searcher] = len(qv) / (time.perf_counter() - t0)
    return out


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def ray_benchmark(n: int) -> dict[str, Any]:
    """MiniLM code encoding: in this process, then on a local Ray with 1 and 2 actors."""
    import ray

    from seekcode.corpus.build import build_corpus
    from seekcode.corpus.jsonl import read_records
    from seekcode.encoders.minilm import MiniLMEncoder
    from seekcode.scale.ray_encoder import RayEncoder

    corpus = OUT / "scale-ray-corpus.jsonl"
    if not corpus.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        build_corpus(["stdlib"], corpus, max_records=n, progress=False)
    records = list(read_records(corpus))[:n]
    local = MiniLMEncoder()
    local.encode_code(records[:32], progress=False)  # loads the model
    from seekcode.encoders.runtime import set_threads

    rows = []
    set_threads(1)
    t0 = time.perf_counter()
    ref = local.encode_code(records, progress=False)
    rows.append({"how": "this process, 1 thread", "actors": 0,
                 "per_s": len(records) / (time.perf_counter() - t0)})
    log(str(rows[-1]))
    for actors in (1, 2):
        enc = RayEncoder(local, num_cpus=actors, actors=actors)  # 1 CPU per actor
        enc.connect()
        enc.encode_code(records[:200], progress=False)  # actor start-up and model load
        t0 = time.perf_counter()
        vecs = enc.encode_code(records, progress=False)
        sec = time.perf_counter() - t0
        assert np.abs(vecs - ref).max() <= 1e-4
        rows.append({"how": f"Ray, {actors} actor(s) x 1 CPU", "actors": actors,
                     "per_s": len(records) / sec, "seconds": sec})
        log(str(rows[-1]))
        enc.close()
        if ray.is_initialized():
            ray.shutdown()
    return {"functions": len(records), "encoder": local.id, "rows": rows}


def markdown(data: dict[str, Any], argv: list[str], loads: tuple[str, str]) -> str:
    s = data["search"]
    md = ["# Beyond one machine: Milvus search and Ray encoding", "",
          f"Index: {s['records']:,} real functions (standard library and site-packages), "
          f"lexical encoder at {DIM} dimensions (MiniLM's), CoSHC with seekcode's recipe "
          f"(N = {s['recall_n']:,} at this size). The same index is searched locally and "
          "after `seekcode export` to one embedded Milvus 2.3.5 standalone node on this "
          "machine. Queries: docstring summaries, each query's relevant record its own "
          f"function; R@1 over {s['queries']:,} queries, time per query over "
          f"{data['args']['timed']} of them after 10 warm-up queries (query vector -> 10 hits "
          "with their metadata, one thread; query encoding excluded).", "",
          "| method | median ms/query | p90 ms | R@1 | R@1 kept vs local exact |",
          "|---|---|---|---|---|"]
    for name, r in s["methods"].items():
        acc = (f"{r['r1']:.4f} | {r['retention']:.2%}" if "r1" in r
               else "as above | (same candidates and scores)")
        md.append(f"| {name} | {r['median_ms']:.2f} | {r['p90_ms']:.2f} | {acc} |")
    t = s["throughput"]
    md += ["", "Exact ties (the lexical encoder scores many functions alike) may break "
           "differently in Milvus and locally, so R@1 can differ slightly either way.",
           "", f"Export of {s['records']:,} records (floats, codes, metadata with code): "
           f"{s['export_s']:.0f} s, of which about 11 s is fixed (creating and loading three "
           "collections: Milvus polls a load's progress). Milvus "
           f"resident memory after the export and the searches: {s['milvus_rss_mb']:,.0f} MB. "
           f"Throughput with 4 concurrent clients: exact {t['exact']:.0f} queries/s, CoSHC "
           f"{t['coshc']:.0f} queries/s.", ""]
    if "ray" in data:
        r = data["ray"]
        md += [f"## Ray encoding ({r['functions']:,} stdlib functions, {r['encoder']})", "",
               "| how | functions/s |", "|---|---|"]
        md += [f"| {row['how']} | {row['per_s']:.1f} |" for row in r["rows"]]
        md += ["", "Actor start-up and model load are excluded (a warm-up call first); vectors "
               "equal the in-process ones within 1e-4.", ""]
    md += [f"Command: `python benchmarks/bench_scale.py {' '.join(argv)}`; {machine()['date']}, "
           f"{machine()['cpus']} cores shared, load average {loads[0]} at the start, "
           f"{loads[1]} at the end.", ""]
    return "\n".join(md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, required=True, help="corpus jsonl of real functions")
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000, help="queries for R@1")
    ap.add_argument("--timed", type=int, default=200, help="queries timed per method")
    ap.add_argument("--ray-functions", type=int, default=2000)
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()
    load0 = load_average()
    index = build_index(args.corpus, args.records,
                        OUT / f"scale-index-{args.corpus.name.split('.')[0]}-{args.records}")
    data: dict[str, Any] = {"machine": machine(), "args": vars(args) | {"corpus": str(args.corpus)}}
    data["search"] = search_benchmark(index, args.queries, args.timed)
    if not args.skip_ray:
        data["ray"] = ray_benchmark(args.ray_functions)
    md = markdown(data, sys.argv[1:], (load0, load_average()))
    data["load_average"] = [load0, load_average()]
    path = write_report("scale", data, md)
    print(md)
    print(f"report: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
