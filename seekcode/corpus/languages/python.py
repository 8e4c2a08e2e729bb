"""Python functions and methods from source text, with exact docstrings and line spans.

Uses the stdlib `ast`, so docstrings are exactly what Python sees and the spans are
the interpreter's own. What is extracted:

- every module-level function, including ones under `if`/`try`/`with` blocks;
- every method, qualified by its class ("Class.method", "Outer.Inner.method");
- not functions nested inside other functions: they are part of the enclosing
  function's code, as in CodeSearchNet.

A function's text starts at `def` (decorators are left out, as CodeSearchNet does)
and ends at its last statement; it is dedented by the column of its `def`.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator

from seekcode.corpus.extract import Function, ParseError

# ast counts "\r\n", "\r" and "\n" as line ends, and nothing else (str.splitlines
# would also split on form feeds and U+2028, shifting every line number after them).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")

_Def = ast.FunctionDef | ast.AsyncFunctionDef


class PythonExtractor:
    """The Extractor for Python (`.py`), registered in `corpus.languages.LANGUAGE_EXTRACTORS`."""

    language = "python"
    extensions = (".py",)

    def extract(self, source: str, path: str) -> list[Function]:
        """All functions and methods in `source`; ParseError if Python cannot parse it."""
        tree = _parse(source, path)
        lines = _LINE.findall(source)
        out = []
        for node, qualname in _walk(tree.body, ""):
            code, original = _texts(node, lines)
            out.append(
                Function(
                    name=qualname,
                    code=code,
                    original=original,
                    docstring=ast.get_docstring(node, clean=True) or "",
                    start_line=node.lineno,
                    end_line=node.end_lineno or node.lineno,
                    language=self.language,
                )
            )
        return out


def _parse(source: str, path: str) -> ast.Module:
    try:
        with warnings.catch_warnings():
            # Old code is full of invalid escapes ("\d"): SyntaxWarnings, not our business.
            warnings.simplefilter("ignore")
            return ast.parse(source, filename=path)
    except SyntaxError as e:
        raise ParseError(f"syntax error line {e.lineno}: {e.msg}") from e
    except ValueError as e:  # null bytes in the source
        raise ParseError(str(e)) from e
    except (RecursionError, MemoryError) as e:
        raise ParseError("too deeply nested to parse") from e


def _walk(stmts: list[ast.stmt], prefix: str) -> Iterator[tuple[_Def, str]]:
    """Functions in document order, descending into classes and compound statements."""
    for stmt in stmts:
        if isinstance(stmt, _Def):
            yield stmt, prefix + stmt.name
        elif isinstance(stmt, ast.ClassDef):
            yield from _walk(stmt.body, f"{prefix}{stmt.name}.")
        else:
            # if/try/with/for/while/match blocks at this level: same scope.
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.stmt):
                    yield from _walk([child], prefix)
                elif isinstance(child, ast.ExceptHandler | ast.match_case):
                    yield from _walk(child.body, prefix)


def _texts(node: _Def, lines: list[str]) -> tuple[str, str]:
    """(code without the docstring statement, code as written), both dedented."""
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    span = lines[first : last + 1]
    # col_offset is in UTF-8 bytes; indentation is ASCII, so bytes == characters here.
    indent = node.col_offset
    original = _dedent(span, indent)
    doc = _docstring_stmt(node)
    if doc is None:
        return original, original
    d_first, d_last = doc.lineno - 1 - first, (doc.end_lineno or doc.lineno) - 1 - first
    head = _cut_bytes(span[d_first], 0, doc.col_offset)
    tail = _cut_bytes(span[d_last], doc.end_col_offset or 0, None)
    # A ";" may separate the docstring from the next statement on the same line.
    if tail.lstrip(" \t").startswith(";"):
        tail = tail.lstrip(" \t")[1:].lstrip(" \t")
    kept: list[str] = span[:d_first]
    head_code = bool(head.strip())  # `def f(): "doc"` on one line
    tail_code = bool(tail.strip()) and not tail.lstrip().startswith("#")
    if head_code and tail_code:
        kept.append(head.rstrip(" \t") + " " + tail)
    elif head_code:
        kept.append(head.rstrip(" \t") + _line_end(span[d_last]))
    elif tail_code:
        kept.append(head + tail)  # head is the docstring's indentation
    kept.extend(span[d_last + 1 :])
    return _dedent(kept, indent), original


def _docstring_stmt(node: _Def) -> ast.Expr | None:
    if node.body and isinstance(node.body[0], ast.Expr):
        value = node.body[0].value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return node.body[0]
    return None


def _cut_bytes(line: str, start: int, end: int | None) -> str:
    """Slice a line by UTF-8 byte offsets (ast's column unit)."""
    return line.encode("utf-8")[start:end].decode("utf-8", "replace")


def _line_end(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :] or "\n"


def _dedent(lines: list[str], indent: int) -> str:
    """Remove the def's indentation from each line that has it; strip the final newline.

    Lines with less indentation (continuations inside strings) are left as they are.
    """
    out = []
    for line in lines:
        prefix = line[:indent]
        out.append(line[indent:] if prefix.strip(" \t") == "" and len(prefix) == indent else line)
    return "".join(out).rstrip("\r\n")
