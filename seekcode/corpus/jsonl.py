"""Reading and writing CodeSearchNet-style jsonl and jsonl.gz."""

from __future__ import annotations

import gzip
import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from seekcode.corpus.record import Record
from seekcode.corpus.skips import SkipReport
from seekcode.errors import InputError


def _open_text(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8", errors="strict")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8", errors="strict")


class BadLine(InputError):
    """A jsonl line that cannot be read; the message is the counted skip reason."""


# A JSON `\ud800`-`\udfff` escape: the only way a line that is valid UTF-8 can still
# carry a lone surrogate, which no UTF-8 writer (SQLite, a terminal, a file) accepts.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _reject_constant(name: str) -> Any:
    raise BadLine(f"number {name} (not finite)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadLine(f"number {text[:20]} out of range")
    return value


def parse_line(line: bytes) -> Any:
    """One jsonl line as a JSON value; BadLine naming why not (the caller skips it).

    Beyond "not UTF-8" and "not JSON": numbers that are not finite (`NaN`, `1e400`),
    lone surrogates, and nesting deep enough to exhaust the parser's recursion.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise BadLine("line not UTF-8") from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except BadLine as e:
        raise BadLine(f"line not usable JSON ({e})") from None
    except RecursionError:
        raise BadLine("line nested too deeply") from None
    except json.JSONDecodeError:
        raise BadLine("line not JSON") from None
    if _SURROGATE_ESCAPE.search(line) and _has_surrogate(obj):
        raise BadLine("line has a lone surrogate (\\ud800-\\udfff)")
    return obj


def _has_surrogate(obj: Any) -> bool:
    stack = [obj]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def _parsed_lines(path: Path, skips: SkipReport) -> Iterator[tuple[str, Any]]:
    """("file:line", JSON value) of each readable line of a .jsonl or .jsonl.gz file;
    blank lines left out, bad ones (see `parse_line`) counted in `skips`."""
    # Line by line, never the whole file: an index build streams its corpus.
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as raw:
        lines = enumerate(raw, 1)
        while True:
            try:
                lineno, line = next(lines)
            except StopIteration:
                return
            except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
                raise InputError(f"{path}: not a readable gzip file ({e})") from e
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                yield where, parse_line(line)
            except BadLine as e:
                skips.skip(str(e), where)


def read_records(path: str | Path, skips: SkipReport | None = None) -> Iterator[Record]:
    """Yield records from a .jsonl or .jsonl.gz file, or every such file in a folder.

    Malformed lines (see `parse_line`) and lines that are not records (a field of the
    wrong type: `"start_line": "abc"`) are skipped and counted in `skips` with
    `file:line` and the reason; they never stop the read.
    """
    skips = skips if skips is not None else SkipReport()
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.name.endswith((".jsonl", ".jsonl.gz")))
        for f in files:
            yield from read_records(f, skips)
        return
    if not path.exists():
        raise InputError(f"{path}: no such corpus file")
    for where, obj in _parsed_lines(path, skips):
        try:
            yield Record.from_dict(obj)
        except (ValueError, TypeError) as e:
            skips.skip(f"line not a record ({e})", where)


def write_records(path: str | Path, records: Iterable[Record]) -> int:
    """Write records atomically (to a temporary file, then rename). Returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp" + path.suffix)  # keeps ".gz" last, so it is compressed
    n = 0
    with _open_text(tmp, "w") as f:
        for rec in records:
            f.write(rec.to_json())
            f.write("\n")
            n += 1
    os.replace(tmp, path)
    return n


def read_json_lines(path: str | Path, skips: SkipReport | None = None) -> Iterator[dict]:
    """Plain JSON objects from a jsonl file (for query sets), malformed lines skipped."""
    skips = skips if skips is not None else SkipReport()
    path = Path(path)
    for where, obj in _parsed_lines(path, skips):
        if isinstance(obj, dict):
            yield obj
        else:
            skips.skip("line not a JSON object", where)
