"""Helpers for the repo-indexing, index-safety and server tests.

A deterministic bag-of-words encoder that can be slowed down (so a test can kill a
build mid-encode), a small source tree, and a uvicorn server on a free loopback port.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from seekcode.corpus.record import Record
from seekcode.encoders.lexical import LexicalEncoder

# TestClient's default Host is "testserver", which the server's DNS-rebinding guard refuses.
LOOPBACK = "http://127.0.0.1"


class FakeEncoder(LexicalEncoder):
    """Hashed bag of subwords (no model), optionally `delay_s` seconds per function.

    The delay is not part of the id, so a slow and a fast instance share vectors.
    """

    def __init__(self, dim: int = 256, delay_s: float = 0.0):
        super().__init__(dim)
        self.delay_s = delay_s
        self.encoded = 0

    def encode_code(self, records: Sequence[Record], progress: bool = True) -> np.ndarray:
        time.sleep(self.delay_s * len(records))
        self.encoded += len(records)
        return super().encode_code(records, progress)


# A small project: documented and undocumented functions, a class, a second module.
SOURCES = {
    "pkg/__init__.py": "",
    "pkg/io.py": '''import gzip
import json


def read_gzip_json(path):
    with gzip.open(path) as f:
        return json.load(f)


def write_csv_rows(path, rows):
    """Write rows to a csv file."""
    import csv
    with open(path, "w") as f:
        csv.writer(f).writerows(rows)
''',
    "pkg/net.py": '''class Client:
    def send_smtp_mail(self, host, msg):
        import smtplib
        with smtplib.SMTP(host) as s:
            s.send_message(msg)

    def parse_http_date(self, value):
        import email.utils
        return email.utils.parsedate_to_datetime(value)
''',
    "tools/hashing.py": '''import hashlib


def md5_of_file(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()
''',
}


# A near-copy of tools/hashing.py's md5_of_file (other names, same shape) and an unrelated one.
TWIN = '''import hashlib


def sha1_of_path(filename):
    digest = hashlib.sha1()
    with open(filename, "rb") as handle:
        digest.update(handle.read())
    return digest.hexdigest()


def greet(name):
    return "hello " + name
'''


def make_project(root: Path, files: dict[str, str] | None = None) -> Path:
    for rel, text in (files or SOURCES).items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app: object) -> Iterator[str]:
    """Run `app` with uvicorn on 127.0.0.1 in a thread; yields its base url."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
