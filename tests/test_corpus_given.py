"""CodeSearchNet's own files as corpus sources keep their partitions; doc summaries stop at tags."""

import gzip
import json

from seekcode.cli import main
from seekcode.corpus.jsonl import read_records
from seekcode.corpus.tokens import docstring_summary


def test_codesearchnet_layout_keeps_partitions(tmp_path, capsys):
    for part in ("train", "valid", "test"):
        folder = tmp_path / "python" / "final" / "jsonl" / part
        folder.mkdir(parents=True)
        rows = [{"repo": f"r/{part}", "path": "a.py", "func_name": f"f_{part}_{i}",
                 "code": f"def f_{part}_{i}(x):\n    return x + {i}",
                 "docstring": f"Add {i} to the number given.", "url": f"u/{part}/{i}",
                 "language": "python", "partition": part} for i in range(3)]
        with gzip.open(folder / f"python_{part}_0.jsonl.gz", "wt") as f:
            f.write("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "c.jsonl"
    assert main(["corpus", str(tmp_path / "python"), "-o", str(out)]) == 0
    records = list(read_records(out))
    assert sorted(r.partition for r in records) == ["test"] * 3 + ["train"] * 3 + ["valid"] * 3
    assert {r.url for r in records if r.partition == "test"} == {"u/test/0", "u/test/1", "u/test/2"}


def test_summary_stops_at_any_block_tag():
    assert docstring_summary("Fetch a user.\n@deprecated use find()\n") == "Fetch a user."
    assert docstring_summary("@api private") == ""
    assert docstring_summary("Send mail to user@example.com now.") == "Send mail to user@example.com now."
