"""ONNX Runtime plumbing shared by every encoder: sessions, threads, the export cache.

Inference never imports torch. A graph that does not exist yet (the bundled MiniLM on
first use, a model trained before ONNX export existed) is exported once by a child
process (`python -m seekcode.encoders.export`), which is the only place torch loads.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from seekcode.errors import InputError

# The ONNX opset of every export (ONNX Runtime 1.20 runs up to 21).
OPSET = 17

# Threads of every session opened after set_threads(); None: one per core.
_THREADS: int | None = None


def set_threads(n: int | None) -> None:
    """Intra-op threads of the sessions opened from now on (None: ONNX Runtime's default).

    A short query gains nothing from a second thread, and on a busy machine spinning
    threads made it several times slower; bulk encoding uses every core.
    """
    global _THREADS
    if n is not None and n < 1:
        raise InputError(f"threads {n}: at least 1")
    _THREADS = n


def session(path: Path, threads: int | None = None) -> Any:
    """A CPU InferenceSession of `path` (thread-safe: concurrent run() calls are fine).

    It opens the graph's optimised twin (see `optimised`): optimising MiniLM at every
    open took 240 ms, opening the optimised twin 70 ms, with identical outputs. The
    level ORT_ENABLE_ALL adds over EXTENDED is layout passes for convolutions (NCHWc),
    which none of seekcode's graphs has.
    """
    import onnxruntime as ort

    opts = _options(threads)
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    return ort.InferenceSession(str(optimised(path)), opts, providers=["CPUExecutionProvider"])


def _options(threads: int | None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    n = threads if threads is not None else _THREADS
    if n:
        opts.intra_op_num_threads = n
    opts.inter_op_num_threads = 1
    # Idle threads must sleep, not spin: on a shared 2-core machine spinning steals the
    # core the other thread needs.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


def optimised(path: Path) -> Path:
    """`path` with ONNX Runtime's portable graph optimisations applied, saved once beside it.

    ORT_ENABLE_EXTENDED (fusions such as attention and GELU) is what ONNX Runtime's
    documentation calls safe to save and reuse (ORT_ENABLE_ALL's layout passes are
    hardware-specific). The twin is named after the
    onnxruntime version that wrote it (another version may fuse differently) and is
    rebuilt when the graph is newer than it. Where nothing can be written beside the
    graph (a read-only model folder), the graph itself is opened, as before.
    """
    import onnxruntime as ort

    twin = path.with_name(f"{path.stem}.ort-{ort.__version__}.opt.onnx")
    try:
        if twin.exists() and twin.stat().st_mtime_ns >= path.stat().st_mtime_ns:
            return twin

        def write(tmp: Path) -> None:
            opts = _options(1)
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
            opts.optimized_model_filepath = str(tmp)
            ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

        write_beside(twin, write)
        return twin
    except OSError:
        return path


def cache_dir() -> Path:
    """`$SEEKCODE_CACHE`, else `$XDG_CACHE_HOME/seekcode`, else `~/.cache/seekcode`."""
    env = os.environ.get("SEEKCODE_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "seekcode" if xdg else Path.home() / ".cache" / "seekcode"


def file_sha256(paths: list[Path]) -> str:
    """sha256 of the files' bytes, remembered per (path, size, mtime) in the cache.

    Hashing 90 MB of weights takes longer than a whole search; a stat is free.
    """
    stat_key = hashlib.sha256()
    for p in paths:
        st = p.stat()
        stat_key.update(f"{p.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    memo = cache_dir() / "sha256" / stat_key.hexdigest()
    try:
        known = memo.read_text().strip()
        if len(known) == 64:
            return known
    except OSError:
        pass
    h = hashlib.sha256()
    for p in paths:
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    digest = h.hexdigest()
    with contextlib.suppress(OSError):
        write_atomic(memo, digest.encode())
    return digest


def write_atomic(path: Path, data: bytes) -> None:
    """Write beside, then rename: a reader sees the old file or the whole new one."""
    write_beside(path, lambda tmp: tmp.write_bytes(data))


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock: a second process exporting the same graph waits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def ensure_exported(target: Path, job: dict[str, Any], what: str) -> Path:
    """`target` if it exists; otherwise export it once in a child process (torch loads there).

    Concurrent first uses serialise on a lock beside the target; the child writes beside
    and renames, so an interrupted export never leaves a half-written graph.
    """
    if target.exists():
        return target
    import subprocess

    with file_lock(target.with_name(target.name + ".lock")):
        if target.exists():  # another process exported it while we waited
            return target
        print(f"seekcode: exporting {what} to ONNX (once) into {target.parent}", file=sys.stderr,
              flush=True)
        proc = subprocess.run(
            [sys.executable, "-m", "seekcode.encoders.export", json.dumps({**job,
                                                                             "out": str(target)})],
            capture_output=True, text=True,
        )
        if proc.returncode != 0 or not target.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"exporting {what} to ONNX failed: {tail[0]}")
    return target


def tmp_beside(path: Path) -> Path:
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


def write_beside(out: Path, write: Callable[[Path], object]) -> None:
    """Run `write(tmp)` for a temporary file beside `out`, then rename it to `out`:
    readers never see half a file, and concurrent writers never mix theirs."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_beside(out)
    try:
        write(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
