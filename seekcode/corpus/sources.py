"""Source specs to source files: a folder, a file, `stdlib`, or `pypi:NAME[==VER]`.

A spec is either a path or `KIND[:ARG]` where KIND is a key of `SOURCE_KINDS`
(kind names win over a same-named folder; write `./stdlib` for the folder). A kind
maps to a function `(arg, options, skips) -> Iterable[SourceFile]`, so new kinds
(`npm:`, `deb:`) are one registry line and one function, without touching the rest.

Bad files never stop a run: each is counted in the SkipReport with a reason and an
example path ("huge file (> 1 MiB)", "broken symlink", "binary file (NUL bytes)", ...).
"""

from __future__ import annotations

import importlib
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import tokenize
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

from seekcode.corpus.extract import EXTRACTORS
from seekcode.corpus.skips import SkipReport

DEFAULT_MAX_FILE_BYTES = 1 << 20

# KIND -> "module:function"; the function takes (arg, SourceOptions, SkipReport).
SOURCE_KINDS: dict[str, str] = {
    "stdlib": "seekcode.corpus.sources:stdlib_files",
    "pypi": "seekcode.corpus.sources:pypi_files",
    "npm": "seekcode.corpus.registries:npm_files",
    "deb": "seekcode.corpus.registries:deb_files",
}

# Folders that are never a project's own code.
_ALWAYS_SKIPPED_DIRS = {"__pycache__", "node_modules", "site-packages", "dist-packages"}
# Test folders: skipped unless SourceOptions.include_tests (the stdlib's `test` package
# alone is 700 files of tests and deliberately broken sources).
TEST_DIRS = {"test", "tests", "testing", "idle_test"}
# Test files outside test folders: test_x.py, x_test.go, conftest.py, x.spec.ts, XTest.java.
TEST_FILE = re.compile(r"^(?:tests?|test_.+|.+_test|conftest|.+\.(?:test|spec)|.+Tests?)\.\w+$")
_TEST_REASON = "test folder (excluded)"
_TEST_FILE_REASON = "test file (excluded)"
# A folder holding one of these is one project, however many packages it has.
_PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")
# A folder without markers that holds this many packages is a collection of projects.
_MIN_PACKAGES_FOR_COLLECTION = 3


class SourceError(ValueError):
    """A source spec that cannot be used at all (no such folder, pip failed, ...)."""


class DecodeError(ValueError):
    """File bytes that are not source text; `reason` is the skip reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class SourceOptions:
    """How sources are read. Defaults suit building a corpus of real code."""

    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    include_tests: bool = False  # read TEST_DIRS folders and TEST_FILE files too
    cache_dir: Path | None = None  # default: $SEEKCODE_CACHE or ~/.cache/seekcode
    extensions: tuple[str, ...] = field(default_factory=lambda: tuple(EXTRACTORS))

    def cache(self) -> Path:
        if self.cache_dir is not None:
            return Path(self.cache_dir)
        env = os.environ.get("SEEKCODE_CACHE")
        return Path(env) if env else Path.home() / ".cache" / "seekcode"


@dataclass(frozen=True)
class SourceFile:
    """One file's bytes and where it came from.

    `repo` is the project (the unit of the train/valid/test split), `path` the file's
    path inside the source, `url_base` the record url without `#L..`, and `display`
    what a person needs to find the file again (used in skip examples).
    """

    repo: str
    path: str
    url_base: str
    data: bytes
    display: str

    def url(self, start_line: int, end_line: int) -> str:
        return f"{self.url_base}#L{start_line}-L{end_line}"


SourceKind = Callable[[str, SourceOptions, SkipReport], Iterable[SourceFile]]


def iter_source_files(
    specs: Iterable[str], options: SourceOptions | None = None, skips: SkipReport | None = None
) -> Iterator[SourceFile]:
    """Every readable source file of every spec, in a stable order.

    All specs are checked before the first file is read, so a typo fails at once.
    """
    options = options or SourceOptions()
    skips = skips if skips is not None else SkipReport()
    resolved = [resolve(spec, options) for spec in specs]
    for kind, arg in resolved:
        yield from kind(arg, options, skips)


def resolve(spec: str, options: SourceOptions | None = None) -> tuple[SourceKind, str]:
    """The kind function and its argument for a spec; SourceError if unusable."""
    options = options or SourceOptions()
    name, _, arg = spec.partition(":")
    if name in SOURCE_KINDS:
        module, _, func = SOURCE_KINDS[name].partition(":")
        return getattr(importlib.import_module(module), func), arg
    path = Path(spec).expanduser()
    if path.is_dir():
        return folder_files, str(path)
    if path.is_file():
        if not path.name.lower().endswith(options.extensions):
            raise SourceError(
                f"{spec}: no extractor for this file type (supported: {', '.join(options.extensions)})"
            )
        return file_files, str(path)
    kinds = ", ".join(f"{k}:..." if k != "stdlib" else k for k in SOURCE_KINDS)
    raise SourceError(f"{spec}: no such file or folder (a source is a path, or one of: {kinds})")


# --- decoding -----------------------------------------------------------------


def decode_source(data: bytes) -> str:
    """Source bytes to text, honouring a BOM or PEP 263 coding cookie; newlines as "\\n".

    Raises DecodeError with the skip reason for binary or undecodable bytes.
    """
    if b"\0" in data:
        raise DecodeError("binary file (NUL bytes)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as e:
        # "unknown encoding: x" / "encoding problem: ..." are cookie errors; otherwise the
        # first two lines were not UTF-8 ("invalid or missing encoding declaration").
        cookie = "unknown encoding" in str(e) or "encoding problem" in str(e)
        raise DecodeError("bad coding cookie" if cookie else "not UTF-8") from e
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        declared = encoding.lower().replace("_", "-")
        reason = (
            "not UTF-8" if declared in ("utf-8", "utf-8-sig") else "not in its declared encoding"
        )
        raise DecodeError(reason) from e
    except LookupError as e:
        raise DecodeError("bad coding cookie") from e
    # ast counts "\r\n" and "\r" as one line end each, so line numbers are unchanged.
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- local files and folders ---------------------------------------------------


def file_files(arg: str, options: SourceOptions, skips: SkipReport) -> Iterator[SourceFile]:
    """A single file: its own project, named after the file."""
    path = Path(arg)
    data = _read(path, options, skips)
    if data is not None:
        yield SourceFile(path.stem, path.name, _file_url(path), data, str(path))


def folder_files(arg: str, options: SourceOptions, skips: SkipReport) -> Iterator[SourceFile]:
    """Files under a folder.

    The folder is one project named after it, unless it is a collection of projects
    (site-packages, or no project marker and several top-level packages): then every
    top-level package or module is a project, named `folder/package`.
    """
    root = Path(arg)
    name = root.absolute().name or "root"
    yield from _walk_folder(root, name, _is_collection(root), options, skips)


def stdlib_files(arg: str, options: SourceOptions, skips: SkipReport) -> Iterator[SourceFile]:
    """The running interpreter's standard library, each top-level module a project.

    `stdlib:json,email` restricts it to those modules. Left out: site-packages, test
    folders (unless include_tests), and anything not pure Python (lib-dynload).
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    if not arg:
        yield from _walk_folder(root, "stdlib", True, options, skips)
        return
    for module in arg.split(","):
        package, single = root / module, root / f"{module}.py"
        if package.is_dir():
            yield from _walk_folder(package, f"stdlib/{module}", False, options, skips, base=root)
        elif single.is_file():
            data = _read(single, options, skips)
            if data is not None:
                yield SourceFile(
                    f"stdlib/{module}", single.name, _file_url(single), data, str(single)
                )
        else:
            raise SourceError(f"stdlib:{module}: no such module in {root}")


def _is_collection(root: Path) -> bool:
    if root.absolute().name in ("site-packages", "dist-packages"):
        return True
    if (root / "__init__.py").exists() or any((root / m).exists() for m in _PROJECT_MARKERS):
        return False
    try:
        children = [c for c in root.iterdir() if c.is_dir() and not c.name.startswith(".")]
    except OSError:
        return False
    units = [c for c in children if (c / "__init__.py").exists()]
    return len(units) >= _MIN_PACKAGES_FOR_COLLECTION


def _walk_folder(
    root: Path,
    name: str,
    collection: bool,
    options: SourceOptions,
    skips: SkipReport,
    base: Path | None = None,
) -> Iterator[SourceFile]:
    """Files under root in sorted order; `path` is relative to `base` (default root)."""
    base = base or root

    def on_error(e: OSError) -> None:
        skips.skip("unreadable folder", str(e.filename))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            if d.startswith(".") or d in _ALWAYS_SKIPPED_DIRS or (here / d / "pyvenv.cfg").exists():
                continue
            if d in TEST_DIRS and not options.include_tests:
                skips.skip(_TEST_REASON, str(here / d))
                continue
            keep.append(d)
        dirnames[:] = keep  # os.walk descends only into these, in this order
        for f in sorted(filenames):
            if not f.lower().endswith(options.extensions) or f.startswith("."):
                continue
            path = here / f
            if TEST_FILE.match(f) and not options.include_tests:
                skips.skip(_TEST_FILE_REASON, str(path))
                continue
            rel = path.relative_to(base).as_posix()
            if collection:  # the project is the top-level package, or module for files
                parts = path.relative_to(root).parts
                repo = f"{name}/{Path(parts[0]).stem if len(parts) == 1 else parts[0]}"
            else:
                repo = name
            data = _read(path, options, skips)
            if data is not None:
                yield SourceFile(repo, rel, _file_url(path), data, str(path))


def _read(path: Path, options: SourceOptions, skips: SkipReport) -> bytes | None:
    """The file's bytes, or None after counting why it could not be used."""
    where = str(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        skips.skip("broken symlink" if path.is_symlink() else "file vanished", where)
        return None
    except OSError:
        skips.skip("unreadable file", where)
        return None
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block the read forever
        skips.skip("not a regular file", where)
        return None
    if st.st_size > options.max_file_bytes:
        skips.skip(_huge_reason(options.max_file_bytes), where)
        return None
    try:
        with open(path, "rb") as f:
            data = f.read(options.max_file_bytes + 1)
    except OSError:
        skips.skip("unreadable file", where)
        return None
    if len(data) > options.max_file_bytes:  # grew since stat
        skips.skip(_huge_reason(options.max_file_bytes), where)
        return None
    return data


def _huge_reason(limit: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if limit >= size and limit % size == 0:
            return f"huge file (> {limit // size} {unit})"
    return f"huge file (> {limit:,} bytes)"


def _file_url(path: Path) -> str:
    return path.absolute().as_uri()


# --- PyPI ------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_SDIST = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)\.(?:tar\.gz|tgz|tar\.bz2|tar\.xz|zip)$")
_WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(?:-[^-]+){3,4}\.whl$")


def pypi_files(arg: str, options: SourceOptions, skips: SkipReport) -> Iterator[SourceFile]:
    """A PyPI package's source: its sdist if pip can fetch one, else its wheel.

    Archives are cached in `<cache>/pypi/` and read without unpacking. With a cached
    archive there is no network: an unpinned name uses the newest cached version
    (pin `==VER` or delete the cache to fetch another).
    """
    name, _, version = arg.partition("==")
    name, version = name.strip(), version.strip()
    if not _NAME.match(name):
        raise SourceError(f"pypi:{arg}: expected pypi:NAME or pypi:NAME==VERSION")
    cache = options.cache() / "pypi"
    archive = _cached_archive(cache, name, version) or _download(cache, name, version)
    found = _archive_name(archive.name)
    ver = found[1] if found else version or "unknown"
    yield from archive_files(archive, name, f"pypi:{name}=={ver}", options, skips)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _archive_name(filename: str) -> tuple[str, str, bool] | None:
    """(normalized name, version, is_sdist) of an sdist or wheel file name."""
    for pattern, sdist in ((_SDIST, True), (_WHEEL, False)):
        m = pattern.match(filename)
        if m:
            return _normalize(m["name"]), m["version"], sdist
    return None


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    # Good enough to pick the newest of a few cached versions without `packaging`.
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.+-]", version))


def _cached_archive(cache: Path, name: str, version: str) -> Path | None:
    if not cache.is_dir():
        return None
    best: tuple[tuple[tuple[int, str], ...], bool, Path] | None = None
    for path in cache.iterdir():
        parsed = _archive_name(path.name)
        if not parsed or parsed[0] != _normalize(name) or (version and parsed[1] != version):
            continue
        key = (_version_key(parsed[1]), parsed[2], path)  # newest, then sdist over wheel
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best else None


def _download(cache: Path, name: str, version: str) -> Path:
    """Fetch with pip into the cache; sdist first, wheel if pip cannot get an sdist."""
    requirement = f"{name}=={version}" if version else name
    cache.mkdir(parents=True, exist_ok=True)
    print(f"seekcode: downloading {requirement} from PyPI with pip...", file=sys.stderr)
    # --no-build-isolation: preparing an sdist's metadata would otherwise download its
    # build backend every time (20+ s); if the backend is not installed we fall back
    # to the wheel, which needs no build at all.
    attempts = (
        ["--no-binary", ":all:", "--no-build-isolation"],
        ["--only-binary", ":all:"],
    )
    errors = []
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        for extra in attempts:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                   "-q", "-d", tmp, *extra, requirement]  # fmt: skip
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            except (OSError, subprocess.TimeoutExpired) as e:
                errors.append(str(e))
                continue
            got = [p for p in Path(tmp).iterdir() if _archive_name(p.name)]
            if done.returncode == 0 and got:
                target = cache / got[0].name
                shutil.move(str(got[0]), target)
                return target
            lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
            errors.append(lines[-1].strip() if lines else f"pip exited with {done.returncode}")
    raise SourceError(f"pypi:{requirement}: pip download failed: {errors[-1]}")


def archive_files(
    archive: Path, repo: str, url_base: str, options: SourceOptions, skips: SkipReport
) -> Iterator[SourceFile]:
    """Source files inside an sdist (.tar.gz/.zip) or wheel, read without unpacking.

    Paths drop the sdist's top folder (`requests-2.32.3/`), so they read like a repo's.
    """
    try:
        if archive.name.endswith((".whl", ".zip")):
            yield from _zip_members(archive, repo, url_base, options, skips)
        else:
            yield from _tar_members(archive, repo, url_base, options, skips)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as e:
        skips.skip("unreadable archive", f"{archive} ({e})")


def _wanted(path: str, options: SourceOptions, excluded: set[tuple[str, str]]) -> bool:
    """Whether an archive member is read; excluded tests go to `excluded` as (reason, path)."""
    parts = PurePosixPath(path).parts
    if not parts or not parts[-1].lower().endswith(options.extensions):
        return False
    if any(p.startswith(".") or p in _ALWAYS_SKIPPED_DIRS for p in parts):
        return False
    if options.include_tests:
        return True
    for i, part in enumerate(parts[:-1]):
        if part in TEST_DIRS:
            excluded.add((_TEST_REASON, "/".join(parts[: i + 1])))  # once per folder
            return False
    if TEST_FILE.match(parts[-1]):
        excluded.add((_TEST_FILE_REASON, path))
        return False
    return True


def _member_path(name: str, top: str | None) -> str:
    name = name.removeprefix("./").lstrip("/")
    return name[len(top) + 1 :] if top and name.startswith(top + "/") else name


def _tar_members(
    archive: Path, repo: str, url_base: str, options: SourceOptions, skips: SkipReport
) -> Iterator[SourceFile]:
    # Streamed in archive order: extracting after a full scan would make gzip seek back
    # to the start for every member.
    with tarfile.open(archive, "r:*") as tar:
        top: str | None = None
        excluded: set[tuple[str, str]] = set()
        for i, m in enumerate(tar):
            name = m.name.removeprefix("./").lstrip("/")
            if i == 0:  # sdists and npm tarballs hold one top folder: `requests-2.32.3/`
                top = name.split("/", 1)[0] if (m.isdir() or "/" in name) else None
            path = _member_path(name, top)
            if not m.isfile() or not _wanted(path, options, excluded):
                continue
            opener = partial(tar.extractfile, m)
            data = _member_bytes(m.size, opener, options, skips, f"{url_base}/{path}")
            if data is not None:
                yield SourceFile(repo, path, f"{url_base}/{path}", data, f"{url_base}/{path}")
        _count_excluded(excluded, url_base, skips)


def _zip_members(
    archive: Path, repo: str, url_base: str, options: SourceOptions, skips: SkipReport
) -> Iterator[SourceFile]:
    with zipfile.ZipFile(archive) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        tops = {i.filename.split("/", 1)[0] for i in infos}
        single_top = len(tops) == 1 and all("/" in i.filename for i in infos)
        # A wheel's top folders are its packages: nothing to strip.
        top = tops.pop() if single_top and not archive.name.endswith(".whl") else None
        excluded: set[tuple[str, str]] = set()
        for info in infos:
            path = _member_path(info.filename, top)
            if not _wanted(path, options, excluded):
                continue
            opener = partial(zf.open, info)
            data = _member_bytes(info.file_size, opener, options, skips, f"{url_base}/{path}")
            if data is not None:
                yield SourceFile(repo, path, f"{url_base}/{path}", data, f"{url_base}/{path}")
        _count_excluded(excluded, url_base, skips)


def _count_excluded(excluded: set[tuple[str, str]], url_base: str, skips: SkipReport) -> None:
    for reason, path in sorted(excluded):
        skips.skip(reason, f"{url_base}/{path}")


def _member_bytes(
    size: int,
    opener: Callable[[], IO[bytes] | None],
    options: SourceOptions,
    skips: SkipReport,
    where: str,
) -> bytes | None:
    if size > options.max_file_bytes:
        skips.skip(_huge_reason(options.max_file_bytes), where)
        return None
    try:
        f = opener()
        if f is None:
            skips.skip("unreadable file", where)
            return None
        with f:
            data = f.read(options.max_file_bytes + 1)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError, RuntimeError):
        skips.skip("unreadable file", where)
        return None
    if len(data) > options.max_file_bytes:  # the archive's size field lied
        skips.skip(_huge_reason(options.max_file_bytes), where)
        return None
    return data
