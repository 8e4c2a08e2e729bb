"""Query sets: the corpus's own held-out docstrings, a jsonl file, or CodeSearchNet annotations."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seekcode.corpus.jsonl import read_json_lines
from seekcode.corpus.skips import SkipReport
from seekcode.corpus.tokens import docstring_summary
from seekcode.errors import InputError

if TYPE_CHECKING:
    from seekcode.index.store import Index


@dataclass
class QuerySet:
    """Queries with their relevant records (row ids of one index)."""

    texts: list[str]
    relevant: list[np.ndarray]
    # url -> grade (0-3) per query, when relevance is graded (NDCG)
    grades: list[dict[str, float]] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    # True when query i's first relevant record is its own pair (CodeSearchNet-style),
    # which is what mrr@1000batch needs.
    paired: bool = False
    source: str = ""
    skips: SkipReport = field(default_factory=SkipReport)

    def __len__(self) -> int:
        return len(self.texts)


def corpus_queries(index: Index, max_queries: int | None = None, seed: int = 0) -> QuerySet:
    """Each held-out record's docstring summary as the query, its own record as the answer.

    Uses the `test` partition when the index has one, otherwise every record.
    """
    if max_queries is not None and max_queries < 1:
        raise InputError(f"--max-queries {max_queries}: evaluate at least 1 query")
    partitions = index.manifest.get("partitions", {})
    partition = "test" if partitions.get("test") else None
    texts, relevant = [], []
    skips = SkipReport()
    sql = "SELECT id, record FROM records" + (" WHERE partition = 'test'" if partition else "")
    for rid, raw in index.db.execute(sql + " ORDER BY id"):
        rec = json.loads(raw)
        q = docstring_summary(rec.get("docstring", ""))
        if not q:
            skips.skip("record without docstring (no query)")
            continue
        texts.append(q)
        relevant.append(np.array([rid], dtype=np.int64))
    if max_queries is not None and len(texts) > max_queries:
        keep = np.sort(np.random.default_rng(seed).choice(len(texts), max_queries, replace=False))
        texts = [texts[i] for i in keep]
        relevant = [relevant[i] for i in keep]
    where = f"{partition} partition" if partition else "all records (no test partition)"
    return QuerySet(texts, relevant, paired=True, source=f"corpus docstrings, {where}",
                    skips=skips)


def load_queries(path: str | Path, index: Index) -> QuerySet:
    """A jsonl query set ({"query", "relevant": [url...]} or {"relevance": {url: grade}})
    or CodeSearchNet's annotationStore.csv (Language, Query, GitHubUrl, Relevance)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {'a folder, not a' if path.is_dir() else 'no such'} query file")
    if path.suffix.lower() == ".csv":
        return _annotation_queries(path, index)
    skips = SkipReport()
    texts, relevant, grades, langs = [], [], [], []
    for n, obj in enumerate(read_json_lines(path, skips), 1):
        q = obj.get("query")
        if not isinstance(q, str) or not q.strip():
            skips.skip("query missing or empty", f"{path}: query {n}")
            continue
        graded = obj.get("relevance") if isinstance(obj.get("relevance"), dict) else None
        urls = list(graded) if graded else obj.get("relevant", [])
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            skips.skip("relevant is not a list of urls", f"{path}: query {n}")
            continue
        if graded and not all(isinstance(g, int | float) and not isinstance(g, bool)
                              for g in graded.values()):
            skips.skip("relevance grade not a number", f"{path}: query {n}")
            continue
        ids = [i for i in index.ids_of_urls(urls) if i is not None]
        if not ids and not graded:
            skips.skip("no relevant url in the index", f"{path}: query {n}")
            continue
        texts.append(q.strip())
        relevant.append(np.array(ids, dtype=np.int64))
        grades.append({str(u): float(g) for u, g in graded.items()} if graded else {})
        langs.append(str(obj.get("language", "")))
    if not texts:
        raise InputError(f"{path}: no usable queries ({skips.summary()})")
    has_grades = any(grades)
    return QuerySet(texts, relevant, grades if has_grades else [], langs, source=str(path),
                    skips=skips)


def _annotation_queries(path: Path, index: Index) -> QuerySet:
    """CodeSearchNet's annotationStore.csv: one query per (query, language), graded urls."""
    grouped: dict[tuple[str, str], dict[str, float]] = {}
    skips = SkipReport()
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        needed = {"Language", "Query", "GitHubUrl", "Relevance"}
        if not reader.fieldnames or not needed <= set(reader.fieldnames):
            raise InputError(f"{path}: expected columns {sorted(needed)}, got {reader.fieldnames}")
        for n, row in enumerate(reader, 2):
            try:
                grade = float(row["Relevance"])
            except (TypeError, ValueError):
                skips.skip("relevance not a number", f"{path}:{n}")
                continue
            key = (row["Query"].strip(), row["Language"].strip().lower())
            grouped.setdefault(key, {})[row["GitHubUrl"].strip()] = grade
    texts, relevant, grades, langs = [], [], [], []
    for (q, lang), g in grouped.items():
        ids = [i for i in index.ids_of_urls(list(g)) if i is not None]
        texts.append(q)
        relevant.append(np.array(ids, dtype=np.int64))
        grades.append(g)
        langs.append(lang)
    return QuerySet(texts, relevant, grades, langs, source=str(path), skips=skips)
