"""Sources to a corpus file: extraction, filters, split, sampling, skips, and the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seekcode.cli import main
from seekcode.corpus.build import build, build_corpus, iter_records
from seekcode.corpus.filters import FilterConfig
from seekcode.corpus.jsonl import read_records
from seekcode.corpus.skips import SkipReport
from seekcode.corpus.sources import SourceOptions


def documented(name: str, i: int) -> str:
    return (
        f"def {name}(x):\n"
        f'    """Return x plus {i}, as the {name} helper does."""\n'
        f"    y = x + {i}\n"
        f"    return y\n\n\n"
    )


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A project with good code and one file of every bad kind."""
    root = tmp_path / "messy"
    (root / "pkg").mkdir(parents=True)
    (root / "setup.py").write_text(documented("setup_helper", 99))
    for m in range(6):
        (root / "pkg" / f"mod{m}.py").write_text(
            "".join(documented(f"f{m}_{i}", 10 * m + i) for i in range(3))
            + "def undocumented(x):\n    return x\n"
        )
    (root / "pkg" / "zcopy.py").write_text(documented("f0_0", 0))  # duplicate of mod0's
    (root / "pkg" / "binary.py").write_bytes(b"\x7fELF\0\0\x01")
    (root / "pkg" / "latin.py").write_bytes("s = 'café'\n".encode("latin-1"))
    (root / "pkg" / "broken.py").write_text("def broken(:\n    pass\n")
    (root / "pkg" / "huge.py").write_text(documented("huge", 1) + "x = 1\n" * 5000)
    return root


def test_every_skip_reason_is_counted_and_good_code_survives(messy, tmp_path):
    out = tmp_path / "corpus.jsonl"
    summary = build([str(messy)], out, progress=False, seed=0)
    assert summary.written == 20  # 6 files x 3, setup_helper, huge (30 KB < 1 MiB)
    counts = dict(summary.skips.counts)
    assert counts == {
        "binary file (NUL bytes)": 1,
        "not UTF-8": 1,
        "syntax error": 1,
        "no docstring": 6,
        "duplicate code": 1,
    }
    assert "broken.py (syntax error line 1" in summary.skips.examples["syntax error"][0]
    records = list(read_records(out))
    assert len(records) == 20
    assert {r.repo for r in records} == {"messy"}
    assert summary.split.unit == "file"  # one project: split by file, and said so
    first = next(r for r in records if r.func_name == "f0_0")
    assert first.path == "pkg/mod0.py" and first.start_line == 1 and first.end_line == 4
    assert first.url.endswith("/messy/pkg/mod0.py#L1-L4") and first.url.startswith("file://")
    assert '"""' not in first.code and '"""' in first.original_string
    assert first.docstring_tokens[:3] == ["Return", "x", "plus"]
    assert "wrote 20 records" in summary.line() and "skipped 10" in summary.line()


def test_small_file_limit_and_gzip_output(messy, tmp_path):
    out = tmp_path / "corpus.jsonl.gz"
    n, skips = build_corpus(
        [str(messy)], out, progress=False, options=SourceOptions(max_file_bytes=20_000)
    )
    assert skips.counts["huge file (> 20,000 bytes)"] == 1
    assert n == len(list(read_records(out))) == 19


def test_all_functions_keeps_undocumented_and_duplicates(messy):
    skips = SkipReport()
    names = [r.func_name for r in iter_records([str(messy)], FilterConfig.all_functions(), skips)]
    assert names.count("undocumented") == 6 and names.count("f0_0") == 2
    assert "huge" in names
    assert set(skips.counts) == {"binary file (NUL bytes)", "not UTF-8", "syntax error"}


def test_a_file_listed_twice_is_read_once(messy):
    skips = SkipReport()
    twice = [str(messy), str(messy / "pkg" / "mod1.py")]
    records = list(iter_records(twice, FilterConfig.all_functions(), skips))
    assert len({r.url for r in records}) == len(records)
    assert skips.counts["file listed twice"] == 1


def test_an_extractor_bug_costs_one_file(messy, monkeypatch):
    import seekcode.corpus.build as build_module

    real = build_module.extractor_for

    class Exploding:
        language = "python"

        def extract(self, source: str, path: str):
            raise RuntimeError("boom")

    def pick(path: str):
        return Exploding() if path.endswith("mod3.py") else real(path)

    monkeypatch.setattr(build_module, "extractor_for", pick)
    skips = SkipReport()
    records = list(iter_records([str(messy)], skips=skips))
    assert len(records) == 20 - 3
    assert skips.counts["extractor failed (RuntimeError)"] == 1


def test_max_records_is_a_seeded_sample(messy, tmp_path):
    a = build([str(messy)], tmp_path / "a.jsonl", max_records=5, seed=3, progress=False)
    build([str(messy)], tmp_path / "b.jsonl", max_records=5, seed=3, progress=False)
    build([str(messy)], tmp_path / "c.jsonl", max_records=5, seed=4, progress=False)
    assert a.written == 5 and a.available == 20
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()
    assert (tmp_path / "a.jsonl").read_text() != (tmp_path / "c.jsonl").read_text()
    assert "sampled from 20" in a.line()


def test_real_stdlib_package(tmp_path):
    out = tmp_path / "std.jsonl"
    summary = build(["stdlib:json,email,textwrap,shlex"], out, progress=False)
    records = list(read_records(out))
    assert 100 <= summary.written == len(records) <= 400
    assert summary.split.unit == "project"
    by_repo: dict[str, set[str]] = {}
    for r in records:
        by_repo.setdefault(r.repo, set()).add(r.partition)
        assert 3 <= len(r.docstring_tokens) <= 256
        assert "test" not in r.func_name.rsplit(".", 1)[-1].lower()
        assert r.code.startswith(("def ", "async def "))
    assert set(by_repo) == {"stdlib/json", "stdlib/email", "stdlib/textwrap", "stdlib/shlex"}
    assert all(len(p) == 1 for p in by_repo.values())
    assert {p for ps in by_repo.values() for p in ps} == {"train", "valid", "test"}
    dedent = next(r for r in records if r.func_name == "dedent")
    assert dedent.path == "textwrap.py" and dedent.docstring.startswith("Remove any common")


def test_malformed_jsonl_lines_are_skipped(tmp_path, messy):
    out = tmp_path / "c.jsonl"
    build([str(messy)], out, progress=False)
    lines = out.read_text().splitlines()
    lines[1:1] = ["{not json", "[1, 2]", '{"docstring": "no code"}']
    out.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe\n")
    skips = SkipReport()
    assert len(list(read_records(out, skips))) == 20
    assert skips.total == 4
    assert skips.counts["line not JSON"] == 1 and skips.counts["line not UTF-8"] == 1


def test_command_end_to_end(messy, tmp_path, capsys):
    out = tmp_path / "cli.jsonl"
    argv = ["corpus", str(messy), "-o", str(out), "--json", "--no-progress", "--seed", "1"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["records"] == 20 and doc["skipped"] == 10
    assert doc["skips"]["syntax error"] == 1
    assert doc["seed"] == 1 and doc["filters"]["min_docstring_tokens"] == 3
    assert sum(doc["partitions"].values()) == 20
    assert "wrote 20 records" in captured.err and "syntax error" in captured.err
    assert len(list(read_records(out))) == 20


def test_command_all_functions_and_file_limit(messy, tmp_path, capsys):
    out = tmp_path / "all.jsonl"
    argv = ["corpus", str(messy), "-o", str(out), "--all-functions", "--max-file-bytes", "20k"]
    assert main([*argv, "--no-progress", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["records"] == 6 * 4 + 1 + 1  # every function, the duplicate too; no huge.py
    assert doc["skips"]["huge file (> 20 KiB)"] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["corpus", "{tmp}/missing", "-o", "{tmp}/o.jsonl"], "no such file or folder"),
        (["corpus", "pypi:no/such", "-o", "{tmp}/o.jsonl"], "expected pypi:NAME"),
        (["corpus", "stdlib:json", "-o", "{tmp}"], "is a folder"),
        (["corpus", "stdlib:json", "-o", "{tmp}/o.jsonl", "--max-file-bytes", "lots"], "size"),
        (["corpus", "stdlib:json", "-o", "{tmp}/o.jsonl", "--max-records", "0"], "at least 1"),
    ],
)
def test_command_bad_input_exits_2(tmp_path, capsys, argv, message):
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seekcode corpus: ") and message in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_whole_stdlib(tmp_path):
    """The demo's corpus: thousands of records, whole top-level modules per partition."""
    summary = build(["stdlib"], tmp_path / "std.jsonl.gz", progress=False)
    assert 3_000 <= summary.written <= 12_000  # 6,084 on CPython 3.11.7
    assert summary.split.unit == "project" and summary.split.groups["test"] >= 10
    assert 0.05 <= summary.split.records["test"] / summary.written <= 0.2
    assert summary.skips.counts["no docstring"] > 0
    assert "syntax error" not in summary.skips.counts  # lib2to3's broken test data is excluded
