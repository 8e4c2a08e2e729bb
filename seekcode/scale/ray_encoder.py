"""Encoding on a Ray cluster: a Ray Dataset of records, one encoder per actor.

`RayEncoder` wraps a local encoder and is one itself (same id, dimension and spec, so
the index it builds is the index a local build writes). Only bulk code encoding goes to
the cluster, through `encode_code_batches`, which `Index.build` calls with just the
records it could not reuse; queries (and CoSHC's docstring summaries) stay local.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from seekcode.corpus.record import Record
from seekcode.encoders.base import Encoder, encoder_from_spec
from seekcode.errors import InputError
from seekcode.scale import require

# Below this many records a cluster round trip (actor start-up, model load) costs more
# than it saves, so they are encoded in this process.
LOCAL_BELOW = 64


class EncodeActor:
    """Ray Data callable class: builds its encoder once, then embeds one block per call."""

    def __init__(self, spec: dict[str, Any], threads: int):
        import importlib.util

        if importlib.util.find_spec("torch") is not None:
            import torch

            torch.set_num_threads(max(1, threads))  # the actor's CPU share, no more
        from seekcode.encoders.runtime import set_threads

        set_threads(max(1, threads))  # ONNX Runtime sessions too (else: every core each)
        self.encoder = encoder_from_spec(spec)
        if self.encoder.id != spec["id"]:
            raise InputError(f"this node opens encoder {spec['id']!r} as {self.encoder.id!r}; "
                             "install the same model on every node")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        records = [Record.from_dict(json.loads(str(r))) for r in batch["record"]]
        return {"pos": np.asarray(batch["pos"], dtype=np.int64),
                "vector": self.encoder.encode_code(records, progress=False)}


class RayEncoder(Encoder):
    """`local`'s vectors, computed by an actor pool on a Ray cluster.

    `address=None` starts a Ray instance on this machine with `num_cpus` CPUs (all by
    default) and stops it on `close()`; an address ("auto", "ray://host:10001",
    "host:6379") joins that cluster and leaves it running.
    """

    def __init__(self, local: Encoder, address: str | None = None, num_cpus: int | None = None,
                 actors: int | None = None):
        require("ray", "--ray")
        self.local = local
        self.kind = local.kind
        self.address = address
        self.num_cpus = num_cpus
        self.actors = actors
        self._started = False

    @property
    def dim(self) -> int:
        return self.local.dim

    @property
    def id(self) -> str:
        return self.local.id

    def spec(self) -> dict[str, Any]:
        return self.local.spec()

    def encode_queries(self, texts: Sequence[str], progress: bool = True) -> np.ndarray:
        return self.local.encode_queries(texts, progress=progress)

    def encode_code(self, records: Sequence[Record], progress: bool = True) -> np.ndarray:
        out = np.zeros((len(records), self.dim), dtype=np.float32)
        for pos, vecs in self.encode_code_batches(records):
            out[pos] = vecs
        return out

    # ---- the cluster -----------------------------------------------------------------
    def connect(self) -> dict[str, float]:
        """Start or join Ray once; returns the cluster's resources."""
        import ray

        _cluster_messages_to_stderr()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "logging_level": "ERROR"}
            try:
                if self.address:
                    ray.init(address=self.address, **kwargs)
                else:
                    ray.init(num_cpus=self.num_cpus or os.cpu_count() or 1, **kwargs)
                    self._started = True
            except (ConnectionError, RuntimeError, ValueError) as e:
                where = self.address or "a local Ray"
                raise InputError(f"--ray {where}: cannot start or join the cluster ({e})") from None
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = False  # Index.build shows the one progress bar
            ctx.verbose_stats_logs = False
        return dict(ray.cluster_resources())

    def plan(self, n: int, batch_size: int) -> tuple[int, int, bool]:
        """(actors, records per block, use GPUs) for n records on this cluster."""
        res = self.connect()
        gpus = int(res.get("GPU", 0))
        cpus = max(1, int(res.get("CPU", 1)))
        # A block is exactly the batch a local build encodes (`Index.build`'s chunk): an
        # encoder whose vectors depend on their batch (int8 scales its activations per
        # call) then gives the cluster's vectors the local ones, not vectors 0.98 apart.
        block = max(1, batch_size)
        actors = self.actors or (gpus if gpus else cpus)
        actors = max(1, min(actors, math.ceil(n / block)))
        return actors, block, gpus > 0

    def encode_code_batches(self, records: Sequence[Record], batch_size: int = 256,
                            ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if len(records) < LOCAL_BELOW:
            yield from self.local.encode_code_batches(records, batch_size)
            return
        import pyarrow as pa
        import ray

        actors, block, gpu = self.plan(len(records), batch_size)
        res = ray.cluster_resources()
        threads = 1 if gpu else max(1, int(res.get("CPU", 1)) // actors)
        print(f"ray: {len(records):,} functions on {actors} actor(s) "
              f"({'1 GPU' if gpu else f'{threads} CPU'} each), blocks of {block}", file=sys.stderr)
        blocks = []
        for s in range(0, len(records), block):
            part = records[s : s + block]
            blocks.append(pa.table({"pos": pa.array(range(s, s + len(part)), pa.int64()),
                                    "record": pa.array([r.to_json() for r in part], pa.string())}))
        ds = ray.data.from_arrow(blocks).map_batches(
            EncodeActor,
            fn_constructor_kwargs={"spec": self.local.spec(), "threads": threads},
            batch_size=None,  # one call per block: blocks are sized above
            batch_format="numpy",
            concurrency=actors,
            num_cpus=0 if gpu else threads,
            num_gpus=1 if gpu else 0,
        )
        for out in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1):
            yield np.asarray(out["pos"], dtype=np.int64), np.asarray(out["vector"], np.float32)

    def close(self) -> None:
        """Stop the Ray instance this encoder started (a joined cluster keeps running)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


def _cluster_messages_to_stderr() -> None:
    """Send the messages Ray's driver prints about the cluster to stderr.

    Ray prints them ("(raylet) Task ... failed, retrying", an actor that died) on stdout
    from a background thread, whatever `log_to_driver` says; seekcode's stdout carries
    its results (`--json`), which one such line made unreadable. Ray has no setting for
    this, so its printer is wrapped (and left alone if a Ray release renames it).
    """
    from ray._private import worker

    printer = getattr(worker, "print_to_stdstream", None)
    if printer is None or getattr(printer, "seekcode_stderr", False):
        return

    def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
        printer({**data, "is_err": True}, ignore_prefix)

    to_stderr.seekcode_stderr = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_stderr
