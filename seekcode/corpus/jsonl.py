"""Reading and writing CodeSearchNet-style jsonl and jsonl.gz."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from seekcode.corpus.record import Record
from seekcode.corpus.skips import SkipReport


def _open_text(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8", errors="strict")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8", errors="strict")


def read_records(path: str | Path, skips: SkipReport | None = None) -> Iterator[Record]:
    """Yield records from a .jsonl or .jsonl.gz file, or every such file in a folder.

    Malformed lines are skipped and counted in `skips` with `file:line` and the
    reason; they never stop the read.
    """
    skips = skips if skips is not None else SkipReport()
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.name.endswith((".jsonl", ".jsonl.gz")))
        for f in files:
            yield from read_records(f, skips)
        return
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such corpus file")
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
                raise ValueError(f"{path}: not a readable gzip file ({e})") from e
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                skips.skip("line not UTF-8", where)
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError:
                skips.skip("line not JSON", where)
                continue
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
    with _open_text(path, "r") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                skips.skip("line not JSON", f"{path}:{lineno}")
                continue
            if isinstance(obj, dict):
                yield obj
            else:
                skips.skip("line not a JSON object", f"{path}:{lineno}")
