"""Beyond one machine: encode on a Ray cluster (`ray_encoder`), serve from Milvus (`milvus`).

Both need the optional extra: `pip install 'seekcode[scale]'`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from seekcode.errors import InputError

# The address of a collection `seekcode export` wrote: milvus://HOST:PORT/COLLECTION.
SCHEME = "milvus://"


def is_milvus(target: str | Path) -> bool:
    """Whether a search target names a Milvus collection (here, not in `milvus`, so that
    a local search never imports the Milvus client code to ask)."""
    return str(target).startswith(SCHEME)


def require(module: str, what: str) -> None:
    """A clear error when the `[scale]` extra is missing, naming the fix."""
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise InputError(f"{what} needs the {module!r} package ({e}); "
                         "install it with `pip install 'seekcode[scale]'`") from None
