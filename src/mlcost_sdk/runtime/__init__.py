"""The runtime: configuration, training runs, inference calls, LLM calls."""
