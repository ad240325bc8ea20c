"""Time in the GitHub client: the command's deadline, how long to wait (backoff, rate
limits) and telling the user about long waits.

The bottom of the client: ``retry``, ``watchdog`` and ``client`` import this module,
and it imports none of them. ``Timekeeper`` holds the injectable clocks, sleep and
jitter, so that tests never wait.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

# GitHub documents no header for a secondary limit without retry-after: "wait at least a minute".
SECONDARY_RATE_LIMIT_DEFAULT_WAIT = 60.0
# A try that would start with less than this left before the deadline is not started.
MIN_TRY_SECONDS = 0.5


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


def _github_message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    return str(data.get("message", "")) if isinstance(data, dict) else ""


def backoff_delay(attempt: int, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, never above cap."""
    delay = min(cap, base * (2**attempt))
    return delay / 2 + rand() * delay / 2


@dataclass
class Timekeeper:
    """The client's time: the command's deadline (``deadline`` seconds from creation,
    None for none), backoff, and waits announced through ``on_wait`` from
    ``announce_after`` seconds. ``sleep``, ``clock`` (wall time, for rate-limit resets),
    ``monotonic`` (for the deadline) and ``rand`` are injectable."""

    deadline: float | None = None
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    announce_after: float = 2.0
    on_wait: Callable[[Wait], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    rand: Callable[[], float] = random.random
    ends_at: float = field(init=False)

    def __post_init__(self) -> None:
        self.ends_at = math.inf if self.deadline is None else self.monotonic() + self.deadline

    def remaining(self) -> float:
        """Seconds left before the deadline (inf without one)."""
        return self.ends_at - self.monotonic()

    def has_time_for(self, seconds: float) -> bool:
        """Would a wait of ``seconds`` still leave time for a try before the deadline?"""
        return seconds + MIN_TRY_SECONDS <= self.remaining()

    def backoff(self, attempt: int) -> float:
        """The jittered backoff before retry number ``attempt`` (from 0)."""
        return backoff_delay(attempt, self.backoff_base, self.backoff_cap, self.rand)

    def wait(self, seconds: float, reason: str, where: str) -> None:
        """Sleep ``seconds`` (announced if long). Callers checked ``has_time_for`` first."""
        if seconds <= 0:
            return
        if self.on_wait is not None and seconds >= self.announce_after:
            self.on_wait(Wait(seconds, reason, where, self.clock() + seconds))
        self.sleep(seconds)

    def deadline_text(self) -> str:
        return "none" if self.deadline is None else f"{self.deadline:g} s"
