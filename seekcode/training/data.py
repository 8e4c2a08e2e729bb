"""Training pairs: records with a docstring summary, and which of them are duplicates."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np

from seekcode.corpus.record import Record


def training_pairs(records: Iterable[Record]) -> list[Record]:
    """Records usable as (query, code) pairs: those with a non-empty docstring summary."""
    return [r for r in records if r.query_text.strip() and r.code.strip()]


def split_partitions(records: Sequence[Record]) -> tuple[list[Record], list[Record]]:
    """(train, valid) by the records' `partition`; all records train when none is set."""
    if not any(r.partition for r in records):
        return list(records), []
    train = [r for r in records if r.partition == "train"]
    valid = [r for r in records if r.partition == "valid"]
    return train, valid


def duplicate_groups(records: Sequence[Record]) -> np.ndarray:
    """A group id per record; records sharing their code or their query share a group.

    In-batch and mined negatives skip the query's own group: a copy of the match
    (vendored code, a repeated "Return the name.") is not a wrong answer.
    """
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for key in (_code_key, _query_key):
        first: dict[str, int] = {}
        for i, r in enumerate(records):
            k = key(r)
            if k in first:
                parent[find(i)] = find(first[k])
            else:
                first[k] = i
    return np.array([find(i) for i in range(len(records))], dtype=np.int64)


def _code_key(r: Record) -> str:
    return "c" + hashlib.sha1(" ".join(r.code.split()).encode("utf-8", "replace")).hexdigest()


def _query_key(r: Record) -> str:
    return "q" + " ".join(r.query_text.lower().split())
