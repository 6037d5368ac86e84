"""Run ``phoenix serve`` with its OTLP gRPC port bound to loopback only.

Phoenix binds HTTP to PHOENIX_HOST but hard-codes ``[::]`` for gRPC
(phoenix/server/grpc_server.py), which would expose the test server on every interface. This
launcher, run by the Phoenix venv's Python, narrows that one address before Phoenix starts.
"""

from __future__ import annotations

import sys
from typing import Any

import grpc.aio

_make_server = grpc.aio.server


def _loopback_server(*args: Any, **kwargs: Any) -> Any:
    server = _make_server(*args, **kwargs)
    add_port = server.add_insecure_port
    server.add_insecure_port = lambda address: add_port(address.replace("[::]", "127.0.0.1", 1))
    return server


grpc.aio.server = _loopback_server

if __name__ == "__main__":
    from phoenix.server.main import main

    sys.argv = ["phoenix", "serve"]
    main()
