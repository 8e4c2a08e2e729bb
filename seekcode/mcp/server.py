"""The MCP tools: search, similar, get_function and index_status over a Workspace.

Every tool validates its arguments: input it refuses (an `InputError`) becomes a
`ToolError` with the reason, which the SDK returns as a tool error (`isError: true`).
Any other exception is a bug: its traceback goes to stderr and the tool error says
it is one, so an agent does not retry with other arguments. Either way the server
process never dies of a call. Results are plain JSON objects (structured content).
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from pydantic import Field

from seekcode.encoders.base import Encoder
from seekcode.errors import BUG_NOTE, InputError
from seekcode.index.search import Hit
from seekcode.mcp.workspace import Served, Workspace
from seekcode.server.service import MAX_K

INSTRUCTIONS = """\
seekcode searches the functions of indexed code bases by meaning. Use `search` with a
plain-English description of what a function does ("parse a query string into pairs")
or with an identifier; `similar` to find functions like one you are looking at (by
file and line, or pasted code); `get_function` to read a hit's full code by its `url`;
`index_status` to see what is indexed and whether the source folder changed since."""

IndexArg = Annotated[str | None, Field(
    description="which index to use: its name or path from index_status (default: the first)")]
KArg = Annotated[int, Field(description="number of results", ge=1, le=MAX_K)]
CompactArg = Annotated[bool, Field(
    description="leave the code out of each hit (location, name and score only); "
                "fetch a hit's code later with get_function(url)")]


R = TypeVar("R")


def tool_errors(fn: Callable[..., R]) -> Callable[..., R]:
    """`fn` with an InputError turned into a ToolError with its reason, and any other
    exception (a bug) logged with its traceback and reported as one."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> R:
        try:
            return fn(*args, **kwargs)
        except ToolError:
            raise
        except InputError as e:
            raise ToolError(str(e)) from None
        except Exception as e:
            traceback.print_exc(file=sys.stderr)  # stdio MCP: stderr is the server's log
            raise ToolError(f"internal error ({type(e).__name__}: {e}); {BUG_NOTE} "
                            "from the server's log") from e

    return call


def build_server(workspace: Workspace) -> FastMCP:
    """The FastMCP server with seekcode's tools bound to `workspace`."""
    mcp = FastMCP("seekcode", instructions=INSTRUCTIONS)

    @mcp.tool()
    @tool_errors
    def search(
        query: Annotated[str, Field(description="what the function should do, in plain "
                                    "English, or a name such as parse_qsl")],
        k: KArg = 10,
        lang: Annotated[str | None, Field(description="only this language, e.g. python")] = None,
        path: Annotated[str | None, Field(description="only files matching this glob, "
                                          "relative to the indexed folder, e.g. 'src/**/*.py'")
                        ] = None,
        compact: CompactArg = False,
        mode: Annotated[Literal["semantic", "keyword", "hybrid"], Field(
            description="semantic: by meaning (default); keyword: by words and identifiers "
                        "(BM25); hybrid: both, best for exact names like HTTPConnection.request")
        ] = "semantic",
        index: IndexArg = None,
    ) -> dict[str, Any]:
        """Find the functions that best match a description or a name, best first.

        Each hit has `url` (its id for get_function and similar), `path`, `start_line`,
        `end_line`, `func_name`, `language`, `score` (cosine similarity) and `code`.
        """
        served = _served(workspace, index)
        result = served.service.search(query, k, lang, path, None, mode)
        return {"index": served.name, "query": result.params.q, "mode": mode,
                "searcher": result.searcher,
                "hits": _hits(result.hits, compact)}

    @mcp.tool()
    @tool_errors
    def similar(
        path: Annotated[str | None, Field(description="file of the function, relative to the "
                                          "indexed folder or absolute under it")] = None,
        line: Annotated[int | None, Field(description="any line inside the function", ge=1)
                        ] = None,
        code: Annotated[str | None, Field(description="or: the code of a function (need not be "
                                          "indexed)")] = None,
        url: Annotated[str | None, Field(description="or: a hit's url")] = None,
        k: KArg = 10,
        lang: Annotated[str | None, Field(description="only results in this language")] = None,
        compact: CompactArg = False,
        index: IndexArg = None,
    ) -> dict[str, Any]:
        """Find the functions most similar to a given one (code-to-code search).

        Give the function as `path` + `line`, as `url`, or as pasted `code`. The
        function itself is left out of the results.
        """
        served = _served(workspace, index)
        result = served.service.similar(url=url, path=path, line=line, code=code, k=k,
                                        lang=lang)
        hits = result.hits
        return {"index": served.name, "hits": _hits(hits, compact)}

    @mcp.tool()
    @tool_errors
    def get_function(
        id: Annotated[str, Field(description="the function's url, as a search or similar hit "
                                 "gives it")],
        index: IndexArg = None,
    ) -> dict[str, Any]:
        """The full record of one function: location, name, docstring and code."""
        candidates = [_served(workspace, index)] if index else list(workspace.served.values())
        for served in candidates:
            idx = served.live.get()
            (row,) = idx.ids_of_urls([id])
            if row is not None:
                rec = idx.records_at([row])[0]
                return {"index": served.name, "url": rec["url"], "repo": rec.get("repo", ""),
                        "path": rec.get("path", ""), "start_line": rec.get("start_line", 0),
                        "end_line": rec.get("end_line", 0), "func_name": rec.get("func_name", ""),
                        "language": rec.get("language", ""), "docstring": rec.get("docstring", ""),
                        "code": rec.get("original_string") or rec.get("code", "")}
        raise ToolError(f"{id}: no function with this url in "
                        f"{'index ' + candidates[0].name if index else 'any served index'}; "
                        "use the url of a search hit")

    @mcp.tool()
    @tool_errors
    def index_status(
        index: IndexArg = None,
        refresh: Annotated[bool, Field(description="when files of an index's source folder "
                                       "changed, update the index incrementally now")] = True,
    ) -> dict[str, Any]:
        """What each index holds (functions, languages, encoder) and whether it is fresh.

        For an index built from a source folder, `freshness.state` is "fresh",
        "refreshed" (changed files were re-indexed just now) or "stale" (with the reason);
        "unknown" for an index built from a corpus file.
        """
        chosen = [_served(workspace, index)] if index else list(workspace.served.values())
        return {"indexes": [workspace.status(s, refresh) for s in chosen]}

    return mcp


def _served(workspace: Workspace, name: str | None) -> Served:
    return workspace.get(name)  # WorkspaceError, an InputError: a tool error (tool_errors)


def _hits(hits: list[Hit], compact: bool) -> list[dict[str, Any]]:
    out = [h.to_dict() for h in hits]
    if compact:
        for d in out:
            d.pop("code")
    return out


def serve(paths: list[Path], encoder: Encoder | None = None) -> None:
    """Open the indexes (loading the model once) and serve MCP on stdin/stdout."""
    workspace = Workspace(paths, encoder)  # WorkspaceError: the CLI's one-line exit 2
    for s in workspace.served.values():
        s.live.get().encoder.encode_queries(["warm up"], progress=False)
    build_server(workspace).run("stdio")

