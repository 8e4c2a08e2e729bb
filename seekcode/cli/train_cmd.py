"""`seekcode train hash|encoder ...`: the hashing module and the trainable encoders."""

from __future__ import annotations

import argparse
import importlib

# Each trainer module defines add_arguments(parser) and run(args) -> int.
TRAINERS = {
    "hash": ("seekcode.hashing.cli", "train the CoSHC hashing module of an existing index"),
    "encoder": ("seekcode.training.cli", "train an encoder on (docstring, code) pairs"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train encoders and the hashing module")
    what = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    for name, (module_name, help_text) in TRAINERS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:
                continue
            raise
        q = what.add_parser(name, help=help_text)
        module.add_arguments(q)
        q.set_defaults(run=module.run)
