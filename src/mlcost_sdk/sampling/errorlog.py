"""Sampling errors are counted and logged once per kind: a failing driver never floods the log."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("mlcost_sdk.sampling")

_MAX_KINDS = 256  # bounds the memory of "already logged" however many devices fail


class ErrorLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logged: set[str] = set()
        self.count = 0

    def report(self, kind: str, exc: BaseException) -> None:
        with self._lock:
            self.count += 1
            first = kind not in self._logged and len(self._logged) < _MAX_KINDS
            if first:
                self._logged.add(kind)
        if first:
            logger.warning("mlcost sampling: %s: %r (further ones are counted, not logged)",
                           kind, exc)

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # a thread of the parent may have held it
