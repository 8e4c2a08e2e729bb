"""One extractor per language: Python (stdlib `ast`), and tree-sitter for Go, Java,
JavaScript, TypeScript, PHP and Ruby.

Each module registers here by file extension (`seekcode.corpus.extract.EXTRACTORS`);
the tree-sitter languages' shared behaviour (error rule, doc comment lookup and
cleaning) is in `base`.
"""

LANGUAGE_EXTRACTORS: dict[str, str] = {
    ".py": "seekcode.corpus.languages.python:PythonExtractor",
    ".go": "seekcode.corpus.languages.go:GoExtractor",
    ".java": "seekcode.corpus.languages.java:JavaExtractor",
    ".js": "seekcode.corpus.languages.javascript:JavaScriptExtractor",
    ".mjs": "seekcode.corpus.languages.javascript:JavaScriptExtractor",
    ".cjs": "seekcode.corpus.languages.javascript:JavaScriptExtractor",
    ".jsx": "seekcode.corpus.languages.javascript:JavaScriptExtractor",
    ".ts": "seekcode.corpus.languages.typescript:TypeScriptExtractor",
    ".tsx": "seekcode.corpus.languages.typescript:TypeScriptExtractor",
    ".mts": "seekcode.corpus.languages.typescript:TypeScriptExtractor",
    ".cts": "seekcode.corpus.languages.typescript:TypeScriptExtractor",
    ".php": "seekcode.corpus.languages.php:PhpExtractor",
    ".rb": "seekcode.corpus.languages.ruby:RubyExtractor",
}

__all__ = ["LANGUAGE_EXTRACTORS"]
