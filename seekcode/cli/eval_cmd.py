"""`seekcode eval INDEX`: MRR, mrr@1000batch, SuccessRate@k and NDCG of every search method."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="measure search quality and speed",
        description="Without --queries, each held-out (test partition) record's docstring "
        "summary is a query and its own record the answer, ranked against the whole index.",
    )
    p.add_argument("index", help="index directory")
    p.add_argument("--queries", type=Path,
                   help='query set: jsonl {"query", "relevant": [url...]} or annotationStore.csv')
    group = p.add_mutually_exclusive_group()
    group.add_argument("--searcher", metavar="NAME", action="append",
                       help="evaluate this searcher (repeatable; default: every searcher of "
                       "the index, with its ablations); exact is always evaluated")
    group.add_argument("--exact", dest="searcher", action="store_const", const=["exact"],
                       help="evaluate exact search only (shorthand for --searcher exact)")
    p.add_argument("--mode", action="append", choices=("keyword", "hybrid"),
                   help="also rank in this mode (repeatable; default both: `exact` is the "
                   "semantic mode). On corpus queries the keyword side leaves docstrings "
                   "out, since they are the queries")
    p.add_argument("--semantic-only", action="store_true",
                   help="skip the keyword and hybrid modes")
    p.add_argument("--max-queries", type=int, help="evaluate a seeded sample of the corpus queries")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from seekcode.eval.queries import corpus_queries, load_queries
    from seekcode.eval.report import print_table
    from seekcode.eval.runner import evaluate
    from seekcode.index.store import Index

    index = Index.open(args.index)
    if args.queries:
        qs = load_queries(args.queries, index)
    else:
        qs = corpus_queries(index, max_queries=args.max_queries)
    if qs.skips.total:
        print(f"queries: {qs.skips.summary()}", file=sys.stderr)
        qs.skips.print_details()
    modes = () if args.semantic_only else (args.mode or ("keyword", "hybrid"))
    result = evaluate(index, qs, searchers=args.searcher, modes=modes)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0
