"""The GitHub client hooks into requests and urllib3 through public methods only,
with the signatures of the methods it replaces: a release of either that renames
or reshapes one fails here, instead of a deadline that silently stops holding
(tests/integration/test_github_deadlines.py proves the deadlines themselves)."""

from __future__ import annotations

import inspect

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.util.retry import Retry

from ci_ml.github.retry import RetryPolicy
from ci_ml.github.watchdog import Adapter, WatchedHTTPConnection, WatchedHTTPSConnection

HOOKS = [
    (Adapter, HTTPAdapter),
    (WatchedHTTPConnection, HTTPConnection),
    (WatchedHTTPSConnection, HTTPSConnection),
    (RetryPolicy, Retry),
]


def overridden(cls: type, base: type) -> list[str]:
    """The functions ``cls`` itself defines that ``base`` has too."""
    return [n for n, v in vars(cls).items() if callable(v) and hasattr(base, n)]


def shape(function: object) -> list[tuple[str, object, object]]:
    """Parameters as (name, kind, default), annotations aside (they may be strings)."""
    assert callable(function)
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize(("cls", "base"), HOOKS, ids=lambda c: c.__name__)
def test_hooks_override_only_public_methods_with_their_signatures(cls: type, base: type) -> None:
    names = overridden(cls, base)
    assert [n for n in names if n.startswith("_") and not n.startswith("__")] == []
    for name in names:
        assert shape(getattr(cls, name)) == shape(getattr(base, name)), name


def test_what_the_watched_connection_adds_shadows_nothing_of_urllib3() -> None:
    added = {n for n in vars(WatchedHTTPConnection) if not n.startswith("__")}
    added -= set(overridden(WatchedHTTPConnection, HTTPSConnection))
    assert added and not any(hasattr(HTTPSConnection("example.com"), n) for n in added), added


@pytest.mark.parametrize(
    ("url", "watched"),
    [
        ("http://127.0.0.1:9/x", WatchedHTTPConnection),
        ("https://127.0.0.1:9/x", WatchedHTTPSConnection),
    ],
)
def test_the_adapters_pools_make_watched_connections(url: str, watched: type) -> None:
    adapter = Adapter()
    try:
        pool = adapter.get_connection_with_tls_context(requests.Request("GET", url).prepare(), True)
    finally:
        adapter.close()
    assert pool.ConnectionCls is watched
