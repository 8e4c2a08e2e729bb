"""Searchers by name: the one place a search backend is registered.

Each entry names the module that implements the searcher; it is imported only when
an index is asked for that searcher, so the index layer depends on no backend. The
module provides `open_searcher(artifacts) -> Searcher` and, when its artifacts can
follow an index through updates, `carry_over(artifacts) -> BuildHook` (a hook that
re-derives them for the next generation's vectors without refitting). A searcher
other than `exact` keeps its files in the generation folder and describes them in
the manifest's `extras[NAME]`: that entry is how a generation says it has it.

Adding a searcher: write its module (those functions, and a build hook that writes
its artifacts and fills `extras[NAME]`), then add one line to REGISTRY.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from seekcode.index.search import Artifacts, Searcher

__all__ = ["REGISTRY", "Artifacts", "Entry", "available", "carry_over", "listing",
           "open_searcher", "register"]


@dataclass(frozen=True)
class Entry:
    """A registered searcher: its module, and how a user adds it to an index."""

    module: str
    how_to_build: str = ""  # shown when an index lacks the searcher
    preferred: bool = False  # the index's default searcher whenever it has it


REGISTRY: dict[str, Entry] = {
    "exact": Entry("seekcode.index.search"),
    "coshc": Entry("seekcode.hashing.coshc", "`seekcode index SRC -o INDEX --hash` or "
                   "`seekcode train hash INDEX`", preferred=True),
}


def register(name: str, entry: Entry) -> None:
    """Add (or replace) a searcher; for plug-ins outside seekcode and for tests."""
    REGISTRY[name] = entry


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)


def listing(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's `searchers` entry for a generation: which it has, which is default.

    `exact` always; every other registered searcher whose artifacts the generation
    describes (`extras[NAME]`). The default is the last preferred one present.
    """
    extras = manifest.get("extras", {})
    have = ["exact", *(n for n in REGISTRY if n != "exact" and n in extras)]
    preferred = [n for n in have if REGISTRY[n].preferred]
    return {"available": have, "default": preferred[-1] if preferred else "exact"}


def available(manifest: Mapping[str, Any]) -> tuple[list[str], str]:
    """(names, default) as the manifest records them; derived for manifests older than
    the `searchers` entry."""
    entry = manifest.get("searchers") or listing(manifest)
    return list(entry["available"]), str(entry["default"])


def open_searcher(name: str, artifacts: Artifacts) -> Searcher:
    """Import the searcher's module and build it (KeyError if `name` is not registered)."""
    searcher: Searcher = _module_function(name, "open_searcher")(artifacts)
    return searcher


def carry_over(artifacts: Artifacts) -> list[Callable[..., None]]:
    """Build hooks that carry every searcher of a generation over to the next one.

    Searchers whose module has no `carry_over` (or that are no longer registered)
    are left out: the next generation does not have them.
    """
    hooks = []
    for name in available(artifacts.manifest)[0]:
        if name in REGISTRY and hasattr(module := _module(name), "carry_over"):
            hooks.append(module.carry_over(artifacts))
    return hooks


def _module(name: str) -> Any:
    return importlib.import_module(REGISTRY[name].module)


def _module_function(name: str, function: str) -> Callable[..., Any]:
    return getattr(_module(name), function)  # type: ignore[no-any-return]
