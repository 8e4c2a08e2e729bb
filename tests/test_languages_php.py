"""PHP extraction: PHPDoc above functions and methods, abstract methods left out."""

from __future__ import annotations

import pytest

from seekcode.corpus.extract import ParseError, extractor_for

SOURCE = """\
<?php
namespace Acme\\Util;

/**
 * Returns the slug of a title.
 *
 * @param string $title
 * @return string
 */
function slugify(string $title): string
{
    return strtolower(trim($title));
}

abstract class Cart
{
    /**
     * Adds an item to the cart.
     */
    #[Pure]
    public function add(Item $item): void
    {
        $this->items[] = $item;
    }

    private function total()
    {
        return array_sum($this->items);
    }

    abstract protected function save();
}
?>
<p>html after the code</p>
"""


@pytest.fixture
def functions():
    fns = extractor_for("util.php").extract(SOURCE, "util.php")  # type: ignore[union-attr]
    return {f.name: f for f in fns}


def test_names(functions):
    assert list(functions) == ["slugify", "Cart.add", "Cart.total"]
    assert {f.language for f in functions.values()} == {"php"}


def test_phpdoc(functions):
    assert (
        functions["slugify"].docstring
        == "Returns the slug of a title.\n\n@param string $title\n@return string"
    )
    assert functions["Cart.add"].docstring == "Adds an item to the cart."
    assert functions["Cart.total"].docstring == ""


def test_code_and_span(functions):
    add = functions["Cart.add"]
    assert add.code.startswith("#[Pure]\npublic function add(Item $item): void\n{")
    assert (add.start_line, add.end_line) == (20, 24)
    assert (functions["slugify"].start_line, functions["slugify"].end_line) == (10, 13)


def test_malformed_file_is_a_parse_error():
    with pytest.raises(ParseError):
        extractor_for("a.php").extract("<?php\nfunction ((( { class ]] }} => -> ;; {{ \n", "a.php")  # type: ignore[union-attr]
