"""Source kinds for the npm and Debian registries: `npm:NAME[@VER]` and `deb:NAME[=VER]`.

Both download with the registry's own client into the cache (`$SEEKCODE_CACHE` or
`~/.cache/seekcode`, under `npm/` and `deb/`) and read from there afterwards without
any network: an unpinned name uses the most recently fetched cached version.

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
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath

from seekcode.corpus.skips import SkipReport
from seekcode.corpus.sources import (
    SourceError,
    SourceFile,
    SourceOptions,
    archive_files,
    folder_files,
)

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
    root = _deb_tree(options.cache() / "deb", name, version)
    ver = root.name.partition("@")[2]
    base = f"deb:{name}={ver}"
    plain, archives = _list_tree(root, options)
    projects = split_projects(plain)
    for sf in folder_files(str(root), options, skips):
        if sf.path not in projects:
            continue  # docs, examples, testdata
        project = _project(name, PurePosixPath(sf.path), sf.data, projects[sf.path])
        yield replace(sf, repo=project, url_base=f"{base}/{sf.path}", display=f"{base}/{sf.path}")
    for rel in archives:
        inner = f"{base}/{rel}!"
        for sf in archive_files(root / rel, name, inner, options, skips):
            path = PurePosixPath(sf.path)
            if _DEB_SKIPPED & set(path.parts[:-1]):
                continue
            project = _project(name, path, sf.data, _archive_stem(rel))
            yield replace(sf, repo=project, path=f"{rel}!/{sf.path}")


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


def _list_tree(root: Path, options: SourceOptions) -> tuple[list[str], list[str]]:
    """Relative paths of source files and of archives under root, docs and fixtures left out."""
    plain: list[str] = []
    archives: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _DEB_SKIPPED)
        for f in sorted(filenames):
            rel = (Path(dirpath) / f).relative_to(root).as_posix()
            low = f.lower()
            if low.endswith(options.extensions):
                plain.append(rel)
            elif low.endswith(ARCHIVES):
                archives.append(rel)
    return plain, archives


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
