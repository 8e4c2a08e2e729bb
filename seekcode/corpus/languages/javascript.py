"""JavaScript: functions, methods and named function values (`Class.method`), JSDoc `/** */` above.

Besides declarations, a function counts when it is given a name: `const f = () => ...`,
`Foo.prototype.bar = function () ...` (named `Foo.bar`), `{ key: function () ... }`
and class fields holding arrows. Callbacks passed as arguments have no name and are
left out. Their doc comment sits above the statement that names them, so that
statement (with `export` if present) is the span taken as code.
"""

from __future__ import annotations

import tree_sitter as ts
import tree_sitter_javascript

from seekcode.corpus.languages.base import Found, TreeSitterExtractor, ancestors, text_of

_JS = ts.Language(tree_sitter_javascript.language())
_CLASSES = ("class_declaration", "class", "abstract_class_declaration")
_FUNCTION_VALUES = ("function_expression", "function", "arrow_function", "generator_function")


class JavaScriptExtractor(TreeSitterExtractor):
    language = "javascript"
    extensions = (".js", ".mjs", ".cjs", ".jsx")
    function_query = (
        "(function_declaration) @f (generator_function_declaration) @f (method_definition) @f"
        " (function_expression) @f (arrow_function) @f (generator_function) @f"
    )

    def ts_language(self, path: str) -> ts.Language:
        return _JS

    def describe(self, node: ts.Node, src: bytes) -> Found | None:
        if node.child_by_field_name("body") is None:
            return None
        parent = node.parent
        if node.type in ("function_declaration", "generator_function_declaration"):
            return Found(_exported(node), text_of(node.child_by_field_name("name")), node)
        if node.type == "method_definition":
            name = _key(node.child_by_field_name("name"))
            return Found(node, _qualify(_owner(node), name), node)
        if parent is None:
            return None
        if parent.type == "variable_declarator":
            anchor = parent
            decl = parent.parent
            if decl is not None and decl.named_child_count == 1:
                anchor = _exported(decl)
            return Found(anchor, text_of(parent.child_by_field_name("name")), node)
        if parent.type == "assignment_expression" and parent.child_by_field_name("right") == node:
            left = text_of(parent.child_by_field_name("left"))
            stmt = parent.parent
            anchor = stmt if stmt is not None and stmt.type == "expression_statement" else parent
            return Found(anchor, left.replace(".prototype.", ".").removeprefix("this."), node)
        if parent.type == "pair" and parent.child_by_field_name("value") == node:
            name = _key(parent.child_by_field_name("key"))
            return Found(parent, _qualify(_object_name(parent.parent), name), node)
        if parent.type in ("field_definition", "public_field_definition"):
            key = parent.child_by_field_name("property") or parent.child_by_field_name("name")
            return Found(parent, _qualify(_owner(parent), _key(key)), node)
        return None


def _exported(node: ts.Node) -> ts.Node:
    """The `export` statement around a declaration, which is where its JSDoc sits."""
    parent = node.parent
    return parent if parent is not None and parent.type == "export_statement" else node


def _key(node: ts.Node | None) -> str:
    return text_of(node).strip("'\"`[]")


def _qualify(owner: str, name: str) -> str:
    return f"{owner}.{name}" if owner and name else name


def _owner(node: ts.Node) -> str:
    """The class a method belongs to, or the object literal's name."""
    for a in ancestors(node):
        if a.type in _CLASSES:
            name = text_of(a.child_by_field_name("name"))
            if not name and a.parent is not None and a.parent.type == "variable_declarator":
                name = text_of(a.parent.child_by_field_name("name"))
            return name
        if a.type == "object":
            return _object_name(a)
        if a.type in ("class_body", "object"):
            continue
        if a.type not in ("method_definition", "field_definition", "public_field_definition"):
            break
    return ""


def _object_name(obj: ts.Node | None) -> str:
    """`const api = {...}` -> "api"; `Foo.prototype = {...}` -> "Foo"; `module.exports = {...}` -> ""."""
    parent = obj.parent if obj is not None else None
    if parent is None:
        return ""
    if parent.type == "variable_declarator":
        return text_of(parent.child_by_field_name("name"))
    if parent.type == "assignment_expression":
        left = text_of(parent.child_by_field_name("left")).removesuffix(".prototype")
        return "" if left in ("module.exports", "exports") else left.removeprefix("this.")
    if parent.type == "pair":
        return _qualify(_object_name(parent.parent), _key(parent.child_by_field_name("key")))
    return ""
