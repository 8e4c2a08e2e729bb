"""A mixed-language index: English queries find the right function whatever its
language, and `--lang` keeps to one language, for every language the extractors emit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seekcode.cli import main
from seekcode.corpus.build import to_record
from seekcode.corpus.extract import extractor_for
from seekcode.corpus.record import Record
from seekcode.corpus.sources import SourceFile
from seekcode.encoders.lexical import LexicalEncoder
from seekcode.index.store import Index

# Per file: one function found only in that language, and `add` (the same job in every
# language), each with its doc comment written the way the language writes them.
SOURCES = {
    "util.py": '''
def parse_csv_line(line):
    """Parse one CSV line into its fields."""
    return line.split(",")


def add(a, b):
    """Add two numbers."""
    return a + b
''',
    "Words.java": """
class Words {
  /** Reverse the order of the words in a sentence. */
  static String reverseWords(String sentence) {
    String[] w = sentence.split(" ");
    java.util.Collections.reverse(java.util.Arrays.asList(w));
    return String.join(" ", w);
  }

  /** Add two numbers. */
  static int add(int a, int b) {
    return a + b;
  }
}
""",
    "checksum.go": """package util

import "hash/crc32"

// FileChecksum computes the CRC32 checksum of a file's bytes.
func FileChecksum(data []byte) uint32 {
\treturn crc32.ChecksumIEEE(data)
}

// Add adds two numbers.
func Add(a, b int) int {
\treturn a + b
}
""",
    "color.js": """
/** Convert a hex color string to an RGB triple. */
function hexColorToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Add two numbers. */
function add(a, b) {
  return a + b;
}
""",
    "retry.ts": """
/** Retry an async request with exponential backoff delay. */
export async function retryWithBackoff(request: () => Promise<number>, attempts: number): Promise<number> {
  const delay = 100 * 2 ** attempts;
  return request();
}

/** Add two numbers. */
export function add(a: number, b: number): number {
  return a + b;
}
""",
    "slug.php": """<?php
/** Make a URL slug from a title. */
function slugifyTitle($title) {
    return strtolower(preg_replace('/[^a-z0-9]+/i', '-', $title));
}

/** Add two numbers. */
function add($a, $b) {
    return $a + $b;
}
""",
    "temperature.rb": """
# Convert a temperature from celsius to fahrenheit.
def celsius_to_fahrenheit(celsius)
  celsius * 9.0 / 5 + 32
end

# Add two numbers.
def add(a, b)
  a + b
end
""",
}
LANGUAGES = {"python", "java", "go", "javascript", "typescript", "php", "ruby"}
# English query -> (language, function name) of the one right answer.
QUERIES = {
    "parse a csv line into fields": ("python", "parse_csv_line"),
    "reverse the words of a sentence": ("java", "Words.reverseWords"),
    "checksum of a file": ("go", "FileChecksum"),
    "convert a hex color to rgb": ("javascript", "hexColorToRgb"),
    "retry a request with backoff": ("typescript", "retryWithBackoff"),
    "slugify a title for a url": ("php", "slugifyTitle"),
    "celsius to fahrenheit": ("ruby", "celsius_to_fahrenheit"),
}


def extract_records() -> list[Record]:
    records = []
    for name, text in SOURCES.items():
        extractor = extractor_for(name)
        assert extractor is not None, f"no extractor for {name}"
        src = SourceFile(repo="mixed", path=name, url_base=f"mixed/{name}", data=text.encode(),
                         display=name)
        records += [to_record(src, fn) for fn in extractor.extract(text, name)]
    return records


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mixed") / "idx"
    Index.build(extract_records(), out, LexicalEncoder(), progress=False)
    return out


def test_extractors_emit_every_language():
    records = extract_records()
    assert {r.language for r in records} == LANGUAGES
    assert all(r.query_text for r in records)  # every doc comment was picked up
    assert sum(r.func_name.split(".")[-1].lower() == "add" for r in records) == len(LANGUAGES)


@pytest.mark.parametrize("query", list(QUERIES))
def test_english_query_finds_the_function_in_its_language(index_dir: Path, query: str):
    index = Index.open(index_dir)
    assert set(index.languages()) == LANGUAGES
    top = index.search(query, k=3)[0]
    assert (top.language, top.func_name) == QUERIES[query]


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_lang_filter_keeps_one_language(index_dir: Path, lang: str):
    index = Index.open(index_dir)
    hits = index.search("add two numbers", k=5, lang=lang)
    assert hits and {h.language for h in hits} == {lang}
    assert hits[0].func_name.split(".")[-1].lower() == "add"
    # Upper case is the same language.
    assert [h.url for h in index.search("add two numbers", k=5, lang=lang.upper())] == [
        h.url for h in hits
    ]


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_cli_lang_filter(index_dir: Path, lang: str, capsys: pytest.CaptureFixture[str]):
    assert main(["search", str(index_dir), "add two numbers", "-k", "20", "--lang", lang,
                 "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert len(hits) == 2 and {h["language"] for h in hits} == {lang}


def test_cli_unknown_language_is_a_usage_error(index_dir: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["search", str(index_dir), "add two numbers", "--lang", "cobol"]) == 2
    assert "--lang cobol: not in this index" in capsys.readouterr().err
