"""The index a server searches, reopened when an update publishes a new generation."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from seekcode.encoders.base import Encoder
from seekcode.index.files import CURRENT
from seekcode.index.store import Index, IndexError_


class LiveIndex:
    """Hands out the newest published generation of an index directory.

    Every `check_every` seconds at most, one `readlink` of `INDEX/current` tells
    whether an update has published a new generation; if so, the first request to
    notice opens and warms it while every other request keeps using the old one,
    and then the reference is swapped. Requests that hold the old Index finish on
    it: generations are immutable, and each Index holds a lease on its generation,
    so no publish deletes it while it is in use. A generation that fails to open (corrupted, another encoder) is reported in
    `error` and the previous one keeps serving.
    """

    def __init__(self, path: Path, encoder: Encoder | None = None, check_every: float = 0.5):
        self.path = Path(path)
        self.check_every = check_every
        self._pinned = encoder is not None  # the caller chose the encoder: never swap it
        self._encoder = encoder
        self._reloading = threading.Lock()
        self.reloads = 0
        self.error: str | None = None
        self.index = self._open()  # raises IndexError_: a server without an index is useless
        self._target = self.index.gen.name
        self._next_check = time.monotonic() + check_every

    def get(self) -> Index:
        """The current Index (cheap: a clock read, and a readlink twice a second)."""
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self.check_every
            target = self._link()
            # A generation deleted under us (by hand: publishes never delete a leased
            # one) is reopened from `current` at every check until one opens.
            stale = not self.index.alive()
            # Only one thread reopens; the others go on with the index they have.
            if (target is not None and (target != self._target or stale)
                    and self._reloading.acquire(blocking=False)):
                try:
                    self._reload(target)
                finally:
                    self._reloading.release()
        return self.index

    def _link(self) -> str | None:
        try:
            return os.readlink(self.path / CURRENT)
        except OSError:
            return None

    def _reload(self, target: str) -> None:
        try:
            index = self._open()
        except (IndexError_, OSError) as e:
            self.error = f"new generation {target} not served: {e}"
            self._target = target  # retried when the next generation is published
            print(f"seekcode serve: {self.error}", file=sys.stderr)
            return
        self.index, self._target = index, index.gen.name
        self.error = None
        self.reloads += 1

    def _open(self) -> Index:
        try:
            index = Index.open(self.path, self._encoder)
        except IndexError_:
            if self._pinned or self._encoder is None:
                raise
            # The index was rebuilt with another encoder: load the one it names.
            index = Index.open(self.path, None)
        # Load everything now, in this thread, so the first search is not slow and a
        # generation deleted later (two updates on) is already in memory.
        self._encoder = index.encoder
        for name in index.searcher_names():
            index.searcher(name)
        index.languages()
        return index
