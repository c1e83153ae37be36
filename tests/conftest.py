"""Suite-wide fixtures: an empty global registry per test; the network guard on."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from onetwo.backends import network
from onetwo.core import registry

# No test may reach anything but 127.0.0.1, nor may the processes tests start (notebooks).
os.environ["ONETWO_LOOPBACK_ONLY"] = "1"


@pytest.fixture(autouse=True, scope="session")
def loopback_only() -> Iterator[None]:
    """Turn the network guard on for the whole session: backends reach loopback only."""
    network.set_loopback_only(True)
    yield
    network.set_loopback_only(None)


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[registry.Registry]:
    """Give each test its own empty global registry, so registrations never leak."""
    fresh = registry.Registry()
    monkeypatch.setattr(registry, "_global_registry", fresh)
    yield fresh


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``rig`` every test that starts the real model, so ``-m "not rig"`` never does."""
    for item in items:
        if "llama_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.rig)
