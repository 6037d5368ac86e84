"""A real waitress server on 127.0.0.1 (a free port), run in a thread for one test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from waitress import wasyncore
from waitress.server import create_server


@contextmanager
def serve(app: Any, threads: int = 4) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # Close the sockets from the server's own loop, which then ends; not from this thread,
        # where closing them races the loop's select().
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(10)
        server.task_dispatcher.shutdown()
