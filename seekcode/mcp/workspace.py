"""The indexes an MCP server answers from, kept open (model loaded) between calls.

Each index is a `LiveIndex`, so a generation published by `seekcode index --watch`
or by a refresh here is picked up by the next call. Indexes built with the same
encoder share one loaded model.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seekcode.encoders.base import Encoder
from seekcode.errors import InputError
from seekcode.index.store import MANIFEST, Index, IndexError_
from seekcode.server.live import LiveIndex
from seekcode.server.service import SearchService


class WorkspaceError(InputError):
    """A tool argument naming no index, or an index that cannot answer; says what exists."""


@dataclass
class Served:
    """One index of the workspace: its name (what a tool's `index` argument says)."""

    name: str
    live: LiveIndex
    service: SearchService


class Workspace:
    """Opened indexes by name; the first is the default."""

    # Agents call rarely: one readlink per call costs nothing, and a refresh is seen at once.
    def __init__(self, paths: list[Path], encoder: Encoder | None = None,
                 check_every: float = 0.0):
        if not paths:
            raise WorkspaceError("no index given; pass at least one index directory")
        self.served: dict[str, Served] = {}
        loaded: dict[str, Encoder] = {} if encoder is None else {encoder.id: encoder}
        names = _names([Path(p) for p in paths])
        for path, name in zip(paths, names, strict=True):
            enc_id = Index.open(path, verify=False).manifest["encoder"]["id"]
            live = LiveIndex(Path(path), encoder or loaded.get(enc_id), check_every)
            loaded.setdefault(live.index.encoder.id, live.index.encoder)
            self.served[name] = Served(name, live, SearchService(live))

    @property
    def default(self) -> str:
        return next(iter(self.served))

    def get(self, name: str | None) -> Served:
        """The index a tool call names (its name or its path), the default when None."""
        if name is None or not str(name).strip():
            return self.served[self.default]
        name = str(name).strip()
        if name in self.served:
            return self.served[name]
        for s in self.served.values():
            if _same_path(s.live.path, name):
                return s
        raise WorkspaceError(f"index {name!r}: not served (this server has: "
                             f"{', '.join(self.served)})")

    def status(self, served: Served, refresh: bool) -> dict[str, Any]:
        """What the index holds, how it was built, and whether its source folder changed."""
        freshness = self.freshness(served, refresh)
        index = served.live.get()
        m = index.manifest
        return {
            "index": served.name,
            "path": str(served.live.path.resolve()),
            "default": served.name == self.default,
            "generation": index.gen.name,
            "records": index.count,
            "languages": m.get("languages", {}),
            "encoder": {k: v for k, v in m["encoder"].items() if k in ("type", "id", "dim")},
            "searchers": index.searcher_names(),
            "created": m.get("created"),
            "source": m.get("extras", {}).get("source"),
            "freshness": freshness,
            "error": served.live.error,
        }

    def freshness(self, served: Served, refresh: bool) -> dict[str, Any]:
        """"fresh", "refreshed" (an incremental update ran), "stale" or "unknown" (no source)."""
        index = served.live.get()
        source = index.manifest.get("extras", {}).get("source")
        root = index.source_folder
        if root is None:
            if source and not Path(source).is_file():
                return {"state": "stale", "reason": f"source folder {source} is gone"}
            return {"state": "unknown",
                    "reason": "built from a corpus file, not a source folder: nothing to compare"}
        changed = changed_files(index, root)
        if not changed:
            return {"state": "fresh", "changed_files": []}
        if not refresh:
            return {"state": "stale", "changed_files": changed[:20],
                    "reason": f"{len(changed)} files changed since the build; "
                              "call again with refresh=true or run `seekcode index`"}
        from seekcode.index.watch import update

        try:
            _, result = update(root, served.live.path, index.encoder)
        except (IndexError_, OSError) as e:
            return {"state": "stale", "changed_files": changed[:20],
                    "reason": f"refresh failed: {e}"}
        print(f"seekcode mcp: {served.name}: {result.summary()}", file=sys.stderr)
        return {"state": "fresh" if result.unchanged else "refreshed",
                "changed_files": changed[:20], "update": result.summary()}


def changed_files(index: Index, root: Path) -> list[str]:
    """Source files under `root` written after the index's generation, and indexed
    files that are gone (paths relative to `root`, sorted)."""
    from seekcode.index.watch import _SourceChanges

    built = (index.gen / MANIFEST).stat().st_mtime
    keep = _SourceChanges(root.resolve(), index.root.resolve())
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if keep(None, os.path.join(dirpath, d, "x.py"))]
        for f in filenames:
            full = os.path.join(dirpath, f)
            if Path(f).suffix and keep(None, full):
                try:
                    if os.stat(full).st_mtime > built:
                        out.add(os.path.relpath(full, root))
                except OSError:
                    continue
    indexed = {p for (p,) in index.db.execute("SELECT DISTINCT path FROM records")}
    out |= {p for p in indexed if not (root / p).exists()}
    return sorted(out)


def _names(paths: list[Path]) -> list[str]:
    """Folder names, or full paths where two folders share a name."""
    base = [p.resolve().name for p in paths]
    return [b if base.count(b) == 1 else str(p.resolve()) for b, p in zip(base, paths, strict=True)]


def _same_path(a: Path, b: str) -> bool:
    try:
        return a.resolve() == Path(b).expanduser().resolve()
    except OSError:
        return False
