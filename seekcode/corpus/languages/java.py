"""Java: methods and constructors with bodies (`Outer.Inner.method`), Javadoc `/** */` above."""

from __future__ import annotations

import tree_sitter as ts
import tree_sitter_java

from seekcode.corpus.languages.base import Found, TreeSitterExtractor, ancestors, text_of

_JAVA = ts.Language(tree_sitter_java.language())
_TYPES = (
    "class_declaration",
    "interface_declaration",
    "enum_declaration",
    "record_declaration",
    "annotation_type_declaration",
)


class JavaExtractor(TreeSitterExtractor):
    language = "java"
    extensions = (".java",)
    function_query = (
        "(method_declaration) @f (constructor_declaration) @f (compact_constructor_declaration) @f"
    )
    comment_types = ("block_comment", "line_comment")

    def ts_language(self, path: str) -> ts.Language:
        return _JAVA

    def describe(self, node: ts.Node, src: bytes) -> Found | None:
        # Abstract, interface and native methods have no body: nothing to search.
        if node.child_by_field_name("body") is None:
            return None
        name = text_of(node.child_by_field_name("name"))
        owners = [
            text_of(a.child_by_field_name("name")) for a in ancestors(node) if a.type in _TYPES
        ]
        return Found(anchor=node, name=".".join([*reversed(owners), name]), body=node)
