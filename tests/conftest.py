"""Suite-wide fixtures: every test starts with an empty global registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from onetwo.core import registry


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[registry.Registry]:
    """Give each test its own empty global registry, so registrations never leak."""
    fresh = registry.Registry()
    monkeypatch.setattr(registry, "_global_registry", fresh)
    yield fresh
