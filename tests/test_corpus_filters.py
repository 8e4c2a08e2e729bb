"""CodeSearchNet / CodeXGLUE filters, each reason counted, and the all-functions switch."""

from __future__ import annotations

import pytest

from seekcode.corpus.extract import Function
from seekcode.corpus.filters import FilterConfig, FunctionFilter, is_english, reject_reason
from seekcode.corpus.skips import SkipReport


def fn(name="add_one", doc="Add one to a number.", code=None) -> Function:
    short = name.split(".")[-1]
    code = code or f"def {short}(x):\n    y = x + 1\n    return y"
    return Function(name, code, code, doc, 1, code.count("\n") + 1, "python")


def test_a_good_function_passes():
    assert reject_reason(fn(), FilterConfig()) is None


@pytest.mark.parametrize(
    ("function", "reason"),
    [
        (fn(doc=""), "no docstring"),
        (fn(doc="   \n"), "no docstring"),
        (fn(name="test_add"), "test function"),
        (fn(name="Suite.get_latest"), "test function"),  # as CodeSearchNet: substring
        (fn(name="Thing.__init__"), "constructor or dunder method"),
        (fn(name="Thing.__repr__"), "constructor or dunder method"),
        (fn(code="def f(x):\n    return x"), "function < 3 lines"),
        (fn(doc="Add."), "docstring < 3 tokens"),
        (fn(doc=":param x: a number"), "docstring < 3 tokens"),  # empty summary
        (fn(doc=" ".join(["word"] * 257)), "docstring > 256 tokens"),
        (fn(doc="返回一个数字加一的结果"), "docstring not English"),
        (fn(doc="Вернуть число плюс один."), "docstring not English"),
        (fn(doc="See https://example.com for the details."), "docstring has URL or HTML"),
        (fn(doc="Add one <b>fast</b> to x."), "docstring has URL or HTML"),
    ],
)
def test_each_reason(function, reason):
    assert reject_reason(function, FilterConfig()) == reason


def test_placeholders_in_angle_brackets_are_not_html():
    assert reject_reason(fn(doc="Return the <name> of the user."), FilterConfig()) is None


def test_only_the_summary_is_judged():
    doc = "Add one to a number.\n\nSee https://example.com and 中文 below."
    assert reject_reason(fn(doc=doc), FilterConfig()) is None


def test_is_english_heuristic():
    assert is_english("Return the café's menu.")
    assert not is_english("...")
    assert not is_english("データを読み込む")


def test_duplicates_by_whitespace_normalized_code_are_counted():
    skips = SkipReport()
    keep = FunctionFilter(FilterConfig(), skips)
    a = fn(code="def f(x):\n    y = x + 1\n    return y")
    b = fn(code="def f(x):\n        y = x  +  1\n\n        return y")
    c = fn(code="def f(x):\n    y = x + 2\n    return y")
    assert [keep.keep(f, f"w{i}") for i, f in enumerate((a, b, c, fn(doc="")))] == [
        True,
        False,
        True,
        False,
    ]
    assert skips.counts == {"duplicate code": 1, "no docstring": 1}
    assert skips.examples["duplicate code"] == ["w1"]


def test_all_functions_keeps_everything_parsable():
    config = FilterConfig.all_functions()
    keep = FunctionFilter(config)
    odd = [
        fn(doc=""),
        fn(name="test_x"),
        fn(name="A.__init__"),
        fn(code="def f(): pass"),
        fn(doc="中文"),
    ]
    assert all(keep.keep(f) for f in odd + odd)  # duplicates kept too
    assert keep.skips.total == 0
