"""Checksums, atomic generation swaps, and what may be deleted, for the index directory.

Generation folders carry a marker file (`.seekcode-generation`) written when seekcode
creates them; only marked folders are ever deleted, whatever their names, so a
user's `gen-reports/` in the output folder is never touched. The marker is also the
reader lease: every opened Index holds a shared flock on its generation's marker,
and clean-up deletes a generation only after taking the exclusive lock without
waiting, so a generation still being read (by a server, a search, an eval) stays.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from seekcode.errors import InputError

CURRENT = "current"
GEN_PREFIX = "gen-"
LOCK = ".lock"
MARKER = ".seekcode-generation"
# What seekcode itself puts at the top of an index directory; anything else there
# means the folder is someone else's (see `check_output_dir`).
_OWN_ENTRIES = (CURRENT, LOCK, ".cache")


class BuildLocked(RuntimeError):
    """Another process is building this index directory right now."""


class NotAnIndexDir(InputError):
    """An output or index path seekcode must not write to or cannot read as an index."""


def check_output_dir(root: Path) -> None:
    """Refuse to build into a file, or into a non-empty folder that is not an index.

    Building writes generations beside what is there and cleans up abandoned ones,
    so it must only ever run in a folder seekcode made (or an empty one).
    """
    if root.is_symlink() and not root.exists():
        raise NotAnIndexDir(f"{root}: a dangling symlink; give a folder for the index")
    if root.exists() and not root.is_dir():
        raise NotAnIndexDir(f"{root}: is a file, not an index folder; give a new or existing "
                            "index folder with -o")
    if not root.exists():
        return
    entries = list(root.iterdir())
    if not entries or any(e.name in _OWN_ENTRIES for e in entries) or generations(root):
        return
    shown = ", ".join(sorted(e.name for e in entries)[:3])
    raise NotAnIndexDir(f"{root}: folder is not empty and is not a seekcode index ({shown}"
                        f"{', ...' if len(entries) > 3 else ''}); give a new folder with -o")


@contextlib.contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """Hold the index directory's writer lock (one build at a time).

    Without it a second build would delete the first one's unpublished generation as
    "abandoned". The lock is an flock, so a killed build releases it with its process.
    """
    check_output_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    try:
        # O_NOFOLLOW: a planted `.lock -> victim` symlink must not make us truncate the victim.
        fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        raise NotAnIndexDir(f"{root / LOCK}: cannot open the index lock ({e.strerror}); "
                            "remove it if it is a symlink or not a file") from None
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


def sqlite_uri(path: Path, read_only: bool = False) -> str:
    """A SQLite `file:` URI for `path`. as_uri() needs an absolute path, and index
    folders are often relative (`seekcode index ... -o runs/idx`)."""
    return Path(path).resolve().as_uri() + ("?mode=ro" if read_only else "")


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
        if p.is_file() and p.name not in ("manifest.json", MARKER):
            rel = p.relative_to(gen_dir).as_posix()
            table[rel] = {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
    return table


def new_generation(root: Path) -> Path:
    """A fresh, empty, marked generation folder beside the current one (not yet visible)."""
    root.mkdir(parents=True, exist_ok=True)
    # Past the current one too, should its folder be gone: a name is never reused.
    link = root / CURRENT
    named = [_number(Path(os.readlink(link)))] if link.is_symlink() else []
    n = max([_number(p) for p in generations(root)] + named + [0]) + 1
    while True:
        gen = root / f"{GEN_PREFIX}{n:06d}"
        try:
            gen.mkdir()
            break
        except FileExistsError:  # a folder of that name that is not ours: never reuse it
            n += 1
    (gen / MARKER).write_text("a seekcode index generation: seekcode may delete this folder\n")
    return gen


def _number(gen: Path) -> int:
    digits = gen.name[len(GEN_PREFIX):]
    return int(digits) if digits.isdigit() else -1


def generations(root: Path) -> list[Path]:
    """The generation folders seekcode created in `root` (marked), oldest first."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    return sorted((p for p in entries if _number(p) >= 0 and not p.is_symlink()
                   and p.is_dir() and (p / MARKER).is_file()), key=_number)


class Lease:
    """A reader's hold on a generation: a shared flock on its marker.

    Held for as long as an Index is open; `remove_generation` skips a generation that
    any process holds. A generation without a marker (or already deleted) gives a
    lease that holds nothing, and `alive` tells whether the folder is still there.
    """

    def __init__(self, gen: Path):
        self.gen = gen
        self._fd: int | None = None
        try:
            fd = os.open(gen / MARKER, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a clean-up is deleting it
        if os.fstat(fd).st_nlink == 0:  # deleted while we waited
            os.close(fd)
            return
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def alive(self) -> bool:
        """Whether the generation is still on disk (someone may have deleted it by hand)."""
        if self._fd is not None:
            try:
                return os.fstat(self._fd).st_nlink > 0 and (self.gen / MARKER).exists()
            except OSError:
                return False
        return self.gen.is_dir()

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # releases the flock

    def __del__(self) -> None:
        self.release()


def remove_generation(gen: Path) -> bool:
    """Delete a marked generation unless a reader holds it; True if it was deleted."""
    try:
        fd = os.open(gen / MARKER, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False  # not ours: never delete it
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # in use; a later publish deletes it
        # Marker last: a crash midway leaves a marked, still deletable folder.
        for p in sorted(gen.iterdir()):
            if p.name == MARKER:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        (gen / MARKER).unlink(missing_ok=True)
        os.rmdir(gen)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def publish(root: Path, gen: Path, keep: int = 2) -> None:
    """Make `gen` the current generation with one atomic rename of a symlink.

    Readers that opened the previous generation keep reading it; the oldest
    generations beyond `keep` are removed unless a reader still holds them.
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
    for old in generations(root)[:-keep]:
        if live is None or old.name != live.name:
            remove_generation(old)


def current_generation(root: Path) -> Path | None:
    """The generation `INDEX/current` names, or None when it names no generation folder."""
    try:
        return resolve_current(root)
    except NotAnIndexDir:
        return None


def resolve_current(root: Path) -> Path:
    """The generation `INDEX/current` names; NotAnIndexDir saying why when there is none."""
    link = root / CURRENT
    if not link.is_symlink():
        raise NotAnIndexDir(f"{root}: not a seekcode index (build one with `seekcode index`)")
    target = os.readlink(link)
    # Only a sibling folder: `current -> current`, `-> ..` or `-> /etc` name no generation.
    gen = root / target
    if "/" in target or target in (".", "..", CURRENT) or gen.is_symlink() or not gen.is_dir():
        raise NotAnIndexDir(f"{link}: points at {target!r}, which is not a generation folder "
                            "of this index; rebuild the index")
    return gen.resolve()


def abandoned_generations(root: Path) -> list[Path]:
    """Generations newer than the current one: left by an interrupted build."""
    live = current_generation(root)
    return [p for p in generations(root) if live is None or _number(p) > _number(live)]


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
