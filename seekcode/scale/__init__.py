"""Beyond one machine: encode on a Ray cluster (`ray_encoder`), serve from Milvus (`milvus`).

Both need the optional extra: `pip install 'seekcode[scale]'`.
"""

from __future__ import annotations

import importlib

from seekcode.errors import InputError


def require(module: str, what: str) -> None:
    """A clear error when the `[scale]` extra is missing, naming the fix."""
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise InputError(f"{what} needs the {module!r} package ({e}); "
                         "install it with `pip install 'seekcode[scale]'`") from None
