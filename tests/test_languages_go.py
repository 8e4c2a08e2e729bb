"""Go extraction: GoDoc line comments, methods named by receiver, broken files skipped."""

from __future__ import annotations

import pytest

from seekcode.corpus.extract import ParseError, extractor_for

SOURCE = """\
// Copyright 2020 The Authors. All rights reserved.

package shapes

// Area returns the area of a rectangle.
//
// Negative sides give a negative area.
//go:noinline
func Area(w, h float64) float64 {
	return w * h
}

// Scale multiplies both sides of the rectangle by f.
func (r *Rect[T]) Scale(f float64) {
	r.W *= f
	r.H *= f
}

// A stray comment, then a blank line.

func helper() int { return 1 }

func Declared() int // implemented in assembly
"""


@pytest.fixture
def functions():
    fns = extractor_for("shapes.go").extract(SOURCE, "shapes.go")  # type: ignore[union-attr]
    return {f.name: f for f in fns}


def test_names_and_languages(functions):
    assert list(functions) == ["Area", "Rect.Scale", "helper"]  # bodiless Declared left out
    assert {f.language for f in functions.values()} == {"go"}


def test_godoc_cleaned_without_directives(functions):
    assert functions["Area"].docstring == (
        "Area returns the area of a rectangle.\n\nNegative sides give a negative area."
    )
    assert functions["Rect.Scale"].docstring == "Scale multiplies both sides of the rectangle by f."


def test_comment_separated_by_blank_line_is_not_doc(functions):
    assert functions["helper"].docstring == ""


def test_code_without_comment_and_line_span(functions):
    area = functions["Area"]
    assert area.code.startswith("func Area(") and "//" not in area.code
    assert area.code == area.original
    assert (area.start_line, area.end_line) == (9, 11)
    assert (functions["Rect.Scale"].start_line, functions["Rect.Scale"].end_line) == (14, 17)


def test_malformed_file_is_a_parse_error():
    broken = "package x\n\nfunc (((( {\n  return ]]]] )\n}\n" * 3
    with pytest.raises(ParseError):
        extractor_for("x.go").extract(broken, "x.go")  # type: ignore[union-attr]


def test_one_broken_function_does_not_cost_the_file():
    good = "".join(
        f"// F{i} does {i}.\nfunc F{i}() int {{\n\treturn {i}\n}}\n\n" for i in range(40)
    )
    source = "package x\n\n" + good + "func Bad() {\n\treturn (\n}\n"
    names = [f.name for f in extractor_for("x.go").extract(source, "x.go")]  # type: ignore[union-attr]
    assert len(names) == 40 and "Bad" not in names


def test_non_ascii_text_keeps_spans_and_indentation():
    source = 'package x\n\n// Grüße returns a greeting — in German.\nfunc Grüße() string {\n\treturn "ÄÖÜ"\n}\n'
    (fn,) = extractor_for("x.go").extract(source, "x.go")  # type: ignore[union-attr]
    assert fn.name == "Grüße" and fn.docstring == "Grüße returns a greeting — in German."
    assert fn.code == 'func Grüße() string {\n\treturn "ÄÖÜ"\n}'
    assert (fn.start_line, fn.end_line) == (4, 6)
