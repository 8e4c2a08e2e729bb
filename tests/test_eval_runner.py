"""The evaluation runner on a small index: keys, values and query sets."""

import json

import numpy as np
import pytest

from seekcode.eval.queries import corpus_queries, load_queries
from seekcode.eval.runner import evaluate
from seekcode.index.store import Index


@pytest.fixture
def index(tmp_path, records, encoder):
    return Index.build(records, tmp_path / "idx", encoder, progress=False)[0]


def test_corpus_queries_use_the_test_partition(index):
    qs = corpus_queries(index)
    assert len(qs) == 4 and qs.paired
    assert qs.texts[0] == "Write rows to a csv file."
    assert [r.tolist() for r in qs.relevant] == [[1], [3], [5], [7]]


def test_evaluate_exact(index):
    result = evaluate(index, progress=False)
    exact = result["exact"]
    assert result["n_queries"] == 4
    assert set(exact) == {"mrr", "mrr@1000batch", "r@1", "r@5", "r@10", "ms_similarity", "ms_sort",
                          "ms_total"}
    # recompute MRR directly from the vectors
    qs = corpus_queries(index)
    q = index.encoder.encode_queries(qs.texts)
    scores = q @ index.vectors.T
    ranks = [(row >= row[r[0]] - 1e-6).sum() for row, r in zip(scores, qs.relevant, strict=True)]
    assert exact["mrr"] == pytest.approx(np.mean([1 / r for r in ranks]))
    assert exact["mrr@1000batch"] >= exact["mrr"]  # the batch is the 4 test records only
    assert 0 <= exact["r@1"] <= exact["r@5"] <= exact["r@10"] <= 1


def test_query_file_with_graded_relevance(tmp_path, index, records):
    qfile = tmp_path / "q.jsonl"
    lines = [
        {"query": "gzip json", "relevant": [records[0].url]},
        {"query": "send mail", "relevance": {records[3].url: 3, records[1].url: 1}},
        {"query": "", "relevant": [records[0].url]},
        {"query": "unknown", "relevant": ["nowhere"]},
    ]
    qfile.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    qs = load_queries(qfile, index)
    assert len(qs) == 2 and qs.skips.total == 3
    result = evaluate(index, qs, progress=False)
    assert "ndcg" in result["exact"] and "mrr@1000batch" not in result["exact"]


def test_annotation_csv(tmp_path, index, records):
    csv = tmp_path / "annotationStore.csv"
    csv.write_text("Language,Query,GitHubUrl,Relevance,Notes\n"
                   f"Python,md5 of a file,{records[4].url},3,\n"
                   f"Python,md5 of a file,{records[5].url},0,\n"
                   f"Python,md5 of a file,{records[6].url},x,\n")
    qs = load_queries(csv, index)
    assert qs.texts == ["md5 of a file"] and qs.languages == ["python"]
    assert qs.grades == [{records[4].url: 3.0, records[5].url: 0.0}]
    assert qs.skips.total == 1
    result = evaluate(index, qs, progress=False)
    assert result["exact"]["ndcg"] == pytest.approx(1.0)  # md5_of_file ranks first


def test_markdown_table_rows():
    from seekcode.eval.report import markdown_table

    result = {"n_queries": 2, "n_records": 5,
              "exact": {"mrr": 0.5, "r@1": 0.5, "ms_similarity": 1.0},
              "coshc": {"mrr": 0.4, "r@1": 0.5, "ms_similarity": 0.1},
              "retention": {"coshc": {"mrr": 0.8, "r@1": 1.0}}}
    lines = markdown_table(result).splitlines()
    assert lines[0] == "| method | mrr | r@1 | ms_similarity |"
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["exact", "coshc", "retention (coshc/exact)"]
    assert lines[-1].endswith("| 80.0% | 100.0% |  |")
