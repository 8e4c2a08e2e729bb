"""Train/valid/test partition by project, so no test function shares a project with training.

Whole projects (the record's `repo`) are assigned, in a seeded random order, each to
the partition furthest below its target share of functions that it fits in (see
`assign_groups`). With fewer projects than
partitions (one pip package, one folder), a project split is impossible: the split
falls back to whole files, and the report says so.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from seekcode.corpus.record import Record
from seekcode.errors import InputError

PARTITIONS = ("train", "valid", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


@dataclass
class SplitReport:
    """What `partition` did: the unit it split by and the sizes it reached."""

    unit: str  # "project" or "file"
    records: dict[str, int] = field(default_factory=dict)  # partition -> functions
    groups: dict[str, int] = field(default_factory=dict)  # partition -> projects (or files)
    note: str = ""  # why the unit is not "project", when it is not

    def describe(self) -> str:
        """E.g. 'train 9,876 / valid 1,234 / test 1,235; split by project (180 projects)'."""
        sizes = " / ".join(f"{p} {self.records.get(p, 0):,}" for p in PARTITIONS)
        n = sum(self.groups.values())
        text = f"{sizes}; split by {self.unit} ({n:,} {self.unit}s)"
        return f"{text}; {self.note}" if self.note else text


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Validate (train, valid, test) shares: three, non-negative, summing to 1."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise InputError(f"split fractions must be three shares summing to 1, got {fractions}")
    return fractions[0], fractions[1], fractions[2]


def assign_groups(
    sizes: dict[str, int], seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS
) -> dict[str, str]:
    """Map each group (project) to a partition; depends only on `sizes` and `seed`.

    Groups are visited in a seeded shuffle of their sorted names. First, valid and test
    (when their share is positive) each get one group that fits their target, so even
    a handful of projects yields a test set. Then each group goes to the partition
    with the largest relative deficit among those it fits without overshooting; a group
    too big for any (a giant project) goes where it overshoots least, i.e. to train.
    """
    shares = check_fractions(fractions)
    total = sum(sizes.values())
    targets = [share * total for share in shares]
    live = [i for i, t in enumerate(targets) if t > 0]
    current = [0.0] * len(PARTITIONS)
    order = sorted(sizes)
    random.Random(seed).shuffle(order)
    out: dict[str, str] = {}

    def put(group: str, i: int) -> None:
        out[group] = PARTITIONS[i]
        current[i] += sizes[group]

    if len(order) >= len(live):
        for i in (i for i in live if i > 0):
            free = [g for g in order if g not in out]
            fitting = [g for g in free if sizes[g] <= targets[i]]
            put(fitting[0] if fitting else min(free, key=lambda g: sizes[g]), i)
    for group in order:
        if group in out:
            continue
        size = sizes[group]
        fits = [i for i in live if current[i] + size <= targets[i]]
        if fits:
            best = max(fits, key=lambda i: ((targets[i] - current[i]) / targets[i], -i))
        else:
            best = min(live, key=lambda i: ((current[i] + size - targets[i]) / targets[i], i))
        put(group, best)
    return out


def partition(
    records: Sequence[Record], *, seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS
) -> SplitReport:
    """Set `record.partition` on every record, by project; returns what was done."""
    shares = check_fractions(fractions)
    needed = sum(1 for s in shares if s > 0)
    projects = Counter(r.repo for r in records)
    report = SplitReport(unit="project")

    by_file = 0 < len(projects) < needed
    if by_file:
        names = ", ".join(sorted(projects)[:3])
        report.unit = "file"
        report.note = (
            f"only {len(projects)} project{'s' if len(projects) > 1 else ''} ({names}): "
            "no test file is also a training file, but they share the project"
        )

    def key(r: Record) -> str:
        return f"{r.repo}\0{r.path}" if by_file else r.repo

    sizes = Counter(key(r) for r in records)
    assignment = assign_groups(dict(sizes), seed, shares)
    for r in records:
        r.partition = assignment[key(r)]
    report.records = {p: 0 for p in PARTITIONS}
    report.groups = {p: 0 for p in PARTITIONS}
    for group, part in assignment.items():
        report.records[part] += sizes[group]
        report.groups[part] += 1
    return report
