"""`seekcode similar INDEX PATH:LINE`: the functions most like a given one (code-to-code)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from seekcode.cli import UsageError
from seekcode.cli.search_cmd import add_format_arguments

MAX_K = 1000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "similar", help="find functions similar to a given one (code-to-code search)",
        description="Compares code vectors: the function's stored vector when it is in the "
        "index (it is left out of the results), else its code encoded as the index's were.",
    )
    p.add_argument("index", help="index directory")
    p.add_argument("function", nargs="?",
                   help="PATH:LINE of a function in the index (path relative to the indexed "
                   "folder, or any suffix of it), a hit's url, or '-' to read code from stdin")
    p.add_argument("--code", help="the code of a function, instead of PATH:LINE")
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--lang", help="only results in this language (and the language of --code)")
    add_format_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from seekcode.cli.search_cmd import print_hits, vimgrep_lines
    from seekcode.encoders.runtime import set_threads
    from seekcode.index.similar import NotFound, similar
    from seekcode.index.store import Index

    if (args.function is None) == (args.code is None):
        raise UsageError("give PATH:LINE, '-' (code on stdin) or --code TEXT, exactly one")
    if not 1 <= args.k <= MAX_K:
        raise UsageError(f"-k: {args.k} out of range; ask for 1 to {MAX_K} results")
    code = sys.stdin.read() if args.function == "-" else args.code
    set_threads(1)  # one snippet gains nothing from a second encoder thread
    index = Index.open(args.index)
    if args.lang and args.lang.lower() not in index.languages():
        raise UsageError(f"--lang {args.lang}: not in this index (it has: {', '.join(index.languages())})")
    allowed = index.filter_ids(lang=args.lang)
    t0 = time.perf_counter()
    what = "pasted code" if code is not None else args.function
    try:
        if code is not None:
            hits = similar(index, code=code, language=args.lang or "", k=args.k, allowed=allowed)
        elif "#" in args.function:  # a hit's url
            hits = similar(index, url=args.function, k=args.k, allowed=allowed)
        else:
            path, line = _path_line(args.function)
            hits = similar(index, path=path, line=line, k=args.k, allowed=allowed)
    except NotFound as e:
        raise UsageError(str(e)) from None
    ms = (time.perf_counter() - t0) * 1000
    if args.format == "json":
        print(json.dumps({"function": what, "k": args.k, "ms": round(ms, 2),
                          "hits": [h.to_dict() for h in hits]}, ensure_ascii=False))
        return 0
    if args.format == "vimgrep":
        print("\n".join(vimgrep_lines(hits, index.source_folder)))
        return 0
    print_hits(f"like {what}", hits, "code-to-code", ms)
    return 0


def _path_line(spec: str) -> tuple[str, int]:
    path, sep, line = spec.rpartition(":")
    if not sep or not line.strip().isdigit():
        raise UsageError(f"{spec}: expected PATH:LINE (e.g. json/decoder.py:120)")
    return path, int(line)
