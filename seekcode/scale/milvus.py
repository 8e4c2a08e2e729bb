"""Serving an index from Milvus: `seekcode export INDEX milvus://HOST:PORT/NAME`, then
`seekcode search|serve milvus://HOST:PORT/NAME`.

Milvus 2.3 holds one vector field per collection, so an export is three collections::

    NAME            id (= the index's row id), url, repo, path, func_name, language,
                    start_line, end_line, code, vector FLOAT_VECTOR(dim)   FLAT, IP
    NAME__coshc     id, category, language, code BINARY_VECTOR(bits)       BIN_FLAT, HAMMING
    NAME__seekcode  key, value (JSON or base64 chunks), pad FLOAT_VECTOR(2)
                    key 0: the export's state (encoder, manifest, progress); keys 1..:
                    the CoSHC model files a query is hashed and classified with

FLAT is exhaustive, so Milvus exact search is the local exact search (same scores, same
top-k). CoSHC recalls N codes by Hamming distance inside the query's categories (the
budget of `seekcode.hashing.budget`, as the local searcher splits it), then re-ranks
those N by a second float search restricted to their ids: the vectors never leave
Milvus (fetching them for a numpy re-rank was measured slower, benchmarks/results/scale.md).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from seekcode.index.search import Hit
from seekcode.index.store import IndexError_, ManifestView, path_matcher
from seekcode.scale import SCHEME, is_milvus, require

if TYPE_CHECKING:
    from seekcode.encoders.base import Encoder
    from seekcode.hashing.searcher import CoSHCSearcher
    from seekcode.index.store import Index

STATE_FORMAT = 1
CONNECT_TIMEOUT = 3.0  # seconds: a Milvus that is down is an error, not a hang
# Milvus caps a search's limit (topk) at 16,384.
MAX_LIMIT = 16_384
# A --path glob cannot be pushed into Milvus 2.3 (its `like` matches prefixes only, and a
# glob also matches any tail of a path): the best PATH_WINDOW * k are filtered here instead.
PATH_WINDOW = 50
_VARCHAR = {"url": 4096, "repo": 1024, "path": 2048, "func_name": 1024, "language": 64,
            "code": 65_535}
FIELDS = ("url", "repo", "path", "func_name", "language", "start_line", "end_line", "code")
_CHUNK_CHARS = 60_000  # a model file is stored as base64 pieces below VARCHAR's 65,535
_MODEL_FILES = ("config.json", "centroids.npy", "hasher.npz", "classifier.npz")


@dataclass(frozen=True)
class Target:
    """`milvus://HOST:PORT/COLLECTION`, parsed."""

    host: str
    port: int
    collection: str

    @classmethod
    def parse(cls, url: str) -> Target:
        rest = url[len(SCHEME):] if url.startswith(SCHEME) else ""
        where, _, name = rest.partition("/")
        host, _, port = where.rpartition(":")
        usage = "expected milvus://HOST:PORT/COLLECTION, e.g. milvus://127.0.0.1:19530/code"
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise IndexError_(f"{url}: not a Milvus address; {usage}")
        if not name or not name.replace("_", "a").isalnum() or not name[0].isalpha():
            raise IndexError_(f"{url}: collection name {name!r} must start with a letter and "
                              f"hold only letters, digits and '_'; {usage}")
        return cls(host.strip("[]"), int(port), name)

    def __str__(self) -> str:
        return f"{SCHEME}{self.host}:{self.port}/{self.collection}"

    @property
    def names(self) -> tuple[str, str, str]:
        """(records, CoSHC codes, seekcode state) collection names."""
        return self.collection, f"{self.collection}__coshc", f"{self.collection}__seekcode"


def _pymilvus() -> Any:
    # pymilvus 2.3 imports pkg_resources, which warns on every start; not the user's concern.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        require("pymilvus", "a milvus:// index")
        import pymilvus
    # Its RPC errors are logged as well as raised; seekcode reports them itself, in one line.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    return pymilvus


_CONNECT = threading.Lock()


def connect(target: Target) -> str:
    """The pymilvus connection alias for target's server, connecting once (short timeout).

    IndexError_ naming the address and the fix when nothing answers there.
    """
    pm = _pymilvus()
    alias = f"seekcode-{target.host}:{target.port}"
    with _CONNECT:
        if pm.connections.has_connection(alias):
            return alias
        try:
            pm.connections.connect(alias, host=target.host, port=str(target.port),
                                   timeout=CONNECT_TIMEOUT)
        except pm.exceptions.MilvusException as e:
            raise IndexError_(
                f"{target}: no Milvus answers at {target.host}:{target.port} within "
                f"{CONNECT_TIMEOUT:.0f} s ({getattr(e, 'message', e)}); start Milvus there "
                "or fix the address (milvus://HOST:PORT/COLLECTION)") from None
    return alias


@contextlib.contextmanager
def reported(target: Target | str) -> Iterator[None]:
    """Milvus errors (it went down, refused a request) as IndexError_ naming the address."""
    pm = _pymilvus()
    try:
        yield
    except pm.exceptions.MilvusException as e:
        raise IndexError_(f"{target}: Milvus failed ({getattr(e, 'message', e)}); check that "
                          "it is up at that address") from None


def generation_key(manifest: dict[str, Any]) -> str:
    """One hash of everything a generation stores (its files' checksums and the encoder):
    the same generation exported twice has the same key."""
    table = {k: v["sha256"] for k, v in sorted(manifest["files"].items())}
    raw = json.dumps({"files": table, "encoder": manifest["encoder"]["id"]}, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


# ---- the state collection ----------------------------------------------------------------
class _State:
    """The export's state row and the CoSHC model files, in `NAME__seekcode`."""

    def __init__(self, target: Target, alias: str):
        self.target, self.alias = target, alias
        self.name = target.names[2]

    def exists(self) -> bool:
        return bool(_pymilvus().utility.has_collection(self.name, using=self.alias))

    def collection(self) -> Any:
        return _pymilvus().Collection(self.name, using=self.alias)

    def create(self) -> Any:
        pm = _pymilvus()
        dt = pm.DataType
        schema = pm.CollectionSchema([
            pm.FieldSchema("key", dt.INT64, is_primary=True),
            pm.FieldSchema("value", dt.VARCHAR, max_length=65_535),
            # Milvus 2.3 wants a vector field in every collection
            pm.FieldSchema("pad", dt.FLOAT_VECTOR, dim=2),
        ], description="seekcode export state")
        col = pm.Collection(self.name, schema, using=self.alias, consistency_level="Strong")
        col.create_index("pad", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
        col.load()
        return col

    def read(self) -> dict[str, Any] | None:
        if not self.exists():
            return None
        col = self.collection()
        col.load()
        rows = col.query("key == 0", output_fields=["value"], consistency_level="Strong")
        return json.loads(rows[0]["value"]) if rows else None

    def write(self, state: dict[str, Any]) -> None:
        self.collection().upsert([[0], [json.dumps(state)], [[0.0, 0.0]]])

    def write_files(self, folder: Path) -> dict[str, list[int]]:
        """Store the model files as base64 chunks; returns each file's keys."""
        keys: dict[str, list[int]] = {}
        rows: list[tuple[int, str]] = []
        for name in _MODEL_FILES:
            text = base64.b64encode((folder / name).read_bytes()).decode()
            pieces = [text[s : s + _CHUNK_CHARS] for s in range(0, len(text), _CHUNK_CHARS)] or [""]
            keys[name] = list(range(len(rows) + 1, len(rows) + 1 + len(pieces)))
            rows += zip(keys[name], pieces, strict=True)
        col = self.collection()
        for s in range(0, len(rows), 16):  # 16 x 60 KB per request, well under gRPC's cap
            part = rows[s : s + 16]
            col.upsert([[k for k, _ in part], [v for _, v in part], [[0.0, 0.0]] * len(part)])
        return keys

    def read_files(self, keys: dict[str, list[int]], folder: Path) -> None:
        col = self.collection()
        wanted = [k for ks in keys.values() for k in ks]
        rows = col.query(f"key in {wanted}", output_fields=["key", "value"],
                         consistency_level="Strong")
        by_key = {r["key"]: r["value"] for r in rows}
        for name, ks in keys.items():
            missing = [k for k in ks if k not in by_key]
            if missing:
                raise IndexError_(f"{self.target}: the CoSHC model is incomplete (piece "
                                  f"{missing[0]} of {name} is missing); export the index again")
            (folder / name).write_bytes(base64.b64decode("".join(by_key[k] for k in ks)))


def read_state(url: str) -> dict[str, Any] | None:
    """The export state stored with a milvus:// collection (None if there is none)."""
    target = Target.parse(url)
    return _State(target, connect(target)).read()


# ---- export -------------------------------------------------------------------------------
def _clip(text: str, limit: int) -> str:
    """`text` cut to `limit` UTF-8 bytes (Milvus's VARCHAR bound), on a character boundary.
    Only a function longer than 64 KB loses its tail, and then only in the preview."""
    raw = text.encode("utf-8", "replace")
    return text if len(raw) <= limit else raw[:limit].decode("utf-8", "ignore")


def _record_schema(pm: Any, dim: int) -> Any:
    dt = pm.DataType
    fields = [pm.FieldSchema("id", dt.INT64, is_primary=True)]
    fields += [pm.FieldSchema(f, dt.VARCHAR, max_length=_VARCHAR[f]) for f in FIELDS[:5]]
    fields += [pm.FieldSchema("start_line", dt.INT64), pm.FieldSchema("end_line", dt.INT64),
               pm.FieldSchema("code", dt.VARCHAR, max_length=_VARCHAR["code"]),
               pm.FieldSchema("vector", dt.FLOAT_VECTOR, dim=dim)]
    return pm.CollectionSchema(fields, description="seekcode records and float vectors")


def _code_schema(pm: Any, bits: int) -> Any:
    dt = pm.DataType
    return pm.CollectionSchema([
        pm.FieldSchema("id", dt.INT64, is_primary=True),
        pm.FieldSchema("category", dt.INT64),
        pm.FieldSchema("language", dt.VARCHAR, max_length=_VARCHAR["language"]),
        pm.FieldSchema("code", dt.BINARY_VECTOR, dim=bits),
    ], description="seekcode CoSHC codes and categories")


def export(index: Index, url: str, batch_size: int = 1000, pause: float = 0.0,
           progress: bool = True) -> dict[str, Any]:
    """Write `index`'s current generation into the milvus:// target.

    Idempotent: the same generation again writes nothing; another generation replaces
    the collections. Resumable: progress is stored after every batch, and a killed
    export continues from there (rows a killed batch left beyond it are deleted first).
    `pause`: seconds between batches, to leave a shared Milvus room for its queries.
    Returns counts: records, codes, written, unchanged (1 when nothing had to be done).
    """
    target = Target.parse(url)
    with reported(target):
        return _export(index, target, batch_size, pause, progress)


def _export(index: Index, target: Target, batch_size: int, pause: float,
            progress: bool) -> dict[str, Any]:
    from tqdm import tqdm

    from seekcode.hashing.coshc import CATEGORIES, CODES
    from seekcode.hashing.coshc import NAME as COSHC

    alias = connect(target)
    pm = _pymilvus()
    state_store = _State(target, alias)
    key = generation_key(index.manifest)
    has_coshc = COSHC in index.searcher_names()
    coshc_info = index.manifest["extras"].get(COSHC, {})
    state = state_store.read()
    if state is not None and state.get("generation") == key and state.get("complete"):
        return {"records": index.count, "codes": state["written"]["codes"], "written": 0,
                "unchanged": 1}
    names = target.names
    if state is None or state.get("generation") != key:
        for name in names:  # another generation (or debris): replace it whole
            if pm.utility.has_collection(name, using=alias):
                pm.utility.drop_collection(name, using=alias)
        records = pm.Collection(names[0], _record_schema(pm, int(index.manifest["dim"])),
                                using=alias)
        records.create_index("vector", {"index_type": "FLAT", "metric_type": "IP", "params": {}})
        if has_coshc:
            codes = pm.Collection(names[1], _code_schema(pm, int(coshc_info["bits"])), using=alias)
            codes.create_index("code", {"index_type": "BIN_FLAT", "metric_type": "HAMMING",
                                        "params": {}})
        state_store.create()
        m = index.manifest
        state = {
            "format": STATE_FORMAT, "generation": key, "complete": False,
            "source": {"index": str(index.root.resolve()), "gen": index.gen.name},
            "manifest": {k: m[k] for k in ("format_version", "encoder", "count", "dim", "created",
                                           "languages", "partitions", "searchers",
                                           "records_sha256") if k in m},
            "coshc": ({"config": coshc_info["config"], "bits": coshc_info["bits"],
                       "k": coshc_info["k"],
                       "files": state_store.write_files(index.gen / COSHC)} if has_coshc else None),
            "written": {"records": 0, "codes": 0},
        }
        state["manifest"]["extras"] = {COSHC: {k: coshc_info[k] for k in ("bits", "k", "config")}
                                       } if has_coshc else {}
        state_store.write(state)

    written = 0
    parts = [("records", names[0])] + ([("codes", names[1])] if has_coshc else [])
    cat_codes = None
    if has_coshc:
        cat_codes = (np.load(index.gen / COSHC / CODES, mmap_mode="r"),
                     np.load(index.gen / COSHC / CATEGORIES, mmap_mode="r"))
    for part, name in parts:
        col = pm.Collection(name, using=alias)
        col.load()  # Milvus deletes by expression only in a loaded collection
        done = int(state["written"][part])
        # A batch that landed after the last progress write (the export was killed between
        # the two) would be a duplicate: Milvus does not refuse a repeated primary key.
        col.delete(f"id >= {done}")
        with tqdm(total=index.count, initial=done, desc=f"export {part}", unit="fn",
                  disable=not progress) as bar:
            for start in range(done, index.count, batch_size):
                stop = min(start + batch_size, index.count)
                if part == "records":
                    col.insert(_record_columns(index, start, stop))
                else:
                    assert cat_codes is not None
                    col.insert(_code_columns(index, cat_codes, start, stop))
                state["written"][part] = stop
                state_store.write(state)
                written += stop - start
                bar.update(stop - start)
                if pause:
                    time.sleep(pause)
        # No flush: inserted rows are durable in Milvus's log and searchable once loaded,
        # and Milvus seals segments by size on its own (a flush costs seconds per call).
    state["complete"] = True
    state_store.write(state)
    return {"records": index.count, "codes": state["written"]["codes"], "written": written,
            "unchanged": 0}


def _record_columns(index: Index, start: int, stop: int) -> list[Any]:
    ids = list(range(start, stop))
    meta = index.records_at(ids)
    if len(meta) != len(ids):
        raise IndexError_(f"{index.gen}: metadata rows {start}-{stop} are incomplete; "
                          "rebuild the index")
    cols: list[Any] = [ids]
    for f in FIELDS[:5]:
        cols.append([_clip(str(m.get(f) or ""), _VARCHAR[f]) for m in meta])
    cols.append([_line(m.get("start_line")) for m in meta])
    cols.append([_line(m.get("end_line")) for m in meta])
    cols.append([_clip(m.get("original_string") or m.get("code") or "", _VARCHAR["code"])
                 for m in meta])
    cols.append(np.asarray(index.vectors[start:stop], dtype=np.float32))
    return cols


def _code_columns(index: Index, cat_codes: tuple[np.ndarray, np.ndarray], start: int,
                  stop: int) -> list[list[Any]]:
    codes, categories = cat_codes
    langs = [_clip(str(m.get("language") or "").lower(), _VARCHAR["language"])
             for m in index.records_at(range(start, stop))]
    return [list(range(start, stop)), [int(c) for c in categories[start:stop]], langs,
            [bytes(c) for c in codes[start:stop]]]


def _line(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


# ---- search -------------------------------------------------------------------------------
class MilvusIndex(ManifestView):
    """A milvus:// export, searched like a local `Index` (`search` returns the same Hits).

    Opening checks that the export is complete and that `encoder` (default: the one the
    index was built with) is the index's; a mismatch is refused as for a local index.
    """

    def __init__(self, target: Target, alias: str, state: dict[str, Any],
                 encoder: Encoder | None):
        self.target, self.alias, self.state = target, alias, state
        self.url = str(target)
        self.manifest: dict[str, Any] = {**state["manifest"], "files": {}}
        self.gen = PurePosixPath(state["source"]["gen"])
        self.root = PurePosixPath(target.collection)
        self._encoder = encoder
        self._router: CoSHCSearcher | None = None
        self._lock = threading.Lock()
        pm = _pymilvus()
        self._records = pm.Collection(target.names[0], using=alias)
        self._codes = (pm.Collection(target.names[1], using=alias)
                       if state.get("coshc") else None)
        for col in (self._records, self._codes):
            if col is not None:
                col.load()  # a no-op when loaded; after a Milvus restart, loads it again

    @classmethod
    def open(cls, url: str, encoder: Encoder | None = None) -> MilvusIndex:
        target = Target.parse(url)
        alias = connect(target)
        with reported(target):
            state = _State(target, alias).read()
        if state is None:
            raise IndexError_(f"{target}: no seekcode export in this Milvus; write one with "
                              f"`seekcode export INDEX {target}`")
        if state.get("format") != STATE_FORMAT:
            raise IndexError_(f"{target}: export format {state.get('format')}, this seekcode "
                              f"reads {STATE_FORMAT}; export the index again")
        if not state.get("complete"):
            w = state["written"]
            raise IndexError_(f"{target}: the export stopped after {w['records']:,} of "
                              f"{state['manifest']['count']:,} records; finish it with "
                              f"`seekcode export {state['source']['index']} {target}`")
        built = state["manifest"]["encoder"]["id"]
        if encoder is not None and encoder.id != built:
            raise IndexError_(f"{target}: built with encoder {built!r}, asked to search with "
                              f"{encoder.id!r}; export an index built with this encoder or "
                              "drop --encoder")
        with reported(target):
            return cls(target, alias, state, encoder)

    # count, encoder and languages: ManifestView, as for a local Index

    def searcher_names(self) -> list[str]:
        return ["exact", "coshc"] if self._codes is not None else ["exact"]

    @property
    def default_searcher(self) -> str:
        return self.searcher_names()[-1]

    def alive(self) -> bool:
        return True  # a Milvus that went away fails the search itself, with the reason

    def close(self) -> None:
        pass  # the connection is shared by every MilvusIndex of that server

    # ---- searching --------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, lang: str | None = None,
               path: str | None = None, searcher: str | None = None,
               mode: str = "semantic") -> list[Hit]:
        return self.search_noted(query, k, lang, path, searcher, mode)[0]

    def search_noted(self, query: str, k: int = 10, lang: str | None = None,
                     path: str | None = None, searcher: str | None = None,
                     mode: str = "semantic") -> tuple[list[Hit], str]:
        """(hits, note): the note says when the --path filter left fewer than k."""
        if mode != "semantic":
            raise IndexError_(f"{self.url}: --mode {mode} ranks by the words of every record "
                              "(BM25 over the local metadata); search the local index for it")
        name = searcher or self.default_searcher
        if name not in self.searcher_names():
            raise IndexError_(f"{self.url}: no {name!r} searcher in this export (it has: "
                              f"{', '.join(self.searcher_names())})")
        q = self.encoder.encode_queries([query], progress=False)
        with reported(self.target):
            return self.search_vector(q[0], k, lang, path, name)

    def search_vector(self, q: np.ndarray, k: int, lang: str | None = None,
                      path: str | None = None, searcher: str = "exact",
                      rerank: str = "milvus") -> tuple[list[Hit], str]:
        """Hits for an encoded query. `rerank` ("milvus" or "fetch"): where CoSHC's cosine
        re-rank runs (a restricted float search, or numpy over fetched vectors)."""
        lang_expr = f"language == {json.dumps(lang.lower())}" if lang else ""
        want = min(k * PATH_WINDOW, MAX_LIMIT) if path else k
        if searcher == "coshc":
            # with a --path filter applied after, recall PATH_WINDOW times N so that the N
            # the local searcher recalls among the matching paths are still among them
            ids = self._recall(q, lang_expr, PATH_WINDOW if path else 1)
            rows = self._rerank(q, ids, want, rerank)
        else:
            rows = self._float_search(q, want, lang_expr)
        note = ""
        if path:
            match = path_matcher(path)
            kept = [r for r in rows if match(r["path"])]
            if len(kept) < k and len(rows) >= want:
                note = (f"{len(kept)} of -k {k}: --path is applied to Milvus's {len(rows):,} "
                        "best (Milvus 2.3 `like` matches path prefixes only); a local index "
                        "filters before ranking")
            rows = kept
        return [_hit(n, r) for n, r in enumerate(rows[:k], 1)], note

    def _float_search(self, q: np.ndarray, limit: int, expr: str) -> list[dict[str, Any]]:
        res = self._records.search([q.tolist()], "vector", {"metric_type": "IP", "params": {}},
                                   limit=limit, expr=expr or None, output_fields=list(FIELDS))
        return [{**h.entity.fields, "id": int(h.id), "score": float(h.distance)} for h in res[0]]

    def searcher(self, name: str = "exact", rerank: str = "milvus") -> MilvusSearcher:
        """This export's `name` search as a `seekcode.index.search.Searcher`, so that
        `seekcode.eval.runner.rank` ranks it with eval's one tie rule, as a local searcher."""
        if name not in self.searcher_names():
            raise IndexError_(f"{self.url}: no {name!r} searcher in this export")
        return MilvusSearcher(self, name, rerank)

    def router(self) -> CoSHCSearcher:
        """The local CoSHC searcher's hashing and budget, without the codes (in Milvus)."""
        if self._router is None:
            with self._lock:
                if self._router is None:
                    self._router = self._load_router()
        return self._router

    def _load_router(self) -> CoSHCSearcher:
        from seekcode.hashing.coshc import CoSHC

        info = self.state["coshc"]
        dim = int(self.manifest["dim"])
        with tempfile.TemporaryDirectory(prefix="seekcode-milvus-") as tmp:
            _State(self.target, self.alias).read_files(info["files"], Path(tmp))
            model = CoSHC.load(Path(tmp), dim)
        router = model.searcher(np.zeros((0, dim), np.float32),
                                codes=np.zeros((0, int(info["bits"]) // 8), np.uint8),
                                categories=np.zeros(0, np.int32))
        router.recall = model.config.recall_for(self.count)  # N as for the local index
        return router

    def _recall(self, q: np.ndarray, lang_expr: str, scale: int = 1) -> list[int]:
        """Row ids of the N codes nearest the query's, split over its categories (each
        category's share times `scale`)."""
        assert self._codes is not None
        router = self.router()
        q2 = q[None, :].astype(np.float32)
        qcode = bytes(router.heads.codes(q2, "desc")[0])
        if router.routing == "none":
            plan = [("", router.recall)]
        else:
            plan = [(f"category == {c}", int(b)) for c, b in enumerate(router.budgets(q2)[0])
                    if b > 0]
        futures = []
        for expr, n in plan:
            where = " and ".join(e for e in (expr, lang_expr) if e)
            futures.append(self._codes.search(
                [qcode], "code", {"metric_type": "HAMMING", "params": {}},
                limit=min(n * scale, MAX_LIMIT), expr=where or None, _async=True))
        ids: list[int] = []
        for f in futures:  # the categories' scans run concurrently in Milvus
            ids.extend(int(h.id) for h in f.result()[0])
        return ids

    def _rerank(self, q: np.ndarray, ids: list[int], limit: int,
                how: str) -> list[dict[str, Any]]:
        if not ids:
            return []
        expr = f"id in {ids}"
        if how == "milvus":
            return self._float_search(q, min(limit, len(ids)), expr)
        rows = self._records.query(expr, output_fields=["id", "vector"])
        vecs = np.asarray([r["vector"] for r in rows], dtype=np.float32)
        scores = vecs @ q.astype(np.float32)
        best = np.argsort(-scores, kind="stable")[:limit]
        top = [int(rows[i]["id"]) for i in best]
        meta = {r["id"]: r for r in self._records.query(
            f"id in {top}", output_fields=["id", *FIELDS])}
        return [{**meta[rows[i]["id"]], "score": float(scores[i])} for i in best]

    # ---- for tests and benchmarks -----------------------------------------------------------
    def row_counts(self) -> dict[str, int]:
        """Rows in each collection, duplicates included (Milvus keeps repeated ids)."""
        out = {}
        for col in (self._records, self._codes):
            if col is not None:
                rows = col.query("", output_fields=["count(*)"], consistency_level="Strong")
                out[col.name] = int(rows[0]["count(*)"])
        return out

    def ids(self, collection: str = "records") -> Iterator[int]:
        """Every id stored in the records (or codes) collection, in no order."""
        col = self._records if collection == "records" else self._codes
        assert col is not None
        it = col.query_iterator(batch_size=4096, expr="id >= 0", output_fields=["id"])
        while rows := it.next():
            yield from (int(r["id"]) for r in rows)
        it.close()


class MilvusSearcher:
    """A Milvus search with the local searchers' `candidates` interface: for each query,
    the k best rows Milvus returns (row ids and Milvus's float32 scores), padded with -inf
    and -1. Ranked with `ties_at_or_above`, a relevant row's rank is exact up to k (the
    rows tied with it or above it are among the k best), and R@1 is exact for k >= 2."""

    def __init__(self, index: MilvusIndex, name: str, rerank: str = "milvus"):
        self.index, self.name, self.rerank = index, name, rerank

    def candidates(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
                   oracle: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        if allowed is not None:
            raise IndexError_(f"{self.index.url}: restricting a search to given rows is "
                              "done on a local index")
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        ix = self.index
        with reported(ix.target):
            for j, q in enumerate(queries):
                if self.name == "coshc":
                    rows = ix._rerank(q, ix._recall(q, ""), k, self.rerank)
                else:
                    rows = ix._float_search(q, k, "")
                scores[j, : len(rows)] = [r["score"] for r in rows]
                ids[j, : len(rows)] = [int(r["id"]) for r in rows]
        return scores, ids


def _hit(rank: int, r: dict[str, Any]) -> Hit:
    return Hit(rank=rank, score=r["score"], url=r["url"], path=r["path"],
               start_line=int(r["start_line"]), end_line=int(r["end_line"]),
               func_name=r["func_name"], language=r["language"], repo=r["repo"], code=r["code"])


class MilvusLive:
    """What `seekcode serve milvus://...` serves: one MilvusIndex (an export does not
    change under a server the way a local index's generations do)."""

    def __init__(self, url: str, encoder: Encoder | None = None):
        self.index = MilvusIndex.open(url, encoder)
        self.url = url
        self.path = PurePosixPath(self.index.target.collection)
        self.reloads = 0
        self.error: str | None = None
        if self.index.default_searcher == "coshc":
            self.index.router()  # load the model now, not on the first request

    def get(self) -> MilvusIndex:
        return self.index


# ---- a local Milvus, for tests, benchmarks and trying it out -----------------------------
def embedded_server(base_dir: Path, port: int | None = None) -> Any:
    """A started embedded Milvus standalone server (the `milvus` package) with its data in
    `base_dir`; `server.listen_port` is its port. Only one runs per machine at a time
    (its etcd peer port is fixed); call `server.stop()` when done."""
    require("milvus", "an embedded Milvus server")
    from milvus import MilvusServer

    server = MilvusServer()
    server.set_base_dir(str(base_dir))
    if port:
        server.listen_port = port
    t0 = time.perf_counter()
    server.start()
    print(f"milvus: embedded server on 127.0.0.1:{server.listen_port} in "
          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return server


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


__all__ = ["MilvusIndex", "MilvusLive", "MilvusSearcher", "Target", "embedded_server", "export", "is_milvus",
           "read_state"]
