"""Java extraction: Javadoc cleaned, nested classes qualified, bodiless methods left out."""

from __future__ import annotations

import pytest

from seekcode.corpus.extract import ParseError, extractor_for

SOURCE = """\
package org.example.util;

import java.util.List;

/** A stack of ints. */
public class IntStack {
    /**
     * Pushes {@code value} onto the stack, see {@link #pop()}.
     * <p>Grows the array when full.
     *
     * @param value the value to push
     * @return this stack
     */
    @SuppressWarnings("unchecked")
    public IntStack push(int value) {
        items[size++] = value;
        return this;
    }

    int pop() {
        return items[--size];
    }

    static final class Node {
        /** The next node, or null at the end. */
        Node next() { return next; }
    }

    abstract void clear();
}
"""


@pytest.fixture
def functions():
    fns = extractor_for("IntStack.java").extract(SOURCE, "IntStack.java")  # type: ignore[union-attr]
    return {f.name: f for f in fns}


def test_names(functions):
    assert list(functions) == ["IntStack.push", "IntStack.pop", "IntStack.Node.next"]
    assert {f.language for f in functions.values()} == {"java"}


def test_javadoc_cleaned(functions):
    doc = functions["IntStack.push"].docstring
    assert doc.startswith("Pushes value onto the stack, see pop().\n\nGrows the array when full.")
    assert "@param value the value to push" in doc  # tags stay; the summary cuts them
    assert "*" not in doc and "<p>" not in doc
    assert functions["IntStack.Node.next"].docstring == "The next node, or null at the end."


def test_undocumented_method(functions):
    assert functions["IntStack.pop"].docstring == ""


def test_code_and_span(functions):
    push = functions["IntStack.push"]
    assert push.code.startswith('@SuppressWarnings("unchecked")\npublic IntStack push(int value) {')
    assert "/**" not in push.code and push.code.endswith("}")
    assert (push.start_line, push.end_line) == (14, 18)
    assert "\n    return this;" in push.code  # dedented as if at top level


def test_malformed_file_is_a_parse_error():
    with pytest.raises(ParseError):
        extractor_for("A.java").extract("public class { void (( {{ ]] ;; <<>>", "A.java")  # type: ignore[union-attr]
