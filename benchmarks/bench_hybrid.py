"""Keyword-aware ranking: bm25s vs SQLite FTS5 speed, the fusion weight chosen on training
queries, and semantic / keyword / hybrid MRR on every held-out query set.

Recipe (indexes live outside the repo; see benchmarks/results/hybrid.md):

    seekcode corpus stdlib -o $DATA/stdlib.jsonl
    seekcode index $DATA/stdlib.jsonl -o $DATA/stdlib-minilm
    python benchmarks/bench_hybrid.py $DATA/stdlib-minilm [--extra NAME=INDEX ...]

Query sets, per index: `corpus` (each held-out record's docstring summary, test
partition; the keyword side leaves docstrings out, since they are the queries) and,
for the stdlib index, `identifiers` (benchmarks/identifier_queries.jsonl: names,
qualified names and fragments written from the standard library, resolved to the
index's urls by path suffix and name). Tuning uses only the train partition: its
docstring queries, and its function names as identifier queries (the functions of
the held-out identifier set excluded). Writes benchmarks/out/hybrid/hybrid.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from seekcode.corpus.tokens import docstring_summary
from seekcode.eval.metrics import candidate_ranks, summarize_ranks
from seekcode.eval.modes import DOCSTRING_FREE
from seekcode.index.hybrid import Fusion, fuse
from seekcode.index.keyword import COLUMNS, KeywordIndex, Weights, terms
from seekcode.index.store import Index

HERE = Path(__file__).parent
IDENTIFIERS = HERE / "identifier_queries.jsonl"
WEIGHTS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
MAX_MRR_LOSS = 0.005  # the default may lose at most 0.5% MRR on any set


def partition_queries(index: Index, partition: str, limit: int, seed: int = 0
                      ) -> tuple[list[str], list[np.ndarray]]:
    rows = index.db.execute("SELECT id, record FROM records WHERE partition = ? ORDER BY id",
                            (partition,)).fetchall()
    out = [(docstring_summary(json.loads(raw).get("docstring", "")), rid) for rid, raw in rows]
    out = [(q, rid) for q, rid in out if q]
    if len(out) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(out), limit, replace=False))
        out = [out[i] for i in keep]
    return [q for q, _ in out], [np.array([rid]) for _, rid in out]


def identifier_queries(index: Index) -> tuple[list[str], list[np.ndarray], int]:
    """The held-out identifier set, resolved to row ids; queries naming no indexed
    function are dropped (counted)."""
    texts, relevant, missing = [], [], 0
    for line in IDENTIFIERS.read_text().splitlines():
        obj = json.loads(line)
        ids = []
        for path, name in obj["relevant_functions"]:
            ids += [rid for (rid,) in index.db.execute(
                "SELECT id FROM records WHERE func_name = ? AND (path = ? OR path LIKE ?)",
                (name, path, "%/" + path))]
        if ids:
            texts.append(obj["query"])
            relevant.append(np.array(sorted(set(ids))))
        else:
            missing += 1
    return texts, relevant, missing


def name_queries(index: Index, exclude: set[int], limit: int, seed: int = 0
                 ) -> tuple[list[str], list[np.ndarray]]:
    """Train-partition function names as identifier queries (tuning only)."""
    rows = [(n, rid) for rid, n in index.db.execute(
        "SELECT id, func_name FROM records WHERE partition = 'train' ORDER BY id")
        if rid not in exclude and n]
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(rows), min(limit, len(rows)), replace=False))
    by_name: dict[str, list[int]] = {}
    for n, rid in index.db.execute("SELECT func_name, id FROM records"):
        by_name.setdefault(n, []).append(rid)
    texts = [rows[i][0] for i in keep]
    return texts, [np.array(by_name[t]) for t in texts]


class Scored:
    """Semantic and keyword scores of every record for a query set (computed once)."""

    def __init__(self, index: Index, texts: list[str], relevant: list[np.ndarray],
                 weights: Weights):
        kw = index.ranker(weights).keyword
        self.texts, self.relevant = texts, relevant
        qvecs = index.encoder.encode_queries(texts, progress=False)
        self.semantic = qvecs @ index.vectors.T
        self.keyword = np.stack([kw.scores(t) for t in texts]) if texts else \
            np.zeros((0, index.count), np.float32)
        self.every = np.arange(index.count)

    def ranks(self, mode: str, fusion: Fusion | None = None) -> np.ndarray:
        if mode == "semantic":
            s = self.semantic
        elif mode == "keyword":
            s = self.keyword
        elif mode == "hybrid":
            assert fusion is not None
            s = np.stack([fuse(a, b, fusion) for a, b in zip(self.semantic, self.keyword,
                                                              strict=True)])
        else:  # reciprocal-rank fusion (k=60), for comparison
            s = np.stack([_rrf(a, b) for a, b in zip(self.semantic, self.keyword, strict=True)])
        return candidate_ranks(s, self.every, self.relevant)

    def metrics(self, mode: str, fusion: Fusion | None = None) -> dict[str, float]:
        return summarize_ranks(self.ranks(mode, fusion))


def _rrf(a: np.ndarray, b: np.ndarray, k: int = 60) -> np.ndarray:
    ra = np.empty(len(a)), np.empty(len(b))
    ra[0][np.argsort(-a, kind="stable")] = np.arange(1, len(a) + 1)
    ra[1][np.argsort(-b, kind="stable")] = np.arange(1, len(b) + 1)
    return 1 / (k + ra[0]) + 1 / (k + ra[1])


def fts5_build(meta: Path) -> sqlite3.Connection:
    """The alternative measured: an FTS5 table (name, doc, code columns) of the same terms."""
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE kw USING fts5({', '.join(COLUMNS)}, "
               "tokenize = \"unicode61 tokenchars '._'\")")
    src = sqlite3.connect(meta.resolve().as_uri() + "?mode=ro", uri=True)
    rows = []
    for rid, raw in src.execute("SELECT id, record FROM records ORDER BY id"):
        rec = json.loads(raw)
        rows.append((rid, *(" ".join(terms(str(rec.get(f, "")))) for f in
                            ("func_name", "docstring", "code"))))
    db.executemany("INSERT INTO kw (rowid, name, doc, code) VALUES (?, ?, ?, ?)", rows)
    db.commit()
    return db


def fts5_scores(db: sqlite3.Connection, query: str, count: int, w: Weights) -> np.ndarray:
    out = np.zeros(count, dtype=np.float32)
    unique = list(dict.fromkeys(terms(query)))
    if unique:
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in unique)
        for rid, score in db.execute("SELECT rowid, -bm25(kw, ?, ?, ?) FROM kw WHERE kw MATCH ?",
                                     (w.name, w.doc, w.code, match)):
            out[rid] = score
    return out


def speed(index: Index, queries: list[str], repeat: int = 3) -> dict[str, Any]:
    """Build and full-scoring query time, bm25s vs FTS5, side by side (medians), and how
    closely their scores agree."""
    import bm25s

    meta, w = index.gen / "meta.sqlite", Weights()
    out: dict[str, Any] = {"records": index.count, "queries": len(queries)}
    for name, build in (("bm25s", lambda: KeywordIndex.build(meta, index.count, w)),
                        ("fts5", lambda: fts5_build(meta))):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            built = build()
            times.append(time.perf_counter() - t0)
        score = ((lambda q, b=built: b.scores(q)) if name == "bm25s" else
                 (lambda q, b=built: fts5_scores(b, q, index.count, w)))
        q_ms, vectors = [], []
        for q in queries:
            t0 = time.perf_counter()
            vectors.append(score(q))
            q_ms.append((time.perf_counter() - t0) * 1000)
        out[name] = {"build_s": float(np.median(times)), "query_ms": float(np.median(q_ms)),
                     "_scores": vectors}
    out["bm25s"]["version"] = bm25s.__version__
    pairs = [(a, b) for a, b in zip(out["bm25s"].pop("_scores"), out["fts5"].pop("_scores"),
                                    strict=True) if a.any() and b.any()]
    out["score_correlation_median"] = float(np.median([np.corrcoef(a, b)[0, 1]
                                                       for a, b in pairs]))
    return out


def tune(train: dict[str, Scored]) -> tuple[float, list[dict[str, Any]]]:
    """The weight with the best identifier MRR among those losing at most MAX_MRR_LOSS of
    the docstring queries' semantic MRR, on training queries only."""
    base = train["corpus"].metrics("semantic")["mrr"]
    grid = []
    for w in WEIGHTS:
        f = Fusion(weight=w)
        row = {"weight": w, **{f"{name}_mrr": s.metrics("hybrid", f)["mrr"]
                               for name, s in train.items()}}
        grid.append(row)
    ok = [r for r in grid if r["corpus_mrr"] >= base * (1 - MAX_MRR_LOSS)]
    best = max(ok, key=lambda r: (r["identifiers_mrr"], -r["weight"]))
    return float(best["weight"]), grid


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("index", type=Path, help="the stdlib MiniLM index")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=INDEX",
                    help="more indexes with a test partition (their corpus queries are scored)")
    ap.add_argument("--train-queries", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "hybrid")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    index = Index.open(args.index)
    test_texts, test_rel = partition_queries(index, "test", 10**9)
    ident_texts, ident_rel, missing = identifier_queries(index)
    held = {int(i) for r in ident_rel for i in r}
    print(f"{index.count:,} records; {len(test_texts)} test queries; {len(ident_texts)} "
          f"identifier queries ({missing} unresolved)", file=sys.stderr)

    t0 = time.perf_counter()
    report: dict[str, Any] = {"index": str(args.index), "encoder": index.manifest["encoder"]["id"],
                              "columns": COLUMNS, "name_weight": Weights().name}
    report["speed"] = speed(index, test_texts[:200] + ident_texts)
    print(f"speed: {report['speed']}", file=sys.stderr)

    train_texts, train_rel = partition_queries(index, "train", args.train_queries)
    name_texts, name_rel = name_queries(index, held, 300)
    train = {"corpus": Scored(index, train_texts, train_rel, DOCSTRING_FREE),
             "identifiers": Scored(index, name_texts, name_rel, Weights())}
    weight, grid = tune(train)
    report["tuning"] = {"weight": weight, "grid": grid, "corpus_queries": len(train_texts),
                        "identifier_queries": len(name_texts),
                        "rrf_train": {n: s.metrics("rrf") for n, s in train.items()}}
    print(f"chosen weight {weight}", file=sys.stderr)

    fusion = Fusion(weight=weight)
    sets = {"stdlib corpus (test)": Scored(index, test_texts, test_rel, DOCSTRING_FREE),
            "stdlib identifiers": Scored(index, ident_texts, ident_rel, Weights())}
    for spec in args.extra:
        name, _, path = spec.partition("=")
        other = Index.open(path)
        texts, rel = partition_queries(other, "test", 10**9)
        sets[f"{name} corpus (test)"] = Scored(other, texts, rel,
                                               DOCSTRING_FREE)
    results = {}
    for name, s in sets.items():
        results[name] = {"n": len(s.texts), **{m: s.metrics(m, fusion) for m in
                                               ("semantic", "keyword", "hybrid", "rrf")}}
    report["results"] = results
    losses = {n: 1 - r["hybrid"]["mrr"] / r["semantic"]["mrr"] for n, r in results.items()}
    ident = results["stdlib identifiers"]
    helps = ident["hybrid"]["r@1"] >= ident["semantic"]["r@1"] + 0.05
    report["decision"] = {"mrr_loss": losses, "identifier_r@1_gain":
                          ident["hybrid"]["r@1"] - ident["semantic"]["r@1"],
                          "rule_met_on_sets_measured":
                              bool(helps and max(losses.values()) <= MAX_MRR_LOSS)}
    report["seconds"] = time.perf_counter() - t0
    (args.out / "hybrid.json").write_text(json.dumps(report, indent=2))
    (args.out / "hybrid.md").write_text(markdown(report))
    print(markdown(report))
    return 0


def markdown(r: dict[str, Any]) -> str:
    sp = r["speed"]
    lines = [f"Index: {r['index']} ({sp['records']:,} records, {r['encoder']}).", "",
             "| keyword index | build (s) | query, all records scored (ms, median) |",
             "|---|---|---|",
             f"| bm25s {sp['bm25s']['version']} | {sp['bm25s']['build_s']:.2f} | "
             f"{sp['bm25s']['query_ms']:.3f} |",
             f"| SQLite FTS5 | {sp['fts5']['build_s']:.2f} | {sp['fts5']['query_ms']:.3f} |",
             "", f"Median correlation of their scores per query: "
             f"{sp['score_correlation_median']:.4f} ({sp['queries']} queries)."]
    t = r["tuning"]
    lines += ["", f"Fusion weight chosen on training queries ({t['corpus_queries']} train "
              f"docstrings, {t['identifier_queries']} train function names): **{t['weight']}**",
              "", "| weight | " + " | ".join(f"{k} MRR (train)" for k in t["grid"][0]
                                               if k != "weight") + " |",
              "|---" * len(t["grid"][0]) + "|"]
    for row in t["grid"]:
        lines.append(f"| {row['weight']} | " + " | ".join(f"{v:.4f}" for k, v in row.items()
                                                      if k != "weight") + " |")
    lines += ["", "| query set | n | semantic MRR | keyword MRR | hybrid MRR | RRF MRR | "
              "semantic R@1 | hybrid R@1 |", "|---" * 8 + "|"]
    for name, res in r["results"].items():
        lines.append(f"| {name} | {res['n']} | {res['semantic']['mrr']:.4f} | "
                     f"{res['keyword']['mrr']:.4f} | {res['hybrid']['mrr']:.4f} | "
                     f"{res['rrf']['mrr']:.4f} | {res['semantic']['r@1']:.3f} | "
                     f"{res['hybrid']['r@1']:.3f} |")
    d = r["decision"]
    met = d["rule_met_on_sets_measured"]
    lines += ["", f"The rule on the sets measured: **{'met' if met else 'not met'}** "
              f"(largest MRR loss {max(d['mrr_loss'].values()):.2%}; identifier R@1 "
              f"{d['identifier_r@1_gain']:+.3f})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
