"""The shared tree-sitter extractor: parse, reject broken files, find functions and their doc comments.

A language module says which nodes are functions (a tree-sitter query), how to name
them, which statement carries their doc comment (the *anchor*), and how its doc
comments are written. Everything else (error rule, comment lookup, cleaning, line
spans, dedenting) lives here so the languages behave alike.

Unparsable input. Tree-sitter never fails: it wraps what it cannot parse in ERROR
nodes and inserts MISSING ones. A file is rejected with `ParseError` when the root
is itself an ERROR, or when ERROR nodes cover more than `max_error_share` (5%) of
its bytes, or MISSING nodes outnumber one per 50 lines (plus 3). A file below that
is kept, but any function whose own subtree holds an error is dropped, so one broken
function does not cost a file of good ones. Files that look minified (average line
over 300 characters) are rejected too: their functions are not code a person reads.

Blow-ups. Each function's code includes the functions nested in it, so a file of n
nested functions yields O(n^2) bytes (3,000 nested functions in 59 KB made 88 MB).
One file yields at most `MAX_FUNCTIONS_PER_FILE` functions holding at most
`MAX_CODE_FACTOR` times the file's bytes (plus `MAX_CODE_SLACK`); functions beyond
that are left out, and the result's `capped` says how many and why.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter as ts

from seekcode.corpus.extract import Function, ParseError

MAX_ERROR_SHARE = 0.05
MINIFIED_LINE_CHARS = 300
MAX_FUNCTIONS_PER_FILE = 5000
MAX_CODE_FACTOR = 4
MAX_CODE_SLACK = 64 << 10


class Functions(list[Function]):
    """The functions found in one file; `capped` names what the per-file caps left out."""

    capped: str = ""


@dataclass
class Found:
    """One function as a language module sees it: the node to take, its name, its kind."""

    anchor: ts.Node  # the span taken as code and whose preceding comment is the doc
    name: str
    body: ts.Node  # the function node itself (checked for syntax errors)


class TreeSitterExtractor:
    """Base class of the tree-sitter extractors; subclasses fill in the class attributes."""

    language: str = ""
    extensions: tuple[str, ...] = ()
    # Tree-sitter query whose captures are the function nodes.
    function_query: str = ""
    # Node types that are comments in this grammar.
    comment_types: tuple[str, ...] = ("comment",)
    # "block": a `/** ... */` comment right above (Javadoc, JSDoc, PHPDoc);
    # "line": the run of line comments directly above (GoDoc `//`, Ruby `#`).
    doc_style: str = "block"
    line_marker: str = "//"
    max_error_share: float = MAX_ERROR_SHARE

    def __init__(self) -> None:
        self._parsers: dict[int, ts.Parser] = {}
        self._queries: dict[int, tuple[ts.Query, ts.Query]] = {}

    # -- what subclasses provide ----------------------------------------------

    def ts_language(self, path: str) -> ts.Language:
        """The grammar for a file (TypeScript picks TSX by extension)."""
        raise NotImplementedError

    def describe(self, node: ts.Node, src: bytes) -> Found | None:
        """Name and anchor of a captured function node, or None to leave it out."""
        raise NotImplementedError

    # -- the pipeline ---------------------------------------------------------

    def extract(self, source: str, path: str) -> Functions:
        """All functions and methods in `source`, documented or not, within the per-file
        caps (see the module doc); ParseError if unparsable."""
        src = source.encode("utf-8", "surrogatepass")
        n_lines = source.count("\n") + 1
        if len(src) > 2000 and len(src) / n_lines > MINIFIED_LINE_CHARS:
            raise ParseError("looks minified (average line over 300 characters)")
        lang = self.ts_language(path)
        parser, (fq, cq) = self._tools(lang)
        root = parser.parse(src).root_node
        self._check_errors(root, len(src), n_lines)
        comments = self._comments_by_end_row(cq, root)
        lines = src.split(b"\n")
        out = Functions()
        seen: set[int] = set()
        budget = MAX_CODE_FACTOR * len(src) + MAX_CODE_SLACK
        left_out = 0
        for node in sorted(
            ts.QueryCursor(fq).captures(root).get("f", []), key=lambda n: n.start_byte
        ):
            found = self.describe(node, src)
            if found is None or found.body.has_error or found.anchor.start_byte in seen:
                continue
            seen.add(found.anchor.start_byte)
            span = found.anchor.end_byte - found.anchor.start_byte
            if span > budget or len(out) >= MAX_FUNCTIONS_PER_FILE:
                left_out += 1  # sized by its span, so the text is never built
                continue
            budget -= span
            code = node_text(found.anchor, src, lines)
            doc = self._doc_for(found.anchor, comments, lines)
            out.append(
                Function(
                    name=found.name,
                    code=code,
                    original=code,
                    docstring=doc,
                    start_line=found.anchor.start_point.row + 1,
                    end_line=found.anchor.end_point.row + 1,
                    language=self.language,
                )
            )
        if left_out:
            out.capped = (f"left out {left_out} of {len(out) + left_out} functions: at most "
                          f"{MAX_FUNCTIONS_PER_FILE:,} per file, holding at most "
                          f"{MAX_CODE_FACTOR}x the file's bytes")
        return out

    def _tools(self, lang: ts.Language) -> tuple[ts.Parser, tuple[ts.Query, ts.Query]]:
        key = id(lang)
        if key not in self._parsers:
            self._parsers[key] = ts.Parser(lang)
            comment_q = " ".join(f"({t}) @c" for t in self.comment_types)
            self._queries[key] = (ts.Query(lang, self.function_query), ts.Query(lang, comment_q))
        return self._parsers[key], self._queries[key]

    def _check_errors(self, root: ts.Node, n_bytes: int, n_lines: int) -> None:
        """Raise ParseError when too much of the file is not the language (see module doc)."""
        if not root.has_error:
            return
        if root.is_error:
            raise ParseError("syntax error (the file does not parse)")
        error_bytes = 0
        missing = 0
        stack = [root]
        while stack:
            node = stack.pop()
            if node.is_error:
                error_bytes += node.end_byte - node.start_byte
                continue  # nested errors are inside this span already
            if node.is_missing:
                missing += 1
            stack.extend(c for c in node.children if c.has_error or c.is_missing)
        if error_bytes > self.max_error_share * max(n_bytes, 1):
            raise ParseError(f"syntax errors in over {self.max_error_share:.0%} of the file")
        if missing > 3 + n_lines / 50:
            raise ParseError("syntax errors (many missing tokens)")

    def _comments_by_end_row(self, query: ts.Query, root: ts.Node) -> dict[int, ts.Node]:
        # The last comment ending on each row; doc lookup walks upward by rows.
        by_row: dict[int, ts.Node] = {}
        for node in ts.QueryCursor(query).captures(root).get("c", []):
            row = node.end_point.row
            if row not in by_row or node.start_byte > by_row[row].start_byte:
                by_row[row] = node
        return by_row

    def _doc_for(self, anchor: ts.Node, comments: dict[int, ts.Node], lines: list[bytes]) -> str:
        """The doc comment written directly above `anchor`, cleaned, or ""."""
        row = anchor.start_point.row
        if self.doc_style == "line":
            run: list[ts.Node] = []
            r = row - 1
            while r in comments and starts_line(comments[r], lines):
                c = comments[r]
                text = c.text.decode("utf-8", "replace") if c.text else ""
                if not text.startswith(self.line_marker) and not text.startswith("/*"):
                    break
                run.append(c)
                r = c.start_point.row - 1
            run.reverse()
            texts = [c.text.decode("utf-8", "replace") if c.text else "" for c in run]
            return clean_line_doc(texts, self.line_marker)
        # Block style: the comment may end on the line above, one blank line higher,
        # or on the function's own line before it (`/** Doc. */ function f() {}`).
        for r in (row, row - 1, row - 2):
            block = comments.get(r)
            if block is None or (r == row and block.end_byte > anchor.start_byte):
                if r == row - 1 and 0 <= r < len(lines) and lines[r].strip():
                    return ""  # code, not a blank line, sits between
                continue
            text = text_of(block)
            if text.startswith("/**") and not text.startswith("/**/") and starts_line(block, lines):
                return clean_block_doc(text)
            return ""
        return ""


# -- text helpers ---------------------------------------------------------------


def starts_line(node: ts.Node, lines: list[bytes]) -> bool:
    """Whether only whitespace precedes the node on its first line (not a trailing comment)."""
    row, col = node.start_point.row, node.start_point.column
    return 0 <= row < len(lines) and not lines[row][:col].strip()


def node_text(node: ts.Node, src: bytes, lines: list[bytes]) -> str:
    """The node's source, dedented as if it started its line (so methods read like functions)."""
    text = src[node.start_byte : node.end_byte].decode("utf-8", "replace")
    row, col = node.start_point.row, node.start_point.column
    prefix = lines[row][:col] if 0 <= row < len(lines) else b""
    if prefix.strip():
        prefix = b""  # code precedes it on the line: keep the text as it is
    return textwrap.dedent(prefix.decode("utf-8", "replace") + text)


_INLINE_TAG = re.compile(r"\{@(link|linkplain|code|literal|value)\s+([^}]*)\}")
_INHERIT = re.compile(r"\{@inheritDoc\}", re.IGNORECASE)
_PARAGRAPH_TAG = re.compile(r"<\s*/?\s*(?:p|br|ul|ol|li|pre|dl|dt|dd|blockquote|h\d)\b[^>]*>", re.I)
_HTML_TAG = re.compile(
    r"</?(?:a|b|i|em|strong|code|tt|var|kbd|samp|cite|span|div|sup|sub|table|tr|td|th|thead|"
    r"tbody|caption|hr|img|small|big|u|s|strike|font|center|nobr)\b[^<>]*>",
    re.I,
)
# Compiler directives in Go comments have no space after `//` (`//go:noinline`).
_GO_DIRECTIVE = re.compile(r"^(?:[a-z0-9]+:[a-z]|line |export |extern |\+build)")
# Ruby magic comments and RDoc switches are not prose.
_RUBY_MAGIC = re.compile(
    r"^\s*(?:frozen_string_literal:|rubocop:|-\*-|typed:|(?:en)?coding:|warn_indent:|"
    r"shareable_constant_value:|:(?:stopdoc|startdoc|doc|enddoc):)"
)


def clean_block_doc(comment: str) -> str:
    """Text of a `/** ... */` comment without markers, leading stars, inline tags or HTML.

    Block tags (`@param`, `@return`) stay: the shared docstring summary cuts them, as
    CodeSearchNet's summary did. `{@link X}` becomes `X`; `<p>` a paragraph break.
    """
    body = comment.strip()
    body = body[3:] if body.startswith("/**") else body[2:] if body.startswith("/*") else body
    if body.endswith("*/"):
        body = body[:-2]
    out = []
    for line in body.split("\n"):
        line = line.strip()
        if line.startswith("*"):
            line = line[1:]
            if line.startswith(" "):
                line = line[1:]
        out.append(line.rstrip())
    text = "\n".join(out)
    text = _INHERIT.sub("", text)
    text = _INLINE_TAG.sub(_inline_tag_text, text)
    text = _PARAGRAPH_TAG.sub("\n\n", text)
    text = _HTML_TAG.sub("", text)
    text = html.unescape(text)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.split("\n")))
    return text.strip()


def _inline_tag_text(m: re.Match[str]) -> str:
    # {@link Foo#bar(int) the bar} -> "the bar"; {@link Foo#bar} -> "Foo.bar"
    if m.group(1) not in ("link", "linkplain"):
        return m.group(2).strip()
    target, _, label = m.group(2).strip().partition(" ")
    if label.strip():
        return label.strip()
    return target.replace("#", ".").strip(".")


def clean_line_doc(comments: list[str], marker: str) -> str:
    """Join a run of line comments (GoDoc `//`, Ruby `#`) into text without markers or directives.

    Block comments in the run (GoDoc allows `/* */`) are cleaned like block docs.
    A Ruby `:nodoc:` makes the whole comment no doc; RDoc's `call-seq:` paragraph is
    dropped, since it shows signatures, not what the method does.
    """
    out: list[str] = []
    for c in comments:
        if c.startswith("/*"):
            out.extend(clean_block_doc(c).split("\n"))
            continue
        for line in c.split("\n"):
            line = line.strip()
            if line.startswith(marker):
                line = line[len(marker) :]
            if ":nodoc:" in line:
                return ""
            if (_GO_DIRECTIVE if marker == "//" else _RUBY_MAGIC).match(line):
                continue
            out.append(line[1:] if line.startswith(" ") else line)
    text = "\n".join(line.rstrip() for line in out).strip()
    if re.match(r":?call-seq:", text):
        rest = re.split(r"\n\s*\n", text, maxsplit=1)
        text = rest[1].strip() if len(rest) > 1 else ""
    return text


def first_child(node: ts.Node, *types: str) -> ts.Node | None:
    """The first named child of one of `types`."""
    for child in node.named_children:
        if child.type in types:
            return child
    return None


def text_of(node: ts.Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text else ""


def ancestors(node: ts.Node) -> Iterator[ts.Node]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent
