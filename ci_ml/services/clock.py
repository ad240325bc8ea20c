"""The time a registry event happened, as the log lines write it."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> str:
    """Now, in UTC, to the second (ISO-8601 with a Z)."""
    return datetime.now(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
