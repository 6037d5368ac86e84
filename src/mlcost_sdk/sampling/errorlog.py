"""Sampling errors are counted and logged once per kind: a failing driver never floods the log."""

from __future__ import annotations

import logging

from ..guard import OnceLog

logger = logging.getLogger("mlcost_sdk.sampling")


class ErrorLog(OnceLog):
    """The sampler's errors, on the guard's bounded once-per-site log."""

    def report(self, kind: str, exc: BaseException) -> None:
        if self.hit(kind):
            logger.warning("mlcost sampling: %s: %r (further ones are counted, not logged)",
                           kind, exc)
