"""The runtime: configuration, training runs, inference calls, LLM calls."""

from ._sanity import dropped_values

__all__ = ["dropped_values"]  # nonsense values the hot path dropped, by place (a health count)
