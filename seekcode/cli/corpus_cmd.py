"""`seekcode corpus SRC... -o OUT`: functions with their docs, from source trees to jsonl."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from seekcode.cli import UsageError

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)(?:i?b)?\s*$", re.IGNORECASE)


def register(sub: argparse._SubParsersAction) -> None:
    from seekcode.corpus.sources import SOURCE_KINDS  # light: stdlib modules only

    kinds = ", ".join(f"{k}:..." for k in SOURCE_KINDS if k not in ("stdlib", "pypi"))
    p = sub.add_parser(
        "corpus",
        help="extract documented functions from sources into a CodeSearchNet jsonl",
        description=(
            "Extract functions and their docstrings from sources into a CodeSearchNet-style "
            "jsonl (or .jsonl.gz), filtered as CodeSearchNet/CodeXGLUE did and split into "
            "train/valid/test by project. Unusable files and functions are skipped and "
            "counted by reason."
        ),
    )
    p.add_argument(
        "sources",
        nargs="+",
        metavar="SRC",
        help="a folder, a file, 'stdlib' (this Python's standard library; 'stdlib:json,email' "
        "for some modules), pypi:NAME[==VERSION] (downloaded with pip, cached)"
        + (f"; also {kinds}" if kinds else ""),
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="corpus.jsonl[.gz]")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and sampling (0)")
    p.add_argument(
        "--max-records",
        type=int,
        metavar="N",
        help="keep a seeded random sample of N records (before the split)",
    )
    p.add_argument(
        "--max-file-bytes",
        default="1MiB",
        metavar="B",
        help="skip larger files (default 1MiB; accepts 500k, 2M, ...)",
    )
    p.add_argument(
        "--all-functions",
        action="store_true",
        help="keep every parsable function, documented or not, duplicates too (for indexing)",
    )
    p.add_argument(
        "--include-tests",
        action="store_true",
        help="also read test folders (test/, tests/) and files (test_*.py, conftest.py, ...)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def parse_size(text: str) -> int:
    """'1MiB', '500k', '2M', '1048576' -> bytes (binary multiples)."""
    m = _SIZE.match(text)
    if not m:
        raise UsageError(f"--max-file-bytes {text!r}: expected a size like 1048576, 500k or 2MiB")
    return int(m[1]) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m[2].lower()]


def run(args: argparse.Namespace) -> int:
    from seekcode.corpus.build import build, is_given_dataset
    from seekcode.corpus.filters import FilterConfig
    from seekcode.corpus.sources import SourceError, SourceOptions, resolve

    if args.max_records is not None and args.max_records < 1:
        raise UsageError(f"--max-records {args.max_records}: must be at least 1")
    out = Path(args.output)
    if out.is_dir():
        raise UsageError(f"-o {out}: is a folder; name a file such as {out / 'corpus.jsonl'}")
    options = SourceOptions(
        max_file_bytes=parse_size(args.max_file_bytes), include_tests=args.include_tests
    )
    try:
        for spec in args.sources:  # every spec checked before the long part starts
            if not is_given_dataset(spec):
                resolve(spec, options)
        summary = build(
            args.sources,
            out,
            filters=FilterConfig.all_functions() if args.all_functions else FilterConfig(),
            seed=args.seed,
            max_records=args.max_records,
            progress=not args.no_progress,
            options=options,
        )
    except SourceError as e:
        raise UsageError(str(e)) from e
    print(summary.line(), file=sys.stderr)
    if summary.skips.total:
        summary.skips.print_details(file=sys.stderr)
    if summary.written == 0:
        print(
            "seekcode corpus: no function passed the filters"
            + ("" if args.all_functions else " (try --all-functions)"),
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    return 0
