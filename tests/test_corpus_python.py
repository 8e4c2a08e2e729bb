"""The Python extractor: names, spans, docstrings, and `code` without the docstring."""

from __future__ import annotations

import ast
import textwrap

import pytest

from seekcode.corpus.extract import ParseError, extractor_for
from seekcode.corpus.languages.python import PythonExtractor

SOURCE = textwrap.dedent('''\
    """Module docstring."""
    import os


    @functools.lru_cache(maxsize=None)
    def top(a,
            b=1):
        """Add two numbers.

        Longer text.
        """
        return a + b  # sum


    class Outer:
        """Class docstring is not a function."""

        def method(self):
            \'\'\'Single quoted.\'\'\'  # trailing comment
            x = 1
            return x

        @property
        async def fetch(self):
            return await self.get()

        class Inner:
            def deep(self): "Inline doc."; return 2


    if os.name == "nt":
        def windows_only():
            """Only on Windows."""
            def helper():
                """Nested in a function: part of windows_only."""
            return helper
    else:
        try:
            def posix_only():
                return 3
        except ImportError:
            def fallback():
                pass
''')


@pytest.fixture(scope="module")
def functions():
    return {f.name: f for f in PythonExtractor().extract(SOURCE, "mod.py")}


def test_names_are_qualified_and_nested_functions_left_in_their_parent(functions):
    assert list(functions) == [
        "top",
        "Outer.method",
        "Outer.fetch",
        "Outer.Inner.deep",
        "windows_only",
        "posix_only",
        "fallback",
    ]


def test_spans_start_at_def_not_decorator(functions):
    lines = SOURCE.splitlines()
    for fn in functions.values():
        assert lines[fn.start_line - 1].lstrip().startswith(("def ", "async def ")), fn.name
        assert fn.original.splitlines()[-1].strip() == lines[fn.end_line - 1].strip(), fn.name
    assert (functions["top"].start_line, functions["top"].end_line) == (6, 12)


def test_docstring_removed_from_code_and_kept_in_original(functions):
    top = functions["top"]
    assert top.docstring == "Add two numbers.\n\nLonger text."
    assert top.code == "def top(a,\n        b=1):\n    return a + b  # sum"
    assert '"""Add two numbers.' in top.original
    assert not top.original.startswith("@")
    method = functions["Outer.method"]
    assert method.docstring == "Single quoted."
    assert method.code == "def method(self):\n    x = 1\n    return x"


def test_methods_are_dedented_and_still_parse(functions):
    for fn in functions.values():
        assert not fn.code.startswith((" ", "\t"))
        ast.parse(fn.original)
    assert functions["Outer.fetch"].code.splitlines()[1] == "    return await self.get()"


def test_inline_docstring_with_semicolon(functions):
    deep = functions["Outer.Inner.deep"]
    assert deep.docstring == "Inline doc."
    assert deep.code == "def deep(self): return 2"
    ast.parse(deep.code)


def test_functions_without_docstring_are_returned_too(functions):
    assert functions["posix_only"].docstring == ""
    assert functions["posix_only"].code == functions["posix_only"].original


def test_non_ascii_columns_and_crlf():
    src = 'def f():\r\n    "Über straße ünïcode."; x = "é"\r\n    return x\r\n'
    (fn,) = PythonExtractor().extract(src, "u.py")
    assert fn.docstring == "Über straße ünïcode."
    assert fn.code == 'def f():\r\n    x = "é"\r\n    return x'
    assert (fn.start_line, fn.end_line) == (1, 3)


def test_form_feed_does_not_shift_lines():
    src = "x = 1\n\x0c\ndef f():\n    return 1\n"
    (fn,) = PythonExtractor().extract(src, "ff.py")
    assert fn.start_line == 3
    assert fn.code == "def f():\n    return 1"


@pytest.mark.parametrize(
    "source",
    [
        "def f(:\n    pass\n",
        "print 'python 2'\n",
        "x = 1\0\n",
        "x = " + "(" * 300 + ")" * 300,
        "x = " + "-" * 200_000 + "1",
    ],
    ids=["syntax", "python2", "null-byte", "too-many-parens", "recursion"],
)
def test_unparsable_sources_raise_parse_error(source):
    with pytest.raises(ParseError):
        PythonExtractor().extract(source, "bad.py")


def test_registered_for_py():
    assert isinstance(extractor_for("pkg/mod.py"), PythonExtractor)
