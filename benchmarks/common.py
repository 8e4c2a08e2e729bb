"""Shared benchmark plumbing: one-thread setup, output folder, report writing."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
RESULTS = Path(__file__).resolve().parent / "results"


def single_thread() -> None:
    """Pin BLAS/OpenMP to one thread; call before importing numpy/faiss/torch."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def load_average() -> str:
    """The 1-minute load average, for reports measured on a shared machine."""
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "unknown"


def write_report(name: str, data: dict[str, Any], markdown: str) -> Path:
    """benchmarks/out/NAME.json + NAME.md, and copies of both in results/ (to commit).

    results/ gets the JSON too: out/ is scratch, and a report whose numbers only live
    there is lost with the machine."""
    OUT.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(data, indent=2))
    (OUT / f"{name}.md").write_text(markdown)
    (RESULTS / f"{name}.md").write_text(markdown)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2))
    return OUT / f"{name}.md"
