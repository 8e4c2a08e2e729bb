"""What the trainable encoders read: a query and each code modality as lists of words.

Identifiers are split on camelCase and snake_case so that `readGzipJson` and
"read a gzip json file" share words before any subword model sees them.
"""

from __future__ import annotations

import re

from seekcode.corpus.record import Record
from seekcode.corpus.tokens import code_tokens, split_identifier

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*$")
# Words of a string literal beyond this are noise (long messages, SQL, data).
_MAX_STRING_WORDS = 4
# Modalities of a code record, in the order the multi-modal encoder fuses them.
MODALITIES = ("tokens", "name", "calls")


def words(text: str) -> list[str]:
    """Lower-cased sub-words of a text: identifiers split, punctuation dropped."""
    out: list[str] = []
    for w in _WORD.findall(text):
        out.extend(split_identifier(w) or [w.lower()])
    return out


def query_words(text: str) -> list[str]:
    return words(text)


def _tokens(record: Record) -> list[str]:
    return record.code_tokens or code_tokens(record.code, record.language)


def code_words(record: Record) -> list[str]:
    """The code's tokens as words.

    Punctuation is dropped: it carries syntax that bag-of-words models cannot use
    and would eat most of the length budget of the sequence models.
    """
    out: list[str] = []
    for tok in _tokens(record):
        if _IDENT.match(tok):
            out.extend(split_identifier(tok) or [tok.lower()])
        elif tok[:1] in "\"'`":
            out.extend(words(tok)[:_MAX_STRING_WORDS])
        elif tok[:1].isdigit():
            out.append(tok.lower())
    return out


def name_words(record: Record) -> list[str]:
    """Sub-words of the function name (the last part of a qualified name)."""
    name = record.func_name.rsplit(".", 1)[-1] if record.func_name else ""
    if not name:
        toks = _tokens(record)
        for a, b in zip(toks, toks[1:], strict=False):
            if a in ("def", "function", "func", "fn") and _IDENT.match(b):
                name = b
                break
    return words(name)


def call_words(record: Record) -> list[str]:
    """Sub-words of the names the function calls (`foo.bar(` -> bar), in order, once each.

    A structural view of the code: which APIs it uses, regardless of layout.
    """
    toks = _tokens(record)
    seen: set[str] = set()
    out: list[str] = []
    own = record.func_name.rsplit(".", 1)[-1] if record.func_name else ""
    for i in range(len(toks) - 1):
        tok = toks[i]
        if toks[i + 1] == "(" and _IDENT.match(tok) and tok != own and tok not in seen:
            if i > 0 and toks[i - 1] in ("def", "function", "func", "fn"):
                continue
            seen.add(tok)
            out.extend(split_identifier(tok) or [tok.lower()])
    return out


def modality_words(record: Record, modality: str) -> list[str]:
    if modality == "tokens":
        return code_words(record)
    if modality == "name":
        return name_words(record)
    if modality == "calls":
        return call_words(record)
    raise ValueError(f"unknown code modality {modality!r} (known: {', '.join(MODALITIES)})")
