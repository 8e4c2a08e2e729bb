"""Keeping a source folder's index fresh: one incremental update, or a watch loop.

An update re-reads the folder (cheap: parsing, no model) and hands every function to
`Index.build`, which re-encodes only functions whose content changed, drops the ones
that are gone, and publishes a new generation only when something changed. The new
generation keeps the searchers of the previous one (CoSHC's fitted model hashes the
new vectors), whichever loop or command runs the update. Readers
(`seekcode search`, `seekcode serve`) keep answering from the previous generation
until the new one is published.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seekcode.corpus.extract import extractor_for
from seekcode.corpus.repo import iter_repo_records
from seekcode.corpus.skips import SkipReport
from seekcode.corpus.walk import IGNORE_FILES, VENDORED_DIRS
from seekcode.encoders.base import Encoder
from seekcode.index import files
from seekcode.index.store import META, BuildHook, Index, IndexError_


@dataclass
class UpdateResult:
    """What one incremental update did."""

    records: int
    encoded: int  # functions sent to the encoder
    reused: int  # vectors taken from the previous generation or the resume cache
    added: int  # functions (path, name) not in the previous generation
    removed: int  # functions of the previous generation that are gone
    unchanged: bool  # nothing changed: no new generation was published
    seconds: float
    generation: str
    skips: SkipReport = field(default_factory=SkipReport)

    def summary(self) -> str:
        if self.unchanged:
            return f"up to date: {self.records:,} functions ({self.seconds:.1f} s)"
        return (f"{self.records:,} functions: encoded {self.encoded:,}, reused {self.reused:,}, "
                f"+{self.added:,} -{self.removed:,} ({self.seconds:.1f} s, {self.generation})")


def update(
    root: Path,
    out: Path,
    encoder: Encoder,
    progress: bool = False,
    skips: SkipReport | None = None,
    hooks: Sequence[BuildHook] = (),
    extras: dict[str, Any] | None = None,
) -> tuple[Index, UpdateResult]:
    """Bring the index `out` up to date with the source folder `root`."""
    t0 = time.perf_counter()
    root = Path(root).resolve()
    skips = skips if skips is not None else SkipReport()
    before = files.current_generation(Path(out))
    hooks = [*hooks, *kept_searchers(Path(out), encoder)]
    # Files unchanged since the last update are not parsed again (INDEX/.cache/files.sqlite).
    cache = Path(out) / ".cache" / "files.sqlite"
    records = iter_repo_records(root, skips, progress=progress, cache=cache)  # streamed
    extras = {"source": str(root), **(extras or {})}
    index, stats = Index.build(records, out, encoder, progress=progress, hooks=hooks,
                               extras=extras)
    added, removed = _changed_functions(before, index.gen)
    result = UpdateResult(
        records=stats["records"], encoded=stats["encoded"], reused=stats["reused"],
        added=added, removed=removed,
        unchanged=bool(stats.get("unchanged")), seconds=time.perf_counter() - t0,
        generation=index.gen.name, skips=skips,
    )
    return index, result


def watch(
    root: Path,
    out: Path,
    encoder: Encoder,
    debounce_s: float = 1.0,
    stop: threading.Event | None = None,
    on_update: Callable[[UpdateResult], None] | None = None,
) -> None:
    """Update the index whenever files under `root` change, until `stop` is set or Ctrl-C.

    Starts with one update, so changes made while the caller's first build ran are
    not lost. A failed update (another build holds the index, a file vanished) is
    reported and the loop goes on; the published index is never left half-written.
    """
    import watchfiles

    root = Path(root).resolve()
    out = Path(out).resolve()

    def run_update() -> None:
        try:
            index, result = update(root, out, encoder)
        except (IndexError_, OSError) as e:
            print(f"seekcode watch: update failed: {e}", file=sys.stderr)
            return
        index.close()
        print(f"seekcode watch: {result.summary()}", file=sys.stderr)
        if on_update is not None:
            on_update(result)

    run_update()
    for _changes in watchfiles.watch(
        root,
        watch_filter=_SourceChanges(root, out),
        debounce=int(debounce_s * 1000),
        stop_event=stop,
        raise_interrupt=False,
    ):
        run_update()


class _SourceChanges:
    """Which file events can change the index: sources, ignore files, folders.

    Events inside the index folder itself, `.git` and vendored folders are dropped,
    or every update would trigger the next one. Paths without a suffix are kept
    because a moved or deleted folder is reported as one event on the folder.
    """

    def __init__(self, root: Path, out: Path):
        self.root = root
        self.out = out

    def __call__(self, change: object, path: str) -> bool:
        p = Path(path)
        if p == self.out or self.out in p.parents:
            return False
        try:
            parts = p.relative_to(self.root).parts
        except ValueError:
            return False
        if any(part.startswith(".") or part in VENDORED_DIRS for part in parts[:-1]):
            return False
        name = p.name
        if name in IGNORE_FILES:
            return True
        if name.startswith("."):
            return False
        return extractor_for(name) is not None or not p.suffix


def kept_searchers(out: Path, encoder: Encoder) -> list[BuildHook]:
    """Hooks carrying the published generation's searchers (CoSHC, ...) over to the next
    one, so that an update keeps them; none when there is no index yet or it was built
    with another encoder (its searchers' artifacts describe other vectors)."""
    try:
        index = Index.open(out, verify=False)
    except IndexError_:
        return []
    try:
        if index.manifest["encoder"]["id"] != encoder.id:
            return []
        return index.carry_over_hooks()
    finally:
        index.close()


def _changed_functions(before: Path | None, after: Path) -> tuple[int, int]:
    """(added, removed) functions between two generations, by (path, name).

    By (path, name), not url: an edit above a function moves its lines, not the
    function. Counted by SQLite from both generations' metadata (records sharing a url
    were dropped there), so a big index is never held in memory as a set.
    """
    if before is None or not (before / META).is_file():
        db = sqlite3.connect(files.sqlite_uri(after / META, read_only=True), uri=True)
        try:
            return int(db.execute(
                "SELECT COUNT(*) FROM (SELECT DISTINCT path, func_name FROM records)"
            ).fetchone()[0]), 0
        finally:
            db.close()
    if before == after:
        return 0, 0
    db = sqlite3.connect(files.sqlite_uri(after / META, read_only=True), uri=True)
    try:
        db.execute("ATTACH DATABASE ? AS old", (files.sqlite_uri(before / META, read_only=True),))
        count = "SELECT COUNT(*) FROM (SELECT path, func_name FROM {} EXCEPT SELECT path, func_name FROM {})"
        added = db.execute(count.format("main.records", "old.records")).fetchone()[0]
        removed = db.execute(count.format("old.records", "main.records")).fetchone()[0]
        return int(added), int(removed)
    finally:
        db.close()
