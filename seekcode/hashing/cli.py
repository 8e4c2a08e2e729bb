"""`seekcode train hash INDEX`: (re)train the CoSHC module of an existing index."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields, replace
from typing import Any

from seekcode.hashing.config import RERANKS, ROUTINGS, SCANS, HashConfig

# CLI option -> HashConfig field, for the settings worth changing from the command line.
_OPTIONS: dict[str, tuple[str, type, str]] = {
    "--bits": ("bits", int, "code length in bits (multiple of 8)"),
    "--categories": ("k", int, "number of k-means code categories"),
    "--recall": ("recall", int, "candidates N recalled before re-ranking"),
    "--recall-per-million": ("recall_per_million", int, "extra candidates per 1M records"),
    "--routing": ("routing", str, f"how N is split over categories: {', '.join(ROUTINGS)}"),
    "--probe": ("probe", int, "fine lists probed per query (--routing probe)"),
    "--scan": ("scan", str, f"how the probed lists are ranked: {', '.join(SCANS)} (asymmetric: "
               "the query's projection, not its code)"),
    "--rerank": ("rerank", str, f"re-rank from: {', '.join(RERANKS)} (int8: then the best "
                 "few again from float32)"),
    "--epochs": ("epochs", int, "training epochs of the hash module"),
    "--lr": ("lr", float, "AdamW learning rate of the hash module"),
    "--batch-size": ("batch_size", int, "pairs per batch (the similarity matrix is m x m)"),
    "--distill": ("distill", float, "weight of the listwise distillation term (0: off)"),
    "--max-pairs": ("max_pairs", int, "at most this many training pairs (0: all)"),
    "--seed": ("seed", int, "random seed"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("index", metavar="INDEX", help="index directory to (re)train")
    parser.add_argument("--recipe", choices=("seekcode", "paper"), default="seekcode",
                        help="seekcode's improved settings (default) or the paper's (Gu et al. 2022)")
    for flag, (name, kind, help_text) in _OPTIONS.items():
        parser.add_argument(flag, dest=name, type=kind, default=None, help=help_text)
    parser.add_argument("--json", action="store_true", help="print the training stats as JSON")


def config_from_args(args: argparse.Namespace, records: int = 0) -> HashConfig:
    """The recipe's config (seekcode's for an index of `records`) with every option given
    on the command line applied."""
    base = HashConfig.paper() if args.recipe == "paper" else HashConfig.recommended(records)
    names = {f.name for f in fields(HashConfig)}
    given: dict[str, Any] = {n: getattr(args, n) for n in names
                             if getattr(args, n, None) is not None}
    return replace(base, **given)


def run(args: argparse.Namespace) -> int:
    from seekcode.errors import InputError
    from seekcode.hashing.coshc import build_hook
    from seekcode.index.store import Index

    try:
        index = Index.open(args.index)
        config = config_from_args(args, index.count)
        index = index.update_extras(build_hook(index.encoder, config))
    except InputError as e:
        print(f"seekcode train hash: {e}", file=sys.stderr)
        return 2
    info = index.manifest["extras"]["coshc"]
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        t = info["training"]
        print(f"CoSHC trained on {t['pairs']} pairs: {info['bits']} bits, {info['k']} categories, "
              f"classifier accuracy {t['classifier'].get('val_accuracy', float('nan')):.3f}, "
              f"{t['seconds']} s -> {index.gen}", file=sys.stderr)
    return 0
