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
Writes benchmarks/out/scale.{json,md} and benchmarks/results/scale.{json,md}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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


class _TopOne:
    """A searcher that also keeps each query's first result as the backend ordered it
    (its own tie break): the R@1 this benchmark reported before it ranked by eval's rule."""

    def __init__(self, searcher: Any, ordered: bool):
        self.searcher, self.ordered, self.first = searcher, ordered, []

    def candidates(self, queries: Any, k: int, allowed: Any = None, oracle: Any = None) -> Any:
        from seekcode.index.search import sort_candidates

        scores, ids = self.searcher.candidates(queries, k, allowed, oracle)
        top = ids if self.ordered else sort_candidates(scores, ids, 1)[1]
        self.first.extend(np.broadcast_to(top, scores.shape)[:, 0].tolist())
        return scores, ids


def r_at_1(searcher: Any, qv: np.ndarray, relevant: np.ndarray,
           ordered: bool = False) -> tuple[float, float]:
    """(R@1 by eval's one tie rule, R@1 of the backend's own first result). The first is
    what every method reports: `seekcode.eval.runner.rank` over the searcher's candidates
    (ties at or above the relevant score count against it), so exact search ranks alike
    wherever its scores come from; the second depends on how ties happened to break."""
    from seekcode.eval.metrics import recall_at
    from seekcode.eval.runner import rank

    kept = _TopOne(searcher, ordered)
    ranks = rank(kept, qv, [np.array([i]) for i in relevant], k=10)
    return recall_at(ranks, 1), float(np.mean(np.array(kept.first) == relevant))


def search_benchmark(index: Any, n_queries: int, n_timed: int,
                     milvus_url: str | None = None) -> dict[str, Any]:
    """Every method over the same queries; `milvus_url`: a running Milvus to export to
    (default: start an embedded one here)."""
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
    timed_q = list(range(min(n_timed, len(qv))))
    results: dict[str, Any] = {}

    for name in ("exact", "coshc"):
        s = index.searcher(name)

        def local(i: int, s: Any = s) -> Any:
            scores, found = search_top_k(s, qv[i], 10)
            return index.hits(scores[0], found[0])

        _, t = timed(local, timed_q)
        r1, first = r_at_1(s, qv, ids)
        results[f"local {name}"] = {**t, "r1": r1, "r1_first_result": first}
        log(f"local {name}: {results[f'local {name}']}")

    with contextlib.ExitStack() as stack:
        if milvus_url is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="seekcode-bench-milvus-"))
            server = mv.embedded_server(Path(tmp), port=mv.free_port())
            stack.callback(server.stop)
            milvus_url = f"127.0.0.1:{server.listen_port}"
            pid: int | None = server.server_proc.pid
        else:
            pid = None
        url = f"milvus://{milvus_url}/bench"
        t0 = time.perf_counter()
        mv.export(index, url, batch_size=2000, progress=False)
        export_s = time.perf_counter() - t0
        log(f"exported {index.count:,} records in {export_s:.0f} s")
        remote = mv.MilvusIndex.open(url)
        counts = remote.row_counts()  # a record the export skipped would be a lost answer
        if set(counts.values()) != {index.count}:
            raise SystemExit(f"Milvus holds {counts} rows, the index {index.count:,}")
        rss = _rss_mb(pid) if pid else float("nan")
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
            r1, first = r_at_1(remote.searcher(searcher, rerank), qv, ids, ordered=True)
            results[label].update({"r1": r1, "r1_first_result": first})
            log(f"{label}: {results[label]}")
        conc = _throughput(remote, qv[: len(timed_q)])
        size = _milvus_size(remote)
        if pid:
            size["data_dir_bytes"] = sum(f.stat().st_size for f in Path(tmp).rglob("*")
                                         if f.is_file())
    exact_r1 = results["local exact"]["r1"]
    for r in results.values():
        if "r1" in r:
            r["retention"] = r["r1"] / exact_r1 if exact_r1 else float("nan")
    return {"methods": results, "records": index.count, "languages": index.languages(), "queries": len(qv),
            "export_s": export_s, "milvus_rss_mb": rss, "throughput": conc,
            "milvus_rows": counts, "milvus_size": size,
            "recall_n": index.searcher("coshc").recall}


def _milvus_size(remote: Any) -> dict[str, Any]:
    """What Milvus reports of the loaded collections' memory (segment info), per collection."""
    pm = mv_pymilvus()
    out: dict[str, Any] = {}
    for col in (remote._records, remote._codes):
        if col is None:
            continue
        try:
            segs = pm.utility.get_query_segment_info(col.name, using=remote.alias)
            out[col.name] = {"segments": len(segs),
                             "mem_bytes": int(sum(getattr(s, "mem_size", 0) for s in segs)),
                             "rows": int(sum(getattr(s, "num_rows", 0) for s in segs))}
        except Exception as e:  # noqa: BLE001 - a size we cannot read is reported as such
            out[col.name] = {"error": str(e)}
    return out


def mv_pymilvus() -> Any:
    from seekcode.scale.milvus import _pymilvus

    return _pymilvus()


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
    from seekcode.encoders.runtime import set_threads

    set_threads(1)  # before the session opens: it reads the setting once
    local = MiniLMEncoder()
    local.encode_code(records[:32], progress=False)  # loads the model
    rows = []
    t0 = time.perf_counter()
    # the local build's batches (`Index.build` encodes 256 at a time), which Ray's blocks are
    ref = np.concatenate([v for _, v in local.encode_code_batches(records)])
    rows.append({"how": "this process, 1 thread", "actors": 0,
                 "per_s": len(records) / (time.perf_counter() - t0)})
    log(str(rows[-1]))
    for actors in (1, 2):
        enc = RayEncoder(local, num_cpus=actors, actors=actors)  # 1 CPU per actor
        enc.connect()
        # Every call builds its actor pool (start-up and model load included): the total
        # rate is what one `index --ray` of n functions gets; the steady rate counts the
        # blocks after the first one back, which is what a larger corpus tends to.
        vecs = np.zeros_like(ref)
        t0 = time.perf_counter()
        stamps = []
        for pos, v in enc.encode_code_batches(records):
            vecs[pos] = v
            stamps.append((time.perf_counter(), len(pos)))
        sec = time.perf_counter() - t0
        later = sum(k for _, k in stamps[1:])
        steady = later / (stamps[-1][0] - stamps[0][0]) if later else float("nan")
        # reported, not asserted: a difference is a finding, not a reason to lose the run
        diff = float(np.abs(vecs - ref).max())
        cos = float(np.min(np.sum(vecs * ref, axis=1) / (np.linalg.norm(vecs, axis=1)
                                                         * np.linalg.norm(ref, axis=1))))
        rows.append({"how": f"Ray, {actors} actor(s) x 1 CPU", "actors": actors,
                     "per_s": len(records) / sec, "steady_per_s": steady,
                     "first_block_s": stamps[0][0] - t0, "seconds": sec,
                     "max_abs_diff": diff, "min_cosine": cos})
        log(str(rows[-1]))
        enc.close()
        if ray.is_initialized():
            ray.shutdown()
    return {"functions": len(records), "encoder": local.id, "rows": rows}


def markdown(data: dict[str, Any], argv: list[str], loads: tuple[str, str]) -> str:
    s = data["search"]
    md = ["# Beyond one machine: Milvus search and Ray encoding", "",
          f"Index: {s['records']:,} real functions from `{data['args']['corpus']}` "
          f"({', '.join(s.get('languages', [])) or 'see docs/scale.md'}), "
          f"lexical encoder at {DIM} dimensions (MiniLM's), CoSHC with seekcode's recipe "
          f"(N = {s['recall_n']:,} at this size). The same index is searched locally and "
          "after `seekcode export` to one embedded Milvus 2.3.5 standalone node on this "
          "machine. Queries: docstring summaries, each query's relevant record its own "
          f"function; R@1 over {s['queries']:,} queries, time per query over "
          f"{data['args']['timed']} of them after 10 warm-up queries (query vector -> 10 hits "
          "with their metadata, one thread; query encoding excluded).", "",
          "| method | median ms/query | p90 ms | R@1 | R@1 kept vs local exact | "
          "first result relevant (backend's tie break) |",
          "|---|---|---|---|---|---|"]
    for name, r in s["methods"].items():
        acc = (f"{r['r1']:.4f} | {r['retention']:.2%} | {r['r1_first_result']:.4f}"
               if "r1" in r else "as above | (same candidates and scores) |")
        md.append(f"| {name} | {r['median_ms']:.2f} | {r['p90_ms']:.2f} | {acc} |")
    t = s["throughput"]
    md += ["", "R@1 is ranked for every method by eval's one tie rule "
           "(`seekcode.eval.runner.rank`: scores within 1e-6 of the relevant one or above it "
           "count against it), over each method's candidates (Milvus: its 10 best, which "
           "decide R@1 exactly). The last column is the share of queries whose first "
           "result, in the order the backend returned it, is the relevant function: ties "
           "(the lexical encoder scores many functions alike) break differently in numpy and "
           "in Milvus, so that share differs by backend even for the same exact search.",
           "", f"Export of {s['records']:,} records (floats, codes, metadata with code): "
           f"{s['export_s']:.0f} s, of which about 11 s is fixed (creating and loading three "
           "collections: Milvus polls a load's progress). Milvus "
           f"resident memory after the export and the searches: {s['milvus_rss_mb']:,.0f} MB. "
           f"Throughput with 4 concurrent clients: exact {t['exact']:.0f} queries/s, CoSHC "
           f"{t['coshc']:.0f} queries/s. Rows in Milvus: "
           + ", ".join(f"{k} {v:,}" for k, v in s["milvus_rows"].items())
           + f". Milvus's own sizes: {json.dumps(s['milvus_size'])}.", ""]
    if "ray" in data:
        r = data["ray"]
        md += [f"## Ray encoding ({r['functions']:,} stdlib functions, {r['encoder']})", "",
               "| how | functions/s, whole call | functions/s, steady | first block back, s |",
               "|---|---|---|---|"]
        md += [f"| {row['how']} | {row['per_s']:.1f} | {row.get('steady_per_s', row['per_s']):.1f}"
               f" | {row.get('first_block_s', 0):.1f} |" for row in r["rows"]]
        diffs = ", ".join(f"{row['actors']} actor(s): max |diff| {row['max_abs_diff']:.2g}, "
                          f"min cosine {row['min_cosine']:.6f}"
                          for row in r["rows"] if row["actors"])
        md += ["", "Each Ray call starts its actor pool: the whole-call rate includes actor "
               "start-up and model load; the steady rate counts the blocks after the first "
               "one back. Vectors against the in-process ones (the same 256-record batches): "
               f"{diffs}." + (f" Ray section re-run {r['when']}, load average "
                              f"{r['load_average'][0]} -> {r['load_average'][1]}."
                              if "when" in r else ""), ""]
    md += [f"Command: `python benchmarks/bench_scale.py {' '.join(argv)}`; {data['machine']['date']}, "
           f"{data['machine']['cpus']} cores shared, load average {loads[0]} at the start, "
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
    ap.add_argument("--ray-only", action="store_true",
                    help="re-run only the Ray section into the existing results/NAME.json")
    ap.add_argument("--name", default="scale", help="report name (results/NAME.md)")
    args = ap.parse_args()
    results = Path(__file__).resolve().parent / "results"
    if args.ray_only:
        data = json.loads((results / f"{args.name}.json").read_text())
        load0 = load_average()
        data["ray"] = ray_benchmark(args.ray_functions)
        data["ray"] |= {"when": machine()["date"], "load_average": [load0, load_average()]}
        a = data["args"]
        argv = data.get("argv", ["--corpus", a["corpus"], "--records", str(a["records"])])
        loads = tuple(data.get("load_average", ["?", "?"]))
        _write(data, markdown(data, argv, (loads[0], loads[1])), args.name, results)
        return
    load0 = load_average()
    index = build_index(args.corpus, args.records,
                        OUT / f"scale-index-{args.corpus.name.split('.')[0]}-{args.records}")
    data: dict[str, Any] = {"machine": machine(), "args": vars(args) | {"corpus": str(args.corpus)}}
    data["search"] = search_benchmark(index, args.queries, args.timed)
    (OUT / "scale-search.json").write_text(json.dumps(data, indent=2))  # kept if Ray fails
    if not args.skip_ray:
        data["ray"] = ray_benchmark(args.ray_functions)
    data["argv"] = sys.argv[1:]
    md = markdown(data, data["argv"], (load0, load_average()))
    data["load_average"] = [load0, load_average()]
    _write(data, md, args.name, results)


def _write(data: dict[str, Any], md: str, name: str, results: Path) -> None:
    path = write_report(name, data, md)
    (results / f"{name}.json").write_text(json.dumps(data, indent=2))
    print(md)
    print(f"report: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
