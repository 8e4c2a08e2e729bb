"""The index directory: manifest, SQLite metadata, float vectors, and extensions.

Layout (every build writes a new generation, published by one atomic rename)::

    INDEX/
      current -> gen-000002        # what readers open
      gen-000002/
        manifest.json              # format version, encoder, counts, file checksums
        meta.sqlite                # one row per record; row id = vector row
        vectors.npy                # float32 (n, dim), L2-normalised
        coshc/                     # a searcher's artifacts (here CoSHC's), when built
      .cache/                      # vectors encoded by an unfinished build (resume)
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seekcode.corpus.record import Record
from seekcode.encoders.base import Encoder, encoder_from_spec
from seekcode.index import files, searchers
from seekcode.index.cache import VectorCache
from seekcode.index.search import Hit, Searcher

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
META = "meta.sqlite"
VECTORS = "vectors.npy"
# Below this size every file's checksum is verified on open; above, sizes only
# (`Index.open(..., verify=True)` or `seekcode index --verify` checks everything).
VERIFY_BELOW_BYTES = 256 << 20

_COLUMNS = ("url", "repo", "path", "func_name", "language", "partition", "start_line",
            "end_line", "content_hash", "record")


class IndexError_(Exception):
    """An index that cannot be opened or used as asked; the message names the fix."""


class _QueryBatcher:
    """Encodes concurrent searches' queries together, one encoder call at a time.

    Encoders are not guaranteed to be thread-safe (a HF fast tokenizer raises "Already
    borrowed" when two threads call it at once), so calls are serialised; and while one
    call runs, the queries that arrive wait and then go in one batch, which costs little
    more than one query (flat combining: whoever holds the lock encodes for everyone).
    The vector scan and the metadata reads still run in parallel.
    """

    def __init__(self) -> None:
        self._encoding = threading.Lock()
        self._queue = threading.Lock()
        self._pending: list[tuple[Encoder, str, list[np.ndarray]]] = []

    def encode(self, encoder: Encoder, text: str) -> np.ndarray:
        slot: list[np.ndarray] = []
        with self._queue:
            self._pending.append((encoder, text, slot))
        with self._encoding:
            if slot:  # another thread encoded it with its batch
                return slot[0]
            with self._queue:
                batch = [p for p in self._pending if p[0] is encoder]
                self._pending = [p for p in self._pending if p[0] is not encoder]
            try:
                vectors = encoder.encode_queries([t for _, t, _ in batch], progress=False)
            except BaseException:
                with self._queue:  # let the others retry on their own
                    self._pending.extend(p for p in batch if p[2] is not slot)
                raise
            for (_, _, s), v in zip(batch, vectors, strict=True):
                s.append(v[None, :])
        return slot[0]


_QUERIES = _QueryBatcher()


# Called after the vectors are stored and before the generation is published:
# (generation dir, records, vectors, manifest extras to fill in).
BuildHook = Callable[[Path, Sequence[Record], np.ndarray, dict[str, Any]], None]


class Index:
    """An opened index generation. Opening never changes anything on disk."""

    def __init__(self, root: Path, gen: Path, manifest: dict[str, Any],
                 encoder: Encoder | None = None):
        self.root = root
        self.gen = gen
        self.manifest = manifest
        self._encoder = encoder
        self._vectors: np.ndarray | None = None
        # One sqlite connection per thread: a server searches from a thread pool.
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._searchers: dict[str, Searcher] = {}
        # Guards lazy loading shared by threads; re-entrant because a searcher being
        # built under it loads the vectors, which takes it too.
        self._lock = threading.RLock()

    # ---- opening -------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, encoder: Encoder | None = None,
             verify: bool | None = None) -> Index:
        """Open the current generation of an index directory.

        Raises IndexError_ when the directory is not an index, was written by another
        format version, was built with a different encoder than `encoder`, or has a
        truncated or corrupted file.
        """
        root = Path(path)
        gen = files.current_generation(root)
        if gen is None or not (gen / MANIFEST).exists():
            raise IndexError_(f"{root}: not a seekcode index (build one with `seekcode index`)")
        try:
            manifest = json.loads((gen / MANIFEST).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise IndexError_(f"{gen / MANIFEST}: unreadable manifest ({e}); rebuild the index") from e
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexError_(
                f"{root}: index format version {version}, this seekcode reads version "
                f"{FORMAT_VERSION}; rebuild it with `seekcode index`"
            )
        if encoder is not None and encoder.id != manifest["encoder"]["id"]:
            raise IndexError_(
                f"{root}: built with encoder {manifest['encoder']['id']!r}, asked to search "
                f"with {encoder.id!r}; rebuild the index with this encoder or drop --encoder"
            )
        index = cls(root, gen, manifest, encoder)
        index.check_files(verify)
        return index

    def check_files(self, verify: bool | None = None) -> None:
        table = self.manifest.get("files", {})
        total = sum(int(v["bytes"]) for v in table.values())
        full = verify if verify is not None else total < VERIFY_BELOW_BYTES
        for rel, info in table.items():
            p = self.gen / rel
            if not p.exists():
                raise IndexError_(f"{p}: missing index file; rebuild the index")
            if p.stat().st_size != info["bytes"]:
                raise IndexError_(
                    f"{p}: {p.stat().st_size} bytes, manifest says {info['bytes']} "
                    "(truncated or corrupted); rebuild the index"
                )
            if full and files.sha256_file(p) != info["sha256"]:
                raise IndexError_(f"{p}: checksum mismatch (corrupted); rebuild the index")

    # ---- building ------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        records: Iterable[Record],
        out: str | Path,
        encoder: Encoder,
        progress: bool = True,
        hooks: Sequence[BuildHook] = (),
        extras: dict[str, Any] | None = None,
        chunk: int = 256,
    ) -> tuple[Index, dict[str, int]]:
        """Encode records and publish them as the index's new current generation.

        Vectors of records whose content is unchanged since the previous generation
        (or that an interrupted build already encoded) are reused, not re-encoded;
        when nothing changed at all, the current generation stays as it is.
        Returns the index and counts: records, reused, encoded, duplicate_urls,
        unchanged (1 when no new generation was needed).

        Safe to interrupt at any point: the previous generation stays current, and
        vectors encoded so far are kept in `.cache/` for the next run. Two builds of
        one index directory at once are refused (IndexError_).
        """
        root = Path(out)
        root.mkdir(parents=True, exist_ok=True)
        try:
            with files.build_lock(root):
                return cls._build_locked(records, root, encoder, progress, hooks, extras, chunk)
        except files.BuildLocked as e:
            raise IndexError_(str(e)) from None

    @classmethod
    def _build_locked(
        cls,
        records: Iterable[Record],
        root: Path,
        encoder: Encoder,
        progress: bool,
        hooks: Sequence[BuildHook],
        extras: dict[str, Any] | None,
        chunk: int,
    ) -> tuple[Index, dict[str, int]]:
        recs, dup = _unique_by_url(records)
        stats = {"records": len(recs), "duplicate_urls": dup, "reused": 0, "encoded": 0,
                 "unchanged": 0}
        digest = _records_digest(recs, encoder.id)
        prev = files.current_generation(root)
        cache = VectorCache(root, encoder.id)
        # Hooks that only carry searchers over have nothing to add to an unchanged tree.
        fits = [h for h in hooks if not getattr(h, "carries_over", False)]
        if prev is not None and not fits and _unchanged(prev, digest, extras or {}):
            # Re-running on an unchanged tree publishes nothing: no churn for readers.
            cache.clear()
            stats.update(reused=len(recs), unchanged=1)
            return cls.open(root, encoder, verify=False), stats

        known = cache.load()
        if prev is not None:
            known.update(_previous_vectors(prev, encoder.id))
        for stale in files.abandoned_generations(root):
            import shutil

            shutil.rmtree(stale, ignore_errors=True)

        vectors = np.zeros((len(recs), encoder.dim), dtype=np.float32)
        todo: list[int] = []
        for i, r in enumerate(recs):
            v = known.get(r.content_hash)
            if v is not None:
                vectors[i] = v
            else:
                todo.append(i)
        stats["reused"] = len(recs) - len(todo)
        stats["encoded"] = len(todo)
        from tqdm import tqdm

        with tqdm(total=len(todo), desc="indexing", unit="fn", disable=not progress or not todo) as bar:
            for start in range(0, len(todo), chunk):
                idx = todo[start : start + chunk]
                vecs = encoder.encode_code([recs[i] for i in idx], progress=False)
                vectors[idx] = vecs
                cache.append([recs[i].content_hash for i in idx], vecs)
                bar.update(len(idx))

        gen = files.new_generation(root)
        np.save(gen / VECTORS, vectors)
        _write_meta(gen / META, recs)
        manifest: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "encoder": encoder.spec(),
            "count": len(recs),
            "dim": int(encoder.dim),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "languages": _count_by(recs, "language"),
            "partitions": _count_by(recs, "partition"),
            "extras": dict(extras or {}),
            "records_sha256": digest,
        }
        for hook in hooks:
            hook(gen, recs, vectors, manifest["extras"])
        manifest["searchers"] = searchers.listing(manifest)
        manifest["files"] = files.file_table(gen)
        (gen / MANIFEST).write_text(json.dumps(manifest, indent=2))
        files.publish(root, gen)
        cache.clear()
        return cls.open(root, encoder, verify=False), stats

    def update_extras(self, hook: BuildHook) -> Index:
        """Re-publish the current records and vectors with a new extension (e.g. CoSHC)."""
        try:
            with files.build_lock(self.root):
                return self._update_extras_locked(hook)
        except files.BuildLocked as e:
            raise IndexError_(str(e)) from None

    def _update_extras_locked(self, hook: BuildHook) -> Index:
        import shutil

        gen = files.new_generation(self.root)
        for name in (VECTORS, META):
            shutil.copy2(self.gen / name, gen / name)
        manifest = json.loads(json.dumps(self.manifest))
        recs = list(self.iter_records())
        hook(gen, recs, self.vectors, manifest["extras"])
        manifest["searchers"] = searchers.listing(manifest)
        manifest["files"] = files.file_table(gen)
        (gen / MANIFEST).write_text(json.dumps(manifest, indent=2))
        files.publish(self.root, gen)
        return Index.open(self.root, self._encoder, verify=False)

    # ---- reading -------------------------------------------------------------------
    @property
    def count(self) -> int:
        return int(self.manifest["count"])

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = _encoder_from_spec(self.manifest["encoder"])
        return self._encoder

    @property
    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    self._vectors = np.load(self.gen / VECTORS)
        return self._vectors

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's read-only connection to the metadata store."""
        conn: sqlite3.Connection | None = getattr(self._local, "db", None)
        if conn is None:
            uri = f"file:{self.gen / META}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._local.db = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def iter_records(self, partition: str | None = None) -> Iterator[Record]:
        sql = "SELECT record FROM records"
        args: tuple[Any, ...] = ()
        if partition is not None:
            sql += " WHERE partition = ?"
            args = (partition,)
        for (raw,) in self.db.execute(sql + " ORDER BY id", args):
            yield Record.from_dict(json.loads(raw))

    def ids_for(self, partition: str) -> np.ndarray:
        rows = self.db.execute("SELECT id FROM records WHERE partition = ? ORDER BY id", (partition,))
        return np.array([r[0] for r in rows], dtype=np.int64)

    def ids_of_urls(self, urls: Sequence[str]) -> list[int | None]:
        out: list[int | None] = []
        for url in urls:
            row = self.db.execute("SELECT id FROM records WHERE url = ?", (url,)).fetchone()
            out.append(None if row is None else int(row[0]))
        return out

    def records_at(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """Metadata rows (with `code`) for row ids, in the order given."""
        wanted = [int(i) for i in ids if i >= 0]
        rows: dict[int, dict[str, Any]] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            q = f"SELECT id, record FROM records WHERE id IN ({','.join('?' * len(part))})"
            for rid, raw in self.db.execute(q, part):
                rows[rid] = json.loads(raw)
        return [rows[i] for i in wanted if i in rows]

    def filter_ids(self, lang: str | None = None, path: str | None = None) -> np.ndarray | None:
        """Row ids passing `--lang` and `--path GLOB`, or None when there is no filter."""
        if not lang and not path:
            return None
        clauses, args = [], []
        if lang:
            clauses.append("language = ?")
            args.append(lang.lower())
        rows = self.db.execute(
            "SELECT id, path FROM records" + (" WHERE " + " AND ".join(clauses) if clauses else ""),
            args,
        )
        pattern = path.replace("**/", "*") if path else None
        ids = [rid for rid, p in rows
               if pattern is None or fnmatch.fnmatchcase(p, pattern)
               or fnmatch.fnmatchcase(p, "*/" + pattern)]
        return np.array(ids, dtype=np.int64)

    def languages(self) -> list[str]:
        return sorted(self.manifest.get("languages", {}))

    # ---- searching -----------------------------------------------------------------
    @property
    def artifacts(self) -> searchers.Artifacts:
        """This generation as searchers see it: folder, manifest, vectors."""
        return searchers.Artifacts(self.gen, self.manifest, lambda: self.vectors)

    def carry_over_hooks(self) -> list[BuildHook]:
        """Build hooks that give the next generation this one's searchers (see
        `searchers.carry_over`)."""
        return searchers.carry_over(self.artifacts)

    def searcher_names(self) -> list[str]:
        """The searchers this generation has, from its manifest (`exact` first)."""
        return searchers.available(self.manifest)[0]

    @property
    def default_searcher(self) -> str:
        return searchers.available(self.manifest)[1]

    def searcher(self, name: str | None = None) -> Searcher:
        """The searcher `name` (default: the manifest's default), built once per generation.

        IndexError_ when no searcher of that name is registered or this index lacks it.
        """
        name = name or self.default_searcher
        if name not in self._searchers:
            self._check_searcher(name)
            with self._lock:
                if name not in self._searchers:
                    self._searchers[name] = searchers.open_searcher(name, self.artifacts)
        return self._searchers[name]

    def _check_searcher(self, name: str) -> None:
        have = self.searcher_names()
        if name in have:
            return
        entry = searchers.REGISTRY.get(name)
        if entry is None:
            raise IndexError_(f"searcher {name!r}: no such searcher "
                              f"(registered: {', '.join(searchers.REGISTRY)})")
        how = f"; build it with {entry.how_to_build}" if entry.how_to_build else ""
        raise IndexError_(f"{self.root}: no {name!r} searcher in this index "
                          f"(it has: {', '.join(have)}){how}")

    def search(self, query: str, k: int = 10, lang: str | None = None,
               path: str | None = None, searcher: str | None = None) -> list[Hit]:
        """Find the k functions that best match a plain-English description."""
        method = self.searcher(searcher)  # an unknown name fails before the encoder runs
        q = _QUERIES.encode(self.encoder, query)
        allowed = self.filter_ids(lang, path)
        if allowed is not None and allowed.size == 0:
            return []
        scores, ids = method.search(q, k, allowed)
        return self.hits(scores[0], ids[0])

    def hits(self, scores: np.ndarray, ids: np.ndarray) -> list[Hit]:
        valid = [(float(s), int(i)) for s, i in zip(scores, ids, strict=True) if i >= 0]
        meta = self.records_at([i for _, i in valid])
        return [
            Hit(rank=n, score=s, url=m["url"], path=m.get("path", ""),
                start_line=int(m.get("start_line", 0)), end_line=int(m.get("end_line", 0)),
                func_name=m.get("func_name", ""), language=m.get("language", ""),
                repo=m.get("repo", ""), code=m.get("original_string") or m["code"])
            for n, ((s, _), m) in enumerate(zip(valid, meta, strict=True), 1)
        ]

    def close(self) -> None:
        with self._lock:
            conns, self._connections = self._connections, []
        for conn in conns:
            conn.close()
        self._local = threading.local()


def _encoder_from_spec(spec: dict[str, Any]) -> Encoder:
    try:
        encoder = encoder_from_spec(spec)
    except (OSError, ValueError) as e:
        raise IndexError_(f"cannot reopen the index's encoder {spec.get('id')!r}: {e}") from e
    if encoder.id != spec["id"]:
        raise IndexError_(
            f"index was built with encoder {spec['id']!r} but {spec.get('path') or spec['type']} "
            f"is now {encoder.id!r}; rebuild the index"
        )
    return encoder


def _unique_by_url(records: Iterable[Record]) -> tuple[list[Record], int]:
    seen: set[str] = set()
    out: list[Record] = []
    dup = 0
    for r in records:
        if r.url in seen:
            dup += 1
            continue
        seen.add(r.url)
        out.append(r)
    return out, dup


def _count_by(recs: Sequence[Record], attr: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in recs:
        key = getattr(r, attr) or ""
        counts[key] = counts.get(key, 0) + 1
    return counts


def _write_meta(path: Path, recs: Sequence[Record]) -> None:
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE records (id INTEGER PRIMARY KEY, url TEXT UNIQUE, repo TEXT, path TEXT, "
        "func_name TEXT, language TEXT, partition TEXT, start_line INTEGER, end_line INTEGER, "
        "content_hash TEXT, record TEXT)"
    )
    db.executemany(
        f"INSERT INTO records (id, {', '.join(_COLUMNS)}) VALUES (?{', ?' * len(_COLUMNS)})",
        ((i, r.url, r.repo, r.path, r.func_name, r.language.lower(), r.partition, r.start_line,
          r.end_line, r.content_hash, r.to_json()) for i, r in enumerate(recs)),
    )
    db.execute("CREATE INDEX by_language ON records(language)")
    db.execute("CREATE INDEX by_partition ON records(partition)")
    db.execute("CREATE INDEX by_hash ON records(content_hash)")
    db.commit()
    db.close()


def _records_digest(recs: Sequence[Record], encoder_id: str) -> str:
    """One hash of everything a generation stores about its records, in order."""
    h = hashlib.sha256(encoder_id.encode())
    for r in recs:
        h.update(r.to_json().encode("utf-8", "replace"))
        h.update(b"\n")
    return h.hexdigest()


def _unchanged(gen: Path, digest: str, extras: dict[str, Any]) -> bool:
    """Whether generation `gen` already holds exactly these records and extras."""
    try:
        manifest = json.loads((gen / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("format_version") != FORMAT_VERSION or manifest.get("records_sha256") != digest:
        return False
    have = manifest.get("extras", {})
    return all(have.get(k) == v for k, v in extras.items())


def _previous_vectors(gen: Path, encoder_id: str) -> dict[str, np.ndarray]:
    """content_hash -> vector from the previous generation, when the encoder is the same."""
    try:
        manifest = json.loads((gen / MANIFEST).read_text())
        if manifest["encoder"]["id"] != encoder_id:
            return {}
        vectors = np.load(gen / VECTORS, mmap_mode="r")
        db = sqlite3.connect(f"file:{gen / META}?mode=ro", uri=True)
        rows = db.execute("SELECT id, content_hash FROM records").fetchall()
        db.close()
    except (OSError, KeyError, ValueError, sqlite3.Error):
        return {}
    return {h: np.asarray(vectors[i]) for i, h in rows}
