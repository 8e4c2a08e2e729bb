"""The keyword index: BM25 over identifiers, names and docstrings (`bm25s`).

Embeddings miss exact names: "HTTPConnection.request" finds functions *about* HTTP
connections before the one called `request`. The keyword index keeps every
identifier whole (`parse_qsl`, `httpconnection.request`) and split into its
camelCase/snake_case parts (`parse`, `qsl`), from three fields of each function:
its name (counted `Weights.name` times), its docstring and the identifiers of its code.

bm25s won over SQLite FTS5 for this job: hybrid ranking scores every record, and
bm25s does that from a sparse matrix in well under a millisecond where FTS5 took
1.5-30 ms per query, for the same scores (correlation 0.999) and a similar build
time (benchmarks/results/hybrid.md). The index is derived from the metadata store;
it is built on first use and kept in `INDEX/.cache/` (keyed by the generation's
record digest and the weights) when the index folder is writable, else in memory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seekcode.corpus.tokens import split_identifier
from seekcode.index import files

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
    """How many times each field's terms count; `doc=0` leaves docstrings out (for
    query sets whose queries are the docstrings)."""

    name: int = 3
    doc: int = 1
    code: int = 1

    @property
    def key(self) -> str:
        return f"n{self.name}d{self.doc}c{self.code}"


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


def record_terms(rec: dict[str, Any], weights: Weights) -> list[str]:
    return (terms(str(rec.get("func_name", ""))) * weights.name
            + terms(str(rec.get("docstring", ""))) * weights.doc
            + terms(str(rec.get("code", ""))) * weights.code)


class KeywordIndex:
    """BM25 scores of every record for a text query. Row ids are the index's row ids."""

    def __init__(self, retriever: Any, count: int):
        self._bm25 = retriever
        self._vocab: dict[str, int] = retriever.vocab_dict
        self.count = count

    @classmethod
    def build(cls, meta: Path, count: int, weights: Weights | None = None) -> KeywordIndex:
        """Build from the metadata store `meta`."""
        import bm25s

        weights = weights or Weights()
        src = sqlite3.connect(files.sqlite_uri(meta, read_only=True), uri=True)
        try:
            docs = [record_terms(json.loads(raw), weights)
                    for (raw,) in src.execute("SELECT record FROM records ORDER BY id")]
        finally:
            src.close()
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(t, len(vocab)) for t in d] for d in docs]
        retriever = bm25s.BM25()
        if count:
            retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab),
                            show_progress=False)
        retriever.vocab_dict = vocab
        return cls(retriever, count)

    @classmethod
    def of(cls, meta: Path, manifest: Any, cache_dir: Path | None,
           weights: Weights | None = None) -> KeywordIndex:
        """The keyword index of a generation (its metadata store and manifest): read from
        `cache_dir` if built before, else built now (and kept there when writable)."""
        import bm25s

        weights = weights or Weights()
        count = int(manifest["count"])
        if cache_dir is None or not count:
            return cls.build(meta, count, weights)
        digest = str(manifest.get("records_sha256", ""))[:16] or meta.parent.name
        cache = cache_dir / f"keyword-{digest}-{weights.key}"
        if cache.is_dir():
            try:
                return cls(bm25s.BM25.load(str(cache), load_vocab=True, show_progress=False),
                           count)
            except (OSError, ValueError, KeyError):
                pass  # unreadable: built again below
        index = cls.build(meta, count, weights)
        tmp: Path | None = None
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=cache_dir, prefix=cache.name, suffix=".tmp"))
            index._bm25.save(str(tmp), show_progress=False)
            os.replace(tmp, cache)  # whole or not at all: a reader never sees half
        except OSError:  # a read-only index folder (or a racing writer): keep it in memory
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        return index

    def scores(self, query: str) -> np.ndarray:
        """(count,) float32 BM25 scores, 0 for records sharing no term with the query."""
        known = [t for t in dict.fromkeys(terms(query)) if t in self._vocab]
        if not known or not self.count:
            return np.zeros(self.count, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
