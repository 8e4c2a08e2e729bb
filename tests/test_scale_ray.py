"""`seekcode index --ray`: a real local Ray (2 CPUs) builds the index a local build writes."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from conftest import FUNCTIONS

from seekcode.corpus.record import Record
from seekcode.encoders.lexical import LexicalEncoder
from seekcode.index.store import META, Index

ray = pytest.importorskip("ray", reason="the [scale] extra (ray) is not installed")
RayEncoder = pytest.importorskip("seekcode.scale.ray_encoder").RayEncoder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    """One local Ray for the module, as `--ray` without an address starts it."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def many_records(n: int = 300) -> list[Record]:
    out = []
    for i in range(n):
        name, doc, code = FUNCTIONS[i % len(FUNCTIONS)]
        out.append(Record(code=code.replace(name, f"{name}_{i}") + f"\n    # v{i}",
                          docstring=f"{doc} Variant {i}.", func_name=f"{name}_{i}",
                          repo=f"proj{i % 5}", path=f"pkg/sub{i % 3}/mod{i}.py",
                          start_line=1, end_line=4, partition="test" if i % 4 else "train",
                          language="go" if i % 7 == 0 else "python"))
    return out


def _rows(index: Index) -> list[tuple]:
    db = sqlite3.connect(index.gen / META)
    rows = db.execute("SELECT * FROM records ORDER BY id").fetchall()
    db.close()
    return rows


class Killed(RayEncoder):
    """Interrupted (as by Ctrl-C) after `after` blocks came back from the cluster."""

    def __init__(self, local, after):
        super().__init__(local)
        self.after, self.done = after, 0

    def encode_code_batches(self, recs, batch_size=256):
        for n, (pos, vecs) in enumerate(super().encode_code_batches(recs, batch_size)):
            if n == self.after:
                raise KeyboardInterrupt
            self.done += len(pos)
            yield pos, vecs


class Counting(RayEncoder):
    """Records how many functions each build hands to the cluster."""

    sent: list[int] = []

    def encode_code_batches(self, recs, batch_size=256):
        self.sent.append(len(recs))
        yield from super().encode_code_batches(recs, batch_size)


# Ray executions are slow to start on a loaded 2-core machine (10-50 s for the actor
# pool), so one scenario covers the contract with three of them: a Ray build killed
# mid-way, resumed through the CLI and compared with a local build, then updated.
def test_ray_build_resumes_equals_local_and_updates_incrementally(tmp_path, cluster, capsys):
    from seekcode.cli import main
    from seekcode.corpus.jsonl import write_records

    records = many_records(600)  # three blocks of the local build's 256
    local = LexicalEncoder()  # what `--encoder lexical` opens
    killed = Killed(local, after=1)
    with pytest.raises(KeyboardInterrupt):
        Index.build(records, tmp_path / "A", killed, progress=False)
    assert 0 < killed.done < len(records)

    corpus = tmp_path / "corpus.jsonl"
    write_records(corpus, records)
    assert main(["index", str(corpus), "-o", str(tmp_path / "A"), "--ray", "--encoder",
                 "lexical", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["reused"] == killed.done and stats["encoded"] == len(records) - killed.done
    assert main(["index", str(corpus), "-o", str(tmp_path / "B"), "--encoder", "lexical"]) == 0
    a, b = Index.open(tmp_path / "A"), Index.open(tmp_path / "B")
    extras = ("created", "files", "extras")  # extras: the source path, same file here
    assert ({k: v for k, v in a.manifest.items() if k not in extras}
            == {k: v for k, v in b.manifest.items() if k not in extras})
    assert _rows(a) == _rows(b)
    assert np.abs(a.vectors - b.vectors).max() <= 1e-5
    capsys.readouterr()
    for q in ("parse http date", "md5 digest of a file", "send email smtp"):
        out = []
        for name in ("A", "B"):
            assert main(["search", str(tmp_path / name), q, "--json"]) == 0
            out.append([h["url"] for h in json.loads(capsys.readouterr().out)["hits"]])
        assert out[0] == out[1] and len(out[0]) == 10
    assert [h.url for h in a.search("resize image", k=5, lang="go")] == \
        [h.url for h in b.search("resize image", k=5, lang="go")]

    for r in records[:100]:
        r.code += "\n    # edited"
    index, stats = Index.build(records, tmp_path / "A", Counting(local), progress=False)
    assert Counting.sent == [100] and stats["encoded"] == 100 and stats["reused"] == 500
    assert np.abs(index.vectors - local.encode_code(records, progress=False)).max() <= 1e-5


def test_cluster_messages_go_to_stderr_not_the_results(cluster, capsys):
    """Ray prints cluster errors (a killed actor's retried task) from a thread on stdout;
    `seekcode index --ray --json` must keep stdout for its JSON."""
    from ray._private import worker

    RayEncoder(LexicalEncoder()).connect()
    capsys.readouterr()
    worker.print_to_stdstream({"lines": ["Task MapWorker.submit failed: actor died"],
                               "pid": "raylet", "is_err": False}, ignore_prefix=False)
    out, err = capsys.readouterr()
    assert out == "" and "actor died" in err


def test_ray_int8_vectors_equal_a_local_builds(tmp_path, cluster):
    """MiniLM int8 scales activations per batch: the cluster must encode the local batches."""
    from seekcode.encoders.base import load_encoder

    records = many_records(300)  # a block of 256 and one of 44, as the local build chunks
    local = load_encoder("minilm:ort-int8pc:max32")  # short inputs: the same int8 path, faster
    a = Index.build(records, tmp_path / "ray", RayEncoder(local), progress=False)[0]
    b = Index.build(records, tmp_path / "local", local, progress=False)[0]
    assert a.manifest["encoder"] == b.manifest["encoder"]
    assert np.abs(a.vectors - b.vectors).max() <= 1e-5
