"""Vectors encoded by a build that has not finished yet, so a re-run resumes."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# SQLite's limit on `?` parameters is 32766 in current versions; stay well under.
_LOOKUP = 500


class VectorCache:
    """(content hash -> vector) pairs of one encoder id, in `.cache/<key>/vectors.sqlite`.

    Looked up by hash a batch at a time, so a resumed build of millions of records
    does not load the cache into memory. Each `append` is one committed transaction
    (WAL): a build killed at any point keeps every chunk it finished, and never a
    half-written one.
    """

    def __init__(self, root: Path, encoder_id: str):
        key = hashlib.sha1(encoder_id.encode()).hexdigest()[:16]
        self.dir = root / ".cache" / key
        self.path = self.dir / "vectors.sqlite"
        self._db: sqlite3.Connection | None = None

    def _conn(self, create: bool) -> sqlite3.Connection | None:
        if self._db is None:
            if not create and not self.path.exists():
                return None
            self.dir.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")  # survives a killed process
            db.execute("CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, vector BLOB)")
            self._db = db
        return self._db

    def get(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among `hashes`."""
        db = self._conn(create=False)
        found: dict[str, np.ndarray] = {}
        if db is None:
            return found
        for start in range(0, len(hashes), _LOOKUP):
            part = list(hashes[start : start + _LOOKUP])
            q = f"SELECT hash, vector FROM vectors WHERE hash IN ({','.join('?' * len(part))})"
            for h, blob in db.execute(q, part):
                found[h] = np.frombuffer(blob, dtype=np.float32)
        return found

    def append(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        db = self._conn(create=True)
        assert db is not None
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with db:  # one transaction per chunk
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                           ((h, v.tobytes()) for h, v in zip(hashes, vectors, strict=True)))

    def count(self) -> int:
        """Vectors in the cache (another process may be adding to it)."""
        db = self._conn(create=False)
        return 0 if db is None else int(db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def clear(self) -> None:
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)
