"""Source specs to files: folders, stdlib, cached PyPI archives, and every skip reason."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from seekcode.corpus.skips import SkipReport
from seekcode.corpus.sources import (
    SOURCE_KINDS,
    DecodeError,
    SourceError,
    SourceFile,
    SourceOptions,
    decode_source,
    iter_source_files,
    resolve,
)

GOOD = b'def f(x):\n    """Return x plus one."""\n    return x + 1\n'


def files_of(specs, **opts):
    skips = SkipReport()
    files = list(iter_source_files(specs, SourceOptions(**opts), skips))
    return files, skips


# --- decoding -------------------------------------------------------------------


def test_decode_honours_coding_cookie_and_bom():
    latin = "# -*- coding: latin-1 -*-\ns = 'café'\n".encode("latin-1")
    assert "café" in decode_source(latin)
    assert decode_source(b"\xef\xbb\xbfx = 1\r\ny = 2\r") == "x = 1\ny = 2\n"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"x = 1\0\0\0", "binary file (NUL bytes)"),
        ("s = 'café'\n".encode("latin-1"), "not UTF-8"),
        ("x = 1\ny = 2\ns = 'café'\n".encode("latin-1"), "not UTF-8"),
        (b"# coding: no-such-codec\nx = 1\n", "bad coding cookie"),
        (b"# coding: ascii\nx = '\xc3\xa9'\n", "not in its declared encoding"),
    ],
)
def test_decode_failures_carry_a_reason(data, reason):
    with pytest.raises(DecodeError) as e:
        decode_source(data)
    assert e.value.reason == reason


# --- folders --------------------------------------------------------------------


def test_folder_is_one_project_named_after_it(tmp_path):
    proj = tmp_path / "myproj"
    (proj / "pkg").mkdir(parents=True)
    (proj / "pyproject.toml").write_text("")
    (proj / "pkg" / "a.py").write_bytes(GOOD)
    (proj / "pkg" / "README.md").write_text("not code")
    (proj / "tests").mkdir()
    (proj / "tests" / "test_a.py").write_bytes(GOOD)
    (proj / "pkg" / "test_b.py").write_bytes(GOOD)
    (proj / "pkg" / "conftest.py").write_bytes(GOOD)
    (proj / ".venv" / "lib").mkdir(parents=True)
    (proj / ".venv" / "lib" / "x.py").write_bytes(GOOD)
    (proj / "pkg" / "__pycache__").mkdir()
    (proj / "pkg" / "__pycache__" / "a.py").write_bytes(GOOD)
    files, skips = files_of([str(proj)])
    assert [(f.repo, f.path) for f in files] == [("myproj", "pkg/a.py")]
    assert files[0].url(3, 5) == (proj / "pkg" / "a.py").absolute().as_uri() + "#L3-L5"
    assert files[0].data == GOOD
    assert skips.counts == {
        "test folder (excluded)": 1,
        "test file (excluded)": 2,
        "hidden folder": 1,
        "generated folder": 1,
        "not a supported language": 2,  # README.md, pyproject.toml
    }
    files, _ = files_of([str(proj)], include_tests=True)
    assert [f.path for f in files] == [
        "pkg/a.py",
        "pkg/conftest.py",
        "pkg/test_b.py",
        "tests/test_a.py",
    ]


def test_folder_of_many_packages_is_many_projects(tmp_path):
    root = tmp_path / "collection"
    for name in ("alpha", "beta", "gamma"):
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_bytes(GOOD)
    (root / "single.py").write_bytes(GOOD)
    files, _ = files_of([str(root)])
    assert sorted(f.repo for f in files) == [
        "collection/alpha",
        "collection/beta",
        "collection/gamma",
        "collection/single",
    ]


def test_bad_files_are_skipped_with_reason_and_example(tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "ok.py").write_bytes(GOOD)
    (root / "huge.py").write_bytes(b"x = 1\n" * 400)
    (root / "dangling.py").symlink_to(root / "missing.py")
    os.mkfifo(root / "fifo.py")
    files, skips = files_of([str(root)], max_file_bytes=1000)
    assert [f.path for f in files] == ["ok.py"]
    assert skips.counts == {
        "huge file (> 1,000 bytes)": 1,
        "symlink (not followed)": 1,
        "not a regular file": 1,
    }
    assert skips.examples["symlink (not followed)"] == [str(root / "dangling.py")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file_is_skipped(tmp_path):
    path = tmp_path / "p" / "secret.py"
    path.parent.mkdir()
    path.write_bytes(GOOD)
    path.chmod(0)
    files, skips = files_of([str(path.parent)])
    assert files == [] and skips.counts == {"unreadable file": 1}


def test_single_file_and_bad_specs(tmp_path):
    path = tmp_path / "tool.py"
    path.write_bytes(GOOD)
    files, _ = files_of([str(path)])
    assert [(f.repo, f.path) for f in files] == [("tool", "tool.py")]
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SourceError, match="no extractor"):
        resolve(str(tmp_path / "notes.txt"))
    with pytest.raises(SourceError, match="no such file or folder"):
        resolve(str(tmp_path / "missing"))
    with pytest.raises(SourceError, match="no such module"):
        files_of(["stdlib:no_such_module_here"])


def test_stdlib_module_selection():
    files, _ = files_of(["stdlib:json,textwrap"])
    paths = {f.path for f in files}
    assert {"json/__init__.py", "json/decoder.py", "textwrap.py"} <= paths
    assert {f.repo for f in files} == {"stdlib/json", "stdlib/textwrap"}
    assert not any("/tests/" in p for p in paths)


def fake_kind(arg: str, options: SourceOptions, skips: SkipReport):
    yield SourceFile("fake", f"{arg}.py", f"fake:{arg}", GOOD, f"fake:{arg}")


def test_source_kinds_are_a_registry(monkeypatch):
    monkeypatch.setitem(SOURCE_KINDS, "fake", f"{__name__}:fake_kind")
    files, _ = files_of(["fake:thing"])
    assert [(f.repo, f.path) for f in files] == [("fake", "thing.py")]


# --- PyPI archives from the cache (no network) ---------------------------------


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if name.endswith("/"):  # a folder entry, as real sdists start with
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
                continue
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    pypi = tmp_path / "cache" / "pypi"
    pypi.mkdir(parents=True)
    monkeypatch.setenv("SEEKCODE_CACHE", str(tmp_path / "cache"))
    return pypi


def test_pypi_sdist_read_from_cache_without_unpacking(cache):
    _tar(
        cache / "demo_pkg-1.2.0.tar.gz",
        {
            "demo_pkg-1.2.0/": b"",
            "demo_pkg-1.2.0/src/demo_pkg/core.py": GOOD,
            "demo_pkg-1.2.0/src/demo_pkg/big.py": b"x = 1\n" * 400,
            "demo_pkg-1.2.0/tests/test_core.py": GOOD,
            "demo_pkg-1.2.0/tests/test_more.py": GOOD,
            "demo_pkg-1.2.0/src/demo_pkg/conftest.py": GOOD,
            "demo_pkg-1.2.0/setup.cfg": b"[metadata]\n",
        },
    )
    _zip(cache / "demo_pkg-1.1.0-py3-none-any.whl", {"demo_pkg/old.py": GOOD})
    files, skips = files_of(["pypi:demo-pkg"], max_file_bytes=1000)  # newest cached: 1.2.0
    assert [(f.repo, f.path) for f in files] == [("demo-pkg", "src/demo_pkg/core.py")]
    assert files[0].url(1, 3) == "pypi:demo-pkg==1.2.0/src/demo_pkg/core.py#L1-L3"
    assert skips.counts == {
        "huge file (> 1,000 bytes)": 1,
        "test folder (excluded)": 1,
        "test file (excluded)": 1,
        "not a supported language": 1,  # setup.cfg
    }
    assert skips.examples["test folder (excluded)"] == ["pypi:demo-pkg==1.2.0/tests"]
    files, _ = files_of(["pypi:demo_pkg==1.1.0"])
    assert [f.path for f in files] == ["demo_pkg/old.py"]


def test_corrupt_archive_is_skipped(cache):
    (cache / "broken-0.1.tar.gz").write_bytes(b"not a tarball at all")
    files, skips = files_of(["pypi:broken==0.1"])
    assert files == [] and skips.counts == {"unreadable archive": 1}


def test_pypi_bad_name_is_a_source_error(cache):
    with pytest.raises(SourceError, match="expected pypi:NAME"):
        files_of(["pypi:../../etc"])
