"""benchmarks/merge_corpora.py: --keep-partition keeps the split each part came with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from seekcode.corpus.jsonl import read_records, write_records
from seekcode.corpus.record import Record

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "merge_corpora.py"


def part(path: Path, repo: str, parts: list[str]) -> Path:
    write_records(path, [Record(code=f"def {repo}_{i}():\n    return {i}", repo=repo, path="m.py",
                                func_name=f"{repo}_{i}", language="python", partition=p)
                         for i, p in enumerate(parts)])
    return path


def merge(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    a = part(tmp_path / "a.jsonl", "a", ["train", "test", "valid"])
    b = part(tmp_path / "b.jsonl", "b", ["test", "train"])
    return subprocess.run([sys.executable, str(SCRIPT), str(a), str(b), "-o",
                           str(tmp_path / "out.jsonl"), *extra],
                          capture_output=True, text=True, check=False)


def test_keep_partition_keeps_each_records_partition(tmp_path):
    done = merge(tmp_path, "--keep-partition")
    assert done.returncode == 0, done.stderr
    got = {r.func_name: r.partition for r in read_records(tmp_path / "out.jsonl")}
    assert got == {"a_0": "train", "a_1": "test", "a_2": "valid", "b_0": "test", "b_1": "train"}
    assert "partitions kept" in done.stdout


def test_without_it_the_merge_re_splits_by_project(tmp_path):
    done = merge(tmp_path)
    assert done.returncode == 0, done.stderr
    where: dict[str, set[str]] = {}
    for r in read_records(tmp_path / "out.jsonl"):
        where.setdefault(r.repo, set()).add(r.partition)
    assert all(len(p) == 1 for p in where.values())  # a whole project per partition


def test_keep_partition_refuses_records_without_one(tmp_path):
    a = tmp_path / "a.jsonl"
    write_records(a, [Record(code="def f():\n    return 1", repo="a", path="m.py", func_name="f",
                             language="python")])
    done = subprocess.run([sys.executable, str(SCRIPT), str(a), "-o", str(tmp_path / "o.jsonl"),
                           "--keep-partition"], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "no partition" in done.stderr


def test_distractors_fill_the_pool_but_are_never_queries(tmp_path):
    docs = tmp_path / "docs.jsonl"
    write_records(docs, [Record(code="def parse(s):\n    '''Parse a date string.'''\n    return s",
                                docstring="Parse a date string.", repo="p", path="m.py",
                                func_name="parse", language="python"),
                         Record(code="func Add(a, b int) int {\n\treturn a + b\n}",
                                docstring="Add two numbers together.", repo="g", path="m.go",
                                func_name="Add", language="go")])
    every = tmp_path / "all.jsonl"
    write_records(every, [Record(code="def parse(s):\n    '''Parse a date string.'''\n    return s",
                                 docstring="Parse a date string.", repo="p", path="m.py",
                                 func_name="parse", language="python"),  # already taken
                          Record(code="def helper(x):\n    # a longer docstring\n    return x",
                                 docstring="Help.", repo="p", path="m.py", func_name="helper",
                                 language="python")])
    done = subprocess.run([sys.executable, str(SCRIPT), str(docs), "--language", "all",
                           "--distractors", str(every), "-o", str(tmp_path / "out.jsonl")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    got = {r.func_name: r for r in read_records(tmp_path / "out.jsonl")}
    assert set(got) == {"parse", "Add", "helper"}  # both languages; the duplicate once
    assert got["parse"].query_text and got["Add"].query_text
    assert not got["helper"].query_text and got["helper"].extra["distractor"] is True
    assert got["helper"].partition == got["parse"].partition  # one project, one partition
    assert "1 duplicate code" in done.stdout
