"""Checksums and atomic generation swaps for the index directory."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

CURRENT = "current"
GEN_PREFIX = "gen-"
LOCK = ".lock"


class BuildLocked(RuntimeError):
    """Another process is building this index directory right now."""


@contextlib.contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """Hold the index directory's writer lock (one build at a time).

    Without it a second build would delete the first one's unpublished generation as
    "abandoned". The lock is an flock, so a killed build releases it with its process.
    """
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise BuildLocked(
                f"{root}: another seekcode build (pid {holder}) is updating this index; "
                "wait for it to finish or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_table(gen_dir: Path) -> dict[str, dict[str, int | str]]:
    """Size and sha256 of every file in a generation except the manifest."""
    table: dict[str, dict[str, int | str]] = {}
    for p in sorted(gen_dir.rglob("*")):
        if p.is_file() and p.name != "manifest.json":
            rel = p.relative_to(gen_dir).as_posix()
            table[rel] = {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
    return table


def new_generation(root: Path) -> Path:
    """A fresh, empty generation folder beside the current one (not yet visible)."""
    root.mkdir(parents=True, exist_ok=True)
    numbers = [int(p.name[len(GEN_PREFIX):]) for p in root.glob(GEN_PREFIX + "*")
               if p.name[len(GEN_PREFIX):].isdigit()]
    gen = root / f"{GEN_PREFIX}{max(numbers, default=0) + 1:06d}"
    gen.mkdir()
    return gen


def publish(root: Path, gen: Path, keep: int = 2) -> None:
    """Make `gen` the current generation with one atomic rename of a symlink.

    Readers that opened the previous generation keep reading it; the oldest
    generations beyond `keep` are removed.
    """
    # Data first, then the pointer: after a crash `current` never names a generation
    # whose files did not reach the disk.
    for p in gen.rglob("*"):
        if p.is_file():
            _fsync_file(p)
    _fsync_dir(gen)
    tmp = root / f".{CURRENT}.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(gen.name, tmp)
    os.replace(tmp, root / CURRENT)
    _fsync_dir(root)
    live = current_generation(root)
    gens = sorted(p for p in root.glob(GEN_PREFIX + "*") if p.is_dir())
    for old in gens[:-keep]:
        if old != live:
            shutil.rmtree(old, ignore_errors=True)


def current_generation(root: Path) -> Path | None:
    link = root / CURRENT
    if not link.is_symlink():
        return None
    return (root / os.readlink(link)).resolve()


def abandoned_generations(root: Path) -> list[Path]:
    """Generations newer than the current one: left by an interrupted build."""
    live = current_generation(root)
    return [p for p in sorted(root.glob(GEN_PREFIX + "*"))
            if p.is_dir() and (live is None or p.name > live.name)]


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
