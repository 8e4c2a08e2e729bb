"""The one exception class for input seekcode refuses, as opposed to a bug in seekcode.

Every front end draws the line here: the CLI prints an `InputError` as one line and
exits 2, the HTTP server answers it with 422, the MCP server returns it as a tool
error; anything else is a bug and surfaces as one (a traceback, a 500).

Raise it (or one of its subclasses: `QueryError`, `IndexError_`, `BadLine`, ...)
where seekcode rejects something a user gave it: an argument, a query, a glob, a
corpus or query file, a source folder, an index directory, a model directory, an
address. The message names the input and the fix ("corpus.jsonl: no such corpus
file"). An internal invariant that fails stays a plain ValueError/RuntimeError.
"""

from __future__ import annotations

__all__ = ["BUG_NOTE", "InputError"]


class InputError(ValueError):
    """Input seekcode refuses; the message names the input and how to fix it.

    A ValueError, so library callers that catch ValueError around a bad argument
    keep working.
    """

# What a front end adds to any other exception: it is seekcode's fault, not the input's.
BUG_NOTE = ("this is a bug in seekcode, not a problem with the input; please report it with "
            "the traceback")
