"""`seekcode index SOURCE -o INDEX`: encode a corpus or a source folder into an index."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

from seekcode.cli import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "index", help="encode a corpus (.jsonl[.gz]) or a source folder into an index",
        description="Encode functions and store them as a searchable index. SOURCE is a corpus "
        "jsonl (see `seekcode corpus`) or a source folder/git checkout (every function, "
        "documented or not; .gitignore and .seekcodeignore honoured). Re-running re-encodes "
        "only what changed.",
    )
    p.add_argument("source", type=Path, help="corpus .jsonl/.jsonl.gz, or a source folder")
    p.add_argument("-o", "--output", type=Path, required=True, help="index directory")
    p.add_argument("--encoder", default="minilm",
                   help="'minilm' (default, bundled), 'minilm-int8' (3x faster) or a model directory from `seekcode train encoder`")
    p.add_argument("--hash", action="store_true",
                   help="also train CoSHC (categories, learned hash codes, query classifier; "
                   "`seekcode train hash --help` for the paper's setting). Without it, an "
                   "index that has CoSHC keeps it: new functions are hashed by the trained model")
    p.add_argument("--watch", action="store_true",
                   help="keep the index fresh while files in a source folder change")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="encode on a Ray cluster: join ADDRESS ('auto', 'ray://host:10001'), or "
                   "without one start a local Ray (needs `pip install 'seekcode[scale]'`)")
    p.add_argument("--ray-cpus", type=int, metavar="N",
                   help="CPUs of the local Ray that --ray without ADDRESS starts (default: all)")
    p.add_argument("--json", action="store_true", help="print the build statistics as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from seekcode.corpus.jsonl import read_records
    from seekcode.corpus.skips import SkipReport
    from seekcode.encoders.base import load_encoder
    from seekcode.index.store import Index

    source: Path = args.source
    if not source.exists():
        raise UsageError(f"{source}: no such corpus file or source folder")
    if args.watch and not source.is_dir():
        raise UsageError("--watch needs a source folder, not a corpus file")
    if args.ray is not None and args.watch:
        raise UsageError("--ray with --watch: build with --ray once, then watch without it")
    encoder = load_encoder(args.encoder)
    if args.ray is not None:  # a local Ray it starts is stopped by Ray's own exit handler
        from seekcode.scale.ray_encoder import RayEncoder

        encoder = RayEncoder(encoder, address=args.ray or None, num_cpus=args.ray_cpus)
    skips = SkipReport()
    hooks = []
    if args.hash:
        from seekcode.hashing.coshc import build_hook

        hooks.append(build_hook(encoder))
    t0 = time.perf_counter()
    extras = {"source": str(source.resolve())}
    if source.is_dir():
        from seekcode.index.watch import update

        index, result = update(source, args.output, encoder, progress=True, skips=skips,
                               hooks=hooks, extras=extras)
        stats = {"records": result.records, "encoded": result.encoded, "reused": result.reused,
                 "added": result.added, "removed": result.removed}
        if not result.records:
            raise UsageError(f"{source}: no functions found ({skips.summary()})")
    else:
        # Streamed into the build (never a list): a corpus may not fit in memory.
        records = read_records(source, skips)
        first = next(records, None)
        if first is None:
            raise UsageError(f"{source}: no records ({skips.summary()})")
        from seekcode.index.watch import kept_searchers

        hooks += kept_searchers(args.output, encoder)
        index, stats = Index.build(itertools.chain([first], records), args.output, encoder,
                                   hooks=hooks, extras=extras)
    seconds = time.perf_counter() - t0
    print(f"indexed {stats['records']:,} functions into {args.output} "
          f"(encoded {stats['encoded']:,}, reused {stats['reused']:,}) in {seconds:.1f} s; "
          f"{skips.summary()}", file=sys.stderr)
    skips.print_details()
    if args.json:
        print(json.dumps({**stats, "seconds": round(seconds, 2), "skipped": skips.total,
                          "skips": skips.as_dict(), "skip_examples": skips.examples,
                          "index": str(args.output)}))
    index.close()
    if args.watch:
        from seekcode.index.watch import watch

        print(f"watching {source} for changes (Ctrl-C to stop)", file=sys.stderr)
        watch(source, args.output, encoder)
    return 0
