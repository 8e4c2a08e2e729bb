"""TypeScript and TSX: as JavaScript, with overload signatures and abstract methods left out."""

from __future__ import annotations

import tree_sitter as ts
import tree_sitter_typescript

from seekcode.corpus.languages.base import Functions
from seekcode.corpus.languages.javascript import JavaScriptExtractor

_TS = ts.Language(tree_sitter_typescript.language_typescript())
_TSX = ts.Language(tree_sitter_typescript.language_tsx())


class TypeScriptExtractor(JavaScriptExtractor):
    # Signatures without bodies are other node types (function_signature,
    # abstract_method_signature), so the JavaScript query already skips them.
    language = "typescript"
    extensions = (".ts", ".tsx", ".mts", ".cts")

    def extract(self, source: str, path: str) -> Functions:
        # Declaration files hold signatures only (and type syntax the grammar may not
        # know): there is no function body to find.
        if path.lower().endswith((".d.ts", ".d.mts", ".d.cts")):
            return Functions()
        return super().extract(source, path)

    def ts_language(self, path: str) -> ts.Language:
        return _TSX if path.lower().endswith(".tsx") else _TS
