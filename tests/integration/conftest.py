"""Integration fixtures: a fake GitHub API on 127.0.0.1 and a client pointed at it."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# `tests.fake_github` is imported as a package from the repository root, which plain
# `pytest` (unlike `python -m pytest`) does not put on sys.path.
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from ci_ml.github.client import GitHubClient  # noqa: E402
from tests.fake_github import DEFAULT_TOKEN, FakeGitHub  # noqa: E402

REPO = "octo/ml"
PR = 7
HEAD_SHA = "c0ffee" + "0" * 34


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """The fake, in a thread on a free port; fails the test if any request broke the spec.

    Replies a garbage fault broke on purpose are in ``fake.deliberate``, not in
    ``fake.failures``: the fake's own reply was checked before it was broken.
    """
    fake = FakeGitHub().start()
    fake.state.add_pull(REPO, PR, HEAD_SHA)
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.failures == [], "requests or responses that break GitHub's OpenAPI description"


class SleepRecorder:
    """An injected ``sleep``: records the waits instead of waiting. Its ``monotonic``
    runs ahead of the real clock by what was "slept", so deadlines still count it."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    def monotonic(self) -> float:
        return time.monotonic() + sum(self.calls)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(fake_github: FakeGitHub, sleeps: SleepRecorder) -> Iterator:
    """Build clients against the fake; sleeps are recorded, never slept."""
    clients: list[GitHubClient] = []

    def make(token: str | None = DEFAULT_TOKEN, **kwargs) -> GitHubClient:
        kwargs.setdefault("timeout", (2.0, 5.0))
        kwargs.setdefault("sleep", sleeps)
        kwargs.setdefault("monotonic", sleeps.monotonic)
        kwargs.setdefault("rand", lambda: 0.5)
        client = GitHubClient(token, base_url=fake_github.url, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client) -> GitHubClient:
    return make_client()
