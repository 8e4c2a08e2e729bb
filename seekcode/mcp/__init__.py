"""The Model Context Protocol server for coding agents: `seekcode mcp INDEX...`."""

from seekcode.mcp.server import Workspace, build_server

__all__ = ["Workspace", "build_server"]
