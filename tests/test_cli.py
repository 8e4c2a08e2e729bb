"""The `seekcode` command end to end on a small corpus, with the lexical encoder."""

import json

import pytest

from seekcode.cli import main


@pytest.fixture
def index_dir(tmp_path, corpus_file, capsys):
    out = tmp_path / "idx"
    assert main(["index", str(corpus_file), "-o", str(out), "--encoder", "lexical", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["records"] == 8 and stats["encoded"] == 8
    return out


def test_index_search_eval(index_dir, capsys):
    assert main(["search", str(index_dir), "compute md5 digest of a file", "-k", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["method"] == "exact" and len(doc["hits"]) == 2
    assert doc["hits"][0]["func_name"] == "md5_of_file"
    assert {"rank", "score", "url", "path", "start_line", "end_line", "language", "code"} <= set(doc["hits"][0])

    assert main(["search", str(index_dir), "md5 digest"]) == 0
    text = capsys.readouterr().out
    assert "md5_of_file" in text and "pkg/mod4.py:41" in text

    assert main(["eval", str(index_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_queries"] == 4
    assert {"mrr", "mrr@1000batch", "r@1", "r@5", "r@10", "ms_similarity", "ms_sort"} <= set(result["exact"])


def test_reindex_reports_reuse(index_dir, corpus_file, capsys):
    assert main(["index", str(corpus_file), "-o", str(index_dir), "--encoder", "lexical", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["reused"] == 8 and stats["encoded"] == 0


@pytest.mark.parametrize("argv, message", [
    (["search", "{idx}", "   "], "query: empty query"),
    (["search", "{idx}", "x" * 1001], "at most 1,000"),
    (["search", "{idx}", "md5", "-k", "0"], "-k: 0 out of range"),
    (["search", "{idx}", "md5", "--lang", "cobol"], "not in this index"),
    (["search", "{tmp}/nothing", "md5"], "not a seekcode index"),
    (["index", "{tmp}/missing.jsonl", "-o", "{tmp}/x"], "no such corpus"),
    (["eval", "{idx}", "--queries", "{tmp}/missing.jsonl"], "no such query file"),
    (["index", "{corpus}", "-o", "{tmp}/x", "--encoder", "{tmp}"], "not an encoder"),
    (["train", "encoder", "--model", "deepsem", "--corpus", "{corpus}", "-o", "{tmp}/m",
      "--bag-warmup", "2"], "--bag-warmup 2.0: give a share of the budget"),
])
def test_bad_input_exits_2_with_a_reason(index_dir, corpus_file, tmp_path, capsys, argv, message):
    argv = [a.format(idx=index_dir, tmp=tmp_path, corpus=corpus_file) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_malformed_corpus_lines_are_skipped_with_reasons(tmp_path, corpus_file, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(corpus_file.read_bytes() + b'{"docstring": "no code"}\nnot json\n\xff\xfe\n')
    assert main(["index", str(bad), "-o", str(tmp_path / "i"), "--encoder", "lexical", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["skipped"] == 3
    assert "line not JSON" in captured.err and "line not UTF-8" in captured.err
    assert "bad.jsonl:10" in captured.err


def test_predict_writes_challenge_csv(index_dir, tmp_path, capsys):
    import csv

    queries = tmp_path / "queries.csv"
    queries.write_text("query\nmd5 digest of a file\nsend mail\n")
    out = tmp_path / "model_predictions.csv"
    assert main(["predict", str(index_dir), "--queries", str(queries), "-o", str(out), "-k", "3"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 6 and set(rows[0]) == {"query", "language", "identifier", "url"}
    assert rows[0]["identifier"] == "md5_of_file" and rows[0]["language"] == "python"
    assert main(["predict", str(index_dir), "--queries", str(queries), "--lang", "cobol"]) == 2
