"""Ruby: methods and singleton methods (`Module.Class.method`), `#` comment blocks above."""

from __future__ import annotations

import tree_sitter as ts
import tree_sitter_ruby

from seekcode.corpus.languages.base import Found, TreeSitterExtractor, ancestors, text_of

_RUBY = ts.Language(tree_sitter_ruby.language())


class RubyExtractor(TreeSitterExtractor):
    language = "ruby"
    extensions = (".rb",)
    function_query = "(method) @f (singleton_method) @f"
    doc_style = "line"
    line_marker = "#"

    def ts_language(self, path: str) -> ts.Language:
        return _RUBY

    def describe(self, node: ts.Node, src: bytes) -> Found | None:
        name = text_of(node.child_by_field_name("name"))
        if not name:
            return None
        owners = [
            text_of(a.child_by_field_name("name")).replace("::", ".")
            for a in ancestors(node)
            if a.type in ("class", "module")
        ]
        return Found(anchor=node, name=".".join([*reversed(owners), name]), body=node)
