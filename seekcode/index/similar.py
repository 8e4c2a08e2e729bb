"""Code-to-code search: the functions most like a given one, by the code encoder's vectors.

The given function is either in the index (named by its url, or by a file and a line
inside it: its stored vector is used and it is left out of the results) or pasted
code (encoded with `Encoder.encode_code`, as the index's own functions were; records
with exactly that code are left out, since they are the function itself).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seekcode.corpus.record import Record
from seekcode.errors import InputError
from seekcode.index.search import Hit, search_top_k

if TYPE_CHECKING:
    from seekcode.index.store import Index

# The longest pasted function accepted; longer text is a file, not a function.
MAX_CODE_CHARS = 100_000


class NotFound(InputError):
    """No function of the index at the place asked; the message says what there is."""


def function_at(index: Index, path: str, line: int) -> int:
    """Row id of the innermost function of `path` whose lines include `line`.

    `path` may be relative to the indexed folder, absolute under it (manifest extras
    `source`), or any suffix of an indexed path (`decoder.py` for `json/decoder.py`).
    """
    wanted = _relative(index, path)
    if line < 1:
        raise NotFound(f"{path}:{line}: line numbers start at 1")
    rows = index.db.execute(
        "SELECT id, path, start_line, end_line FROM records WHERE path = ? OR path LIKE ? "
        "ESCAPE '\\'", (wanted, "%/" + _like_escape(wanted)),
    ).fetchall()
    if not rows:
        raise NotFound(f"{path}: no indexed function in this file")
    inside = [r for r in rows if r[2] <= line <= max(r[3], r[2])]
    if not inside:
        spans = ", ".join(f"{s}-{e}" for _, _, s, e in sorted(rows, key=lambda r: r[2])[:8])
        raise NotFound(f"{path}:{line}: not inside an indexed function (functions at lines "
                       f"{spans}{', ...' if len(rows) > 8 else ''})")
    files = {r[1] for r in inside}
    if len(files) > 1:
        raise NotFound(f"{path}: matches {len(files)} indexed files ({', '.join(sorted(files)[:4])})"
                       "; give more of the path")
    return int(min(inside, key=lambda r: (r[3] - r[2], r[0]))[0])


def function_by_url(index: Index, url: str) -> int:
    (row,) = index.ids_of_urls([url])
    if row is None:
        raise NotFound(f"{url}: no function with this id in the index")
    return row


def similar(index: Index, *, url: str | None = None, path: str | None = None,
            line: int | None = None, code: str | None = None, language: str = "", k: int = 10,
            allowed: np.ndarray | None = None) -> list[Hit]:
    """Functions like the one given by exactly one of `url`, `path` + `line`, or `code`."""
    given = [name for name, v in (("path", path), ("code", code), ("url", url)) if v]
    if len(given) != 1:
        raise InputError("give exactly one of path+line, code or url "
                         f"(got {', '.join(given) or 'none'})")
    if code:
        return similar_to_code(index, code, language, k, allowed)
    if path and line is None:
        raise InputError("path needs a line: any line inside the function")
    row = function_by_url(index, url) if url else function_at(index, path or "", line or 0)
    return similar_to_row(index, row, k, allowed)


def similar_to_row(index: Index, row: int, k: int = 10, allowed: np.ndarray | None = None
                   ) -> list[Hit]:
    """The k functions most similar to the index's function `row`, without itself."""
    vector = np.asarray(index.vectors[row], dtype=np.float32)
    return _nearest(index, vector, k, allowed, exclude={row})


def similar_to_code(index: Index, code: str, language: str = "", k: int = 10,
                    allowed: np.ndarray | None = None) -> list[Hit]:
    """The k functions most similar to pasted `code`, without copies of it."""
    text = code.strip("\n")
    if not text.strip():
        raise InputError("empty code; paste the function to compare")
    if len(text) > MAX_CODE_CHARS:
        raise InputError(f"code of {len(text):,} characters; at most {MAX_CODE_CHARS:,} "
                         "(paste one function)")
    lang = (language or _only_language(index)).lower()
    record = Record(code=text, language=lang, func_name=_guess_name(text))
    vector = index.encoder.encode_code([record], progress=False)[0]
    # Pasted code equal to an indexed function's text is that function.
    same = set(_rows_with_code(index, text, vector))
    return _nearest(index, vector, k, allowed, exclude=same)


def _nearest(index: Index, vector: np.ndarray, k: int, allowed: np.ndarray | None,
             exclude: set[int]) -> list[Hit]:
    if allowed is not None and allowed.size == 0:
        return []
    scores, ids = search_top_k(index.searcher("exact"), vector[None, :], k + len(exclude),
                               allowed)
    keep = [j for j, i in enumerate(ids[0]) if i >= 0 and int(i) not in exclude][:k]
    return index.hits(scores[0][keep], ids[0][keep])


def _rows_with_code(index: Index, text: str, vector: np.ndarray, probe: int = 20) -> list[int]:
    """Rows among the nearest `probe` whose code or source text is `text` (modulo edges)."""
    _, ids = search_top_k(index.searcher("exact"), vector[None, :], probe)
    found = []
    for meta, rid in zip(index.records_at(ids[0]), [i for i in ids[0] if i >= 0], strict=True):
        if text.strip() in {str(meta.get("code", "")).strip(),
                            str(meta.get("original_string", "")).strip()}:
            found.append(int(rid))
    return found


def _relative(index: Index, path: str) -> str:
    p = path.strip()
    if not p:
        raise NotFound("empty path; give the file of the function (PATH:LINE)")
    source = index.source_folder
    if source and Path(p).is_absolute():
        try:
            return Path(p).resolve().relative_to(Path(source)).as_posix()
        except ValueError:
            pass
    return p.removeprefix("./").lstrip("/")


def _like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _only_language(index: Index) -> str:
    langs = index.languages()
    return langs[0] if len(langs) == 1 else "python"


def _guess_name(code: str) -> str:
    """The defined name of pasted code (`def x`, `function x`, `func x`), for the encoder."""
    import re

    m = re.search(r"\b(?:def|function|func|fn|sub)\s+([A-Za-z_$][\w$]*)", code)
    return m.group(1) if m else ""
