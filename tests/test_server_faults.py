"""Fault injection against a real `seekcode serve`: publishes, hand deletions, a corrupt
generation and killed builds while clients search on loopback.

A wrong answer is a 200 whose hits do not all come from the generation it names (or
from a generation that was never validly published). Errors may only be 4xx/503 with a
reason. The request counts and outcomes are written to `benchmarks/out/server-faults.json`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import pytest
from serving_helpers import FakeEncoder, free_port
from test_index_safety import CHUNK, _start_build, _wait, make_records

from seekcode.index import files
from seekcode.index.cache import VectorCache
from seekcode.index.store import VECTORS, Index

K = 5
QUERY = "handler returns version"


@pytest.mark.slow
def test_served_answers_stay_right_under_faults(tmp_path: Path) -> None:
    out = tmp_path / "idx"
    versions: dict[str, int] = {}  # generation -> the version of the records it holds

    def publish(version: int) -> None:
        index, _ = Index.build(make_records(version, n=40), out, FakeEncoder(), progress=False)
        versions[index.gen.name] = version
        index.close()

    publish(1)
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([str(Path(sys.executable).parent / "seekcode"), "serve", str(out),
                               "--port", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    outcomes: Counter[str] = Counter()
    wrong: list[str] = []
    bad_errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def up() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def client() -> None:
        with httpx.Client(base_url=url, timeout=10) as c:
            while not stop.is_set():
                try:
                    r = c.get("/search", params={"q": QUERY, "k": K})
                except httpx.HTTPError as e:
                    with lock:
                        outcomes["transport error"] += 1
                        bad_errors.append(repr(e))
                    continue
                with lock:
                    outcomes[str(r.status_code)] += 1
                    if r.status_code != 200:
                        detail = r.json().get("detail") if r.headers.get(
                            "content-type", "").startswith("application/json") else None
                        if not (r.status_code == 503 or 400 <= r.status_code < 500) or not detail:
                            bad_errors.append(f"{r.status_code} {r.text[:200]}")
                        continue
                    body = r.json()
                    version = versions.get(body["generation"])
                    names = [h["func_name"] for h in body["hits"]]
                    if (version is None or len(names) != K
                            or not all(n.endswith(f"_v{version}") for n in names)):
                        wrong.append(f"{body['generation']} (version {version}): {names}")

    try:
        _wait(up, timeout=60)
        threads = [threading.Thread(target=client) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        faults: list[str] = []

        # 1. Three publishes in a row: keep=2 would delete the generation being served.
        for v in (2, 3, 4):
            publish(v)
        faults.append("3 publishes in a row (keep=2)")
        time.sleep(1.0)
        # 2. A build killed mid-encode, and one killed just before it publishes.
        cache = VectorCache(out, FakeEncoder().id)
        proc = _start_build(out, 5, delay=0.05)
        _wait(lambda: cache.count() >= CHUNK)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc = _start_build(out, 6, delay=0.0, hang=True)
        assert proc.stdout is not None and proc.stdout.readline().startswith("writing")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        faults.append("2 builds killed (mid-encode, before publish)")
        time.sleep(1.0)
        # 3. A corrupt generation published (a flipped vector byte, manifest untouched).
        current = files.current_generation(out)
        assert current is not None
        bad = files.new_generation(out)
        for p in current.iterdir():
            if p.is_file() and p.name != files.MARKER:
                shutil.copy2(p, bad / p.name)
        vectors = np.load(bad / VECTORS)
        vectors[0, 0] += 1.0
        np.save(bad / VECTORS, vectors)
        files.publish(out, bad)
        faults.append("a corrupt generation published")
        time.sleep(1.5)
        health = httpx.get(f"{url}/health").json()
        assert health["status"] == "ok" and bad.name in (health["error"] or "")
        # 4. A normal publish over it; an old generation deleted by hand.
        publish(7)
        time.sleep(1.0)
        served = files.current_generation(out)
        for g in files.generations(out):
            if g != served and g.name != bad.name:
                shutil.rmtree(g)  # not the served one: nothing may notice
        faults.append("old generations deleted by hand")
        time.sleep(1.0)
        # 5. The served generation deleted by hand: 503s until a new one is published.
        assert served is not None
        shutil.rmtree(served)
        time.sleep(1.5)
        health_r = httpx.get(f"{url}/health")
        assert health_r.status_code == 503 and "deleted" in health_r.json()["error"]
        publish(8)
        faults.append("the served generation deleted by hand, then a publish")
        time.sleep(1.5)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        final = httpx.get(f"{url}/search", params={"q": QUERY, "k": K}).json()
        assert all(h["func_name"].endswith("_v8") for h in final["hits"])
    finally:
        stop.set()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    report = {"requests": sum(outcomes.values()), "outcomes": dict(outcomes),
              "wrong_answers": len(wrong), "bad_errors": len(bad_errors), "faults": faults}
    dest = Path(__file__).resolve().parent.parent / "benchmarks" / "out"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "server-faults.json").write_text(json.dumps(report, indent=2))
    print(f"\nserver faults: {json.dumps(report)}")
    assert wrong == [], wrong[:5]
    assert bad_errors == [], bad_errors[:5]
    assert outcomes["200"] >= 50
    assert os.path.isdir(out)
