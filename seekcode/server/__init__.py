"""HTTP API and web page over an index: `create_app(INDEX)`, run by `seekcode serve`."""

from seekcode.server.app import create_app

__all__ = ["create_app"]
