"""The `seekcode` command. One module per subcommand; each has `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import sys

from seekcode.errors import BUG_NOTE, InputError

# Subcommand modules, in the order `seekcode --help` lists them.
COMMANDS = ("corpus", "index", "search", "similar", "eval", "predict", "train", "serve", "mcp",
            "export", "demo")


class UsageError(InputError):
    """An argument or combination of arguments the command refuses: exit status 2."""


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given the command line, only its command is registered.

    Registering every command imports every command module (and what each imports for
    its choices and defaults): a tenth of a second a `seekcode search` does not need.
    `seekcode --help` or an unknown command registers them all.
    """
    parser = argparse.ArgumentParser(
        prog="seekcode",
        description="Semantic code search: describe a function in English, find it.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    for name in COMMANDS:
        if wanted and name != wanted:
            continue
        try:
            module = importlib.import_module(f"seekcode.cli.{name}_cmd")
        except ModuleNotFoundError as e:
            if e.name == f"seekcode.cli.{name}_cmd":
                continue  # not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command: 0 ok, 2 input refused (one line on stderr), 130 interrupted.

    Only an InputError is input refused; any other exception is a bug and propagates
    with its traceback (exit status 1), so it never passes for a usage error.
    """
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except InputError as e:
        print(f"seekcode {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seekcode {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        e.add_note(f"seekcode {args.command}: {BUG_NOTE} and the command")
        raise


if __name__ == "__main__":
    sys.exit(main())
