"""Counting what was skipped, and why, so bad input is reported instead of crashing."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class SkipReport:
    """Counts of skipped items by reason, with a few examples of each.

    Every reader and extractor takes one, so a run can end with
    "wrote 1,203 records; skipped 17: 12 syntax error, 5 not UTF-8".
    """

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    max_examples: int = 3

    def skip(self, reason: str, where: str = "") -> None:
        self.counts[reason] += 1
        if where:
            shown = self.examples.setdefault(reason, [])
            if len(shown) < self.max_examples:
                shown.append(where)

    def merge(self, other: SkipReport) -> None:
        self.counts.update(other.counts)
        for reason, where in other.examples.items():
            shown = self.examples.setdefault(reason, [])
            shown.extend(where[: self.max_examples - len(shown)])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        if not self.counts:
            return "skipped 0"
        parts = ", ".join(f"{n} {reason}" for reason, n in self.counts.most_common())
        return f"skipped {self.total}: {parts}"

    def print_details(self, file: TextIO | None = None) -> None:
        file = file or sys.stderr
        for reason, n in self.counts.most_common():
            shown = "; ".join(self.examples.get(reason, []))
            print(f"  {n:>7} {reason}" + (f"  (e.g. {shown})" if shown else ""), file=file)

    def as_dict(self) -> dict[str, int]:
        return dict(self.counts)
