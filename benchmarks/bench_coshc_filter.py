"""Filtered CoSHC search (`--lang`/`--path`): the shared FAISS indexes vs rebuilding them.

    python benchmarks/bench_coshc_filter.py [--sizes 10000,100000] [--timed 200]

Before the fix, a filtered CoSHC search built a new searcher over the filtered rows on
every request, so its FAISS Hamming indexes (one per category, or the global one) were
built again each time. Now the searcher's indexes are built once and a filter is an
ID selector inside them (`seekcode/hashing/searcher.py`). This measures, on one thread,
the median time of a filtered query (similarity + sort, query encoding excluded, the
timer of `seekcode eval`) for:

- after (shared indexes): the current searcher, `candidates(q, k, allowed=rows)`;
- before (rebuilt per request): the old cost re-created with the current code: a fresh
  `CoSHCSearcher` over the filtered rows' codes and categories for every query (the
  old code built its indexes from `codes[rows]` per request; the filtered rows' vectors
  are gathered once outside the timing, since the old code re-ranked against the full
  vector array and did not copy them). Measured twice: with the old code's per-request
  `np.intersect1d(all rows, allowed)` (the old path as it ran) and without it (the
  FAISS rebuild alone);
- unfiltered, for reference.

Vectors are synthetic (unit vectors around 200 random centres, queries are noisy
copies of records): timing depends on sizes, bits and budgets, not on what the
vectors mean. CoSHC is fitted by `seekcode.hashing.coshc.fit` with both recipes (the
default `routing=none` uses one global index; the paper's `distribution` routing one
index per category); 2 epochs instead of 10, since training quality does not change
the cost of a search. Filters keep 50%, 10% and 1% of the records, like a `--lang`
of a big, a middling and a rare language. Writes benchmarks/results/coshc-filter.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, load_average, machine, single_thread, write_report  # noqa: E402

single_thread()  # before numpy/faiss/torch are imported

import numpy as np  # noqa: E402

DIM = 384  # MiniLM's
SHARES = (0.5, 0.1, 0.01)
K = 10


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def noisy(v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors near `v`: the queries written for those records."""
    q = v + 0.05 * rng.standard_normal(v.shape).astype(np.float32)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def synthetic(n: int, rng: np.random.Generator) -> np.ndarray:
    """n unit code vectors around 200 random centres."""
    centres = rng.standard_normal((200, DIM)).astype(np.float32)
    v = centres[rng.integers(0, len(centres), n)] + 1.2 * rng.standard_normal((n, DIM)).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


class Filtered:
    """The current searcher, every request carrying the same filter (after the fix)."""

    def __init__(self, searcher: Any, allowed: np.ndarray):
        self.searcher, self.allowed = searcher, allowed

    def candidates(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
                   oracle: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.searcher.candidates(queries, k, allowed=self.allowed)  # type: ignore[no-any-return]


class RebuiltPerRequest:
    """The cost before the fix: a new searcher over the filtered rows for every request,
    whose FAISS indexes are built from those rows' codes on its first (only) query."""

    def __init__(self, searcher: Any, allowed: np.ndarray, intersect: bool):
        self.s = searcher
        self.allowed = allowed
        self.all_rows = np.arange(len(searcher.codes), dtype=np.int64)
        self.intersect = intersect
        self.vectors = np.ascontiguousarray(searcher.vectors[allowed])  # not timed: see above

    def candidates(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
                   oracle: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        from seekcode.hashing.searcher import CoSHCSearcher

        s = self.s
        # The old searcher took np.intersect1d(its rows, allowed) here: measured both
        # with it (the old code path) and without (the index rebuild alone).
        rows = np.intersect1d(self.all_rows, self.allowed) if self.intersect else self.allowed
        sub = CoSHCSearcher(self.vectors, s.codes[rows], s.categories[rows], s.heads,
                            s.classifier, s.config, s.routing, s.recall, s.name)
        scores, ids = sub.candidates(queries, k)
        return scores, np.where(ids >= 0, rows[np.maximum(ids, 0)], -1)


def top_ids(searcher: Any, queries: np.ndarray) -> np.ndarray:
    from seekcode.index.search import search_top_k

    return search_top_k(searcher, queries, K)[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--timed", type=int, default=200, help="queries timed per measurement")
    ap.add_argument("--pairs", type=int, default=3000, help="training pairs for fit")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.timed < 100:
        raise SystemExit("--timed: at least 100 queries, or the medians mean little")

    import torch

    from seekcode.eval.runner import time_searcher
    from seekcode.hashing.config import HashConfig
    from seekcode.hashing.coshc import fit

    torch.set_num_threads(1)  # fitting is not timed; one core leaves the other alone
    warmup = 5
    report: dict[str, Any] = {
        "machine": machine(), "load_average_start": load_average(),
        "command": "python benchmarks/bench_coshc_filter.py " + " ".join(sys.argv[1:]),
        "timed": args.timed, "warmup": warmup, "k": K, "epochs": args.epochs,
        "vectors": "synthetic unit vectors (200 centres), queries noisy copies of records",
        "sizes": {}}
    for n in (int(s) for s in args.sizes.split(",")):
        rng = np.random.default_rng(args.seed + n)
        vectors = synthetic(n, rng)
        queries = noisy(vectors[rng.integers(0, n, args.timed + warmup)], rng)
        pairs = rng.choice(n, min(args.pairs, n), replace=False)
        pair_queries = noisy(vectors[pairs], rng)
        # Filters as a --lang would make them: a random share of the rows, sorted.
        filters = {share: np.sort(rng.choice(n, max(1, int(n * share)), replace=False))
                   for share in SHARES}
        out: dict[str, Any] = {}
        for recipe, config in (("seekcode", HashConfig.recommended(epochs=args.epochs)),
                               ("paper", HashConfig.paper(epochs=args.epochs))):
            log(f"{n:,} records: fitting CoSHC ({recipe} recipe, routing {config.routing})")
            model = fit(vectors, pairs, pair_queries, config, progress=False)
            searcher = model.searcher(vectors)
            row: dict[str, Any] = {"routing": searcher.routing, "recall": searcher.recall,
                                   "bits": searcher.bits, "categories": searcher.k,
                                   "unfiltered": time_searcher(searcher, queries, args.timed,
                                                               K, warmup)}
            log(f"  unfiltered {row['unfiltered']['ms_total']:.3f} ms")
            for share, allowed in filters.items():
                after = Filtered(searcher, allowed)
                before = RebuiltPerRequest(searcher, allowed, intersect=True)
                rebuild = RebuiltPerRequest(searcher, allowed, intersect=False)
                # Same answers both ways: the fix changed where the filter applies, not what
                # it returns (Hamming ties at the budget's edge may differ).
                a, b = top_ids(after, queries[:50]), top_ids(before, queries[:50])
                same = float(np.mean([len(set(x) & set(y)) / K for x, y in zip(a, b, strict=True)]))
                assert np.isin(a[a >= 0], allowed).all()
                t_after = time_searcher(after, queries, args.timed, K, warmup)
                t_before = time_searcher(before, queries, args.timed, K, warmup)
                t_rebuild = time_searcher(rebuild, queries, args.timed, K, warmup)
                row[f"{share:g}"] = {"rows": int(len(allowed)), "after": t_after,
                                     "before": t_before, "before_rebuild_only": t_rebuild,
                                     "same_top10": same,
                                     "speedup": t_before["ms_total"] / t_after["ms_total"]}
                log(f"  filter {share:.0%} ({len(allowed):,} rows): after "
                    f"{t_after['ms_total']:.3f} ms, before {t_before['ms_total']:.3f} ms "
                    f"(rebuild only {t_rebuild['ms_total']:.3f}), top-10 agreement {same:.3f}")
            out[recipe] = row
        report["sizes"][str(n)] = out
    report["load_average_end"] = load_average()
    write_report("coshc-filter", report, render(report))
    (RESULTS / "coshc-filter.json").write_text(json.dumps(report, indent=2))
    log(f"wrote {RESULTS / 'coshc-filter.md'}")


def render(report: dict[str, Any]) -> str:
    lines = [
        "# Filtered CoSHC search: shared FAISS indexes vs rebuilt per request", "",
        f"Median ms per query over {report['timed']} queries after {report['warmup']} warm-up "
        f"queries, one thread, k={report['k']}, query encoding excluded (`seekcode eval`'s timer: "
        "similarity = hashing the query, routing, the Hamming scans and the cosine re-rank; "
        "sort = ordering the candidates). "
        f"{report['vectors']}; CoSHC fitted with `coshc.fit` ({report['epochs']} epochs). "
        f"{report['machine']['cpus']} cores shared with other jobs (load average "
        f"{report['load_average_start']} at the start, {report['load_average_end']} at the end), "
        f"{report['machine']['date']}.",
        "",
        "*after (shared indexes)*: the current code, the filter an ID selector inside the "
        "searcher's FAISS indexes. *before (rebuilt per request)*: a fresh `CoSHCSearcher` "
        "over the filtered rows for every query, as the code before the fix built one, its "
        "indexes built from those rows' codes; *old path* includes the old code's per-request "
        "`np.intersect1d(all rows, allowed)`, *rebuild only* leaves it out. "
        "*same top-10*: share of the top 10 both ways agree on (50 queries).",
        "", f"Command: `{report['command']}`", "",
        "| records | recipe (routing) | N | filter keeps | rows | after ms | before (rebuilt "
        "per request), old path ms | speedup | before, rebuild only ms | same top-10 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, recipes in report["sizes"].items():
        for recipe, row in recipes.items():
            head = f"| {int(n):,} | {recipe} ({row['routing']}, {row['categories']} categories) | {row['recall']}"
            lines.append(f"{head} | unfiltered | {int(n):,} | {row['unfiltered']['ms_total']:.3f} "
                         "| | | | |")
            for share in SHARES:
                f = row[f"{share:g}"]
                lines.append(f"{head} | {share:.0%} | {f['rows']:,} | {f['after']['ms_total']:.3f} "
                             f"| {f['before']['ms_total']:.3f} | {f['speedup']:.1f}x "
                             f"| {f['before_rebuild_only']['ms_total']:.3f} "
                             f"| {f['same_top10']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
