"""Merge corpora built by `seekcode corpus` into one, re-split by project.

    python benchmarks/merge_corpora.py A.jsonl.gz B.jsonl.gz -o OUT.jsonl.gz \
        [--language python|all] [--drop-project NAME ...] [--seed 0] [--keep-partition] \
        [--distractors C.jsonl.gz ...]

For a corpus too big to build in one go (or grown later): build the parts, then
merge them. Keeps one language (`--language`, default python; packages ship
JavaScript too), drops whole projects (`--drop-project`, e.g. a package that one part
has from pip and another from site-packages, which would otherwise sit in train and
test at once), drops code seen earlier (whitespace-insensitive), and splits the
result train/valid/test by project exactly as `seekcode corpus` does (or, with
`--keep-partition`, keeps the partition each record already has, e.g. to merge corpora
whose splits were made separately and must stay as they were). `--distractors` adds
corpora (e.g. built with `--all-functions`) whose records only fill the pool: their
docstrings are dropped (marked `extra.distractor`), so none of them is ever a query, and
code already taken from the main corpora is not taken again.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from seekcode.corpus.jsonl import read_records, write_records
from seekcode.corpus.record import Record
from seekcode.corpus.split import partition


def merge(paths: Sequence[Path], language: str, drop: set[str],
          distractors: Sequence[Path] = ()) -> tuple[list[Record], Counter[str]]:
    """The records kept, and how many were dropped by reason (`language` "all": any)."""
    seen: set[str] = set()
    kept: list[Record] = []
    dropped: Counter[str] = Counter()
    for path, filler in [(p, False) for p in paths] + [(p, True) for p in distractors]:
        for r in read_records(path):
            if language != "all" and (r.language or "").lower() != language:
                dropped[f"not {language}"] += 1
            elif r.repo in drop:
                dropped["dropped project"] += 1
            elif (key := " ".join(r.code.split())) in seen:
                dropped["duplicate code"] += 1
            else:
                seen.add(key)
                if filler:
                    r.docstring, r.docstring_tokens = "", []
                    r.extra = {**r.extra, "distractor": True}
                kept.append(r)
    return kept, dropped


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpora", nargs="+", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--language", default="python")
    p.add_argument("--drop-project", nargs="*", default=[], metavar="NAME",
                   help="project (`repo`) names to leave out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--distractors", nargs="*", default=[], type=Path, metavar="CORPUS",
                   help="corpora whose records only fill the pool (docstrings dropped)")
    p.add_argument("--keep-partition", action="store_true",
                   help="keep each record's partition instead of re-splitting by project")
    args = p.parse_args()
    records, dropped = merge(args.corpora, args.language, set(args.drop_project), args.distractors)
    if not records:
        print(f"error: no {args.language} records in {', '.join(map(str, args.corpora))}",
              file=sys.stderr)
        return 2
    if args.keep_partition:
        missing = sum(1 for r in records if not r.partition)
        if missing:
            print(f"error: --keep-partition: {missing:,} records have no partition",
                  file=sys.stderr)
            return 2
        sizes = Counter(r.partition for r in records)
        split = " / ".join(f"{k} {v:,}" for k, v in sorted(sizes.items())) + "; partitions kept"
    else:
        split = partition(records, seed=args.seed).describe()
    n = write_records(args.output, records)
    reasons = ", ".join(f"{v:,} {k}" for k, v in dropped.most_common()) or "none"
    print(f"wrote {n:,} records to {args.output} ({split}); dropped {reasons}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
