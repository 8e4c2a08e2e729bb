"""`seekcode mcp INDEX...`: a Model Context Protocol server on stdio, for coding agents."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mcp", help="serve indexes to coding agents over the Model Context Protocol (stdio)",
        description="Speaks MCP on stdin/stdout (logs go to stderr). Tools: search, similar, "
        "get_function, index_status. The model stays loaded between calls; new generations "
        "(e.g. from `seekcode index --watch`) are picked up without a restart. "
        "Configure a client with e.g. `claude mcp add seekcode -- seekcode mcp INDEX`.",
    )
    p.add_argument("indexes", nargs="+", type=Path, metavar="INDEX",
                   help="index directories; the first is the default of the tools' `index` argument")
    p.add_argument("--encoder", default=None,
                   help="encoder for queries (default: the one each index was built with)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from seekcode.encoders.runtime import set_threads
    from seekcode.mcp.server import serve

    set_threads(1)  # one short query gains nothing from a second thread (see runtime.py)
    encoder = None
    if args.encoder:
        from seekcode.encoders.base import load_encoder

        encoder = load_encoder(args.encoder)
    names = ", ".join(str(p) for p in args.indexes)
    print(f"seekcode mcp: serving {names} on stdio", file=sys.stderr)
    serve(list(args.indexes), encoder)  # IndexError_ here: exit 2 with the reason
    return 0
