"""Load benchmark of `seekcode serve` on loopback: latency percentiles and errors.

    python benchmarks/bench_server.py [--source DIR] [--encoder minilm|lexical]
                                      [--requests 5000] [--concurrency 16]

Indexes a source folder (default: the standard library's `email`, `http`, `json` and
`urllib` packages, copied so paths are stable) with `seekcode index`'s incremental
update, starts `seekcode serve` on a free 127.0.0.1 port, sends a bounded number of
GET /search requests from a pool of threads (queries, k, language and path filters
vary), stops the server, and reports client-side p50/p90/p99 latency, throughput and
errors, plus the server's own search time (`took_ms`). Bounded twice: by the request
count and by --max-seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, machine, write_report  # noqa: E402

QUERIES = [
    "parse an email address", "decode a base64 encoded header", "read a json file",
    "serialize an object to json", "split a url into its parts", "quote special characters in a url",
    "send an http request", "parse http headers", "read the response body",
    "format a date for an http header", "encode a string as utf-8", "check if a header is valid",
    "build a multipart message", "get the content type of a message", "join a base url and a path",
    "escape html characters", "open a connection to a server", "handle a redirect",
    "parse cookies", "iterate over the parts of a message", "convert bytes to a string",
    "find the charset of a message", "make a query string from a dict", "close the connection",
]
DEFAULT_PACKAGES = ("email", "http", "json", "urllib")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--source", type=Path, help="source folder to index (default: stdlib subset)")
    ap.add_argument("--encoder", default="minilm", help="minilm (default) or lexical (no model)")
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--serial", type=int, default=200,
                    help="requests sent one at a time first, for the unloaded latency")
    ap.add_argument("--max-seconds", type=float, default=600.0, help="stop sending after this")
    ap.add_argument("--report", default="server",
                    help="report name (results/NAME.md), e.g. to keep runs of two encoders")
    args = ap.parse_args()
    if not (1 <= args.requests <= 100_000 and 1 <= args.concurrency <= 64
            and 0 <= args.serial <= 10_000):
        ap.error("--requests 1..100000, --concurrency 1..64, --serial 0..10000 (bounded)")

    from seekcode.corpus.skips import SkipReport
    from seekcode.encoders.base import load_encoder
    from seekcode.encoders.lexical import LexicalEncoder
    from seekcode.index.watch import update

    source = args.source or _stdlib_subset(OUT / "server-source")
    index_dir = OUT / f"server-index-{args.encoder.replace(':', '-')}"
    encoder = LexicalEncoder() if args.encoder == "lexical" else load_encoder(args.encoder)
    skips = SkipReport()
    t0 = time.perf_counter()
    index, built = update(source, index_dir, encoder, progress=True, skips=skips)
    print(f"index: {built.summary()}; {skips.summary()}", file=sys.stderr)
    languages = index.languages()
    count = index.count
    index.close()
    del encoder  # the server loads its own; keep this process light
    build_s = time.perf_counter() - t0

    port = _free_port()
    seekcode = Path(sys.executable).with_name("seekcode")
    server = subprocess.Popen([str(seekcode), "serve", str(index_dir), "--port", str(port)],
                              stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        startup_s = _wait_ready(base, server)
        serial = _load(base, args.serial, 1, args.max_seconds, languages) if args.serial else {}
        result = _load(base, args.requests, args.concurrency, args.max_seconds, languages)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    data: dict[str, Any] = {
        "machine": machine(), "load_average_1m": round(os.getloadavg()[0], 1),
        "encoder": args.encoder, "source": str(source),
        "functions": count, "index_update": built.summary(), "index_seconds": round(build_s, 1),
        "server_startup_s": round(startup_s, 2), "requests_asked": args.requests,
        "concurrency": args.concurrency, **result, "serial": serial,
    }
    path = write_report(args.report, data, _markdown(data))
    print(path.read_text())


def _stdlib_subset(dest: Path) -> Path:
    """A copy of a few stdlib packages: real code nobody here wrote, stable paths."""
    if not dest.exists():
        lib = Path(sysconfig.get_paths()["stdlib"])
        for name in DEFAULT_PACKAGES:
            shutil.copytree(lib / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(base: str, server: subprocess.Popen) -> float:
    import httpx

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 180:
        if server.poll() is not None:
            raise SystemExit(f"server exited: {server.stderr.read() if server.stderr else ''}")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not start within 180 s")


def _params(i: int, languages: list[str]) -> dict[str, Any]:
    """Request i's parameters: mostly plain queries, some with filters, as people search."""
    p: dict[str, Any] = {"q": QUERIES[i % len(QUERIES)], "k": (10, 5, 20)[i % 3]}
    if i % 7 == 3 and languages:
        p["lang"] = languages[0]
    if i % 11 == 5:
        p["path"] = "email/**"
    return p


def _load(base: str, n: int, concurrency: int, max_seconds: float,
          languages: list[str]) -> dict[str, Any]:
    import httpx
    import numpy as np

    local = threading.local()
    latencies = np.full(n, np.nan)
    took = np.full(n, np.nan)
    errors: list[str] = []
    deadline = time.monotonic() + max_seconds

    def one(i: int) -> None:
        if time.monotonic() > deadline:
            return
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base, timeout=30)
        t = time.perf_counter()
        try:
            r = client.get("/search", params=_params(i, languages))
            latencies[i] = (time.perf_counter() - t) * 1000
            if r.status_code != 200:
                errors.append(f"{r.status_code}: {r.text[:200]}")
            else:
                took[i] = r.json()["took_ms"]
        except httpx.HTTPError as e:
            errors.append(repr(e))

    for i in range(min(50, n)):  # warm-up, not counted
        one(i)
    latencies[:] = np.nan
    took[:] = np.nan
    errors.clear()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(n)))
    wall = time.perf_counter() - t0
    done = latencies[~np.isnan(latencies)]
    server = took[~np.isnan(took)]

    def pct(a: np.ndarray, q: float) -> float:
        return round(float(np.percentile(a, q)), 2) if a.size else float("nan")

    return {
        "requests_sent": int(done.size), "errors": len(errors), "error_examples": errors[:5],
        "seconds": round(wall, 2), "throughput_rps": round(done.size / wall, 1),
        "latency_ms": {"p50": pct(done, 50), "p90": pct(done, 90), "p99": pct(done, 99),
                       "max": pct(done, 100), "mean": round(float(done.mean()), 2)},
        "server_search_ms": {"p50": pct(server, 50), "p99": pct(server, 99)},
    }


def _markdown(d: dict[str, Any]) -> str:
    lat, srv, one = d["latency_ms"], d["server_search_ms"], d["serial"]
    rows = []
    for conc, r in ((1, one), (d["concurrency"], d)):
        if r:
            lt = r["latency_ms"]
            rows.append(f"| {conc} | {r['requests_sent']:,} | {r['errors']} | {r['seconds']} | "
                        f"{r['throughput_rps']} | {lt['p50']} | {lt['p90']} | {lt['p99']} | "
                        f"{lt['max']} |")
    table = "\n".join(rows)
    return f"""# seekcode serve: load on loopback

`python benchmarks/bench_server.py --encoder {d['encoder']} --requests {d['requests_asked']} --concurrency {d['concurrency']}`
on {d['machine']['cpus']} CPUs shared with other work (1-minute load average
{d['load_average_1m']} at the end of the run), {d['machine']['date']}.

Index: {d['functions']:,} functions from `{Path(d['source']).name}/` (last update:
{d['index_update']}), encoder `{d['encoder']}`. Server: `seekcode serve` (uvicorn, one process), started in
{d['server_startup_s']} s. Client: {d['concurrency']} threads with keep-alive httpx clients,
GET /search with {len(QUERIES)} different queries, k in {{5, 10, 20}}, every 7th with a
language filter and every 11th with a path glob.

| concurrency | requests | errors | wall s | throughput req/s | p50 ms | p90 ms | p99 ms | max ms |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{table}

Latency is measured by the client (request sent to JSON received), so under
concurrency it includes queueing. The server's `took_ms` (query encoding, including
the wait for the encoder, + vector scan + metadata) was p50 {srv['p50']} ms, p99
{srv['p99']} ms at concurrency {d['concurrency']}. {encoding_note(d['encoder'])}
Mean latency {lat['mean']} ms.
"""


def encoding_note(encoder: str) -> str:
    """How the server encoded concurrent queries with this encoder (see index/store.py)."""
    if encoder == "lexical":
        return "The lexical encoder is pure numpy: concurrent requests encode in parallel."
    if "torch" in encoder:
        return ("This encoder is not thread-safe: it runs one call at a time and queries "
                "that arrive meanwhile are encoded together in the next call.")
    return ("ONNX Runtime sessions are thread-safe: each request encodes its query "
            "itself, concurrently (one intra-op thread each, `seekcode serve --threads 1`).")


if __name__ == "__main__":
    os.nice(5)  # a benchmark on a shared machine: let interactive work go first
    main()
