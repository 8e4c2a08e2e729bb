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

import contextlib
import fnmatch
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np

from seekcode.corpus.record import Record
from seekcode.encoders.base import Encoder, encoder_from_spec
from seekcode.errors import InputError
from seekcode.index import files, searchers
from seekcode.index.cache import VectorCache
from seekcode.index.search import Hit, Searcher, search_top_k

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
META = "meta.sqlite"
VECTORS = "vectors.npy"
# Below this size every file's checksum is verified on open; above, sizes only
# (`Index.open(..., verify=True)` or `seekcode index --verify` checks everything).
VERIFY_BELOW_BYTES = 256 << 20

_COLUMNS = ("url", "repo", "path", "func_name", "language", "partition", "start_line",
            "end_line", "content_hash", "record")
# Rows a build handles at once: the bound on its memory, whatever the corpus size.
_VECTOR_BATCH = 4096
_ROWS_PER_COMMIT = 20_000


class IndexError_(InputError):
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
        if encoder.thread_safe:
            # ONNX Runtime sessions run concurrent calls in parallel: at concurrency 16
            # that doubled query throughput over batching on one thread
            # (benchmarks/results/runtime.md).
            return encoder.encode_queries([text], progress=False)
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
# (generation dir, records, vectors, manifest extras to fill in). The records are a
# read-only sequence over the generation's SQLite and the vectors a read-only memmap.
BuildHook = Callable[[Path, Sequence[Record], np.ndarray, dict[str, Any]], None]


class ManifestView:
    """What a local index and a Milvus export of it both answer from their manifest:
    the record count, the languages and the encoder that built the vectors."""

    manifest: dict[str, Any]
    _encoder: Encoder | None

    @property
    def count(self) -> int:
        return int(self.manifest["count"])

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = encoder_of(self.manifest["encoder"])
        return self._encoder

    def languages(self) -> list[str]:
        return sorted(self.manifest.get("languages", {}))


class Index(ManifestView):
    """An opened index generation. Opening never changes anything on disk."""

    def __init__(self, root: Path, gen: Path, manifest: dict[str, Any],
                 encoder: Encoder | None = None, lease: files.Lease | None = None):
        self.root = root
        self.gen = gen
        self.manifest = manifest
        self._encoder = encoder
        self._vectors: np.ndarray | None = None
        # One sqlite connection per thread: a server searches from a thread pool.
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._searchers: dict[str, Searcher] = {}
        self._ranker: Any = None  # keyword/hybrid ranking (index.hybrid.Ranker), on first use
        # Guards lazy loading shared by threads; re-entrant because a searcher being
        # built under it loads the vectors, which takes it too.
        self._lock = threading.RLock()
        self._lease = lease if lease is not None else files.Lease(gen)

    # ---- opening -------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, encoder: Encoder | None = None,
             verify: bool | None = None) -> Index:
        """Open the current generation of an index directory.

        Raises IndexError_ when the directory is not an index, was written by another
        format version, was built with a different encoder than `encoder`, or has a
        missing, unlisted, truncated or corrupted file. The opened generation is leased:
        no publish deletes it until `close()` (or until the Index is garbage-collected).
        """
        root = Path(path)
        gen, lease = _lease_current(root)
        try:
            manifest = _read_manifest(gen / MANIFEST)
            version = manifest.get("format_version")
            if version != FORMAT_VERSION:
                raise IndexError_(
                    f"{root}: index format version {version}, this seekcode reads version "
                    f"{FORMAT_VERSION}; rebuild it with `seekcode index`"
                )
            _check_manifest(manifest, gen / MANIFEST)
            if encoder is not None and encoder.id != manifest["encoder"]["id"]:
                raise IndexError_(
                    f"{root}: built with encoder {manifest['encoder']['id']!r}, asked to search "
                    f"with {encoder.id!r}; rebuild the index with this encoder or drop --encoder"
                )
            index = cls(root, gen, manifest, encoder, lease)
            index.check_files(verify)
        except BaseException:
            lease.release()
            raise
        return index

    def check_files(self, verify: bool | None = None) -> None:
        """Every file of the generation is listed in the manifest and matches it.

        The manifest cannot vouch for itself: vectors and metadata must be listed, and
        so must every file on disk, so emptying or trimming `files` is an error, not a
        way to switch the checks off.
        """
        table: dict[str, dict[str, Any]] = self.manifest["files"]
        try:
            on_disk = {p.relative_to(self.gen).as_posix() for p in self.gen.rglob("*")
                       if p.is_file() and p.name not in (MANIFEST, files.MARKER)}
        except OSError as e:
            raise IndexError_(f"{self.gen}: unreadable index folder ({e.strerror}); "
                              "rebuild the index") from None
        unlisted = sorted(({VECTORS, META} | on_disk) - set(table))
        if unlisted:
            raise IndexError_(f"{self.gen / MANIFEST}: no checksum for {unlisted[0]} (the "
                              "manifest was edited or is corrupted); rebuild the index")
        total = sum(info["bytes"] for info in table.values())
        full = verify if verify is not None else total < VERIFY_BELOW_BYTES
        for rel, info in table.items():
            p = self.gen / rel
            try:
                size = p.stat().st_size if p.is_file() else None
                if size is None:
                    raise IndexError_(f"{p}: missing index file; rebuild the index")
                if size != info["bytes"]:
                    raise IndexError_(
                        f"{p}: {size} bytes, manifest says {info['bytes']} "
                        "(truncated or corrupted); rebuild the index"
                    )
                if full and files.sha256_file(p) != info["sha256"]:
                    raise IndexError_(f"{p}: checksum mismatch (corrupted); rebuild the index")
            except OSError as e:
                raise IndexError_(f"{p}: unreadable index file ({e.strerror}); "
                                  "rebuild the index") from None

    def alive(self) -> bool:
        """Whether this generation is still on disk (False if someone deleted it)."""
        return self._lease.alive()

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

        `records` may be any iterable, read once and never held: memory stays bounded
        however many there are (`benchmarks/results/build-memory.md`). A later record
        with an already seen url is dropped (counted as duplicate_urls). Vectors of records whose content is unchanged since the previous generation
        (or that an interrupted build already encoded) are reused, not re-encoded;
        when nothing changed at all, the current generation stays as it is.
        Returns the index and counts: records, reused, encoded, duplicate_urls,
        unchanged (1 when no new generation was needed).

        Safe to interrupt at any point: the previous generation stays current, and
        vectors encoded so far are kept in `.cache/` for the next run. Two builds of
        one index directory at once are refused (IndexError_).
        """
        root = Path(out)
        try:
            with files.build_lock(root):  # makes the folder (refusing one that is not an index)
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
        # Streamed in bounded chunks: records go to SQLite as they come (duplicate
        # urls caught by its UNIQUE index, the digest hashed on the way), then vectors
        # are written batch by batch into a preallocated vectors.npy. Memory does not
        # grow with the corpus; only a search loads all vectors.
        import shutil

        prev = _intact_current(root)  # a corrupted one is neither "unchanged" nor reused
        for stale in files.abandoned_generations(root):
            shutil.rmtree(stale, ignore_errors=True)
        gen = files.new_generation(root)
        published = False
        try:
            meta = _write_meta(gen / META, records, encoder.id)
            stats = {"records": meta.count, "duplicate_urls": meta.duplicate_urls, "reused": 0,
                     "encoded": 0, "unchanged": 0}
            cache = VectorCache(root, encoder.id)
            # Hooks that only carry searchers over have nothing to add to an unchanged tree.
            fits = [h for h in hooks if not getattr(h, "carries_over", False)]
            if prev is not None and not fits and _unchanged(prev, meta.digest, extras or {}):
                # Re-running on an unchanged tree publishes nothing: no churn for readers.
                shutil.rmtree(gen, ignore_errors=True)
                cache.clear()
                stats.update(reused=meta.count, unchanged=1)
                return cls.open(root, encoder, verify=False), stats

            reused, encoded = _write_vectors(gen, meta.count, prev, encoder, cache, progress, chunk)
            stats.update(reused=reused, encoded=encoded)
            manifest: dict[str, Any] = {
                "format_version": FORMAT_VERSION,
                "encoder": encoder.spec(),
                "count": meta.count,
                "dim": int(encoder.dim),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "languages": meta.languages,
                "partitions": meta.partitions,
                "extras": dict(extras or {}),
                "records_sha256": meta.digest,
            }
            _run_hooks(gen, hooks, manifest["extras"])
            manifest["searchers"] = searchers.listing(manifest)
            manifest["files"] = files.file_table(gen)
            (gen / MANIFEST).write_text(json.dumps(manifest, indent=2))
            files.publish(root, gen)
            published = True
            cache.clear()
            return cls.open(root, encoder, verify=False), stats
        except BaseException:
            if not published:
                # Ours and unpublished: nobody reads it, and the vectors encoded so far
                # are in the resume cache.
                shutil.rmtree(gen, ignore_errors=True)
            raise

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
        _run_hooks(gen, [hook], manifest["extras"])
        manifest["searchers"] = searchers.listing(manifest)
        manifest["files"] = files.file_table(gen)
        (gen / MANIFEST).write_text(json.dumps(manifest, indent=2))
        files.publish(self.root, gen)
        return Index.open(self.root, self._encoder, verify=False)

    # ---- reading -------------------------------------------------------------------
    @property
    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    self._vectors = _load_vectors(self.gen / VECTORS, self.count,
                                                  int(self.manifest["dim"]))
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
        match = path_matcher(path) if path else None
        ids = [rid for rid, p in rows if match is None or match(p)]
        return np.array(ids, dtype=np.int64)

    @property
    def source_folder(self) -> Path | None:
        """The source folder the index was built from (extras `source`), None for a corpus
        file or a folder that is gone."""
        source = self.manifest.get("extras", {}).get("source")
        return Path(source) if source and Path(source).is_dir() else None

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
               path: str | None = None, searcher: str | None = None,
               mode: str = "semantic") -> list[Hit]:
        """Find the k functions that best match a plain-English description.

        `mode` "keyword" or "hybrid" also ranks by the query's words and identifiers
        (seekcode.index.hybrid); those score every record, so they take no `searcher`.
        """
        if mode != "semantic":
            return self._ranked(mode, query, k, lang, path, searcher)
        method = self.searcher(searcher)  # an unknown name fails before the encoder runs
        q = _QUERIES.encode(self.encoder, query)
        allowed = self.filter_ids(lang, path)
        if allowed is not None and allowed.size == 0:
            return []
        scores, ids = search_top_k(method, q, k, allowed)
        return self.hits(scores[0], ids[0])

    def _ranked(self, mode: str, query: str, k: int, lang: str | None, path: str | None,
                searcher: str | None) -> list[Hit]:
        from seekcode.index.hybrid import check_mode

        check_mode(mode)
        if searcher not in (None, "exact"):
            raise InputError(f"mode {mode} scores every record; it takes no searcher "
                             f"({searcher!r}): drop the searcher or use mode semantic")
        with self._lock:
            if self._ranker is None:
                self._ranker = self.ranker()
        allowed = self.filter_ids(lang, path)
        if allowed is not None and allowed.size == 0:
            return []
        qvec = _QUERIES.encode(self.encoder, query) if mode == "hybrid" else None
        scores, ids = self._ranker.search(mode, query, k, allowed, qvec)
        return self.hits(scores, ids)

    def ranker(self, weights: Any = None) -> Any:
        """Keyword and hybrid ranking of this generation (an `index.hybrid.Ranker`; its
        keyword index is kept in `INDEX/.cache/`). `weights`: keyword column weights."""
        from seekcode.index.hybrid import Ranker

        return Ranker(self.artifacts, self.gen / META, self.root / ".cache", weights=weights)

    def hits(self, scores: np.ndarray, ids: np.ndarray) -> list[Hit]:
        # A non-finite score ranks nothing (and is not JSON): such rows are left out.
        valid = [(float(s), int(i)) for s, i in zip(scores, ids, strict=True)
                 if i >= 0 and np.isfinite(s)]
        meta = self.records_at([i for _, i in valid])
        return [
            Hit(rank=n, score=s, url=m["url"], path=m.get("path", ""),
                start_line=_line_number(m.get("start_line")),
                end_line=_line_number(m.get("end_line")),
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
        self._lease.release()


def _line_number(value: Any) -> int:
    # Records are validated when read, but an index built before that may hold anything.
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _intact_current(root: Path) -> Path | None:
    """The current generation if it passes a reader's checks (see `Index.open`), else None.

    A build that trusted a corrupted generation would call it unchanged (publishing
    nothing, so rebuilding would never repair it) or copy its vectors forward.
    """
    try:
        index = Index.open(root)
    except IndexError_:
        return None
    index.close()
    return index.gen


def _lease_current(root: Path) -> tuple[Path, files.Lease]:
    """The current generation, leased. A publish may delete an old generation between
    reading `current` and taking the lease; then `current` has moved on: read it again."""
    for _ in range(5):
        try:
            gen = files.resolve_current(root)
        except files.NotAnIndexDir as e:
            raise IndexError_(str(e)) from None
        lease = files.Lease(gen)
        if lease.held or (gen.is_dir() and not (gen / files.MARKER).exists()):
            break  # leased, or made before generations had markers
    if not (gen / MANIFEST).is_file():
        lease.release()
        raise IndexError_(f"{root}: not a seekcode index (build one with `seekcode index`)")
    return gen, lease


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        raise IndexError_(f"{path}: unreadable manifest ({e}); rebuild the index") from None
    if not isinstance(manifest, dict):
        raise IndexError_(f"{path}: manifest is not a JSON object; rebuild the index")
    return manifest


def _check_manifest(m: dict[str, Any], path: Path) -> None:
    """The manifest's fields have the types readers rely on (IndexError_ naming the first that does not)."""

    def bad(field: str) -> IndexError_:
        return IndexError_(f"{path}: manifest field {field!r} missing or malformed; rebuild the index")

    def count(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    if not isinstance(m.get("encoder"), dict) or not isinstance(m["encoder"].get("id"), str):
        raise bad("encoder")
    for key in ("count", "dim"):
        if not count(m.get(key)):
            raise bad(key)
    for key in ("extras", "files", "languages", "partitions"):
        if not isinstance(m.get(key, {}), dict):
            raise bad(key)
    if "files" not in m:
        raise bad("files")
    for rel, info in m["files"].items():
        parts = Path(rel).parts
        if (not isinstance(info, dict) or not count(info.get("bytes"))
                or not isinstance(info.get("sha256"), str) or Path(rel).is_absolute()
                or ".." in parts or not parts):
            raise bad(f"files.{rel}")


def _load_vectors(path: Path, count: int, dim: int) -> np.ndarray:
    """The float vectors, checked against the manifest and for non-finite values
    (one NaN or Infinity row would outrank every real match, and is not JSON)."""
    try:
        vectors = np.load(path)
    except (OSError, ValueError, EOFError) as e:
        raise IndexError_(f"{path}: unreadable vectors ({e}); rebuild the index") from None
    if vectors.dtype != np.float32 or vectors.shape != (count, dim):
        raise IndexError_(f"{path}: {vectors.dtype} {vectors.shape}, the manifest says float32 "
                          f"({count}, {dim}); rebuild the index")
    if not np.isfinite(vectors).all():
        row = int(np.argwhere(~np.isfinite(vectors))[0][0])
        raise IndexError_(f"{path}: row {row} is not finite (corrupted); rebuild the index")
    return vectors


def path_matcher(glob: str) -> Callable[[str], bool]:
    """`--path GLOB`: matches the whole relative path or any tail after a '/'."""
    pattern = glob.replace("**/", "*")
    return lambda p: fnmatch.fnmatchcase(p, pattern) or fnmatch.fnmatchcase(p, "*/" + pattern)


def encoder_of(spec: dict[str, Any]) -> Encoder:
    """The encoder a manifest's spec names, refused if it no longer computes those vectors."""
    try:
        encoder = encoder_from_spec(spec)
    except (OSError, ValueError) as e:
        raise IndexError_(f"cannot reopen the index's encoder {spec.get('id')!r}: {e}") from e
    if encoder.id != spec["id"]:
        where = spec.get("path") or spec["type"]
        raise IndexError_(
            f"index was built with encoder {spec['id']!r} but {where} is now {encoder.id!r}; "
            f"rebuild the index: seekcode index SOURCE -o INDEX --encoder {where}"
        )
    return encoder


@dataclass
class _MetaSummary:
    """What streaming the records into meta.sqlite found."""

    count: int = 0
    duplicate_urls: int = 0
    digest: str = ""  # one hash of everything the generation stores about its records
    languages: dict[str, int] = field(default_factory=dict)
    partitions: dict[str, int] = field(default_factory=dict)


def _write_meta(path: Path, records: Iterable[Record], encoder_id: str) -> _MetaSummary:
    """Stream records into a new meta.sqlite; a later record with a seen url is dropped.

    Row ids are 0, 1, ... in arrival order (the vector rows). Nothing is kept in
    memory per record: the url UNIQUE index finds duplicates, and the digest of the
    kept records (in order) is hashed as they pass.
    """
    with contextlib.closing(sqlite3.connect(path)) as db:
        return _fill_meta(db, records, encoder_id)


def _fill_meta(db: sqlite3.Connection, records: Iterable[Record], encoder_id: str) -> _MetaSummary:
    # A generation is fsync'd whole before it is published, and a crash leaves it
    # abandoned (deleted by the next build): no journal needed while writing it.
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute(
        "CREATE TABLE records (id INTEGER PRIMARY KEY, url TEXT UNIQUE, repo TEXT, path TEXT, "
        "func_name TEXT, language TEXT, partition TEXT, start_line INTEGER, end_line INTEGER, "
        "content_hash TEXT, record TEXT)"
    )
    insert = (f"INSERT OR IGNORE INTO records (id, {', '.join(_COLUMNS)}) "
              f"VALUES (?{', ?' * len(_COLUMNS)})")
    out = _MetaSummary()
    digest = hashlib.sha256(encoder_id.encode())
    for r in records:
        raw = r.to_json()
        cur = db.execute(insert, (out.count, r.url, r.repo, r.path, r.func_name,
                                  r.language.lower(), r.partition, r.start_line, r.end_line,
                                  r.content_hash, raw))
        if cur.rowcount == 0:  # the url is taken: the first record with it stays
            out.duplicate_urls += 1
            continue
        out.count += 1
        digest.update(raw.encode("utf-8", "replace"))
        digest.update(b"\n")
        for counts, key in ((out.languages, r.language), (out.partitions, r.partition)):
            counts[key or ""] = counts.get(key or "", 0) + 1
        if out.count % _ROWS_PER_COMMIT == 0:
            db.commit()
    db.execute("CREATE INDEX by_language ON records(language)")
    db.execute("CREATE INDEX by_partition ON records(partition)")
    db.execute("CREATE INDEX by_hash ON records(content_hash)")
    db.commit()
    out.digest = digest.hexdigest()
    return out


def _write_vectors(gen: Path, n: int, prev: Path | None, encoder: Encoder, cache: VectorCache,
                   progress: bool, chunk: int) -> tuple[int, int]:
    """Fill gen/vectors.npy row by row: (reused, encoded).

    A vector is reused from the previous generation (same encoder) or the resume
    cache when its record's content hash is there; the others are encoded, `chunk`
    at a time, each chunk saved to the cache first so a killed build resumes.
    """
    from tqdm import tqdm

    dim = int(encoder.dim)
    rows = _NpyRows.create(gen / VECTORS, n, dim)
    old = _previous_rows(prev, encoder.id, dim)
    db = sqlite3.connect(files.sqlite_uri(gen / META), uri=True)
    if old is not None:
        db.execute("ATTACH DATABASE ? AS prev", (files.sqlite_uri(old.meta, read_only=True),))
    reused = encoded = 0
    try:
        with tqdm(total=n, desc="indexing", unit="fn", disable=not progress or not n) as bar:
            for start in range(0, n, _VECTOR_BATCH):
                stop = min(start + _VECTOR_BATCH, n)
                block = np.zeros((stop - start, dim), dtype=np.float32)
                hashes = dict(db.execute(
                    "SELECT id, content_hash FROM records WHERE id >= ? AND id < ?", (start, stop)))
                known: set[int] = set()
                if old is not None:
                    pairs = db.execute(
                        "SELECT r.id, MIN(p.id) FROM records r JOIN prev.records p "
                        "ON p.content_hash = r.content_hash WHERE r.id >= ? AND r.id < ? "
                        "GROUP BY r.id", (start, stop)).fetchall()
                    for i, j in pairs:
                        row = old.vectors.read(j)
                        if np.isfinite(row).all():  # else encode it again
                            block[i - start] = row
                            known.add(i)
                cached = cache.get([h for i, h in hashes.items() if i not in known])
                for i, h in hashes.items():
                    if i not in known and h in cached:
                        block[i - start] = cached[h]
                        known.add(i)
                todo = [i for i in range(start, stop) if i not in known]
                reused += len(known)
                # Each batch is cached as it arrives (resume after a kill); a distributed
                # encoder (seekcode.scale.ray_encoder) yields them from a cluster, in any order.
                batches = encoder.encode_code_batches(_records_by_id(db, todo), chunk) if todo else ()
                for pos, vecs in batches:
                    ids = [todo[p] for p in pos]
                    cache.append([hashes[i] for i in ids], vecs)
                    block[[i - start for i in ids]] = vecs
                    encoded += len(ids)
                    bar.set_postfix(encoded=encoded, refresh=False)
                rows.write(start, block)
                bar.update(stop - start)
    finally:
        db.close()
        rows.close()
        if old is not None:
            old.vectors.close()
    return reused, encoded


def _records_by_id(db: sqlite3.Connection, ids: Sequence[int]) -> list[Record]:
    q = f"SELECT id, record FROM records WHERE id IN ({','.join('?' * len(ids))})"
    by_id = {i: raw for i, raw in db.execute(q, list(ids))}
    return [Record.from_dict(json.loads(by_id[i])) for i in ids]


def _run_hooks(gen: Path, hooks: Sequence[BuildHook], extras: dict[str, Any]) -> None:
    """Build hooks see the generation's records (from SQLite) and its vectors (mapped)."""
    if not hooks:
        return
    records = StoredRecords(gen / META)
    vectors = np.load(gen / VECTORS, mmap_mode="r")
    try:
        for hook in hooks:
            hook(gen, records, vectors, extras)
    finally:
        records.close()
        del vectors


class StoredRecords(Sequence[Record]):
    """The records of a generation's meta.sqlite as a read-only sequence, row id order.

    Build hooks get this instead of a list, so a build never holds every record;
    iterating reads in batches, indexing reads one row.
    """

    def __init__(self, meta: Path):
        self._db = sqlite3.connect(f"file:{meta}?mode=ro", uri=True)
        self._n = int(self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> Record: ...
    @overload
    def __getitem__(self, i: slice) -> list[Record]: ...
    def __getitem__(self, i: int | slice) -> Record | list[Record]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        j = int(i) + self._n if i < 0 else int(i)  # an np.int64 would bind as a BLOB
        if not 0 <= j < self._n:
            raise IndexError(i)
        row = self._db.execute("SELECT record FROM records WHERE id = ?", (j,)).fetchone()
        return Record.from_dict(json.loads(row[0]))

    def __iter__(self) -> Iterator[Record]:
        for start in range(0, self._n, _VECTOR_BATCH):
            rows = self._db.execute("SELECT record FROM records WHERE id >= ? AND id < ? "
                                    "ORDER BY id", (start, start + _VECTOR_BATCH))
            for (raw,) in rows:
                yield Record.from_dict(json.loads(raw))

    def close(self) -> None:
        self._db.close()


class _NpyRows:
    """A float32 (n, dim) .npy file read and written by row with pread/pwrite.

    Not a memmap: pages of a mapping count as the process's memory until the kernel
    drops them, so writing a 1M-row file through one shows as GBs of RSS.
    """

    def __init__(self, fd: int, offset: int, n: int, dim: int):
        self.fd, self.offset, self.n, self.dim = fd, offset, n, dim

    @classmethod
    def create(cls, path: Path, n: int, dim: int) -> _NpyRows:
        with open(path, "wb") as f:  # the header np.load expects, then n rows of zeros
            np.lib.format.write_array_header_1_0(
                f, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                    "fortran_order": False, "shape": (n, dim)})
            offset = f.tell()
            f.truncate(offset + n * dim * 4)
        return cls(os.open(path, os.O_RDWR | os.O_CLOEXEC), offset, n, dim)

    @classmethod
    def open(cls, path: Path, dim: int) -> _NpyRows | None:
        """An existing vectors.npy of float32 rows of `dim`, or None if it is not one."""
        try:
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                read_header = _NPY_HEADERS.get(version)
                if read_header is None:
                    return None
                shape, fortran, dtype = read_header(f)
                offset = f.tell()
        except (OSError, ValueError):
            return None
        if fortran or dtype != np.float32 or len(shape) != 2 or shape[1] != dim:
            return None
        return cls(os.open(path, os.O_RDONLY | os.O_CLOEXEC), offset, shape[0], dim)

    def read(self, i: int) -> np.ndarray:
        size = self.dim * 4
        return np.frombuffer(os.pread(self.fd, size, self.offset + i * size), dtype=np.float32)

    def write(self, start: int, block: np.ndarray) -> None:
        data = np.ascontiguousarray(block, dtype=np.float32).tobytes()
        pos = self.offset + start * self.dim * 4
        while data:
            done = os.pwrite(self.fd, data, pos)
            data, pos = data[done:], pos + done

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0}


@dataclass
class _PreviousRows:
    meta: Path
    vectors: _NpyRows


def _previous_rows(gen: Path | None, encoder_id: str, dim: int) -> _PreviousRows | None:
    """The previous generation's metadata and vectors, when its encoder is the same."""
    if gen is None:
        return None
    try:
        manifest = json.loads((gen / MANIFEST).read_text())
        if manifest["encoder"]["id"] != encoder_id or not (gen / META).is_file():
            return None
    except (OSError, KeyError, TypeError, ValueError):
        return None
    vectors = _NpyRows.open(gen / VECTORS, dim)
    return None if vectors is None else _PreviousRows(gen / META, vectors)


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
