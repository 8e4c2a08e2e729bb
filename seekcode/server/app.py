"""The HTTP API and the web page over one index: `create_app(INDEX)`.

Routes: `GET /search` (JSON hits), `GET /similar` (code-to-code), `GET /health`,
`GET /stats`, `GET /` (the search page), `GET /docs` (the API reference, rendered offline) and `GET /openapi.json`.
Nothing else is served: there is no route to files on disk, only to what the index
holds.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from seekcode.encoders.base import Encoder
from seekcode.errors import InputError
from seekcode.index.search import MAX_QUERY_CHARS
from seekcode.server import page
from seekcode.server.live import LiveIndex
from seekcode.server.service import MAX_K, SearchService, Unavailable, searcher_choice

# The page has no script and loads nothing from elsewhere; say so to the browser.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# The Host header values answered by default. A page on another site can make the
# browser send requests here through a name it controls that it re-points at 127.0.0.1
# (DNS rebinding); such requests carry that name, so anything else is refused.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def host_name(header: str) -> str:
    """The name in a Host header, without port, brackets or trailing dot, lowercased."""
    host = header.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


class HitOut(BaseModel):
    rank: int
    score: float
    url: str
    path: str
    start_line: int
    end_line: int
    func_name: str
    language: str
    repo: str
    code: str


class SearchOut(BaseModel):
    query: str
    k: int
    lang: str | None
    path: str | None
    exact: bool
    searcher: str
    generation: str
    took_ms: float
    hits: list[HitOut]


class HealthOut(BaseModel):
    status: str
    generation: str
    records: int
    error: str | None = None


def create_app(index_path: str | Path, encoder: Encoder | None = None,
               check_every: float = 0.5,
               allowed_hosts: Collection[str] = LOOPBACK_HOSTS) -> FastAPI:
    """The app serving the index at `index_path` (IndexError_ if it cannot be opened), a
    directory or a milvus://HOST:PORT/COLLECTION export.

    `encoder` defaults to the one the index was built with; `check_every` is how
    often (seconds) a request looks for a newly published generation. Requests
    whose Host header names anything but `allowed_hosts` ("*": any) get a 400.
    """
    allowed = {host_name(h) for h in allowed_hosts}
    live: Any
    from seekcode.scale import is_milvus
    from seekcode.scale.milvus import MilvusLive

    if is_milvus(index_path):
        live = MilvusLive(str(index_path), encoder)
    else:
        live = LiveIndex(Path(index_path), encoder, check_every)
    service = SearchService(live)
    app = FastAPI(
        title="seekcode",
        summary="Semantic code search: describe a function in English, find it.",
        version=_version(),
        docs_url=None,  # FastAPI's /docs loads Swagger UI from a CDN; ours is offline
        redoc_url=None,
    )
    app.state.live = live
    app.state.service = service

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        host = host_name(request.headers.get("host", ""))
        if "*" not in allowed and host not in allowed:
            response = JSONResponse({"detail": f"Host {host[:60]!r} is not served here: this "
                                     f"server answers {', '.join(sorted(allowed))} (a guard "
                                     "against DNS rebinding); to serve another name, start "
                                     "it with `seekcode serve --host NAME`"}, status_code=400)
        else:
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    # Input refused (BadRequest and every other InputError) is a 422 with the reason;
    # any other exception is a bug: FastAPI's 500, with the traceback in the server log.
    @app.exception_handler(InputError)
    async def bad_request(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _reason(exc.errors()), "errors": _plain(exc.errors())},
                            status_code=422)

    @app.get("/search", response_model=SearchOut, tags=["search"],
             responses={422: {"description": "a parameter out of bounds, with the reason"}})
    def search(
        q: Annotated[str, Query(description="what the function should do, in plain English",
                                max_length=MAX_QUERY_CHARS)],
        k: Annotated[int, Query(description="number of results", ge=1, le=MAX_K)] = 10,
        lang: Annotated[str | None, Query(description="only this language (see /stats)")] = None,
        path: Annotated[str | None, Query(description="only paths matching this glob, "
                                          "e.g. `src/**/*.py`")] = None,
        searcher: Annotated[str | None, Query(description="search with this searcher (see "
                                              "/stats; default: the index's default)",
                                              max_length=64)] = None,
        exact: Annotated[bool, Query(description="shorthand for searcher=exact")] = False,
        mode: Annotated[str | None, Query(description="semantic (default), keyword (BM25 over "
                                          "names and identifiers) or hybrid (both fused)",
                                          max_length=16)] = None,
    ) -> dict[str, Any]:
        """The k functions that best match the query, best first, with their code."""
        result = service.search(q, k, lang, path, searcher_choice(searcher, exact), mode)
        p = result.params
        return {"query": p.q, "k": p.k, "lang": p.lang, "path": p.path, "exact": p.exact,
                "searcher": result.searcher, "generation": result.generation,
                "took_ms": round(result.took_ms, 3), "hits": [h.to_dict() for h in result.hits]}

    @app.get("/similar", response_model=SearchOut, tags=["search"],
             responses={422: {"description": "no such function, or a parameter out of bounds"}})
    def similar(
        id: Annotated[str | None, Query(description="the function: a hit's url")] = None,
        path: Annotated[str | None, Query(description="or its file (relative to the indexed "
                                          "folder) ...")] = None,
        line: Annotated[int | None, Query(description="... and any line inside it", ge=1)] = None,
        k: Annotated[int, Query(description="number of results", ge=1, le=MAX_K)] = 10,
        lang: Annotated[str | None, Query(description="only results in this language")] = None,
    ) -> dict[str, Any]:
        """The k functions most similar to a given one (code vectors), itself left out."""
        result = service.similar(url=id, path=path, line=line, k=k, lang=lang)
        p = result.params
        return {"query": p.q, "k": p.k, "lang": p.lang, "path": None, "exact": True,
                "searcher": result.searcher, "generation": result.generation,
                "took_ms": round(result.took_ms, 3), "hits": [h.to_dict() for h in result.hits]}

    @app.get("/health", response_model=HealthOut, tags=["service"],
             responses={503: {"description": "the served generation vanished from disk"}})
    def health() -> Any:
        """Liveness: the generation being served, and why a newer one is not, if so."""
        index = live.get()
        if not index.alive():
            return JSONResponse({"status": "unavailable", "generation": index.gen.name,
                                 "records": index.count,
                                 "error": f"generation {index.gen.name} was deleted from disk "
                                 f"while served{'; ' + live.error if live.error else ''}"},
                                status_code=503)
        return {"status": "ok", "generation": index.gen.name, "records": index.count,
                "error": live.error}

    @app.get("/stats", tags=["service"])
    def stats() -> dict[str, Any]:
        """What the index holds and how it was built, and what the server has done."""
        index = live.get()
        m = index.manifest
        return {
            "index": live.url if hasattr(live, "url") else str(live.path.resolve()),
            "generation": index.gen.name,
            "records": index.count,
            "languages": m.get("languages", {}),
            "encoder": {k: v for k, v in m["encoder"].items() if k in ("type", "id", "dim")},
            "searchers": index.searcher_names(),
            "default_searcher": index.default_searcher,
            "format_version": m.get("format_version"),
            "created": m.get("created"),
            "bytes": sum(int(f["bytes"]) for f in m.get("files", {}).values()),
            "reloads": live.reloads,
            "searches": service.searches,
            "uptime_s": round(time.time() - service.started, 1),
            "error": live.error,
        }

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(q: str = "", k: str = "10", lang: str = "", path: str = "", searcher: str = "",
             exact: str = "", like: str = "") -> HTMLResponse:
        return page.search_page(service, q, k, lang, path, searcher, exact == "1", like)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> HTMLResponse:
        return page.docs_page(app.openapi())

    return app


def _reason(errors: Any) -> str:
    """One line from FastAPI's validation errors: "k: Input should be ... (got 500)"."""
    parts = []
    for e in errors:
        where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "body"))
        got = e.get("input")
        shown = f" (got {got!r})" if isinstance(got, str | int | float) and len(str(got)) < 40 else ""
        parts.append(f"{where}: {e.get('msg', 'invalid')}{shown}")
    return "; ".join(parts) or "invalid request"


def _plain(errors: Any) -> list[dict[str, Any]]:
    """Validation errors without the parts that are not JSON (exceptions in `ctx`)."""
    return [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in errors]


def _version() -> str:
    from seekcode import __version__

    return __version__
