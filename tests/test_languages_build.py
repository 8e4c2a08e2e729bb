"""A mixed-language folder through the corpus build: every language found, broken files skipped."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from seekcode.corpus.build import iter_records
from seekcode.corpus.filters import FilterConfig
from seekcode.corpus.skips import SkipReport

GOOD = {
    "main.go": "package main\n\n// Add returns a plus b.\nfunc Add(a, b int) int {\n\treturn a + b\n}\n",
    "Calc.java": "class Calc {\n  /** Adds two ints. */\n  int add(int a, int b) {\n    return a + b;\n  }\n}\n",
    "calc.js": "/** Adds two numbers. */\nfunction add(a, b) {\n  return a + b;\n}\n",
    "calc.ts": "/** Adds two numbers. */\nexport function add(a: number, b: number): number {\n  return a + b;\n}\n",
    "calc.php": "<?php\n/** Adds two numbers. */\nfunction add($a, $b) {\n    return $a + $b;\n}\n",
    "calc.rb": "# Adds two numbers.\ndef add(a, b)\n  a + b\nend\n",
}
BROKEN = {
    "bad.go": "package main\nfunc (((( {{ ]] ]] return ) ) )\n",
    "Bad.java": "class { int (( {{ ]] ;; return ) ) )\n",
    "bad.js": "function ( {{ ]] => => ;; ) ) class {{\n",
    "bad.ts": "function ( {{ ]] => => ;; ) ) interface {{ <<< \n",
    "bad.php": "<?php\nfunction ( {{ ]] => -> ;; ) ) class {{\n",
    "bad.rb": "def (((\n end end }} ]] class <<<<\n",
    "latin1.rb": "# Caf\xe9\ndef cafe\n  1\nend\n",
}


def test_mixed_folder(tmp_path: Path):
    for name, text in {**GOOD, **BROKEN}.items():
        data = text.encode("latin-1") if name == "latin1.rb" else text.encode()
        (tmp_path / name).write_bytes(data)
    skips = SkipReport()
    records = list(iter_records([str(tmp_path)], FilterConfig.all_functions(), skips))
    assert Counter(r.language for r in records) == {
        "go": 1,
        "java": 1,
        "javascript": 1,
        "typescript": 1,
        "php": 1,
        "ruby": 1,
    }
    assert {r.query_text for r in records} >= {"Adds two numbers.", "Add returns a plus b."}
    assert skips.counts["syntax error"] == 6
    assert skips.counts["not UTF-8"] == 1
    assert all(r.url.endswith(f"#L{r.start_line}-L{r.end_line}") for r in records)
