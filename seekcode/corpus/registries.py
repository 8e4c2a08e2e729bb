"""Source kinds for the registries: `pypi:NAME[==VER]`, `npm:NAME[@VER]`, `deb:NAME[=VER]`.

Each downloads with the registry's own client into the cache (`$SEEKCODE_CACHE` or
`~/.cache/seekcode`, under `pypi/`, `npm/` and `deb/`) and reads from there afterwards
without any network: an unpinned name uses the newest (pypi) or most recently
fetched (npm, deb) cached version.

- `pypi:NAME` runs `pip download` (sdist first, else the wheel) and reads the archive
  without unpacking it; the package is one project.
- `npm:NAME` runs `npm pack` and reads the tarball without unpacking it. Each npm
  package is one project (`repo` = the package name).
- `deb:NAME` runs `apt-get download` (no install, no root scripts) and unpacks the
  .deb with `dpkg-deb -x` into the cache. Source files are read from the tree and
  from archives inside it (`src.zip`, `*.jar`, tarballs), as `openjdk-17-source` and
  `golang-*-src` ship them. A big package holds many projects, so the project (the
  unit of the train/valid/test split) is, by language: Java, the package name's
  first two parts (three under com/org/net/...: `java.util`, `com.sun.net`); Go, the
  first two folders under `src/` (`net/http`), three for module paths
  (`github.com/spf13/cobra`); other languages, the whole package,
  unless it has more than 300 source files: then the folders where its tree
  branches (`split_projects`; `libruby3.1`: `bundler`, `rubygems`, `set`, ...).
  `repo` is `DEBNAME/PROJECT`. Documentation, examples and `testdata` are left out.
  The tree is read by the one source walker (`corpus.walk`): a symlink in a package
  (`/usr/lib/go/src -> ../share/go/src`) is not followed, so nothing outside is read.

Archive members are chosen by the walker's rules for names (hidden, vendored, test
folders, unsupported files), so an archive and a folder of the same files read alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

from seekcode.corpus.skips import SkipReport
from seekcode.corpus.sources import SourceError, SourceFile, SourceOptions
from seekcode.corpus.walk import WalkOptions, dir_reason, file_reason, huge_reason, walk

ARCHIVES = (".zip", ".jar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar")
# Folders of a Debian package that hold no project code (docs, examples, fixtures).
_DEB_SKIPPED = {"doc", "examples", "example", "testdata", "fixtures", "man", "locale"}
# Projects of a package with more files than this are its first-level folders.
SPLIT_FILES = 300
_JAVA_PACKAGE = re.compile(rb"^\s*package\s+([\w.]+)\s*;", re.MULTILINE)
_JAVA_ORGS = {"com", "org", "net", "io", "edu", "gov", "de", "uk", "fr", "ch", "nl"}
_NPM_NAME = re.compile(r"^(?:@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*$", re.I)
_DEB_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_updated = False  # `apt-get update` runs at most once per process


# --- PyPI ------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")  # PEP 440's characters, nothing a shell reads
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
    if not _NAME.match(name) or (version and not _VERSION.match(version)):
        raise SourceError(f"pypi:{arg}: expected pypi:NAME or pypi:NAME==VERSION "
                          "(letters, digits and . _ - + ! only, e.g. pypi:requests==2.31.0)")
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
    archive: Path,
    repo: str,
    url_base: str,
    options: SourceOptions,
    skips: SkipReport,
    fileobj: IO[bytes] | None = None,
    skip_dir: Callable[[str], str | None] | None = None,
) -> Iterator[SourceFile]:
    """Source files inside an sdist (.tar.gz/.zip), wheel or jar, read without unpacking.

    Paths drop the sdist's top folder (`requests-2.32.3/`), so they read like a repo's.
    Members are chosen by the walker's rules for names (`corpus.walk`); `fileobj` is
    the archive already opened (by the walker, which never follows a symlink).
    """
    walk_options = options.walk_options(skip_dir=skip_dir)
    try:
        with contextlib.ExitStack() as stack:
            f = fileobj if fileobj is not None else stack.enter_context(open(archive, "rb"))
            if archive.name.endswith((".whl", ".zip", ".jar")):
                yield from _zip_members(f, archive, repo, url_base, walk_options, skips)
            else:
                yield from _tar_members(f, repo, url_base, walk_options, skips)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as e:
        skips.skip("unreadable archive", f"{archive} ({e})")


def _wanted(path: str, options: WalkOptions, excluded: set[tuple[str, str]]) -> bool:
    """Whether an archive member is read, by the walker's rules for names.

    Skipped members go to `excluded` as (reason, path), a folder once for all it holds.
    """
    parts = PurePosixPath(path).parts
    if not parts:
        return False
    for i, part in enumerate(parts[:-1]):
        reason = dir_reason(part, options.include_tests)
        if reason is None and options.skip_dir is not None:
            reason = options.skip_dir(part)
        if reason is not None:
            excluded.add((reason, "/".join(parts[: i + 1])))
            return False
    reason = file_reason(parts[-1], options)
    if reason is not None:
        excluded.add((reason, path))
        return False
    return True


def _member_path(name: str, top: str | None) -> str:
    # Empty and "." parts dropped: `a//x.py` without its top folder must not be `/x.py`.
    name = "/".join(p for p in name.split("/") if p not in ("", "."))
    return name[len(top) + 1 :] if top and name.startswith(top + "/") else name


def _tar_members(
    f: IO[bytes], repo: str, url_base: str, options: WalkOptions, skips: SkipReport
) -> Iterator[SourceFile]:
    # Streamed in archive order: extracting after a full scan would make gzip seek back
    # to the start for every member.
    with tarfile.open(fileobj=f, mode="r:*") as tar:
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
    f: IO[bytes], archive: Path, repo: str, url_base: str, options: WalkOptions,
    skips: SkipReport,
) -> Iterator[SourceFile]:
    with zipfile.ZipFile(f) as zf:
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
    options: WalkOptions,
    skips: SkipReport,
    where: str,
) -> bytes | None:
    if size > options.max_file_bytes:
        skips.skip(huge_reason(options.max_file_bytes), where)
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
        skips.skip(huge_reason(options.max_file_bytes), where)
        return None
    return data


# --- npm ---------------------------------------------------------------------------


def npm_files(arg: str, options: SourceOptions, skips: SkipReport) -> Iterator[SourceFile]:
    """Source files of an npm package tarball; the package is one project."""
    name, version = _split_npm(arg)
    cache = options.cache() / "npm"
    tarball = _cached(cache, _npm_stem(name), version, ".tgz") or _npm_pack(cache, name, version)
    ver = tarball.name[len(_npm_stem(name)) + 1 : -len(".tgz")]
    yield from archive_files(tarball, name, f"npm:{name}@{ver}", options, skips)


def _split_npm(arg: str) -> tuple[str, str]:
    """`@scope/name@1.2` -> ("@scope/name", "1.2")."""
    at = arg.rfind("@")
    name, version = (arg[:at], arg[at + 1 :]) if at > 0 else (arg, "")
    if not _NPM_NAME.match(name):
        raise SourceError(f"npm:{arg}: expected npm:NAME or npm:NAME@VERSION")
    return name, version


def _npm_stem(name: str) -> str:
    return name.replace("/", "+")  # a scoped name as one file name


def _cached(cache: Path, stem: str, version: str, suffix: str) -> Path | None:
    """The cached `STEM@VERSION.SUFFIX`, or the most recently fetched one if unpinned."""
    if version:
        path = cache / f"{stem}@{version}{suffix}"
        return path if path.is_file() else None
    found = sorted(cache.glob(f"{glob_escape(stem)}@*{suffix}"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _npm_pack(cache: Path, name: str, version: str) -> Path:
    spec = f"{name}@{version}" if version else name
    cache.mkdir(parents=True, exist_ok=True)
    print(f"seekcode: downloading {spec} with npm pack...", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        cmd = ["npm", "pack", spec, "--json", "--ignore-scripts", "--pack-destination", tmp]
        done = _run(cmd, cwd=tmp, what=f"npm:{spec}")
        try:
            info = json.loads(done.stdout)[0]
            packed = Path(tmp) / info["filename"]
            got = str(info["version"])
        except (ValueError, LookupError, TypeError) as e:
            raise SourceError(f"npm:{spec}: unexpected npm pack output ({e})") from e
        target = cache / f"{_npm_stem(name)}@{got}.tgz"
        shutil.move(str(packed), target)
    return target


# --- Debian --------------------------------------------------------------------------


def deb_files(arg: str, options: SourceOptions, skips: SkipReport) -> Iterator[SourceFile]:
    """Source files of a Debian package, unpacked (never installed) in the cache."""
    name, _, version = arg.partition("=")
    if not _DEB_NAME.match(name):
        raise SourceError(f"deb:{arg}: expected deb:NAME or deb:NAME=VERSION")
    root = _deb_tree(options.cache() / "deb", name, version).resolve()
    ver = root.name.partition("@")[2]
    base = f"deb:{name}={ver}"
    walk_options = options.walk_options(also=ARCHIVES, skip_dir=_deb_skipped)
    # Projects depend on the whole tree, so a first walk lists it (its skips are
    # counted by the second, which reads).
    listed = [e.rel for e in walk(root, walk_options, SkipReport())]
    projects = split_projects([r for r in listed if not r.lower().endswith(ARCHIVES)])
    for entry in walk(root, walk_options, skips):
        rel = entry.rel
        if not rel.lower().endswith(ARCHIVES):
            data = entry.read(options.max_file_bytes, skips)
            if data is None:
                continue
            where = f"{base}/{rel}"
            project = _project(name, PurePosixPath(rel), data, projects.get(rel, ""))
            yield SourceFile(project, rel, where, data, where)
            continue
        try:
            archive = entry.open()
        except OSError:
            skips.skip("unreadable archive", entry.where)
            continue
        with archive:
            members = archive_files(Path(entry.where), name, f"{base}/{rel}!", options, skips,
                                    fileobj=archive, skip_dir=_deb_skipped)
            for sf in members:
                project = _project(name, PurePosixPath(sf.path), sf.data, _archive_stem(rel))
                yield replace(sf, repo=project, path=f"{rel}!/{sf.path}")


def _deb_skipped(folder: str) -> str | None:
    return "documentation or examples folder" if folder in _DEB_SKIPPED else None


def _deb_tree(cache: Path, name: str, version: str) -> Path:
    """The unpacked package folder `<cache>/deb/NAME@VERSION/`, downloading if needed."""
    tree = _cached(cache, name, version, "")
    if tree is not None and tree.is_dir():
        return tree
    cache.mkdir(parents=True, exist_ok=True)
    deb = _deb_download(cache, name, version)
    ver = deb.name.split("_")[1].replace("%3a", ":")
    target = cache / f"{name}@{ver}"
    tmp = tempfile.mkdtemp(dir=cache, prefix=".unpack-")
    try:
        _run(["dpkg-deb", "-x", str(deb), tmp], cwd=tmp, what=f"deb:{name}")
        try:
            os.replace(tmp, target)  # atomic: a half-unpacked tree is never taken as cached
        except OSError:
            if not target.is_dir():
                raise  # else another run unpacked the same package first: use theirs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    deb.unlink()  # the unpacked tree is the cache; the .deb would double the disk
    return target


def _deb_download(cache: Path, name: str, version: str) -> Path:
    global _updated
    spec = f"{name}={version}" if version else name
    print(f"seekcode: downloading {spec} with apt-get download...", file=sys.stderr)
    for attempt in range(2):
        with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
            os.chmod(tmp, 0o777)  # apt's download user must be able to write here
            try:
                _run(["apt-get", "download", "-q", spec], cwd=tmp, what=f"deb:{spec}")
            except SourceError:
                # An empty or stale package list looks like "unable to locate":
                # refresh it once and retry, as a person would.
                if attempt or _updated:
                    raise
                _updated = True
                print(
                    "seekcode: apt-get update (package lists missing or stale)...", file=sys.stderr
                )
                _run(["apt-get", "update", "-q"], cwd=tmp, what="apt-get update")
                continue
            debs = list(Path(tmp).glob("*.deb"))
            if debs:
                target = cache / debs[0].name
                shutil.move(str(debs[0]), target)
                return target
    raise SourceError(f"deb:{spec}: apt-get download fetched nothing")


def split_projects(paths: list[str], limit: int = SPLIT_FILES) -> dict[str, str]:
    """Project name (relative to its package) of each file path; "" for the package itself.

    A package of at most `limit` files is one project. A bigger one is split where
    its tree branches (single-child folder chains are walked through): each branch
    folder is a project, named after that folder, and split again while it is still
    too big; a file at a branch point is a project of its own (`set.rb` -> `set`).
    """
    out: dict[str, str] = {}

    def assign(group: list[tuple[str, ...]], depth: int, name: str) -> None:
        # Every path in `group` is longer than `depth`; walk through folder chains.
        while all(len(p) > depth + 1 for p in group) and len({p[depth] for p in group}) == 1:
            depth += 1
        if len(group) <= limit:
            for p in group:
                out["/".join(p)] = name
            return
        branches: dict[str, list[tuple[str, ...]]] = {}
        for p in group:  # `net.rb` and `net/` are one project
            key = p[depth] if len(p) > depth + 1 else PurePosixPath(p[depth]).stem
            branches.setdefault(key, []).append(p)
        for key, members in sorted(branches.items()):
            inside = [p for p in members if len(p) > depth + 1]
            for p in members:
                if len(p) == depth + 1:
                    out["/".join(p)] = key
            if inside:
                assign(inside, depth + 1, key)

    assign([tuple(PurePosixPath(p).parts) for p in paths], 0, "")
    return out


def _archive_stem(rel: str) -> str:
    name = PurePosixPath(rel).name
    for suffix in ARCHIVES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _project(package: str, path: PurePosixPath, data: bytes, default: str) -> str:
    """The project of a file as `package/project` (see the module doc)."""
    suffix = path.suffix.lower()
    if suffix == ".java":
        m = _JAVA_PACKAGE.search(data[:20000])
        if m:
            parts = m.group(1).decode("ascii", "replace").split(".")
            depth = 3 if parts[0] in _JAVA_ORGS else 2
            return f"{package}/{'.'.join(parts[:depth])}"
    if suffix == ".go" and "src" in path.parts:
        below = path.parts[len(path.parts) - path.parts[::-1].index("src") :][:-1]
        if below:
            # `net/http` in the standard library; a module path (`github.com/u/repo`,
            # `golang.org/x/net`) starts with a domain and has three parts.
            depth = 3 if "." in below[0] else 2
            return f"{package}/{'/'.join(below[:depth])}"
    return f"{package}/{default}" if default else package


def _run(cmd: list[str], cwd: str, what: str) -> subprocess.CompletedProcess[str]:
    """Run a registry client; SourceError with its last error line if it fails."""
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=1800)
    except FileNotFoundError as e:
        raise SourceError(f"{what}: {cmd[0]} is not installed") from e
    except subprocess.TimeoutExpired as e:
        raise SourceError(f"{what}: {cmd[0]} timed out") from e
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("W:")]
        raise SourceError(
            f"{what}: {cmd[0]} failed: {lines[-1].strip() if lines else done.returncode}"
        )
    return done
