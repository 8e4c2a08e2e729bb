"""Which functions become records: CodeSearchNet / CodeXGLUE filters, switchable.

The defaults reproduce how CodeSearchNet and CodeXGLUE cleaned their Python data:
the docstring summary (first paragraph) has 3-256 tokens, is English and carries no
URL or HTML; no function whose name contains "test"; no constructors or other dunder
methods; no function shorter than 3 lines (as written, docstring included); no exact
duplicate code (whitespace-normalized). Unparsable files never get here.

`FilterConfig.all_functions()` is for indexing a code base to search it: every
parsable function is kept, documented or not, tests and dunders included, and
duplicates too, since each copy is a different place a person may be looking for.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from seekcode.corpus.extract import Function
from seekcode.corpus.skips import SkipReport
from seekcode.corpus.tokens import docstring_summary, docstring_tokens

# URLs, and real HTML tags only: "<name>" placeholders in prose are not HTML.
_HTML_TAGS = "a|b|i|u|p|br|hr|img|div|span|code|pre|tt|em|strong|ul|ol|li|dl|dt|dd|table|tr|td|th|h[1-6]|font|blockquote|sub|sup"
_URL_OR_HTML = re.compile(rf"https?://|www\.\w|</?(?:{_HTML_TAGS})(?:\s[^<>]*)?/?>", re.IGNORECASE)


@dataclass(frozen=True)
class FilterConfig:
    """Switches and bounds of the filters; the defaults are CodeSearchNet's."""

    require_docstring: bool = True
    min_docstring_tokens: int = 3
    max_docstring_tokens: int = 256
    english_only: bool = True
    drop_urls_html: bool = True
    drop_test_names: bool = True  # "test" anywhere in the function's own name
    drop_dunders: bool = True  # __init__, __str__, ...
    min_lines: int = 3  # non-blank lines of the function as written
    dedupe: bool = True
    # Share of a summary's letters that must be ASCII to count as English.
    min_ascii_letter_share: float = 0.9

    @classmethod
    def all_functions(cls) -> FilterConfig:
        """Keep every parsable function (for indexing a code base, not for training)."""
        return cls(
            require_docstring=False,
            english_only=False,
            drop_urls_html=False,
            drop_test_names=False,
            drop_dunders=False,
            min_lines=0,
            dedupe=False,
        )


def is_english(text: str, min_ascii_share: float = 0.9) -> bool:
    """Heuristic: most letters are ASCII (rejects CJK, Cyrillic, ...); needs some letters."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    ascii_letters = sum(1 for c in letters if c.isascii())
    return ascii_letters / len(letters) >= min_ascii_share


def reject_reason(fn: Function, config: FilterConfig) -> str | None:
    """Why `fn` fails the (stateless) filters, or None if it passes. Dedupe is separate."""
    short_name = fn.name.rsplit(".", 1)[-1]
    if config.require_docstring and not fn.docstring.strip():
        return "no docstring"
    if config.drop_test_names and "test" in short_name.lower():
        return "test function"
    if config.drop_dunders and short_name.startswith("__") and short_name.endswith("__"):
        return "constructor or dunder method"
    if config.min_lines and _lines(fn.original) < config.min_lines:
        return f"function < {config.min_lines} lines"
    if not config.require_docstring:
        return None
    summary = docstring_summary(fn.docstring)
    n = len(docstring_tokens(summary))
    if n < config.min_docstring_tokens:
        return f"docstring < {config.min_docstring_tokens} tokens"
    if n > config.max_docstring_tokens:
        return f"docstring > {config.max_docstring_tokens} tokens"
    if config.english_only and not is_english(summary, config.min_ascii_letter_share):
        return "docstring not English"
    if config.drop_urls_html and _URL_OR_HTML.search(summary):
        return "docstring has URL or HTML"
    return None


def _lines(code: str) -> int:
    return sum(1 for line in code.splitlines() if line.strip())


def code_key(code: str) -> str:
    """Identity of code up to whitespace, for exact-duplicate removal."""
    return hashlib.sha1(" ".join(code.split()).encode("utf-8", "replace")).hexdigest()


class FunctionFilter:
    """Applies a FilterConfig to a stream of functions, counting every drop in `skips`.

    Stateful: it remembers the code it kept, so a later exact duplicate is dropped and
    the first one (in source order) survives.
    """

    def __init__(self, config: FilterConfig | None = None, skips: SkipReport | None = None):
        self.config = config or FilterConfig()
        self.skips = skips if skips is not None else SkipReport()
        self._seen: set[str] = set()

    def keep(self, fn: Function, where: str = "") -> bool:
        """True if `fn` passes; otherwise its reason is counted with `where` as example."""
        reason = reject_reason(fn, self.config)
        if reason is None and self.config.dedupe:
            key = code_key(fn.code)
            if key in self._seen:
                reason = "duplicate code"
            else:
                self._seen.add(key)
        if reason is not None:
            self.skips.skip(reason, where)
            return False
        return True
