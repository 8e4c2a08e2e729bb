"""`seekcode serve INDEX`: the HTTP API and the search page, on loopback by default."""

from __future__ import annotations

import argparse
import socket
import sys

from seekcode.cli import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="serve an index over HTTP: JSON API and a search page",
        description="Serve an index: GET /search?q=... (JSON), a search page at /, the API "
        "reference at /docs. Picks up new generations published by `seekcode index` "
        "(e.g. with --watch) without a restart.",
    )
    p.add_argument("index", help="index directory (from `seekcode index`), or "
                   "milvus://HOST:PORT/COLLECTION (from `seekcode export`)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--encoder", default=None,
                   help="encoder for queries (default: the one the index was built with)")
    p.add_argument("--threads", type=int, default=1,
                   help="ONNX Runtime threads per query encoding (default 1: a short query "
                   "gains nothing from more; concurrent queries are batched)")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from seekcode.server.app import create_app

    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port}: not a TCP port (1-65535)")
    from seekcode.encoders.runtime import set_threads

    if args.threads < 1:
        raise UsageError(f"--threads {args.threads}: at least 1")
    set_threads(args.threads)  # before any session opens
    encoder = None
    if args.encoder:
        from seekcode.encoders.base import load_encoder

        encoder = load_encoder(args.encoder)
    app = create_app(args.index, encoder, allowed_hosts=allowed_hosts(args.host))
    # IndexError_ above: exit 2 with the reason. Bind before saying where we listen, so a
    # busy port is a one-line error, not a URL followed by uvicorn's exit 3.
    sock = bind(args.host, args.port)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"seekcode serve: listening on {args.host}: anyone who can reach this machine "
              "can search the index and read its code", file=sys.stderr)
    index = app.state.live.index
    print(f"seekcode serve: {index.count:,} functions from {args.index} "
          f"on http://{args.host}:{args.port}/", file=sys.stderr)
    config = uvicorn.Config(app, log_level="warning", access_log=args.access_log)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def allowed_hosts(host: str) -> tuple[str, ...]:
    """Host header values to answer: loopback names, plus what --host names (any for a
    wildcard bind: clients then reach it by names the server cannot know)."""
    from seekcode.server.app import LOOPBACK_HOSTS

    if host in ("0.0.0.0", "::", ""):
        return ("*",)
    return (*LOOPBACK_HOSTS, host)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; UsageError with the reason if that fails."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise UsageError(f"--host {host}: cannot resolve it ({e.strerror})") from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise UsageError(f"--port {port}: cannot listen on {host}:{port} ({e.strerror}); "
                         "is another server using it? pick another with --port") from None
    sock.set_inheritable(True)
    return sock
