"""The extractor interface: source text of one file in, functions out, per language."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from seekcode.corpus.languages import LANGUAGE_EXTRACTORS
from seekcode.errors import InputError


class ParseError(InputError):
    """The file could not be parsed as its language (the caller skips it with a reason)."""


@dataclass
class Function:
    """A function or method as found in a source file, before any filtering.

    `code` is the function without its docstring/doc comment; `original` is the
    function as written (for languages with leading doc comments, the function
    text without the comment, since the comment is not part of its span).
    """

    name: str  # qualified where the language has classes: "Class.method"
    code: str
    original: str
    docstring: str
    start_line: int  # 1-based, inclusive
    end_line: int
    language: str


class Extractor(Protocol):
    language: str
    extensions: tuple[str, ...]

    def extract(self, source: str, path: str) -> list[Function]:
        """All functions and methods in `source` (with or without docs); ParseError if unparsable."""
        ...


# extension -> "module:Class"; each language module registers itself here.
# Python (stdlib `ast`) and the tree-sitter languages: see corpus/languages/.
EXTRACTORS: dict[str, str] = dict(LANGUAGE_EXTRACTORS)
_loaded: dict[str, Extractor] = {}


def extractor_for(path: str) -> Extractor | None:
    """The extractor for a file name by its extension, or None for unsupported files."""
    dot = path.rfind(".")
    ext = path[dot:].lower() if dot >= 0 else ""
    target = EXTRACTORS.get(ext)
    if target is None:
        return None
    if target not in _loaded:
        module, _, cls = target.partition(":")
        _loaded[target] = getattr(importlib.import_module(module), cls)()
    return _loaded[target]


def supported_languages() -> list[str]:
    return sorted({extractor_for("x" + ext).language for ext in EXTRACTORS})  # type: ignore[union-attr]
