"""The fake GitHub the act scenarios talk to: one server per test module."""

from __future__ import annotations

import pytest
from scenarios import serve_fake


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    yield from serve_fake(tmp_path_factory.mktemp("fake-github"))
