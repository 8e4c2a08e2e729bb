"""Tokenization the way CodeSearchNet stores it: code_tokens and docstring_tokens."""

from __future__ import annotations

import re

# String literals stay one token (as tree-sitter leaves are in CodeSearchNet);
# otherwise identifiers, numbers, and single punctuation characters.
_CODE_TOKEN = re.compile(
    r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|`[^`]*`'
    r"|[A-Za-z_$][A-Za-z0-9_$]*|\d[\w.]*|\S"
)
_COMMENT = {
    "python": re.compile(r"#[^\n]*"),
    "ruby": re.compile(r"#[^\n]*"),
}
_C_COMMENT = re.compile(r"//[^\n]*|/\*[\s\S]*?\*/")
_DOC_TOKEN = re.compile(r"[A-Za-z0-9_]+|[^\sA-Za-z0-9_]")
# Where a docstring's prose ends and its parameter list begins.
_DOC_FIELDS = re.compile(
    r"^\s*(:param|:return|:rtype|:raises|@[A-Za-z]+\b|Args:|Arguments:|Returns:|"
    r"Raises:|Parameters\s*$|Returns\s*$|Yields:|Example|Examples:|>>>)",
    re.MULTILINE,
)
_SPLIT_IDENT = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def code_tokens(code: str, language: str = "python") -> list[str]:
    """Split code into tokens, dropping comments."""
    comment = _COMMENT.get(language, _C_COMMENT)
    code = comment.sub(" ", code)
    return _CODE_TOKEN.findall(code)


def docstring_summary(docstring: str) -> str:
    """The first paragraph of a docstring, before any parameter section, on one line."""
    text = docstring.strip()
    cut = _DOC_FIELDS.search(text)
    if cut:
        text = text[: cut.start()]
    first = re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]
    return " ".join(first.split())


def docstring_tokens(text: str) -> list[str]:
    return _DOC_TOKEN.findall(text)


def split_identifier(name: str) -> list[str]:
    """`parseHTTPResponse_v2` -> ['parse', 'http', 'response', 'v', '2']."""
    return [p.lower() for p in _SPLIT_IDENT.findall(name)]
