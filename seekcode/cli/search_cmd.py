"""`seekcode search INDEX "query"`: the functions that best match a description."""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

from seekcode.cli import UsageError
from seekcode.index.hybrid import DEFAULT_MODE, MODES
from seekcode.index.search import Hit, QueryError, check_glob, check_query

MAX_K = 1000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="find functions matching a plain-English description")
    p.add_argument("index", help="index directory, or milvus://HOST:PORT/COLLECTION (from "
                   "`seekcode export`)")
    p.add_argument("query", help='what the function should do, e.g. "read a gzip json file"')
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    add_searcher_arguments(p)
    p.add_argument("--mode", choices=MODES, default=DEFAULT_MODE,
                   help="semantic: by meaning (default); keyword: BM25 over names, identifiers "
                   "and docstrings; hybrid: both fused (finds exact names such as "
                   "HTTPConnection.request; see benchmarks/results/hybrid.md)")
    p.add_argument("--lang", help="only this language (e.g. python, java, go)")
    p.add_argument("--path", help="only paths matching this glob (e.g. 'src/*' or '*.py')")
    add_format_arguments(p)
    p.set_defaults(run=run)


def add_format_arguments(p: argparse.ArgumentParser) -> None:
    """`--format rich|json|vimgrep` and its shorthand `--json`."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--format", choices=("rich", "json", "vimgrep"), default="rich",
                       help="rich: highlighted previews (default); json: one JSON document; "
                       "vimgrep: path:line:col:name per hit, for editors and agents")
    group.add_argument("--json", dest="format", action="store_const", const="json",
                       help="one JSON document on stdout (shorthand for --format json)")


def vimgrep_lines(hits: list[Hit], source: Path | None) -> list[str]:
    """`path:line:col:name` per hit; paths absolute when the index knows its source folder,
    so an editor opens them from anywhere."""
    out = []
    for h in hits:
        path = str(source / h.path) if source and h.path else h.path
        name = " ".join(h.func_name.split())  # one hit, one line
        out.append(f"{path}:{max(h.start_line, 1)}:1:{name}")
    return out


def add_searcher_arguments(p: argparse.ArgumentParser) -> None:
    """`--searcher NAME` and its shorthand `--exact`, for every command that searches."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--searcher", metavar="NAME",
                       help="search with this searcher (exact, coshc, ...; default: the index's "
                       "default, CoSHC when it has it)")
    group.add_argument("--exact", dest="searcher", action="store_const", const="exact",
                       help="exact search (shorthand for --searcher exact)")


def validate_query(query: str, k: int, path: str | None = None) -> str:
    """The query as searched; a usage error naming the bad argument otherwise.

    The same checks as the server's, so a glob it refuses is refused here too."""
    try:
        if path is not None:
            check_glob(path)
        return check_query(query, k, MAX_K)
    except QueryError as e:
        flag = {"k": "-k", "path": "--path"}.get(e.field, "query")
        raise UsageError(f"{flag}: {e}") from None


def run(args: argparse.Namespace) -> int:
    from seekcode.encoders.runtime import set_threads
    from seekcode.index.store import Index

    query = validate_query(args.query, args.k, args.path)
    set_threads(1)  # one short query gains nothing from a second thread (see runtime.py)
    from seekcode.scale import is_milvus

    if is_milvus(args.index):
        return run_milvus(args, query)
    index = Index.open(args.index)
    if args.lang and args.lang.lower() not in index.languages():
        raise UsageError(f"--lang {args.lang}: not in this index (it has: {', '.join(index.languages())})")
    if args.mode != "semantic" and args.searcher is not None:
        raise UsageError(f"--mode {args.mode} scores every record: it takes no --searcher")
    method = index.searcher(args.searcher).name if args.mode == "semantic" else args.mode
    if args.mode != "keyword":
        # Models load lazily on their first call: one throwaway query keeps loading (and
        # first-call warm-up) out of the reported time.
        index.encoder.encode_queries(["warm up"], progress=False)
    t0 = time.perf_counter()
    hits = index.search(query, k=args.k, lang=args.lang, path=args.path,
                        searcher=method if args.mode == "semantic" else None, mode=args.mode)
    ms = (time.perf_counter() - t0) * 1000
    note = shortfall_note(len(hits), args.k, method, index.count, bool(args.lang or args.path))
    emit(args, query, hits, method, ms, note, index.source_folder)
    return 0


def run_milvus(args: argparse.Namespace, query: str) -> int:
    """`seekcode search milvus://...`: the same checks and output as for a local index."""
    from seekcode.scale.milvus import MilvusIndex

    if args.mode != "semantic":
        raise UsageError(f"--mode {args.mode}: ranks by the words of every record, which a "
                         "Milvus export cannot; search the local index for it")
    index = MilvusIndex.open(args.index)
    if args.lang and args.lang.lower() not in index.languages():
        raise UsageError(f"--lang {args.lang}: not in this index (it has: {', '.join(index.languages())})")
    method = args.searcher or index.default_searcher
    index.encoder.encode_queries(["warm up"], progress=False)  # as for a local index
    t0 = time.perf_counter()
    hits, note = index.search_noted(query, k=args.k, lang=args.lang, path=args.path,
                                    searcher=method)
    ms = (time.perf_counter() - t0) * 1000
    note = note or shortfall_note(len(hits), args.k, method, index.count,
                                  bool(args.lang or args.path))
    emit(args, query, hits, method, ms, note, None)
    return 0


def emit(args: argparse.Namespace, query: str, hits: list[Hit], method: str, ms: float,
         note: str, source: Path | None) -> None:
    """The hits in the chosen --format (rich, json or vimgrep)."""
    if args.format == "json":
        out = {"query": query, "k": args.k, "method": method, "mode": args.mode,
               "ms": round(ms, 2), "returned": len(hits), **({"note": note} if note else {}),
               "hits": [h.to_dict() for h in hits]}
        print(json.dumps(out, ensure_ascii=False, allow_nan=False))
    elif args.format == "vimgrep":
        print("\n".join(visible(line) for line in vimgrep_lines(hits, source)))
    else:
        print_hits(query, hits, method, ms, note=note)


def shortfall_note(returned: int, k: int, method: str, count: int, filtered: bool) -> str:
    """Why fewer than k hits came back, when that is not just a small index ("" if not)."""
    if returned >= k or returned >= count:
        return ""
    if filtered:
        return f"{returned} of -k {k}: only {returned} functions pass --lang/--path"
    return (f"{returned} of -k {k}: {method} recalls a bounded candidate set; "
            "--exact ranks every function")


# C0 and C1 controls except tab and newline, DEL, and the bidirectional overrides
# ("Trojan Source"): indexed code and file names come from anyone, and these would
# move the cursor, retitle the window or reorder what the reader sees.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """`text` with terminal control characters shown as `\\x1b`-style escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                        else f"\\u{ord(m.group()):04x}", text)


def print_hits(query: str, hits: list, method: str, ms: float, preview_lines: int = 12,  # type: ignore[type-arg]
               note: str = "") -> None:
    """Rank, score, path:line, name and a highlighted preview of each hit (rich).

    Everything that comes from the index or the user is escaped for rich markup and
    has its control characters made visible: a file named `x[/bold].py` or code
    holding ESC sequences is shown as written, never interpreted.
    """
    from rich.console import Console
    from rich.markup import escape

    def safe(text: str) -> str:
        return escape(visible(text))

    console = Console()
    console.print(f"[bold]{safe(query)}[/bold]  [dim]{len(hits)} results, {safe(method)}, "
                  f"{ms:.0f} ms[/dim]")
    if note:
        console.print(f"[yellow]note[/yellow]: {safe(note)}")
    if not hits:
        console.print("[yellow]no results[/yellow] (check --lang/--path filters)")
    for h in hits:
        console.print(f"\n[bold cyan]{h.rank:>2}[/bold cyan]  [green]{h.score:.3f}[/green]  "
                      f"[magenta]{safe(h.location)}[/magenta]  [bold]{safe(h.func_name)}[/bold]")
        lines = visible(h.code.replace("\r\n", "\n")).splitlines()
        snippet = "\n".join(lines[:preview_lines]) + ("\n..." if len(lines) > preview_lines else "")
        if console.color_system is None:
            # Not a terminal (a pipe, a file): colours would be dropped anyway, and
            # loading a lexer to compute them cost a quarter of a whole search.
            start = h.start_line or 1
            width = len(str(start + len(lines[:preview_lines])))
            for n, line in enumerate(snippet.splitlines(), start):
                console.print(f"{n:>{width + 1}} {line}", markup=False, highlight=False,
                              soft_wrap=True)
            continue
        from rich.syntax import Syntax

        console.print(Syntax(snippet, h.language or "text", line_numbers=True,
                             start_line=h.start_line or 1, theme="ansi_dark", word_wrap=False))
