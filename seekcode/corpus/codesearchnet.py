"""Reading CodeSearchNet as it is distributed: the split jsonl.gz files and the search pools.

Two layouts, for users who have the original data on disk:

- `{lang}/final/jsonl/{train,valid,test}/*.jsonl.gz`: records already in seekcode's
  format; the folder a file sits in is its partition, as CodeSearchNet relied on the
  folder rather than the `partition` field. A folder is recognised when it is a
  language folder (`python/`), its `final/jsonl/` below, or a parent of language
  folders (`resources/data/`).
- `{lang}_dedupe_definitions_v2.pkl`: the challenge's search pool, a pickled list of
  dicts (`nwo, sha, path, language, identifier, docstring, docstring_tokens,
  function, function_tokens, url`, ...), mapped to records with an empty partition.

Pickle runs code while loading, so these files are safe only from a source you
trust. `load_definitions` uses an unpickler that refuses every global (no classes or
functions can be built): a plain list of dicts of strings and numbers loads, anything
else is an error. Still, load only files you downloaded yourself.
"""

from __future__ import annotations

import gzip
import os
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from seekcode.corpus.jsonl import read_records
from seekcode.corpus.record import Record
from seekcode.corpus.skips import SkipReport
from seekcode.errors import InputError

PARTITIONS = ("train", "valid", "test")
_POOL_NAME = re.compile(r"^(?P<lang>[a-z]+)_dedupe_definitions_v2\.pkl(?:\.gz)?$")


def split_files(root: str | Path) -> list[tuple[str, Path]]:
    """(partition, file) for every `final/jsonl/{partition}/*.jsonl[.gz]` under root; [] if none.

    Looks at root itself as `{lang}/`, `final/`, `jsonl/` or a parent of language folders.
    """
    root = Path(root)
    patterns = (
        "{part}/*.jsonl*",  # root is .../final/jsonl
        "jsonl/{part}/*.jsonl*",  # root is .../final
        "final/jsonl/{part}/*.jsonl*",  # root is a language folder
        "*/final/jsonl/{part}/*.jsonl*",  # root holds language folders
    )
    for pattern in patterns:
        found = [
            (part, f)
            for part in PARTITIONS
            for f in sorted(root.glob(pattern.format(part=part)))
            if f.name.endswith((".jsonl", ".jsonl.gz"))
        ]
        if found:
            return found
    return []


def is_codesearchnet(root: str | Path) -> bool:
    """Whether a folder has CodeSearchNet's split layout (read it, do not extract from it)."""
    return Path(root).is_dir() and bool(split_files(root))


def read_splits(root: str | Path, skips: SkipReport | None = None) -> Iterator[Record]:
    """The records of a CodeSearchNet folder, each with the partition of its folder."""
    skips = skips if skips is not None else SkipReport()
    files = split_files(root)
    if not files:
        raise InputError(f"{root}: no {{lang}}/final/jsonl/{{train,valid,test}}/*.jsonl.gz files")
    for part, path in files:
        for record in read_records(path, skips):
            record.partition = part
            yield record


def pool_files(root: str | Path) -> list[Path]:
    """The `{lang}_dedupe_definitions_v2.pkl` files in a folder (or the file itself)."""
    root = Path(root)
    if root.is_file():
        return [root] if _POOL_NAME.match(root.name) else []
    return sorted(p for p in root.glob("*_dedupe_definitions_v2.pkl*") if _POOL_NAME.match(p.name))


class _BoundedReader:
    """A stream that refuses any single read larger than what the file can still hold.

    A pickle states each string's length before it; a claim of 2^62 bytes would
    otherwise be allocated (MemoryError) or, for a merely huge claim, reserved.
    """

    def __init__(self, stream: IO[bytes], limit: int):
        self._stream = stream
        self.remaining = limit

    def _take(self, n: int) -> None:
        if n > self.remaining:
            raise pickle.UnpicklingError(
                f"an item claims {n:,} bytes, more than the {max(self.remaining, 0):,} "
                "the file can still hold (corrupt or hostile)")

    def read(self, n: int = -1) -> bytes:
        if n is not None and n >= 0:
            self._take(n)
        data = self._stream.read(n)
        self.remaining -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        line = self._stream.readline(size)
        self.remaining -= len(line)
        return line


# gzip cannot expand data more than about 1032:1, so this bounds a .pkl.gz's content.
_GZIP_MAX_RATIO = 1032


class _PlainDataUnpickler(pickle.Unpickler):
    """An unpickler that builds only plain data: no global (class or function) is allowed."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(
            f"refusing {module}.{name}: only lists and dicts of plain values are loaded"
        )


def load_definitions(path: str | Path) -> list[dict[str, Any]]:
    """The list of definition dicts in a search-pool pickle (plain data only; see module doc)."""
    path = Path(path)
    with open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        gz = path.name.endswith(".gz")
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if gz else raw  # type: ignore[assignment]
        bounded = _BoundedReader(stream, size * _GZIP_MAX_RATIO if gz else size)
        try:
            data = _PlainDataUnpickler(bounded).load()
        except MemoryError:  # a bytes claim is allocated before it is read
            raise InputError(f"{path}: not a CodeSearchNet definitions pickle (an item claims "
                             "more memory than can be allocated; corrupt or hostile)") from None
        except (pickle.UnpicklingError, EOFError, ValueError, OSError, IndexError,
                OverflowError) as e:
            raise InputError(f"{path}: not a CodeSearchNet definitions pickle "
                             f"({type(e).__name__}: {e})") from None
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a list of definitions, found {type(data).__name__}")
    return data


def read_definitions(path: str | Path, skips: SkipReport | None = None) -> Iterator[Record]:
    """Records of a search pool; entries without code are skipped with their index."""
    skips = skips if skips is not None else SkipReport()
    path = Path(path)
    m = _POOL_NAME.match(path.name)
    default_language = m.group("lang") if m else ""
    for i, d in enumerate(load_definitions(path)):
        where = f"{path}[{i}]"
        if not isinstance(d, dict):
            skips.skip("definition not a dict", where)
            continue
        try:
            yield definition_record(d, default_language)
        except (ValueError, TypeError) as e:
            skips.skip(f"definition not usable ({e})", where)


def definition_record(d: dict[str, Any], language: str = "") -> Record:
    """One search-pool entry as a Record (the pool's field names mapped to CodeSearchNet's)."""
    code = d.get("function")
    if not isinstance(code, str) or not code.strip():
        raise InputError("no 'function' field")
    extra = {
        k: v
        for k, v in d.items()
        if k in ("parameters", "argument_list", "return_statement", "docstring_summary", "score")
        and v not in (None, "")
    }

    def text(key: str) -> str:
        value = d.get(key)
        return value if isinstance(value, str) else ""

    def tokens(key: str) -> list[str]:
        value = d.get(key)
        return [str(t) for t in value] if isinstance(value, list) else []

    return Record(
        code=code,
        original_string=code,
        docstring=text("docstring"),
        repo=text("nwo"),
        path=text("path"),
        func_name=text("identifier"),
        language=text("language") or language,
        code_tokens=tokens("function_tokens"),
        docstring_tokens=tokens("docstring_tokens"),
        sha=text("sha"),
        url=text("url"),
        extra=extra,
    )
