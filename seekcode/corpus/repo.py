"""Every function of a source folder or git checkout, the way a person's own repo is indexed.

Unlike a training corpus, nothing is filtered on documentation: most real functions
have none, and people search for them all the same. The files read are exactly the
ones `seekcode corpus DIR` reads (one walker, `corpus.walk`, with its rules and skip
reasons), test folders and files included.

With an ExtractionCache file, an update parses only files whose size or mtime changed.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sqlite3
import sys
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from seekcode.corpus.build import extract_file, to_record
from seekcode.corpus.extract import Extractor, extractor_for
from seekcode.corpus.record import Record
from seekcode.corpus.skips import SkipReport
from seekcode.corpus.sources import (
    DEFAULT_MAX_FILE_BYTES,
    SourceFile,
    SourceOptions,
    folder_entries,
)
from seekcode.corpus.walk import Entry
from seekcode.errors import InputError


def index_options(max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> SourceOptions:
    """How `seekcode index DIR` reads a folder: the corpus walk, tests included."""
    return SourceOptions(max_file_bytes=max_file_bytes, include_tests=True)


def iter_repo_records(
    root: Path,
    skips: SkipReport,
    progress: bool = True,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    cache: Path | None = None,
) -> Iterator[Record]:
    """Records of every function in the source folder `root`, in a stable order.

    `repo` is the project (the folder's name, see `folder_entries`), `path` is relative
    to `root`, and `url` is `file://<absolute path>#L<start>-L<end>`, the record's id
    across index updates. Skipped folders and files are counted in `skips` with a
    reason. With `cache` (a file, e.g. `INDEX/.cache/files.sqlite`), files whose size
    and mtime are unchanged since the last walk are not read or parsed again.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise InputError(f"{root}: not a folder")
    options = index_options(max_file_bytes)
    store = ExtractionCache(cache) if cache is not None else None
    files: Iterator[tuple[str, Entry]] = folder_entries(root, options, skips)
    bar = None
    if progress:
        from tqdm import tqdm

        # disable=None: no bar when stderr is not a terminal (CI logs stay readable).
        bar = tqdm(files, desc="reading", unit=" files", file=sys.stderr, disable=None)
        files = iter(bar)
    n = 0
    try:
        for repo, entry in files:
            extractor = extractor_for(entry.name)
            if extractor is None:  # the walk yields supported languages only
                continue
            records = store.get(entry, extractor) if store is not None else None
            if records is None:
                records = _extract(repo, entry, extractor, options, skips)
                if records is None:
                    continue
                if store is not None:
                    store.put(entry, extractor, records)
            n += len(records)
            yield from records
            if bar is not None:
                bar.set_postfix(functions=n, refresh=False)
        if store is not None:
            store.forget_others()  # deleted and newly skipped files
    finally:
        if bar is not None:
            bar.close()
        if store is not None:
            store.close()


def _extract(
    repo: str, entry: Entry, extractor: Extractor, options: SourceOptions, skips: SkipReport
) -> list[Record] | None:
    """The file's records, or None after counting why it was skipped."""
    data = entry.read(options.max_file_bytes, skips)
    if data is None:
        return None
    src = SourceFile(repo, entry.rel, entry.url_base, data, entry.where)
    functions = extract_file(src, extractor, skips)
    if functions is None:
        return None
    return [to_record(src, fn) for fn in functions]


class ExtractionCache:
    """Each file's records, keyed by (file url, size, mtime, extractor version).

    Parsing is most of an update's time when few files changed (5 of 8 s for
    matplotlib's 9,000 functions), so unchanged files are not parsed again. An entry
    is written only for a file last modified over `RACY_S` ago: a file written twice
    within one mtime tick with the same size would otherwise look unchanged.
    """

    RACY_S = 2.0

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS files (url TEXT PRIMARY KEY, size INTEGER, "
            "mtime_ns INTEGER, extractor TEXT, records TEXT)"
        )
        self.seen: set[str] = set()
        self._racy_after = time.time_ns() - int(self.RACY_S * 1e9)

    def get(self, c: Entry, extractor: Extractor) -> list[Record] | None:
        self.seen.add(c.url_base)
        row = self.db.execute(
            "SELECT records FROM files WHERE url = ? AND size = ? AND mtime_ns = ? AND extractor = ?",
            (c.url_base, c.size, c.mtime_ns, _extractor_version(type(extractor))),
        ).fetchone()
        if row is None:
            return None
        try:
            return [Record.from_dict(d) for d in json.loads(row[0])]
        except (ValueError, TypeError):
            return None  # an entry from another record layout: parse again

    def put(self, c: Entry, extractor: Extractor, records: list[Record]) -> None:
        if c.mtime_ns >= self._racy_after:
            return
        self.db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
            (c.url_base, c.size, c.mtime_ns, _extractor_version(type(extractor)),
             json.dumps([r.to_dict() for r in records], ensure_ascii=False)),
        )

    def forget_others(self) -> None:
        """Drop entries of files this walk did not see (deleted, now ignored, other roots)."""
        known = [u for (u,) in self.db.execute("SELECT url FROM files")]
        gone = [(u,) for u in known if u not in self.seen]
        self.db.executemany("DELETE FROM files WHERE url = ?", gone)

    def close(self) -> None:
        self.db.commit()
        self.db.close()


@cache
def _extractor_version(kind: type) -> str:
    """Changes whenever the extractor's module or the record code does: entries go stale."""
    h = hashlib.sha1()
    for obj in (kind, Record, to_record):
        try:
            h.update(inspect.getsource(inspect.getmodule(obj)).encode())  # type: ignore[arg-type]
        except (OSError, TypeError):
            h.update(repr(obj).encode())
    return h.hexdigest()[:16]
