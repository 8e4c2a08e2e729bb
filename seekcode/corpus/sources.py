"""Source specs to source files: a folder, a file, `stdlib`, or a registry package.

A spec is either a path or `KIND[:ARG]` where KIND is a key of `SOURCE_KINDS`
(kind names win over a same-named folder; write `./stdlib` for the folder). A kind
maps to a function `(arg, options, skips) -> Iterable[SourceFile]`, so new kinds
are one registry line and one function, without touching the rest. The registries
(`pypi:`, `npm:`, `deb:`) are in `corpus.registries`.

Folders are read by the one source walker (`corpus.walk`), which `seekcode index DIR`
uses too. Bad files never stop a run: each is counted in the SkipReport with a reason
and an example path ("huge file (> 1 MiB)", "symlink (not followed)", "binary file
(NUL bytes)", ...).
"""

from __future__ import annotations

import importlib
import io
import os
import re
import sysconfig
import tokenize
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from seekcode.corpus.extract import EXTRACTORS
from seekcode.corpus.skips import SkipReport
from seekcode.corpus.walk import Entry, WalkOptions, read_path, walk
from seekcode.errors import InputError

DEFAULT_MAX_FILE_BYTES = 1 << 20

# KIND -> "module:function"; the function takes (arg, SourceOptions, SkipReport).
SOURCE_KINDS: dict[str, str] = {
    "stdlib": "seekcode.corpus.sources:stdlib_files",
    "pypi": "seekcode.corpus.registries:pypi_files",
    "npm": "seekcode.corpus.registries:npm_files",
    "deb": "seekcode.corpus.registries:deb_files",
}

# A folder holding one of these is one project, however many packages it has.
_PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")
# A folder without markers that holds this many packages is a collection of projects.
_MIN_PACKAGES_FOR_COLLECTION = 3


class SourceError(InputError):
    """A source spec that cannot be used at all (no such folder, pip failed, ...)."""


class DecodeError(InputError):
    """File bytes that are not source text; `reason` is the skip reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class SourceOptions:
    """How sources are read. Defaults suit building a corpus of real code."""

    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    include_tests: bool = False  # read test folders and files too (see corpus.walk)
    cache_dir: Path | None = None  # default: $SEEKCODE_CACHE or ~/.cache/seekcode
    extensions: tuple[str, ...] = field(default_factory=lambda: tuple(EXTRACTORS))

    def cache(self) -> Path:
        if self.cache_dir is not None:
            return Path(self.cache_dir)
        env = os.environ.get("SEEKCODE_CACHE")
        return Path(env) if env else Path.home() / ".cache" / "seekcode"

    def walk_options(
        self, also: tuple[str, ...] = (), skip_dir: Callable[[str], str | None] | None = None
    ) -> WalkOptions:
        return WalkOptions(self.max_file_bytes, self.include_tests, self.extensions, also, skip_dir)


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

# A stdlib module name: no path separators, no `..` (the spec names modules, not paths).
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def file_files(arg: str, options: SourceOptions, skips: SkipReport) -> Iterator[SourceFile]:
    """A single file: its own project, named after the file (a named symlink is followed)."""
    path = Path(arg).resolve()
    data = read_path(path, options.max_file_bytes, skips)
    if data is not None:
        yield SourceFile(path.stem, path.name, path.as_uri(), data, str(path))


def folder_files(arg: str, options: SourceOptions, skips: SkipReport) -> Iterator[SourceFile]:
    """Files under a folder (see `folder_entries` for the project names)."""
    yield from _read_entries(folder_entries(Path(arg), options, skips), options, skips)


def folder_entries(
    root: Path, options: SourceOptions, skips: SkipReport
) -> Iterator[tuple[str, Entry]]:
    """(project, file) of every file the walker reads under `root`, unread.

    The folder is one project named after it, unless it is a collection of projects
    (site-packages, or no project marker and several top-level packages): then every
    top-level package or module is a project, named `folder/package`. Nothing outside
    `root` is read: symlinks are skipped, and `root` itself is resolved first.
    """
    root = root.expanduser().resolve()
    name = root.name or "root"
    yield from _projects(root, name, _is_collection(root), options, skips)


def stdlib_files(arg: str, options: SourceOptions, skips: SkipReport) -> Iterator[SourceFile]:
    """The running interpreter's standard library, each top-level module a project.

    `stdlib:json,email` restricts it to those modules. Left out: site-packages, test
    folders (unless include_tests), and anything not pure Python (lib-dynload).
    """
    root = Path(sysconfig.get_paths()["stdlib"]).resolve()
    if not arg:
        yield from _read_entries(_projects(root, "stdlib", True, options, skips), options, skips)
        return
    modules = arg.split(",")
    for module in modules:  # all checked before the first file is read
        if not _MODULE.match(module) or not (
            (root / module).is_dir() or (root / f"{module}.py").is_file()
        ):
            raise SourceError(f"stdlib:{module}: no such module in {root}")
    for module in modules:
        repo = f"stdlib/{module}"
        if (root / module).is_dir():
            entries = walk(root / module, options.walk_options(), skips, prefix=module)
            yield from _read_entries(((repo, e) for e in entries), options, skips)
            continue
        single = root / f"{module}.py"  # a plain name in a resolved folder: stays inside
        data = read_path(single, options.max_file_bytes, skips)
        if data is not None:
            yield SourceFile(repo, single.name, single.as_uri(), data, str(single))


def _read_entries(
    entries: Iterable[tuple[str, Entry]], options: SourceOptions, skips: SkipReport
) -> Iterator[SourceFile]:
    for repo, entry in entries:
        data = entry.read(options.max_file_bytes, skips)
        if data is not None:
            yield SourceFile(repo, entry.rel, entry.url_base, data, entry.where)


def _projects(
    root: Path, name: str, collection: bool, options: SourceOptions, skips: SkipReport
) -> Iterator[tuple[str, Entry]]:
    for entry in walk(root, options.walk_options(), skips):
        if collection:  # the project is the top-level package, or module for files
            top, _, rest = entry.rel.partition("/")
            yield f"{name}/{Path(top).stem if not rest else top}", entry
        else:
            yield name, entry


def _is_collection(root: Path) -> bool:
    try:
        if root.name in ("site-packages", "dist-packages"):
            return True
        if (root / "__init__.py").exists() or any((root / m).exists() for m in _PROJECT_MARKERS):
            return False
        children = [c for c in root.iterdir() if not c.name.startswith(".") and not c.is_symlink()
                    and c.is_dir()]
        units = [c for c in children if (c / "__init__.py").exists()]
    except OSError:  # an unreadable folder or child: the walk counts it
        return False
    return len(units) >= _MIN_PACKAGES_FOR_COLLECTION
