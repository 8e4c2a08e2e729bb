"""`seekcode train encoder`: train an encoder on (docstring, code) pairs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from seekcode.errors import InputError
from seekcode.training.config import MODELS, TrainConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, choices=MODELS, help="encoder type to train")
    p.add_argument("--corpus", required=True, type=Path,
                   help="training records (jsonl[.gz] or a folder); without --valid, "
                        "partition 'train' trains and 'valid' validates")
    p.add_argument("--valid", type=Path, help="validation records for early stopping")
    p.add_argument("-o", "--out", required=True, type=Path, help="model directory to write")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="time budget for this run (default 10)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None, help="maximum number of epochs")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default 1; 0: torch's default)")
    p.add_argument("--no-mining", action="store_true",
                   help="no negatives mined with the previous epoch's model")
    p.add_argument("--bag-warmup", type=float, default=None, metavar="SHARE",
                   help="deepsem: share of the budget for training its bag model before "
                        "the self-attention layers (default 0.5; 0: full model throughout)")
    p.add_argument("--restart", action="store_true",
                   help="ignore an existing checkpoint in the model directory")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the training summary as JSON")


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from seekcode.corpus.jsonl import read_records
    from seekcode.corpus.skips import SkipReport
    from seekcode.training.data import split_partitions
    from seekcode.training.trainer import Trainer

    cfg = TrainConfig.for_model(
        args.model, seed=args.seed, max_minutes=args.max_minutes, batch_size=args.batch_size,
        max_epochs=args.epochs, lr=args.lr, threads=args.threads,
        mined_negatives=False if args.no_mining else None, bag_warmup=args.bag_warmup,
    )
    if args.out.exists() and not args.out.is_dir():
        raise InputError(f"{args.out}: a file, not a model folder; give a new or existing "
                         "folder with -o")
    if not 0 <= cfg.bag_warmup <= 1:
        raise InputError(f"--bag-warmup {cfg.bag_warmup}: give a share of the budget, 0 to 1")
    skips = SkipReport()
    records = list(read_records(args.corpus, skips))
    train, valid = split_partitions(records)
    if args.valid is not None:
        valid = list(read_records(args.valid, skips))
    if skips.total:
        print(f"corpus: {skips.summary()}", file=sys.stderr)
    if not train:
        raise InputError(f"{args.corpus}: no training records (partition 'train' or none)")
    result = Trainer(cfg, args.out, progress=not args.quiet).fit(train, valid, restart=args.restart)
    summary = {"model": str(args.out.resolve()), **asdict(result)}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{args.out}: {args.model}, valid MRR {result.best_mrr:.4f} ({result.stopped}); "
              f"index with: seekcode index CORPUS -o INDEX --encoder {args.out}", file=sys.stderr)
    return 0
