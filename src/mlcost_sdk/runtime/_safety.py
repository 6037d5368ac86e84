"""Transitional: the guard moved to ``mlcost_sdk.guard`` and ``record_exception`` to
``runtime.spans``; removed once the inference and training modules import those."""

from __future__ import annotations

from ..guard import capture_internal_exceptions, internal_error_count, record_internal_error
from .spans import record_exception

__all__ = ["capture_internal_exceptions", "internal_error_count", "record_exception",
           "record_internal_error"]
