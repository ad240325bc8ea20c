"""Deadlines for GitHub requests: a socket timeout restarts with every byte, so
a server that drips a byte every few seconds never trips it. Each try of a
request therefore has a total deadline, and one watchdog thread shuts down the
socket of a try that outlives it, which ends whatever read or write is
blocked on it. It also announces replies that are slow in coming.

`Adapter` arms the watchdog at every try (retries and redirects included)
through public APIs only: requests' `get_connection_with_tls_context` (exposed
for subclassing) hands it urllib3's pool, whose `ConnectionCls` becomes a
`WatchedHTTPConnection`; that class overrides the methods of urllib3's
connection interface (`connect`, `request`, `getresponse`), which every try
calls. tests/unit/test_github_hooks.py checks they keep urllib3's signatures.
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection

from ci_ml.github.waits import Timekeeper, Wait, path_of

if TYPE_CHECKING:
    import requests
    from urllib3.connectionpool import HTTPConnectionPool
    from urllib3.response import HTTPResponse


class OutOfTime(Exception):
    """Raised inside urllib3 when a try would start after the deadline (not an OSError,
    so neither urllib3 nor requests wraps or retries it)."""


CURRENT = threading.local()  # the Attempt this thread is running, if any


class Attempt:
    """One call of ``GitHubClient.request`` in one thread: the connection of its try in
    flight and that try's deadline. The connection arms it at every try (retries,
    redirects)."""

    def __init__(self, time: Timekeeper, method: str, url: str, per_try: float):
        self.time = time
        self.where = f"{method} {path_of(url)}"
        self.per_try = per_try
        self.conn: WatchedHTTPConnection | None = None
        self.deadline = math.inf  # time.monotonic() at which the try is cut off
        self.announce_at = math.inf
        self.armed_at = 0.0
        self.bound = "try"  # which deadline ends the try: "try" or "command"
        self.cut: str | None = None  # set by the watchdog: which deadline cut the try
        self.tries = 0
        self.no_time = False  # the policy stopped retrying because of the deadline

    def __enter__(self) -> Attempt:
        CURRENT.attempt = self
        WATCHDOG.watch(self)
        return self

    def __exit__(self, *exc: object) -> None:
        CURRENT.attempt = None
        WATCHDOG.unwatch(self)

    def arm(self, conn: WatchedHTTPConnection) -> float:
        """A new try starts on ``conn``: the seconds it may take (or OutOfTime)."""
        remaining = self.time.remaining()
        budget = min(self.per_try, remaining)
        if budget <= 0:
            raise OutOfTime
        WATCHDOG.arm(self, conn, budget, "command" if remaining <= self.per_try else "try")
        return budget


class _Watchdog:
    """One daemon thread for every client: it shuts down the socket of a try past its
    deadline and announces replies that are slow in coming. Thread-safe: all state
    changes under one condition; a connection is only touched while the try that
    armed it still owns it (a pooled connection may move on to another thread)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.attempts: set[Attempt] = set()
        self.thread: threading.Thread | None = None

    def watch(self, attempt: Attempt) -> None:
        with self.cond:
            self.attempts.add(attempt)
        self.start()

    def start(self) -> None:
        """The thread, started once, at the first request (or before it: a tracer or
        profiler follows a thread only from its start)."""
        with self.cond:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="ci-ml-watchdog", daemon=True)
                self.thread.start()

    def restart(self) -> None:
        """A new thread in place of the running one, which ends at once: for a tracer
        that was stopped and started again (coverage follows a thread only from its
        start, so a thread older than its restart goes unseen)."""
        with self.cond:
            if self.thread is None:
                return
            self.thread = None
            self.cond.notify_all()
        self.start()

    def unwatch(self, attempt: Attempt) -> None:
        with self.cond:
            self.attempts.discard(attempt)
            if attempt.conn is not None and attempt.conn.owner is attempt:
                attempt.conn.owner = None
            attempt.conn = None

    def arm(self, attempt: Attempt, conn: WatchedHTTPConnection, budget: float, bound: str) -> None:
        clock = attempt.time
        now = time.monotonic()
        with self.cond:
            attempt.tries += 1
            attempt.conn = conn
            conn.owner = attempt
            attempt.armed_at = now
            attempt.deadline = now + budget
            attempt.bound = bound
            attempt.cut = None
            notice = min(clock.announce_after, budget / 2)
            attempt.announce_at = now + notice if clock.on_wait else math.inf
            self.cond.notify()

    def disarm(self, attempt: Attempt) -> None:
        """The try is over (it failed and the policy decides what next)."""
        with self.cond:
            attempt.deadline = attempt.announce_at = math.inf

    def _run(self) -> None:
        while True:
            due: list[tuple[Callable[[Wait], None], Wait]] = []
            with self.cond:
                if self.thread is not threading.current_thread():
                    return  # replaced (restart)
                now = time.monotonic()
                wake = math.inf
                for a in self.attempts:
                    try:
                        if now >= a.deadline:
                            self._cut(a, now)
                        elif now >= a.announce_at:
                            a.announce_at = math.inf
                            if a.time.on_wait:
                                due.append((a.time.on_wait, self._slow_reply(a, now)))
                    except Exception:  # the watchdog must outlive anything one attempt does
                        a.deadline = a.announce_at = math.inf
                    wake = min(wake, a.deadline, a.announce_at)
                if not due:
                    self.cond.wait(None if wake == math.inf else max(0.0, wake - now))
            for callback, wait in due:
                with contextlib.suppress(Exception):  # a broken printer must not stop the watchdog
                    callback(wait)

    @staticmethod
    def _cut(a: Attempt, now: float) -> None:
        a.cut = a.bound
        a.announce_at = math.inf
        conn = a.conn if a.conn is not None and a.conn.owner is a else None
        sock = conn.sock if conn is not None else None
        if sock is None and conn is not None:
            a.deadline = now + 0.05  # still connecting (bounded by the connect timeout): look again
            return
        a.deadline = math.inf
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _slow_reply(a: Attempt, now: float) -> Wait:
        left = a.deadline - now
        return Wait(
            left,
            f"for a complete reply (none after {now - a.armed_at:.0f} s)",
            a.where,
            a.time.clock() + left,
            open_ended=True,
        )


WATCHDOG = _Watchdog()


def current_attempt() -> Attempt | None:
    """The request this thread is running, if any."""
    return getattr(CURRENT, "attempt", None)


def _capped(timeout: float | None, cap: float) -> float | None:
    """A socket timeout no longer than ``cap`` (inf: no try armed, left as it is)."""
    if math.isinf(cap):
        return timeout
    return cap if timeout is None else min(timeout, cap)


class WatchedHTTPConnection(HTTPConnection):
    """urllib3's connection, arming the thread's Attempt when a try starts on it and
    capping its socket timeouts by the try's budget.

    A try starts in ``connect`` (HTTPS: the pool connects before it sends) or in
    ``request`` (a reused connection; plain HTTP connects inside it) and ends when
    ``getresponse`` has the headers; the body is read under the same deadline.
    """

    owner: Attempt | None = None  # the Attempt whose try runs on this connection
    _in_try = False
    _cap = math.inf

    def _begin_try(self) -> None:
        attempt = current_attempt()
        if attempt is None or (self._in_try and self.owner is attempt):
            return
        # A second late of the watchdog, so that it, not a socket timeout, ends a
        # try at its deadline (and the error can say which deadline it was).
        self._cap = attempt.arm(self) + 1.0
        self._in_try = True

    def connect(self) -> None:
        self._begin_try()
        self.timeout = _capped(self.timeout, self._cap)
        super().connect()

    def request(  # type: ignore[override]  # urllib3's own signature (it ignores this too)
        self,
        method: str,
        url: str,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        *,
        chunked: bool = False,
        preload_content: bool = True,
        decode_content: bool = True,
        enforce_content_length: bool = True,
    ) -> None:
        self._begin_try()
        self.timeout = _capped(self.timeout, self._cap)  # a reused socket sends with it
        super().request(
            method,
            url,
            body,  # type: ignore[arg-type]  # passed on as urllib3 received it
            headers,
            chunked=chunked,
            preload_content=preload_content,
            decode_content=decode_content,
            enforce_content_length=enforce_content_length,
        )

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3's own
        self.timeout = _capped(self.timeout, self._cap)  # the pool set the read timeout
        try:
            return super().getresponse()
        finally:
            self._in_try = False  # the next request on this connection is a new try
            self._cap = math.inf

    def close(self) -> None:
        self._in_try = False
        self._cap = math.inf
        super().close()


class WatchedHTTPSConnection(WatchedHTTPConnection, HTTPSConnection):
    pass


# The connection classes of urllib3's own pools, and their watched versions (SOCKS
# pools have connection classes of their own and stay unwatched).
_WATCHED: dict[object, type[HTTPConnection]] = {
    HTTPConnection: WatchedHTTPConnection,
    HTTPSConnection: WatchedHTTPSConnection,
}


class Adapter(HTTPAdapter):
    """requests' adapter whose pools make watched connections."""

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str,
        proxies: dict[str, str] | None = None,
        cert: str | tuple[str, str] | None = None,
    ) -> HTTPConnectionPool:
        pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
        watched = _WATCHED.get(pool.ConnectionCls)
        if watched is not None:
            pool.ConnectionCls = watched
        return pool
