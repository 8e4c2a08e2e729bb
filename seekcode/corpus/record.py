"""The record: one function, in CodeSearchNet's field layout (see DESIGN.md)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from seekcode.corpus.tokens import code_tokens, docstring_summary, docstring_tokens
from seekcode.errors import InputError

FIELDS = (
    "repo",
    "path",
    "func_name",
    "original_string",
    "language",
    "code",
    "code_tokens",
    "docstring",
    "docstring_tokens",
    "sha",
    "partition",
    "url",
)

LINE_FIELDS = ("start_line", "end_line")
# Line numbers fit SQLite's INTEGER and every consumer's int; no source has more lines.
MAX_LINE = 2**31 - 1
# Extra fields pass through untouched, but not so deeply nested that writing them
# back out (json.dumps, recursive) could exhaust the stack.
MAX_EXTRA_DEPTH = 64


def _check_text(key: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{key}: lone surrogate in the text (not encodable as UTF-8)") from None


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict | list):
            if depth > limit:
                return True
            stack.extend((c, depth + 1) for c in (v.values() if isinstance(v, dict) else v))
    return False


@dataclass
class Record:
    """One function with its documentation, as CodeSearchNet stores it.

    `code` has the docstring removed; `original_string` is the function as written.
    `url` is the unique id. `extra` carries unknown fields through untouched.
    """

    code: str
    docstring: str = ""
    repo: str = ""
    path: str = ""
    func_name: str = ""
    original_string: str = ""
    language: str = "python"
    code_tokens: list[str] = field(default_factory=list)
    docstring_tokens: list[str] = field(default_factory=list)
    sha: str = ""
    partition: str = ""
    url: str = ""
    start_line: int = 0
    end_line: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.original_string:
            self.original_string = self.code
        if not self.code_tokens:
            self.code_tokens = code_tokens(self.code, self.language)
        if not self.docstring_tokens and self.docstring:
            self.docstring_tokens = docstring_tokens(docstring_summary(self.docstring))
        if not self.url:
            self.url = self.make_url()

    def make_url(self) -> str:
        """A stable id for records whose source has no web url."""
        where = f"{self.repo}/{self.path}" if self.repo else self.path
        if where and self.start_line:
            return f"{where}#L{self.start_line}-L{self.end_line or self.start_line}"
        if where and self.func_name:
            return f"{where}#{self.func_name}"
        return "sha1:" + hashlib.sha1(self.code.encode("utf-8", "replace")).hexdigest()

    @property
    def query_text(self) -> str:
        """The docstring summary: what a person would type to find this function."""
        return docstring_summary(self.docstring)

    @property
    def content_hash(self) -> str:
        """Hash of what the encoder sees; unchanged records need no re-encoding."""
        h = hashlib.sha1()
        for part in (self.language, self.func_name, self.docstring, self.code):
            h.update(part.encode("utf-8", "replace"))
            h.update(b"\0")
        return h.hexdigest()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Record:
        """Build from a jsonl object; only `code` is required, the rest is derived.

        ValueError naming the first field of the wrong type (text fields are strings,
        token fields lists of strings, `start_line`/`end_line` line numbers), so a bad
        line is skipped when read instead of breaking every search that returns it.
        """
        if not isinstance(d, dict):
            raise InputError("not a JSON object")
        code = d.get("code") or d.get("original_string") or d.get("function")
        if not isinstance(code, str) or not code.strip():
            raise InputError("no 'code' field")
        known: dict[str, Any] = {}
        for key in FIELDS:
            value = d.get(key)
            if value is None:
                continue
            if key in ("code_tokens", "docstring_tokens"):
                if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                    raise InputError(f"{key}: expected a list of strings")
            elif not isinstance(value, str):
                raise InputError(f"{key}: expected text, got {type(value).__name__}")
            known[key] = value
        known["code"] = code
        for key in ("start_line", "end_line"):
            value = d.get(key)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_LINE:
                raise InputError(f"{key}: not a line number ({str(value)[:20]!r})")
            known[key] = value
        for key, value in known.items():
            if isinstance(value, str):
                _check_text(key, value)
        extra = {k: v for k, v in d.items() if k not in FIELDS and k not in LINE_FIELDS
                 and k != "function"}
        for key, value in extra.items():
            if _deeper_than(value, MAX_EXTRA_DEPTH):
                raise InputError(f"{key}: nested over {MAX_EXTRA_DEPTH} levels")
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {k: getattr(self, k) for k in FIELDS}
        if self.start_line:
            d["start_line"] = self.start_line
            d["end_line"] = self.end_line
        d.update(self.extra)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)
