"""Shared fixtures: a small corpus of real-looking functions and the lexical encoder."""

from __future__ import annotations

from pathlib import Path

import pytest

from seekcode.corpus.record import Record
from seekcode.encoders.lexical import LexicalEncoder

FUNCTIONS = [
    ("read_gzip_json", "Read a gzip compressed json file.",
     "def read_gzip_json(path):\n    with gzip.open(path) as f:\n        return json.load(f)"),
    ("write_csv_rows", "Write rows to a csv file.",
     "def write_csv_rows(path, rows):\n    with open(path, 'w') as f:\n        csv.writer(f).writerows(rows)"),
    ("parse_http_date", "Parse an HTTP date header into a datetime.",
     "def parse_http_date(value):\n    return email.utils.parsedate_to_datetime(value)"),
    ("send_smtp_mail", "Send an email message through an SMTP server.",
     "def send_smtp_mail(host, msg):\n    with smtplib.SMTP(host) as s:\n        s.send_message(msg)"),
    ("md5_of_file", "Compute the md5 digest of a file.",
     "def md5_of_file(path):\n    h = hashlib.md5()\n    h.update(open(path, 'rb').read())\n    return h.hexdigest()"),
    ("list_directory_files", "List the files in a directory recursively.",
     "def list_directory_files(root):\n    return [p for p in pathlib.Path(root).rglob('*') if p.is_file()]"),
    ("resize_image", "Resize an image to the given width and height.",
     "def resize_image(img, width, height):\n    return img.resize((width, height))"),
    ("sort_users_by_age", "Sort user records by their age.",
     "def sort_users_by_age(users):\n    return sorted(users, key=lambda u: u.age)"),
]


def make_records(partitioned: bool = True) -> list[Record]:
    recs = []
    for i, (name, doc, code) in enumerate(FUNCTIONS):
        part = ("test" if i % 2 else "train") if partitioned else ""
        recs.append(Record(code=code, docstring=doc, func_name=name, repo=f"proj{i % 4}",
                           path=f"pkg/mod{i}.py", start_line=10 * i + 1,
                           end_line=10 * i + 1 + code.count("\n"), partition=part,
                           language="python"))
    return recs


@pytest.fixture
def records() -> list[Record]:
    return make_records()


@pytest.fixture
def encoder() -> LexicalEncoder:
    return LexicalEncoder(dim=512)


@pytest.fixture
def corpus_file(tmp_path: Path, records: list[Record]) -> Path:
    from seekcode.corpus.jsonl import write_records

    path = tmp_path / "corpus.jsonl"
    write_records(path, records)
    return path
