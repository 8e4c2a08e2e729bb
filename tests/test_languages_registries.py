"""npm: and deb: sources, from a prepared cache (no network): files, projects, skips."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from seekcode.corpus.registries import _project, _split_npm, deb_files, npm_files, split_projects
from seekcode.corpus.skips import SkipReport
from seekcode.corpus.sources import SourceError, SourceOptions, iter_source_files


def _tgz(path: Path, files: dict[str, str]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_npm_from_cache(tmp_path: Path):
    npm = tmp_path / "npm"
    npm.mkdir()
    _tgz(
        npm / "@scope+pkg@1.2.3.tgz",
        {
            "package/index.js": "/** Hi. */\nfunction hi() {}\n",
            "package/lib/util.ts": "export const x = () => 1;\n",
            "package/test/a.js": "function t() {}\n",
            "package/README.md": "# readme\n",
        },
    )
    options = SourceOptions(cache_dir=tmp_path)
    files = list(npm_files("@scope/pkg", options, SkipReport()))
    assert [f.path for f in files] == ["index.js", "lib/util.ts"]
    assert {f.repo for f in files} == {"@scope/pkg"}
    assert files[0].url(2, 2) == "npm:@scope/pkg@1.2.3/index.js#L2-L2"
    # Through the registry of source kinds, pinned to the cached version:
    pinned = list(iter_source_files(["npm:@scope/pkg@1.2.3"], options))
    assert len(pinned) == 2


def test_npm_spec_errors():
    assert _split_npm("lodash@4.17.21") == ("lodash", "4.17.21")
    assert _split_npm("@babel/core") == ("@babel/core", "")
    with pytest.raises(SourceError):
        _split_npm("bad name!")


def test_deb_from_cache(tmp_path: Path):
    tree = tmp_path / "deb" / "fake-src@1.0-1"
    java = "package org.acme.util.text;\n/** Doc. */\nclass A { void f() {} }\n"
    (tree / "usr/share/go/src/net/http").mkdir(parents=True)
    (tree / "usr/share/go/src/net/http/server.go").write_text("package http\n")
    (tree / "usr/share/go/src/net/http/testdata").mkdir()
    (tree / "usr/share/go/src/net/http/testdata/broken.go").write_text("package (((\n")
    (tree / "usr/share/doc/fake-src/examples").mkdir(parents=True)
    (tree / "usr/share/doc/fake-src/examples/demo.rb").write_text("def demo; end\n")
    (tree / "usr/lib/jvm").mkdir(parents=True)
    with zipfile.ZipFile(tree / "usr/lib/jvm/src.zip", "w") as zf:
        zf.writestr("java.base/org/acme/util/text/A.java", java)
        zf.writestr("java.base/org/acme/util/text/notes.txt", "no")
        zf.writestr("java.sql/java/sql/B.java", "package java.sql;\nclass B {}\n")
    files = list(deb_files("fake-src", SourceOptions(cache_dir=tmp_path), SkipReport()))
    by_path = {f.path: f for f in files}
    assert set(by_path) == {
        "usr/share/go/src/net/http/server.go",
        "usr/lib/jvm/src.zip!/java.base/org/acme/util/text/A.java",
        "usr/lib/jvm/src.zip!/java.sql/java/sql/B.java",
    }
    assert by_path["usr/share/go/src/net/http/server.go"].repo == "fake-src/net/http"
    java_file = by_path["usr/lib/jvm/src.zip!/java.base/org/acme/util/text/A.java"]
    assert java_file.repo == "fake-src/org.acme.util"
    assert java_file.url(2, 3).startswith("deb:fake-src=1.0-1/usr/lib/jvm/src.zip!/java.base/")


def test_project_rules():
    jdk = _project("jdk", PurePosixPath("a/B.java"), b"package java.util.concurrent;", "")
    assert jdk == "jdk/java.util"
    assert (
        _project("jdk", PurePosixPath("a/B.java"), b"package com.sun.net.x;", "")
        == "jdk/com.sun.net"
    )
    assert _project("php-x", PurePosixPath("usr/share/php/X/A.php"), b"", "") == "php-x"
    assert _project("lib", PurePosixPath("r/net/http.rb"), b"", "net") == "lib/net"


def test_split_projects_at_branches():
    ruby = "usr/lib/ruby/3.1.0"
    paths = [f"{ruby}/net/http/{i}.rb" for i in range(3)] + [f"{ruby}/set.rb"]
    paths += [f"{ruby}/rubygems/{i}.rb" for i in range(3)] + [f"{ruby}/rubygems.rb"]
    paths += [f"usr/lib/ruby/gems/3.1.0/gems/minitest-5/lib/{i}.rb" for i in range(2)]
    projects = split_projects(paths, limit=3)
    assert projects[f"{ruby}/net/http/0.rb"] == "net"
    assert projects[f"{ruby}/set.rb"] == "set"
    assert projects[f"{ruby}/rubygems/2.rb"] == projects[f"{ruby}/rubygems.rb"] == "rubygems"
    assert projects["usr/lib/ruby/gems/3.1.0/gems/minitest-5/lib/1.rb"] == "gems"
    assert set(split_projects(paths, limit=100).values()) == {""}  # small: one project


def test_bad_deb_name():
    with pytest.raises(SourceError):
        list(deb_files("Bad Name", SourceOptions(), SkipReport()))
