"""Checksums and atomic generation swaps for the index directory."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

CURRENT = "current"
GEN_PREFIX = "gen-"


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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
