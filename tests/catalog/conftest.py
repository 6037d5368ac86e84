from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlcost_sdk.catalog import ENV_VAR, reset_catalog


@pytest.fixture(autouse=True)
def fresh_catalog(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from the bundled data alone and leaves no override behind."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    reset_catalog()
    yield
    reset_catalog()
