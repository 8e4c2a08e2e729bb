"""PHP: functions and methods with bodies (`Class.method`), PHPDoc `/** */` above."""

from __future__ import annotations

import tree_sitter as ts
import tree_sitter_php

from seekcode.corpus.languages.base import Found, TreeSitterExtractor, ancestors, text_of

_PHP = ts.Language(tree_sitter_php.language_php())  # PHP inside HTML, as .php files are
_TYPES = ("class_declaration", "interface_declaration", "trait_declaration", "enum_declaration")


class PhpExtractor(TreeSitterExtractor):
    language = "php"
    extensions = (".php",)
    function_query = "(function_definition) @f (method_declaration) @f"

    def ts_language(self, path: str) -> ts.Language:
        return _PHP

    def describe(self, node: ts.Node, src: bytes) -> Found | None:
        if node.child_by_field_name("body") is None:
            return None  # abstract and interface methods
        name = text_of(node.child_by_field_name("name"))
        owner = next((a for a in ancestors(node) if a.type in _TYPES), None)
        if node.type == "method_declaration" and owner is not None:
            name = f"{text_of(owner.child_by_field_name('name'))}.{name}"
        return Found(anchor=node, name=name, body=node)
