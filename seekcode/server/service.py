"""Search requests, validated and run on the live index: shared by the API and the page."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, replace

from seekcode.errors import InputError
from seekcode.index.hybrid import MODES
from seekcode.index.search import Hit, QueryError, check_glob, check_query
from seekcode.index.store import Index
from seekcode.server.live import LiveIndex

MAX_K = 100


class BadRequest(InputError):
    """A search parameter out of bounds; the message is the reason shown to the user."""


class Unavailable(RuntimeError):
    """The index cannot answer right now (its generation vanished from disk): a 503."""


@dataclass(frozen=True)
class SearchParams:
    q: str
    k: int
    lang: str | None
    path: str | None
    searcher: str  # a name the index has
    mode: str = "semantic"  # or "keyword", "hybrid" (seekcode.index.hybrid)

    @property
    def exact(self) -> bool:
        return self.searcher == "exact"


@dataclass
class SearchResult:
    """What one search returned, for the JSON API and the page alike."""

    params: SearchParams
    hits: list[Hit]
    took_ms: float
    searcher: str
    generation: str


class SearchService:
    """Validates search parameters and runs searches on the live index."""

    def __init__(self, live: LiveIndex):
        self.live = live
        self.started = time.time()
        self._count_lock = threading.Lock()
        self.searches = 0

    def validate(self, q: str, k: int, lang: str | None, path: str | None,
                 searcher: str | None, index: Index) -> SearchParams:
        """Raise BadRequest with the reason for any parameter the index cannot answer."""
        try:
            q = check_query(q, k, MAX_K)
        except QueryError as e:
            raise BadRequest(f"{e.field}: {e}") from None
        lang = (lang or "").strip().lower() or None
        if lang is not None and lang not in index.languages():
            have = ", ".join(index.languages()) or "none"
            raise BadRequest(f"lang: {lang!r} is not in this index (it has: {have})")
        path = (path or "").strip() or None
        if path is not None:
            try:
                check_glob(path)
            except QueryError as e:
                raise BadRequest(f"path: {e}") from None
        return SearchParams(q, k, lang, path, check_searcher(searcher, index))

    def search(self, q: str, k: int, lang: str | None, path: str | None,
               searcher: str | None = None, mode: str | None = None) -> SearchResult:
        """`searcher` None: the index's default; `mode` None: semantic."""
        index = self.live.get()  # one generation for the whole request
        params = self.validate(q, k, lang, path, searcher, index)
        mode = check_mode(mode, searcher)
        if mode != "semantic":
            params = replace(params, searcher=mode, mode=mode)
        t0 = time.perf_counter()
        try:
            hits = index.search(params.q, k=params.k, lang=params.lang, path=params.path,
                                searcher=params.searcher if mode == "semantic" else None,
                                mode=mode)
        except (sqlite3.Error, OSError) as e:
            if index.alive():
                raise
            raise Unavailable(f"generation {index.gen.name} was deleted while being served "
                              f"({e}); retry, or rebuild the index") from None
        took = (time.perf_counter() - t0) * 1000
        with self._count_lock:
            self.searches += 1
        return SearchResult(params, hits, took, params.searcher, index.gen.name)

    def similar(self, url: str | None = None, path: str | None = None, line: int | None = None,
                code: str | None = None, k: int = 10, lang: str | None = None) -> SearchResult:
        """Code-to-code search (seekcode.index.similar); BadRequest names a bad argument."""
        from seekcode.index.similar import similar

        index = self.live.get()
        if not hasattr(index, "db"):  # a milvus:// export holds no code-to-code lookup
            raise BadRequest("code-to-code search needs the local index: serve the index "
                             "directory for it")
        what = url or (f"{path}:{line}" if path else "pasted code")
        params = self.validate(f"like {what}", k, lang, None, "exact", index)
        t0 = time.perf_counter()
        try:
            hits = similar(index, url=url, path=path, line=line, code=code, language=lang or "",
                           k=k, allowed=index.filter_ids(lang=params.lang))
        except InputError as e:  # NotFound included: the reason says what there is
            raise BadRequest(str(e)) from None
        took = (time.perf_counter() - t0) * 1000
        with self._count_lock:
            self.searches += 1
        return SearchResult(params, hits, took, "code-to-code", index.gen.name)


def check_mode(mode: str | None, searcher: str | None) -> str:
    """The ranking mode (semantic when None); BadRequest for another, or for a searcher
    given with a mode that scores every record."""
    mode = (mode or "").strip() or "semantic"
    if mode not in MODES:
        raise BadRequest(f"mode: {mode[:40]!r} is not one of {', '.join(MODES)}")
    if mode != "semantic" and (searcher or "").strip():
        raise BadRequest(f"mode: {mode} scores every record; it takes no searcher")
    return mode


def check_searcher(name: str | None, index: Index) -> str:
    """The searcher to use (the index's default for None); BadRequest unless the index has it."""
    name = (name or "").strip() or index.default_searcher
    if name not in index.searcher_names():
        raise BadRequest(f"searcher: {name[:40]!r} is not in this index "
                         f"(it has: {', '.join(index.searcher_names())})")
    return name


def searcher_choice(searcher: str | None, exact: bool) -> str | None:
    """The `searcher=` parameter, or `exact` for the older `exact=true` shorthand."""
    if exact and searcher and searcher.strip() not in ("", "exact"):
        raise BadRequest(f"exact: contradicts searcher={searcher[:40]!r}; give one of them")
    return "exact" if exact else searcher
