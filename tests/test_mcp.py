"""`seekcode mcp` as a subprocess, driven by the official SDK's stdio client."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from serving_helpers import TWIN, FakeEncoder, make_project

from seekcode.cli import main
from seekcode.index.watch import update


def _command() -> list[str]:
    script = Path(sys.executable).parent / "seekcode"
    if script.exists():
        return [str(script)]
    found = shutil.which("seekcode")
    return [found] if found else [sys.executable, "-c",
                                  "import sys; from seekcode.cli import main; sys.exit(main())"]


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


async def _session(idx: list[Path], calls: list[tuple[str, dict[str, Any]]]
                   ) -> tuple[list[Any], list[Any]]:
    cmd = _command()
    params = StdioServerParameters(command=cmd[0], args=[*cmd[1:], "mcp", *map(str, idx)],
                                   env={**os.environ, "HF_HUB_OFFLINE": "1"})
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = (await session.list_tools()).tools
        results = [await session.call_tool(name, args) for name, args in calls]
    return tools, results


def _run(idx: list[Path], calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[Any], list[Any]]:
    return asyncio.run(asyncio.wait_for(_session(idx, calls), timeout=120))


def _data(result: Any) -> dict[str, Any]:
    assert not result.isError, result.content
    if result.structuredContent is not None:
        return dict(result.structuredContent)
    return json.loads(result.content[0].text)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "proj")
    (root / "tools" / "twin.py").write_text(TWIN)
    return root


@pytest.fixture
def index_dir(tmp_path: Path, project: Path) -> Path:
    update(project, tmp_path / "idx", FakeEncoder())
    return tmp_path / "idx"


@pytest.mark.slow
def test_mcp_tools_answer_like_the_cli_and_survive_bad_calls(
        index_dir: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli = _cli_json(capsys, "search", str(index_dir), "read gzip json", "-k", "3", "--json")
    cli_kw = _cli_json(capsys, "search", str(index_dir), "md5_of_file", "-k", "2", "--mode",
                       "keyword", "--json")
    cli_similar = _cli_json(capsys, "similar", str(index_dir), "tools/hashing.py:5", "-k", "3",
                            "--json")
    target = cli["hits"][0]
    tools, results = _run([index_dir], [
        ("search", {"query": "read gzip json", "k": 3}),
        ("search", {"query": "read gzip json", "k": 3, "compact": True}),
        ("similar", {"path": "tools/hashing.py", "line": 5, "k": 3}),
        ("similar", {"code": TWIN.split("\n\n\n")[1], "k": 1}),
        ("get_function", {"id": target["url"]}),
        ("index_status", {}),
        ("search", {"query": "", "k": 3}),              # malformed: empty query
        ("search", {"query": "gzip", "k": "ten"}),      # malformed: k not a number
        ("search", {"query": "gzip", "k": 500}),        # malformed: k out of range
        ("similar", {}),                                # malformed: nothing to compare
        ("similar", {"path": "tools/hashing.py", "line": 1}),  # not inside a function
        ("get_function", {"id": "file:///nowhere#L1-L2"}),
        ("search", {"query": "gzip", "index": "no-such-index"}),
        ("search", {"query": "send mail over smtp", "k": 1}),   # still answering
        ("search", {"query": "md5_of_file", "k": 2, "mode": "keyword"}),
        ("search", {"query": "gzip", "mode": "fuzzy"}),         # malformed: no such mode
    ])
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"search", "similar", "get_function", "index_status"}
    for t in tools:
        assert len(t.description or "") > 40, t.name
    assert by_name["search"].inputSchema["required"] == ["query"]
    assert by_name["search"].inputSchema["properties"]["k"]["maximum"] == 100
    assert "line" in by_name["similar"].inputSchema["properties"]

    search, compact, sim, sim_code, fn, status = (_data(r) for r in results[:6])
    assert search["hits"] == cli["hits"]  # same hits, scores and code as `seekcode search --json`
    assert [h["url"] for h in compact["hits"]] == [h["url"] for h in cli["hits"]]
    assert all("code" not in h for h in compact["hits"])
    assert sim["hits"] == cli_similar["hits"]
    assert sim["hits"][0]["func_name"] == "sha1_of_path"  # the planted near-duplicate
    assert all(h["func_name"] != "md5_of_file" for h in sim["hits"])  # not itself
    assert sim_code["hits"][0]["func_name"] == "md5_of_file"  # pasted twin finds the original
    assert fn["url"] == target["url"] and fn["code"] == target["code"]
    assert (fn["path"], fn["start_line"], fn["func_name"]) == ("pkg/io.py", 5, "read_gzip_json")
    (st,) = status["indexes"]
    assert st["records"] == 7 and st["encoder"]["id"] == "lexical:256"
    assert st["source"] == str(project.resolve()) and st["freshness"]["state"] == "fresh"

    errors = results[6:13]
    assert all(r.isError for r in errors)
    texts = [r.content[0].text for r in errors]
    assert "empty query" in texts[0]
    assert "k" in texts[1] and "k" in texts[2]
    assert "exactly one of path+line, code or url" in texts[3]
    assert "not inside an indexed function" in texts[4]
    assert "no function with this url" in texts[5]
    assert "not served" in texts[6] and index_dir.name in texts[6]
    assert _data(results[13])["hits"][0]["func_name"] == "Client.send_smtp_mail"
    keyword = _data(results[14])
    assert keyword["mode"] == "keyword" and keyword["hits"] == cli_kw["hits"]
    assert keyword["hits"][0]["func_name"] == "md5_of_file"
    assert results[15].isError and "mode" in results[15].content[0].text


@pytest.mark.slow
def test_index_status_reports_stale_then_refreshes_incrementally(index_dir: Path,
                                                                 project: Path) -> None:
    new = project / "pkg" / "img.py"
    new.write_text("def resize_image(img, width, height):\n    return img.resize((width, height))\n")
    later = time.time() + 5  # after the build, whatever the file system's clock granularity
    os.utime(new, (later, later))
    (project / "tools" / "twin.py").unlink()
    _, results = _run([index_dir], [
        ("index_status", {"refresh": False}),
        ("search", {"query": "resize image", "k": 1}),
        ("index_status", {}),
        ("search", {"query": "resize image", "k": 1}),
        ("index_status", {}),
    ])
    stale, before, refreshed, after, again = (_data(r) for r in results)
    f = stale["indexes"][0]["freshness"]
    assert f["state"] == "stale" and f["changed_files"] == ["pkg/img.py", "tools/twin.py"]
    assert before["hits"][0]["func_name"] != "resize_image"
    assert refreshed["indexes"][0]["freshness"]["state"] == "refreshed"
    assert refreshed["indexes"][0]["records"] == 6  # +1 new, -2 from the deleted file
    assert after["hits"][0]["func_name"] == "resize_image"
    # The new generation is newer than the file? Only once the clock passes `later`.
    assert again["indexes"][0]["freshness"]["state"] in ("fresh", "refreshed")


@pytest.mark.slow
def test_several_indexes_select_by_name_and_default_to_the_first(tmp_path: Path,
                                                                 index_dir: Path) -> None:
    other = make_project(tmp_path / "other", {"lib/colors.py":
                                              "def mix_colors(a, b):\n    return (a + b) / 2\n"})
    update(other, tmp_path / "second", FakeEncoder())
    _, results = _run([index_dir, tmp_path / "second"], [
        ("search", {"query": "mix colors", "k": 1}),
        ("search", {"query": "mix colors", "k": 1, "index": "second"}),
        ("index_status", {}),
    ])
    first, second, status = (_data(r) for r in results)
    assert first["index"] == "idx" and first["hits"][0]["func_name"] != "mix_colors"
    assert second["index"] == "second" and second["hits"][0]["func_name"] == "mix_colors"
    assert [s["index"] for s in status["indexes"]] == ["idx", "second"]
    assert [s["default"] for s in status["indexes"]] == [True, False]


def test_mcp_command_rejects_a_missing_index(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mcp", str(tmp_path / "nothing")]) == 2
    assert "not a seekcode index" in capsys.readouterr().err
