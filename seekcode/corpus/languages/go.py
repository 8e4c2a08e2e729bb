"""Go: top-level functions and methods (`Type.Method`), GoDoc `//` comments directly above."""

from __future__ import annotations

import tree_sitter as ts
import tree_sitter_go

from seekcode.corpus.languages.base import Found, TreeSitterExtractor, text_of

_GO = ts.Language(tree_sitter_go.language())


class GoExtractor(TreeSitterExtractor):
    language = "go"
    extensions = (".go",)
    function_query = "(function_declaration) @f (method_declaration) @f"
    doc_style = "line"
    line_marker = "//"

    def ts_language(self, path: str) -> ts.Language:
        return _GO

    def describe(self, node: ts.Node, src: bytes) -> Found | None:
        name = text_of(node.child_by_field_name("name"))
        if not name or node.child_by_field_name("body") is None:
            return None  # assembly-backed declarations have no body
        receiver = node.child_by_field_name("receiver")
        if receiver is not None:
            owner = _receiver_type(receiver)
            if owner:
                name = f"{owner}.{name}"
        return Found(anchor=node, name=name, body=node)


def _receiver_type(receiver: ts.Node) -> str:
    """`(c *Client[T])` -> "Client": the receiver's base type without pointer or type args."""
    stack = list(receiver.named_children)
    while stack:
        node = stack.pop(0)
        if node.type == "type_identifier":
            return text_of(node)
        stack = list(node.named_children) + stack
    return ""
