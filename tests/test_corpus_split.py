"""The project split: no project in two partitions, seeded, close to the target shares."""

from __future__ import annotations

import random

import pytest

from seekcode.corpus.record import Record
from seekcode.corpus.split import assign_groups, check_fractions, partition


def records_of(projects: dict[str, int], files_per_project: int = 1) -> list[Record]:
    out = []
    for repo, n in projects.items():
        for i in range(n):
            out.append(
                Record(
                    code=f"def f{i}():\n    return {i}",
                    repo=repo,
                    path=f"m{i % files_per_project}.py",
                    func_name=f"f{i}",
                )
            )
    return out


def many_projects(seed: int = 1) -> dict[str, int]:
    rng = random.Random(seed)
    return {f"proj{i:03d}": rng.randint(1, 60) for i in range(120)}


def test_no_project_in_two_partitions_and_shares_near_target():
    recs = records_of(many_projects())
    report = partition(recs, seed=0)
    where: dict[str, set[str]] = {}
    for r in recs:
        where.setdefault(r.repo, set()).add(r.partition)
    assert all(len(parts) == 1 for parts in where.values())
    assert report.unit == "project" and not report.note
    total = len(recs)
    assert sum(report.records.values()) == total
    assert report.records["train"] / total == pytest.approx(0.8, abs=0.03)
    assert report.records["valid"] / total == pytest.approx(0.1, abs=0.03)
    assert report.records["test"] / total == pytest.approx(0.1, abs=0.03)


def test_seed_determines_the_split_whatever_the_record_order():
    sizes = many_projects()
    a = assign_groups(sizes, seed=7)
    b = assign_groups(dict(reversed(list(sizes.items()))), seed=7)
    assert a == b
    assert assign_groups(sizes, seed=8) != a


def test_three_projects_fill_three_partitions():
    assert sorted(assign_groups({"a": 10, "b": 10, "c": 10}, seed=0).values()) == [
        "test",
        "train",
        "valid",
    ]


def test_a_giant_project_goes_to_train_and_shares_stay_near_target():
    sizes = {"giant": 1000} | {f"p{i}": 50 for i in range(40)}
    for seed in range(5):
        assignment = assign_groups(sizes, seed=seed)
        assert assignment["giant"] == "train"
        test = sum(n for g, n in sizes.items() if assignment[g] == "test")
        assert test / sum(sizes.values()) == pytest.approx(0.1, abs=0.02)


def test_single_project_falls_back_to_files_and_says_so():
    recs = records_of({"requests": 40}, files_per_project=10)
    report = partition(recs, seed=0)
    assert report.unit == "file"
    assert "only 1 project (requests)" in report.note
    by_file: dict[str, set[str]] = {}
    for r in recs:
        by_file.setdefault(r.path, set()).add(r.partition)
    assert all(len(p) == 1 for p in by_file.values())
    assert {r.partition for r in recs} == {"train", "valid", "test"}
    assert "split by file" in report.describe()


def test_zero_shares_and_bad_fractions():
    recs = records_of({f"p{i}": 3 for i in range(10)})
    partition(recs, seed=0, fractions=(0.5, 0.0, 0.5))
    assert {r.partition for r in recs} == {"train", "test"}
    with pytest.raises(ValueError, match="summing to 1"):
        check_fractions((0.8, 0.1))
    with pytest.raises(ValueError, match="summing to 1"):
        check_fractions((0.8, 0.3, -0.1))
    assert partition([], seed=0).records == {"train": 0, "valid": 0, "test": 0}
