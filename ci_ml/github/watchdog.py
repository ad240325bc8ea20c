"""Deadlines for GitHub requests: a socket timeout restarts with every byte, so
a server that drips a byte every few seconds never trips it. Each try of a
request therefore has a total deadline, and one watchdog thread shuts down the
socket of a try that outlives it, which ends whatever read or write is
blocked on it. It also announces replies that are slow in coming.

`Adapter` mounts the pools that arm the watchdog at every try (urllib3 2's
`_make_request`, retries and redirects included).
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import Timeout

if TYPE_CHECKING:
    from ci_ml.github.client import GitHubClient


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "") if parts.scheme else url


def clock_time(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(epoch))


@dataclass(frozen=True)
class Wait:
    """A wait long enough to tell the user about: what for, how long, until when."""

    seconds: float
    reason: str  # "for GitHub's rate limit to reset"
    where: str  # "GET /repos/o/r/releases"
    until: float  # epoch seconds
    open_ended: bool = False  # a reply may come sooner

    def __str__(self) -> str:
        up_to = "up to " if self.open_ended else ""
        return (
            f"waiting {up_to}{math.ceil(self.seconds)} s {self.reason}, "
            f"until {clock_time(self.until)} UTC ({self.where})"
        )


class OutOfTime(Exception):
    """Raised inside urllib3 when a try would start after the deadline (not an OSError,
    so neither urllib3 nor requests wraps or retries it)."""


CURRENT = threading.local()  # the Attempt this thread is running, if any


class Attempt:
    """One call of ``GitHubClient.request`` in one thread: the connection of its try in
    flight and that try's deadline. The pool arms it at every try (retries, redirects)."""

    def __init__(self, client: GitHubClient, method: str, url: str, per_try: float):
        self.client = client
        self.where = f"{method} {path_of(url)}"
        self.per_try = per_try
        self.conn: Any = None
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

    def arm(self, conn: Any) -> float:
        """A new try starts on ``conn``: the seconds it may take (or OutOfTime)."""
        remaining = self.client.remaining()
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
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="ci-ml-watchdog", daemon=True)
                self.thread.start()

    def unwatch(self, attempt: Attempt) -> None:
        with self.cond:
            self.attempts.discard(attempt)
            if attempt.conn is not None and getattr(attempt.conn, "_ci_ml_owner", None) is attempt:
                attempt.conn._ci_ml_owner = None
            attempt.conn = None

    def arm(self, attempt: Attempt, conn: Any, budget: float, bound: str) -> None:
        client = attempt.client
        now = time.monotonic()
        with self.cond:
            attempt.tries += 1
            attempt.conn = conn
            conn._ci_ml_owner = attempt
            attempt.armed_at = now
            attempt.deadline = now + budget
            attempt.bound = bound
            attempt.cut = None
            notice = min(client.announce_after, budget / 2)
            attempt.announce_at = now + notice if client.on_wait else math.inf
            self.cond.notify()

    def disarm(self, attempt: Attempt) -> None:
        """The try is over (it failed and the policy decides what next)."""
        with self.cond:
            attempt.deadline = attempt.announce_at = math.inf

    def _run(self) -> None:
        while True:
            due: list[tuple[Callable[[Wait], None], Wait]] = []
            with self.cond:
                now = time.monotonic()
                wake = math.inf
                for a in self.attempts:
                    try:
                        if now >= a.deadline:
                            self._cut(a, now)
                        elif now >= a.announce_at:
                            a.announce_at = math.inf
                            if a.client.on_wait:
                                due.append((a.client.on_wait, self._slow_reply(a, now)))
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
        conn = a.conn if getattr(a.conn, "_ci_ml_owner", None) is a else None
        sock = getattr(conn, "sock", None)
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
            a.client.clock() + left,
            open_ended=True,
        )


WATCHDOG = _Watchdog()


class _WatchedPool:
    """Arms the thread's Attempt at every try and caps its socket timeouts by the try's
    budget. ``_make_request`` is urllib3 2's one call per try, retries included; the
    hang tests fail loudly if a urllib3 release renames it."""

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        attempt: Attempt | None = getattr(CURRENT, "attempt", None)
        if attempt is not None:
            budget = attempt.arm(conn)
            timeout = kwargs.get("timeout")
            if isinstance(timeout, Timeout):
                # A second late of the watchdog, so that it, not a socket timeout, ends a
                # try at its deadline (and the error can say which deadline it was).
                cap = budget + 1.0
                kwargs["timeout"] = Timeout(
                    connect=min(timeout.connect_timeout or cap, cap),
                    read=min(timeout.read_timeout or cap, cap),
                )
        return super()._make_request(conn, *args, **kwargs)  # type: ignore[misc]


class _HTTPPool(_WatchedPool, HTTPConnectionPool):
    pass


class _HTTPSPool(_WatchedPool, HTTPSConnectionPool):
    pass


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS has pool classes of its own
            manager.pool_classes_by_scheme = _POOLS
        return manager


def current_attempt() -> Attempt | None:
    """The request this thread is running, if any."""
    return getattr(CURRENT, "attempt", None)
