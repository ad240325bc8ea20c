"""The retry policy of the GitHub client, and the pure decisions around it:
how long GitHub asks us to wait, how long to back off, what kind of failure
a connection error was.

`RetryPolicy` is urllib3's `Retry`, mounted on the session: it repeats
connection errors and 5xx replies of idempotent methods, and a request of any
method whose connection never opened (nothing was sent). A POST that may have
reached GitHub is never repeated here: the domain code decides (it can look
before it repeats). Backoff is exponential, jittered and capped, and sleeps
through the client's injectable `sleep`, never past the client's deadline.
"""

from __future__ import annotations

import email.utils
import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry

from ci_ml.github.watchdog import WATCHDOG, current_attempt

if TYPE_CHECKING:
    from ci_ml.github.client import GitHubClient

# GitHub documents no header for a secondary limit without retry-after: "wait at least a minute".
SECONDARY_RATE_LIMIT_DEFAULT_WAIT = 60.0


def rate_limit_wait(response: requests.Response, now: float) -> float | None:
    """Seconds GitHub asks us to wait before retrying, or None if this is no rate limit."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = headers.get("retry-after")
    if retry_after is not None:  # secondary rate limit (or abuse detection)
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(retry_after)
            return max(0.0, parsed.timestamp() - now)
    if headers.get("x-ratelimit-remaining") == "0":  # primary rate limit
        reset = float(headers.get("x-ratelimit-reset", now))
        return max(0.0, reset - now) + 1.0  # +1: the reset second itself may still be limited
    if "secondary rate limit" in _github_message(response).lower():
        return SECONDARY_RATE_LIMIT_DEFAULT_WAIT
    return None


def backoff_delay(attempt: int, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, never above cap."""
    delay = min(cap, base * (2**attempt))
    return delay / 2 + rand() * delay / 2


def _github_message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    return str(data.get("message", "")) if isinstance(data, dict) else ""


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (requests wraps urllib3, which wraps the socket's error)."""
    todo, seen = [exc], 0
    while todo and seen < 12:
        e = todo.pop(0)
        seen += 1
        yield e
        reason = getattr(e, "reason", None)
        todo += [x for x in (reason, *e.args) if isinstance(x, BaseException)]


def failure_kind(exc: BaseException) -> str:
    causes = list(_causes(exc))
    if any(isinstance(c, NewConnectionError) for c in causes):
        return "could not be opened"
    timeouts = (ReadTimeoutError, ConnectTimeoutError, requests.Timeout, socket.timeout)
    if any(isinstance(c, timeouts) for c in causes):
        return "timed out"
    if any(
        isinstance(c, (ProtocolError, requests.exceptions.ChunkedEncodingError)) for c in causes
    ):
        return "broke off"
    return "failed"


class NoTimeToRetry(MaxRetryError):
    """The policy would retry, but the wait would end after the deadline."""


class RetryPolicy(Retry):
    """urllib3's Retry with the client's jittered backoff, injectable sleep, deadline
    and announcements."""

    def __init__(self, *args: Any, client: GitHubClient | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.client = client
        self.delay = 0.0

    def new(self, **kwargs: Any) -> RetryPolicy:
        kwargs.setdefault("client", self.client)
        return super().new(**kwargs)

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> RetryPolicy:
        attempt = current_attempt()
        if attempt is not None:
            WATCHDOG.disarm(attempt)  # nothing of this try is in flight any more
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        client = self.client
        assert client is not None
        new.delay = backoff_delay(
            len(new.history) - 1, client.backoff_base, client.backoff_cap, client.rand
        )
        if not client.has_time_for(new.delay):
            if attempt is not None:
                attempt.no_time = True
            reason = error or ResponseError(f"HTTP {getattr(response, 'status', '?')}")
            raise NoTimeToRetry(_pool, url or "", reason)  # type: ignore[arg-type]
        return new

    def sleep(self, response: Any = None) -> None:
        assert self.client is not None
        last = self.history[-1]
        after = (
            f"HTTP {last.status}" if last.status else f"the connection {failure_kind(last.error)}"
        )  # type: ignore[arg-type]
        self.client.wait(
            self.delay, f"before retrying (after {after})", f"{last.method} {last.url}"
        )
