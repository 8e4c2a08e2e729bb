"""Faults: killed builds, corrupted files, wrong encoder or format, concurrent use."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest
from serving_helpers import FakeEncoder, serve_in_thread

from seekcode.corpus.record import Record
from seekcode.index import files
from seekcode.index.cache import VectorCache
from seekcode.index.store import FORMAT_VERSION, Index, IndexError_

N = 120
CHUNK = 8

# A build of version `v` of N functions, as a separate process a test can SIGKILL.
BUILD_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from serving_helpers import FakeEncoder
    from test_index_safety import make_records
    from seekcode.index.store import Index

    out, version, delay, hang = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]

    def hang_before_publish(gen, recs, vectors, extras):
        print("writing", gen.name, flush=True)
        time.sleep(60)

    Index.build(make_records(version), out, FakeEncoder(delay_s=delay), progress=False,
                chunk={chunk}, hooks=[hang_before_publish] if hang == "hang" else [])
""")


def make_records(version: int, n: int = N) -> list[Record]:
    return [Record(code=f"def handler_{i}():\n    return version_{version} + {i}\n",
                   func_name=f"handler_{i}_v{version}", path=f"mod{i % 10}.py",
                   start_line=3 * i + 1, end_line=3 * i + 2, language="python")
            for i in range(n)]


def _start_build(out: Path, version: int, delay: float, hang: bool = False) -> subprocess.Popen:
    script = out.parent / "build.py"
    script.write_text(BUILD_SCRIPT.format(tests=str(Path(__file__).parent), chunk=CHUNK))
    return subprocess.Popen([sys.executable, str(script), str(out), str(version), str(delay),
                             "hang" if hang else "-"], stdout=subprocess.PIPE, text=True)


def _wait(cond, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def _names(index: Index) -> set[str]:
    return {r.func_name for r in index.iter_records()}


def test_sigkill_mid_encode_keeps_old_index_and_rerun_resumes(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    Index.build(make_records(1), out, FakeEncoder(), progress=False)
    old_gen = files.current_generation(out)
    cache = VectorCache(out, FakeEncoder().id)
    parts = cache.dir

    proc = _start_build(out, 2, delay=0.05)  # 8 functions every 0.4 s, 15 chunks
    _wait(lambda: cache.count() >= 2 * CHUNK)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    cache.close()
    cached = VectorCache(out, FakeEncoder().id).count()
    assert cached % CHUNK == 0  # whole chunks only
    assert 2 * CHUNK <= cached < N, "killed too late to show anything"

    # The old generation is still current, intact (full checksums), and answers.
    assert files.current_generation(out) == old_gen
    old = Index.open(out, verify=True)
    assert old.count == N and _names(old) == {r.func_name for r in make_records(1)}
    assert old.search("handler returns version", k=1)[0].func_name.endswith("_v1")

    # The re-run encodes only what the killed run had not, and loses nothing.
    enc = FakeEncoder()
    new, stats = Index.build(make_records(2), out, enc, progress=False, chunk=CHUNK)
    assert stats["reused"] == cached and stats["encoded"] == enc.encoded == N - cached
    assert new.count == N and _names(new) == {r.func_name for r in make_records(2)}
    assert new.gen != old_gen and not parts.exists()
    Index.open(out, verify=True)  # every checksum of the new generation holds


def test_sigkill_while_writing_generation_leaves_old_current(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    Index.build(make_records(1), out, FakeEncoder(), progress=False)
    old_gen = files.current_generation(out)
    proc = _start_build(out, 2, delay=0.0, hang=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the new generation is written, not yet published
    assert line.startswith("writing gen-")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert files.current_generation(out) == old_gen
    assert files.abandoned_generations(out)
    assert Index.open(out, verify=True).search("handler", k=1)[0].func_name.endswith("_v1")

    enc = FakeEncoder()
    new, stats = Index.build(make_records(2), out, enc, progress=False)
    assert stats["encoded"] == enc.encoded == 0  # every vector came from the resume cache
    assert _names(new) == {r.func_name for r in make_records(2)}
    assert not files.abandoned_generations(out)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    out = tmp_path / "idx"
    Index.build(make_records(1, n=20), out, FakeEncoder(), progress=False)
    return out


def test_flipped_byte_is_a_checksum_error(built: Path) -> None:
    vec = files.current_generation(built) / "vectors.npy"  # type: ignore[operator]
    data = bytearray(vec.read_bytes())
    data[-5] ^= 0xFF
    vec.write_bytes(bytes(data))
    with pytest.raises(IndexError_, match=r"vectors\.npy: checksum mismatch \(corrupted\); rebuild"):
        Index.open(built)


def test_truncated_and_missing_files_are_named(built: Path) -> None:
    gen = files.current_generation(built)
    assert gen is not None
    meta = gen / "meta.sqlite"
    size = meta.stat().st_size
    with open(meta, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(IndexError_, match=rf"meta\.sqlite: {size // 2} bytes, manifest says {size} "
                                          r"\(truncated or corrupted\)"):
        Index.open(built)
    meta.unlink()
    with pytest.raises(IndexError_, match=r"meta\.sqlite: missing index file"):
        Index.open(built)


def test_other_encoder_is_an_error_naming_both(built: Path) -> None:
    with pytest.raises(IndexError_, match=r"built with encoder 'lexical:256', asked to search "
                                          r"with 'lexical:128'"):
        Index.open(built, FakeEncoder(dim=128))


def test_other_format_version_is_an_error_naming_both(built: Path) -> None:
    manifest = files.current_generation(built) / "manifest.json"  # type: ignore[operator]
    m = json.loads(manifest.read_text())
    m["format_version"] = 99
    manifest.write_text(json.dumps(m))
    with pytest.raises(IndexError_, match=rf"index format version 99, this seekcode reads "
                                          rf"version {FORMAT_VERSION}"):
        Index.open(built)


def test_second_concurrent_build_is_refused(built: Path) -> None:
    with files.build_lock(built), pytest.raises(IndexError_, match=rf"pid {os.getpid()}"):
        Index.build(make_records(2, n=20), built, FakeEncoder(), progress=False)
    Index.build(make_records(2, n=20), built, FakeEncoder(), progress=False)  # lock released


def test_concurrent_searches_while_updates_publish(built: Path) -> None:
    from seekcode.server import create_app

    app = create_app(built, FakeEncoder(), check_every=0.0)
    errors: list[str] = []
    generations: set[str] = set()
    done = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=10) as c:
            while not done.is_set():
                try:
                    r = c.get(f"{url}/search", params={"q": "handler returns version", "k": 5})
                    body = r.json()
                    if r.status_code != 200 or len(body["hits"]) != 5:
                        errors.append(f"{r.status_code} {body}")
                    generations.add(body["generation"])
                except httpx.HTTPError as e:
                    errors.append(repr(e))

    with serve_in_thread(app) as url:
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for version in range(2, 7):  # five updates, each a new generation
            index, _ = Index.build(make_records(version, n=20), built, FakeEncoder(),
                                   progress=False)
            _wait(lambda: index.gen.name in generations)  # noqa: B023 - waited for here
        done.set()
        for t in threads:
            t.join(timeout=10)
        final = httpx.get(f"{url}/health").json()
    assert not errors, errors[:3]
    assert len(generations) >= 5  # searches ran on each new generation as it appeared
    assert final["generation"] == files.current_generation(built).name  # type: ignore[union-attr]


class _NotThreadSafe(FakeEncoder):
    """Fails like a HF fast tokenizer when two threads encode at once; records batch sizes."""

    thread_safe = False  # the lexical encoder it extends is; this one must go through the batcher

    def __init__(self) -> None:
        super().__init__()
        self.busy = threading.Lock()
        self.batches: list[int] = []

    def encode_queries(self, texts, progress=True):  # type: ignore[no-untyped-def]
        if not self.busy.acquire(blocking=False):
            raise RuntimeError("Already borrowed")
        try:
            time.sleep(0.02)
            self.batches.append(len(texts))
            return super().encode_queries(texts, progress)
        finally:
            self.busy.release()


def test_concurrent_queries_are_encoded_one_call_at_a_time_in_batches(built: Path) -> None:
    enc = _NotThreadSafe()
    index = Index.open(built, enc)
    expected = {q: index.search(q, k=3)[0].func_name for q in ("handler 11", "handler 15")}
    enc.batches.clear()
    results: list[tuple[str, str]] = []

    def search(q: str) -> None:
        results.append((q, index.search(q, k=3)[0].func_name))

    threads = [threading.Thread(target=search, args=(q,)) for q in list(expected) * 8]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 16 and all(expected[q] == name for q, name in results)
    assert sum(enc.batches) == 16 and len(enc.batches) < 16  # some queries shared a call
