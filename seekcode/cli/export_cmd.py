"""`seekcode export INDEX milvus://HOST:PORT/COLLECTION`: serve an index from Milvus."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from seekcode.cli import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="write an index into Milvus, to search and serve it from there",
        description="Write an index's records, float vectors and (when it has CoSHC) learned "
        "binary codes and categories into Milvus collections, then `seekcode search` or "
        "`seekcode serve` the milvus:// address. Re-running with the same index writes "
        "nothing; an updated index replaces the export; a killed export resumes. Needs "
        "`pip install 'seekcode[scale]'`.",
    )
    p.add_argument("index", type=Path, help="index directory (from `seekcode index`)")
    p.add_argument("target", help="milvus://HOST:PORT/COLLECTION")
    p.add_argument("--batch-size", type=int, default=1000,
                   help="records per insert (default 1000)")
    p.add_argument("--pause", type=float, default=0.0, metavar="SECONDS",
                   help="wait between batches, to leave a shared Milvus room for queries")
    p.add_argument("--json", action="store_true", help="print the export's counts as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from seekcode.index.store import Index
    from seekcode.scale import is_milvus
    from seekcode.scale.milvus import export

    if not is_milvus(args.target):
        raise UsageError(f"{args.target}: expected milvus://HOST:PORT/COLLECTION")
    if args.batch_size < 1 or args.pause < 0:
        raise UsageError("--batch-size must be at least 1 and --pause at least 0")
    index = Index.open(args.index)
    t0 = time.perf_counter()
    try:
        stats = export(index, args.target, batch_size=args.batch_size, pause=args.pause)
    finally:
        index.close()
    seconds = time.perf_counter() - t0
    if stats["unchanged"]:
        print(f"{args.target} already holds this generation of {args.index} "
              f"({stats['records']:,} functions): nothing to write", file=sys.stderr)
    else:
        print(f"exported {stats['records']:,} functions ({stats['codes']:,} CoSHC codes) from "
              f"{args.index} to {args.target} in {seconds:.1f} s", file=sys.stderr)
    if args.json:
        print(json.dumps({**stats, "seconds": round(seconds, 2), "target": args.target}))
    return 0
