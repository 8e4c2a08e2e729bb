"""The `seekcode` command. One module per subcommand; each has `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules, in the order `seekcode --help` lists them.
COMMANDS = ("corpus", "index", "search", "similar", "eval", "predict", "train", "serve", "mcp",
            "export", "demo")


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seekcode",
        description="Semantic code search: describe a function in English, find it.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"seekcode.cli.{name}_cmd")
        except ModuleNotFoundError as e:
            if e.name == f"seekcode.cli.{name}_cmd":
                continue  # not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from seekcode.index.store import IndexError_

    try:
        return int(args.run(args) or 0)
    except (UsageError, IndexError_, FileNotFoundError, ValueError) as e:
        print(f"seekcode {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seekcode {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
