"""The retry policy of the GitHub client, and what kind of failure a connection
error was (how long to wait is ``ci_ml.github.waits``).

`RetryPolicy` is urllib3's `Retry`, mounted on the session: it repeats
connection errors and 5xx replies of idempotent methods, and a request of any
method whose connection never opened (nothing was sent). A POST that may have
reached GitHub is never repeated here: the domain code decides (it can look
before it repeats). Backoff is exponential, jittered and capped, and sleeps
through the client's `Timekeeper` (injectable sleep), never past the command's deadline.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import requests
from typing_extensions import Self
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry

from ci_ml.github.waits import Timekeeper
from ci_ml.github.watchdog import WATCHDOG, current_attempt

if TYPE_CHECKING:
    from types import TracebackType

    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse

# Methods whose repetition cannot duplicate a side effect. POST is excluded: a
# 5xx or a reset after the body was sent may still have created the resource.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
RETRY_STATUSES = frozenset(range(500, 600))


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
    and announcements (all in ``time``, which ``new`` hands on). Made by ``retry_policy``."""

    time: Timekeeper
    delay = 0.0  # the backoff before the next try

    def new(self, **kw: object) -> Self:
        new = super().new(**kw)
        new.time = self.time
        return new

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        attempt = current_attempt()
        if attempt is not None:
            WATCHDOG.disarm(attempt)  # nothing of this try is in flight any more
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        new.delay = self.time.backoff(len(new.history) - 1)
        if not self.time.has_time_for(new.delay):
            if attempt is not None:
                attempt.no_time = True
            reason = error or ResponseError(f"HTTP {getattr(response, 'status', '?')}")
            raise NoTimeToRetry(_pool, url or "", reason)  # type: ignore[arg-type]
        return new

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        last = self.history[-1]
        if last.status or last.error is None:
            after = f"HTTP {last.status}"
        else:
            after = f"the connection {failure_kind(last.error)}"
        self.time.wait(self.delay, f"before retrying (after {after})", f"{last.method} {last.url}")


def retry_policy(time: Timekeeper, max_retries: int) -> RetryPolicy:
    """The client's policy: ``max_retries`` more tries after connection errors and 5xx
    replies of idempotent methods, or of any method whose connection never opened."""
    policy = RetryPolicy(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,  # TLS and proxy errors: not transient, and a POST may have been sent
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        raise_on_status=False,  # the last reply becomes a named exception, not MaxRetryError
        respect_retry_after_header=False,  # rate limits are GitHub's headers: request() reads them
    )
    policy.time = time
    return policy
