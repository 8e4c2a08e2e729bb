"""The keyword index: BM25 over identifiers, names and docstrings (SQLite FTS5).

Embeddings miss exact names: "HTTPConnection.request" finds functions *about* HTTP
connections before the one called `request`. The keyword index keeps every
identifier whole (`parse_qsl`, `httpconnection.request`) and split into its
camelCase/snake_case parts (`parse`, `qsl`), in three columns weighted at query time:
the function's name, its docstring, and the identifiers of its code.

FTS5 won over `bm25s` on this job (benchmarks/results/hybrid.md: build and query
time side by side), and its per-column weights let one index serve both with and
without docstrings. The index is derived from the metadata store; it is built on
first use and kept in `INDEX/.cache/` (keyed by the generation's record digest) when
the index folder is writable, else in memory.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seekcode.corpus.tokens import split_identifier

# Identifiers, dotted names kept together (`os.path.join`, `HTTPConnection.request`).
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# English glue words and Python keywords: they match everything and say nothing.
_STOP = """
a an and are as at be by can do does for from has have if in into is it its of on or
that the their then there these this to was were will with without when where
who how what not no yes all any each other than so such via up out over under
def return self cls none true false pass else elif try except finally raise import
class lambda yield while break continue global nonlocal del assert async await
"""
STOPWORDS = frozenset(_STOP.split())
COLUMNS = ("name", "doc", "code")


@dataclass(frozen=True)
class Weights:
    """BM25 weight of each column; `doc=0` ignores docstrings (for docstring-as-query sets)."""

    name: float = 3.0
    doc: float = 1.0
    code: float = 1.0


def terms(text: str) -> list[str]:
    """Keyword terms of `text`: each identifier whole (lower-cased), each part of a
    dotted name whole, and the camelCase/snake_case pieces of each, stopwords dropped."""
    out: list[str] = []
    for word in _NAME.findall(text):
        parts = word.split(".")
        if len(parts) > 1:
            out.append(word.lower())
        for part in parts:
            low = part.lower().strip("_")
            if len(low) > 1 and low not in STOPWORDS:
                out.append(low)
            pieces = [p for p in split_identifier(part) if len(p) > 1 and p not in STOPWORDS]
            if len(pieces) > 1:
                out.extend(pieces)
    return out


def _row(rec: dict) -> tuple[str, str, str]:  # type: ignore[type-arg]
    return (" ".join(terms(str(rec.get("func_name", "")))),
            " ".join(terms(str(rec.get("docstring", "")))),
            " ".join(terms(str(rec.get("code", "")))))


class KeywordIndex:
    """BM25 scores of every record for a text query. Row ids are the index's row ids."""

    def __init__(self, db: sqlite3.Connection, count: int):
        self._db = db
        self.count = count
        self._lock = threading.Lock()  # one connection, shared by a server's threads

    @classmethod
    def build(cls, meta: Path, count: int, path: Path | None = None) -> KeywordIndex:
        """Build from the metadata store `meta`, into `path` (atomically) or memory."""
        import json

        target = ":memory:"
        tmp = None
        if path is not None:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
            os.close(fd)
            target = tmp
        db = sqlite3.connect(target, check_same_thread=False)
        db.execute("DROP TABLE IF EXISTS kw")
        db.execute(f"CREATE VIRTUAL TABLE kw USING fts5({', '.join(COLUMNS)}, "
                   "tokenize = \"unicode61 tokenchars '._'\")")
        src = sqlite3.connect(meta.as_uri() + "?mode=ro", uri=True)
        try:
            rows = src.execute("SELECT id, record FROM records ORDER BY id")
            db.executemany("INSERT INTO kw (rowid, name, doc, code) VALUES (?, ?, ?, ?)",
                           ((rid, *_row(json.loads(raw))) for rid, raw in rows))
        finally:
            src.close()
        db.commit()
        if path is not None and tmp is not None:
            db.close()
            os.replace(tmp, path)
            db = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True, check_same_thread=False)
        return cls(db, count)

    @classmethod
    def of(cls, meta: Path, manifest: Any, cache_dir: Path | None) -> KeywordIndex:
        """The keyword index of a generation (its metadata store and manifest): read from
        `cache_dir` if built before, else built now (kept there when it is writable)."""
        count = int(manifest["count"])
        if cache_dir is None:
            return cls.build(meta, count)
        digest = str(manifest.get("records_sha256", ""))[:16] or meta.parent.name
        cache = cache_dir / f"keyword-{digest}.sqlite"
        if cache.exists():
            try:
                db = sqlite3.connect(cache.as_uri() + "?mode=ro", uri=True,
                                     check_same_thread=False)
                (n,) = db.execute("SELECT count(*) FROM kw").fetchone()
                if n == count:
                    return cls(db, count)
                db.close()
            except sqlite3.Error:
                pass
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            return cls.build(meta, count, cache)
        except OSError:  # a read-only index folder: keep it in memory
            return cls.build(meta, count)

    def scores(self, query: str, weights: Weights | None = None) -> np.ndarray:
        """(count,) float32 BM25 scores, 0 for records sharing no term with the query."""
        weights = weights or Weights()
        out = np.zeros(self.count, dtype=np.float32)
        unique = list(dict.fromkeys(terms(query)))
        if not unique:
            return out
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in unique)
        sql = ("SELECT rowid, -bm25(kw, ?, ?, ?) FROM kw WHERE kw MATCH ?")
        with self._lock:
            rows = self._db.execute(sql, (weights.name, weights.doc, weights.code, match)
                                    ).fetchall()
        if rows:
            ids, vals = zip(*rows, strict=True)
            out[np.fromiter(ids, np.int64, len(ids))] = np.fromiter(vals, np.float32, len(vals))
        return out

    def close(self) -> None:
        self._db.close()
