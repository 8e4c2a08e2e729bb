"""`seekcode predict`: CodeSearchNet challenge predictions (model_predictions.csv)."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from seekcode.cli import UsageError
from seekcode.cli.search_cmd import add_searcher_arguments

CHALLENGE_DEPTH = 100  # the challenge scores the top 100 per query and language


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="write CodeSearchNet's model_predictions.csv for a query list",
        description="For every query and every language of the index (or --lang), write the "
        "top results as rows of query, language, identifier, url.",
    )
    p.add_argument("index", help="index directory")
    p.add_argument("--queries", type=Path, required=True,
                   help="CodeSearchNet's queries.csv (column 'query') or a text file, one query a line")
    p.add_argument("-o", "--output", type=Path, default=Path("model_predictions.csv"))
    p.add_argument("--lang", action="append", help="only these languages (repeatable)")
    p.add_argument("-k", type=int, default=CHALLENGE_DEPTH, help="results per query and language")
    add_searcher_arguments(p)
    p.set_defaults(run=run)


def read_query_list(path: Path) -> list[str]:
    if not path.is_file():
        raise UsageError(f"{path}: {'a folder, not a' if path.is_dir() else 'no such'} query file")
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        if not rows or "query" not in rows[0]:
            raise UsageError(f"{path}: expected a CSV with a 'query' column")
        queries = [r["query"].strip() for r in rows]
    else:
        queries = [line.strip() for line in text.splitlines()]
    queries = [q for q in queries if q]
    if not queries:
        raise UsageError(f"{path}: no queries")
    return queries


def run(args: argparse.Namespace) -> int:
    from seekcode.index.search import search_top_k
    from seekcode.index.store import Index

    index = Index.open(args.index)
    queries = read_query_list(args.queries)
    langs = [lang.lower() for lang in (args.lang or index.languages())]
    unknown = [lang for lang in langs if lang not in index.languages()]
    if unknown:
        raise UsageError(f"--lang {', '.join(unknown)}: not in this index (it has: "
                         f"{', '.join(index.languages())})")
    qvecs = index.encoder.encode_queries(queries)
    searcher = index.searcher(args.searcher)
    rows = 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["query", "language", "identifier", "url"])
        for lang in langs:
            allowed = index.filter_ids(lang=lang)
            _, ids = search_top_k(searcher, qvecs, args.k, allowed)
            for q, row in zip(queries, ids, strict=True):
                for meta in index.records_at([int(i) for i in row if i >= 0]):
                    out.writerow([q, lang, meta.get("func_name", ""), meta["url"]])
                    rows += 1
    print(f"wrote {rows:,} predictions for {len(queries)} queries x {len(langs)} languages "
          f"to {args.output}", file=sys.stderr)
    return 0
