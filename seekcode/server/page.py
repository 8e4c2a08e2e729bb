"""The search page and the API reference page: server-side HTML, no script, no network.

The search box is a plain GET form, so results have a shareable URL and the page
works with JavaScript off. Code is highlighted by Pygments on the server, with the
file's own line numbers; the CSS is inlined, so the page needs no other request.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import quote

from fastapi.responses import HTMLResponse
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

from seekcode.errors import InputError
from seekcode.index.search import MAX_QUERY_CHARS, Hit
from seekcode.server.service import (
    MAX_K,
    BadRequest,
    SearchResult,
    SearchService,
    searcher_choice,
)

# Long functions are cut on the page (the JSON API returns them whole).
MAX_SHOWN_LINES = 60
_esc = html.escape


@lru_cache(maxsize=1)
def _template() -> Template:
    return Template(resources.files("seekcode.server").joinpath("static/page.html").read_text())


@lru_cache(maxsize=1)
def _css() -> str:
    css = resources.files("seekcode.server").joinpath("static/style.css").read_text()
    return css + HtmlFormatter(style="default").get_style_defs(".hl")


@lru_cache(maxsize=32)
def _lexer(language: str) -> Lexer:
    try:
        # startinline: PHP functions come without the "<?php" that opens a file.
        return get_lexer_by_name(language, startinline=True)
    except ClassNotFound:
        return TextLexer()


def highlight_code(code: str, language: str, first_line: int) -> str:
    """HTML of `code` with syntax colours and line numbers starting at `first_line`."""
    lines = code.split("\n")
    shown = "\n".join(lines[:MAX_SHOWN_LINES])
    formatter = HtmlFormatter(cssclass="hl", linenos="inline", linenostart=max(first_line, 1))
    out = highlight(shown, _lexer(language), formatter)
    if len(lines) > MAX_SHOWN_LINES:
        out += f'<div class="more">… {len(lines) - MAX_SHOWN_LINES} more lines</div>'
    return out


def render(title: str, body: str, about: str, index_name: str, status: int = 200) -> HTMLResponse:
    text = _template().substitute(title=_esc(title), css=_css(), body=body, about=_esc(about),
                                  index_name=_esc(index_name))
    return HTMLResponse(text, status_code=status)


def search_page(service: SearchService, q: str, k: str, lang: str, path: str,
                searcher: str, exact: bool, like: str = "") -> HTMLResponse:
    """The page for `/?q=...` (or `/?like=URL`, "more like this"): the form, and the
    results or the reason there are none.

    `exact` is the older `exact=1` shorthand for `searcher=exact`.
    """
    index = service.live.get()
    about = (f"{index.count:,} functions · "
             f"{', '.join(index.languages()) or 'no languages'} · {index.gen.name}")
    result: SearchResult | None = None
    error = ""
    if q.strip() or like:
        try:
            result = (service.similar(url=like, k=_int(k), lang=lang or None) if like else
                      service.search(q, _int(k), lang, path, searcher_choice(searcher, exact)))
        except InputError as e:  # a bug is not shown as a form error: it is a 500
            error = str(e)
    chosen = "exact" if exact else searcher
    form = _form(q, k, lang, path, chosen, index.languages(), index.searcher_names(),
                 index.default_searcher)
    if error:
        body = form + f'<p class="error" id="error">{_esc(error)}</p>'
    elif result is not None:
        body = form + _results(result)
    else:
        body = form
    shown = result.params.q if result is not None and like else q.strip()
    title = f"{shown} · seekcode" if shown else "seekcode"
    return render(title, body, about, service.live.path.name, 422 if error else 200)


def _int(k: str) -> int:
    try:
        return int(k or 10)
    except ValueError:
        raise BadRequest(f"k: {k[:20]!r} is not a number of results") from None


def _options(values: list[str], chosen: str, labels: dict[str, str]) -> str:
    return "".join(
        f'<option value="{_esc(x)}"{" selected" if x == chosen else ""}>{_esc(labels.get(x, x))}'
        "</option>" for x in values)


def _form(q: str, k: str, lang: str, path: str, searcher: str, languages: list[str],
          searchers: list[str], default: str) -> str:
    # The limits are the server's own, so the browser stops what the API would refuse.
    langs = _options(["", *languages], lang.lower(), {"": "any language"})
    methods = _options(["", *searchers], searcher, {"": f"default ({default})"})
    return f"""<form class="search" method="get" action="/" role="search">
  <input name="q" value="{_esc(q)}" placeholder="describe a function, e.g. read a gzip json file"
         maxlength="{MAX_QUERY_CHARS}" autofocus aria-label="query">
  <button type="submit">Search</button>
  <div class="filters">
    <label>language <select name="lang">{langs}</select></label>
    <label>path <input name="path" value="{_esc(path)}" placeholder="src/**/*.py"></label>
    <label>results <input name="k" type="number" min="1" max="{MAX_K}" value="{_esc(k or '10')}"></label>
    <label>searcher <select name="searcher">{methods}</select></label>
  </div>
</form>"""


def _results(result: SearchResult) -> str:
    n = len(result.hits)
    summary = (f'<p class="summary" id="summary">{n} result{"s" if n != 1 else ""} in '
               f'<span id="latency">{result.took_ms:.1f} ms</span> '
               f'({_esc(result.searcher)} search, {_esc(result.generation)})</p>')
    if not result.hits:
        return summary + '<p class="summary">No function matches these filters.</p>'
    return summary + "\n".join(_hit(h) for h in result.hits)


def _hit(h: Hit) -> str:
    span = f"{h.path}:{h.start_line}" + (f"-{h.end_line}" if h.end_line > h.start_line else "")
    return f"""<article class="hit">
  <header><span class="loc" title="{_esc(h.url)}">{_esc(span)}</span>
    <span class="fn">{_esc(h.func_name)}</span>
    <span class="lang">{_esc(h.language)}</span>
    <span class="score" title="cosine similarity">{h.score:.3f}</span>
    <a class="like" href="/?like={quote(h.url, safe='')}">more like this</a></header>
  {highlight_code(h.code, h.language, h.start_line)}
</article>"""


def docs_page(schema: dict[str, Any]) -> HTMLResponse:
    """The API reference from the OpenAPI schema, without Swagger UI's CDN scripts."""
    parts = ['<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI '
             f'{_esc(str(schema.get("openapi", "")))}).</p>']
    for route, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            parts.append(f"<h2><code>{_esc(method.upper())} {_esc(route)}</code></h2>")
            parts.append(f"<p>{_esc(op.get('description') or op.get('summary') or '')}</p>")
            params = op.get("parameters", [])
            if params:
                rows = "".join(
                    f"<tr><td><code>{_esc(p['name'])}</code>{' (required)' if p.get('required') else ''}"
                    f"</td><td>{_esc(_type(p.get('schema', {})))}</td>"
                    f"<td>{_esc(p.get('description', ''))}</td></tr>"
                    for p in params
                )
                parts.append('<table class="api"><tr><th>parameter</th><th>type</th>'
                             f"<th>meaning</th></tr>{rows}</table>")
            codes = ", ".join(f"{c} {r.get('description', '')}"
                              for c, r in op.get("responses", {}).items())
            parts.append(f"<p>Responses: {_esc(codes)}</p>")
    schemas = schema.get("components", {}).get("schemas", {})
    if "SearchOut" in schemas:
        parts.append("<h2>Search response</h2><pre>"
                     + _esc(json.dumps(schemas["SearchOut"], indent=2)) + "</pre>")
    return render("seekcode API", "\n".join(parts), "HTTP API reference", "openapi.json")


def _type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    bounds = [f"{k} {schema[k]}" for k in ("minimum", "maximum", "maxLength") if k in schema]
    kind = str(schema.get("type", ""))
    return kind + (f" ({', '.join(bounds)})" if bounds else "")
