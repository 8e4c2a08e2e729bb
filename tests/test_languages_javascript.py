"""JavaScript and TypeScript extraction: JSDoc above declarations, named function values."""

from __future__ import annotations

import pytest

from seekcode.corpus.extract import ParseError, extractor_for

SOURCE = """\
'use strict';

/**
 * Adds two numbers.
 * @param {number} a first
 * @returns {number}
 */
export function add(a, b) {
  return a + b;
}

class Stack {
  /** Pushes a value on top. */
  push(v) {
    this.items.push(v);
  }
}

/** Maps every value with f. */
const map = (xs, f) => xs.map((x) => f(x));

Stack.prototype.peek = function () {
  return this.items[this.items.length - 1];
};

module.exports = { sum: function (xs) { return xs.reduce(add, 0); } };
"""


@pytest.fixture
def functions():
    fns = extractor_for("lib.js").extract(SOURCE, "lib.js")  # type: ignore[union-attr]
    return {f.name: f for f in fns}


def test_names(functions):
    # The arrow passed to xs.map has no name: it is not a function of its own.
    assert list(functions) == ["add", "Stack.push", "map", "Stack.peek", "sum"]
    assert {f.language for f in functions.values()} == {"javascript"}


def test_jsdoc(functions):
    assert (
        functions["add"].docstring
        == "Adds two numbers.\n@param {number} a first\n@returns {number}"
    )
    assert functions["Stack.push"].docstring == "Pushes a value on top."
    assert functions["map"].docstring == "Maps every value with f."
    assert functions["Stack.peek"].docstring == ""


def test_code_is_the_naming_statement(functions):
    assert functions["add"].code.startswith("export function add(a, b) {")
    assert functions["map"].code == "const map = (xs, f) => xs.map((x) => f(x));"
    assert (functions["add"].start_line, functions["add"].end_line) == (8, 10)
    assert (functions["Stack.push"].start_line, functions["Stack.push"].end_line) == (14, 16)
    assert functions["Stack.push"].code == "push(v) {\n  this.items.push(v);\n}"


@pytest.mark.parametrize("ext", [".js", ".mjs", ".cjs", ".jsx"])
def test_extensions(ext):
    assert extractor_for("a" + ext).language == "javascript"  # type: ignore[union-attr]


def test_malformed_and_minified_files_are_parse_errors():
    ex = extractor_for("a.js")
    with pytest.raises(ParseError):
        ex.extract("function ( { ]] ) => => }}} class {{{ ((( ", "a.js")  # type: ignore[union-attr]
    minified = "var a=function(b){return b+1};" * 200
    with pytest.raises(ParseError, match="minified"):
        ex.extract(minified, "a.min.js")  # type: ignore[union-attr]


TS_SOURCE = """\
export abstract class Repo<T> {
  /**
   * Finds one item by id.
   */
  async find(id: string): Promise<T | undefined> {
    return this.items.get(id);
  }

  abstract save(item: T): void;
}

export function parse(s: string): number;
export function parse(s: any): number {
  return Number(s);
}

/** Renders the widget. */
export const Widget = (props: Props): JSX.Element => <div>{props.name}</div>;
"""


def test_typescript_and_tsx():
    fns = extractor_for("repo.tsx").extract(TS_SOURCE, "repo.tsx")  # type: ignore[union-attr]
    by_name = {f.name: f for f in fns}
    assert list(by_name) == ["Repo.find", "parse", "Widget"]  # no overload or abstract signature
    assert by_name["Repo.find"].docstring == "Finds one item by id."
    assert by_name["Widget"].docstring == "Renders the widget."
    assert {f.language for f in fns} == {"typescript"}
    plain = extractor_for("repo.ts").extract(TS_SOURCE.split("/** Renders")[0], "repo.ts")  # type: ignore[union-attr]
    assert [f.name for f in plain] == ["Repo.find", "parse"]


def test_declaration_files_have_no_functions():
    dts = 'class A<T extends import("./b.js").default> {}\nexport function f(): void;\n'
    assert extractor_for("a.d.ts").extract(dts, "a.d.ts") == []  # type: ignore[union-attr]
